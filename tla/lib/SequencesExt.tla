----------------------------- MODULE SequencesExt -----------------------------
(***************************************************************************)
(* Buffy's own version of the community module SequencesExt: more          *)
(* operators on finite sequences. Written from the documented meaning of   *)
(* each operator; recursive definitions take each element once, so the    *)
(* operators stay linear (or quadratic) in the length instead of the       *)
(* exponential cost of a definition by CHOOSE over all sequences. As the   *)
(* community module does, it extends FiniteSetsExt, Folds and Functions.   *)
(***************************************************************************)
EXTENDS Sequences, Naturals, FiniteSets, FiniteSetsExt, Folds, Functions
LOCAL INSTANCE TLC

\* The set of the elements of s.
ToSet(s) == {s[i] : i \in DOMAIN s}

\* The elements of the finite set S as a sequence, in TLC's order of values.
SetToSeq(S) ==
  LET RECURSIVE Build(_)
      Build(T) == IF T = {} THEN <<>>
                  ELSE LET x == CHOOSE e \in T : TRUE IN <<x>> \o Build(T \ {x})
  IN Build(S)

\* The elements of S as a sequence sorted by the order op (TLC's SortSeq).
SetToSortSeq(S, op(_, _)) == SortSeq(SetToSeq(S), op)

\* All the sequences that hold each element of S exactly once.
SetToSeqs(S) ==
  LET RECURSIVE Perms(_)
      Perms(T) == IF T = {} THEN {<<>>}
                  ELSE UNION {{<<x>> \o p : p \in Perms(T \ {x})} : x \in T}
  IN Perms(S)

\* The sequences of length exactly n, and of length at most n, over S.
TupleOf(S, n) == [1..n -> S]
SeqOf(S, n) == UNION {[1..m -> S] : m \in 0..n}
BoundedSeq(S, n) == SeqOf(S, n)

\* Whether e is an element of s.
Contains(s, e) == \E i \in 1..Len(s) : s[i] = e

\* s in the opposite order.
Reverse(s) == [i \in 1..Len(s) |-> s[Len(s) - i + 1]]

\* s without any occurrence of e.
Remove(s, e) == SelectSeq(s, LAMBDA x : x # e)

\* s with every occurrence of old replaced by new.
ReplaceAll(s, old, new) == [i \in 1..Len(s) |-> IF s[i] = old THEN new ELSE s[i]]

\* s with e inserted at position i (1 <= i <= Len(s) + 1), replacing the
\* element at i (1 <= i <= Len(s)), or without the element at i.
InsertAt(s, i, e) == SubSeq(s, 1, i - 1) \o <<e>> \o SubSeq(s, i, Len(s))
ReplaceAt(s, i, e) == [s EXCEPT ![i] = e]
RemoveAt(s, i) == SubSeq(s, 1, i - 1) \o SubSeq(s, i + 1, Len(s))

\* e followed by s; s without its last element; the last element of s.
Cons(e, s) == <<e>> \o s
Front(s) == SubSeq(s, 1, Len(s) - 1)
Last(s) == s[Len(s)]

\* Whether s is a prefix (a suffix) of t, and different from t.
IsPrefix(s, t) == Len(s) <= Len(t) /\ SubSeq(t, 1, Len(s)) = s
IsStrictPrefix(s, t) == IsPrefix(s, t) /\ s # t
IsSuffix(s, t) == Len(s) <= Len(t) /\ SubSeq(t, Len(t) - Len(s) + 1, Len(t)) = s
IsStrictSuffix(s, t) == IsSuffix(s, t) /\ s # t

\* All the prefixes (suffixes) of s, <<>> and s included.
Prefixes(s) == {SubSeq(s, 1, n) : n \in 0..Len(s)}
Suffixes(s) == {SubSeq(s, n, Len(s)) : n \in 1..(Len(s) + 1)}

\* The sequences that are a prefix of every sequence in the set S.
CommonPrefixes(S) ==
  LET P == UNION {Prefixes(t) : t \in S}
  IN {p \in P : \A t \in S : IsPrefix(p, t)}

\* The longest sequence that is a prefix of every sequence in the non-empty set S.
LongestCommonPrefix(S) ==
  LET t0 == CHOOSE t \in S : TRUE
      common(n) == \A t \in S : Len(t) >= n /\ SubSeq(t, 1, n) = SubSeq(t0, 1, n)
      lengths == {n \in 0..Len(t0) : common(n)}
  IN SubSeq(t0, 1, CHOOSE n \in lengths : \A m \in lengths : m <= n)

(***************************************************************************)
(* Folds over a sequence. FoldLeft(op, base, <<a, b>>) = op(op(base, a), b) *)
(* and FoldRight(op, <<a, b>>, base) = op(a, op(b, base)); FoldSeq takes   *)
(* the elements in an unspecified order (op associative and commutative). *)
(***************************************************************************)
FoldLeft(op(_, _), base, s) ==
  LET RECURSIVE F(_)
      F(i) == IF i = 0 THEN base ELSE op(F(i - 1), s[i])
  IN F(Len(s))

FoldRight(op(_, _), s, base) ==
  LET RECURSIVE F(_)
      F(i) == IF i > Len(s) THEN base ELSE op(s[i], F(i + 1))
  IN F(1)

FoldSeq(op(_, _), base, s) == FoldFunction(op, base, s)

\* The concatenation of the sequences in the sequence ss.
FlattenSeq(ss) == FoldLeft(LAMBDA a, b : a \o b, <<>>, ss)

\* The pairs of the elements of s and t at the same position (same length).
Zip(s, t) == [i \in 1..Len(s) |-> <<s[i], t[i]>>]

\* s[1], t[1], s[2], t[2]... (s and t of the same length).
Interleave(s, t) ==
  [i \in 1..(2 * Len(s)) |-> IF i % 2 = 1 THEN s[(i + 1) \div 2] ELSE t[i \div 2]]

\* All the contiguous subsequences of s, <<>> included.
SubSeqs(s) == {SubSeq(s, i, j) : i \in 1..(Len(s) + 1), j \in 0..Len(s)}

\* All the subsequences of s, contiguous or not (the elements of s at the
\* positions of a subset of its indices, in order).
AllSubSeqs(s) ==
  {[k \in 1..Cardinality(I) |-> s[CHOOSE i \in I : Cardinality({j \in I : j <= i}) = k]] :
     I \in SUBSET (1..Len(s))}

\* The first index at which s occurs in t as a contiguous subsequence (an
\* error when it does not occur; 1 for s = <<>>).
IndexFirstSubSeq(s, t) ==
  CHOOSE i \in 1..(Len(t) - Len(s) + 1) :
    /\ SubSeq(t, i, i + Len(s) - 1) = s
    /\ \A j \in 1..(i - 1) : SubSeq(t, j, j + Len(s) - 1) # s

\* t with its first occurrence of s replaced by r (t itself if s does not occur).
ReplaceFirstSubSeq(r, s, t) ==
  IF \E i \in 1..(Len(t) - Len(s) + 1) : SubSeq(t, i, i + Len(s) - 1) = s
  THEN LET i == IndexFirstSubSeq(s, t)
       IN SubSeq(t, 1, i - 1) \o r \o SubSeq(t, i + Len(s), Len(t))
  ELSE t

\* The first (last) index i of seq, or of seq's indices from..to, such that
\* Test(seq[i]); 0 when there is none.
SelectInSubSeq(seq, from, to, Test(_)) ==
  LET I == {i \in from..to : Test(seq[i])}
  IN IF I = {} THEN 0 ELSE CHOOSE i \in I : \A j \in I : i <= j
SelectInSeq(seq, Test(_)) == SelectInSubSeq(seq, 1, Len(seq), Test)
SelectLastInSubSeq(seq, from, to, Test(_)) ==
  LET I == {i \in from..to : Test(seq[i])}
  IN IF I = {} THEN 0 ELSE CHOOSE i \in I : \A j \in I : i >= j
SelectLastInSeq(seq, Test(_)) == SelectLastInSubSeq(seq, 1, Len(seq), Test)
=============================================================================
