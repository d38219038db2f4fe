---------------------------- MODULE FiniteSetsExt ----------------------------
(***************************************************************************)
(* Buffy's own version of the community module FiniteSetsExt: folds, sums, *)
(* extrema and counting over finite sets. Written from the documented      *)
(* meaning of each operator. As the community module does, it extends      *)
(* Folds and Functions, whose operators (Range...) it therefore exports.   *)
(***************************************************************************)
EXTENDS Integers, FiniteSets, Folds, Functions

(***************************************************************************)
(* Fold op over the elements of the finite set S, starting from base. The  *)
(* order of the elements is not specified: op should be associative and    *)
(* commutative. FoldSet(LAMBDA x, y : x + y, 0, 1..4) = 10.                *)
(***************************************************************************)
FoldSet(op(_, _), base, S) ==
  MapThenFoldSet(op, base, LAMBDA x : x, LAMBDA T : CHOOSE x \in T : TRUE, S)

\* The former name of FoldSet, with the arguments in another order.
ReduceSet(op(_, _), S, base) == FoldSet(op, base, S)

\* The sum of f(x) over the elements x of S.
MapThenSumSet(f(_), S) ==
  MapThenFoldSet(LAMBDA x, y : x + y, 0, f, LAMBDA T : CHOOSE x \in T : TRUE, S)

\* The sum and the product of a finite set of integers.
Sum(S) == FoldSet(LAMBDA x, y : x + y, 0, S)
Product(S) == FoldSet(LAMBDA x, y : x * y, 1, S)

\* The greatest and the least element of a non-empty finite set of integers
\* (of {} there is none: an error).
Max(S) == CHOOSE x \in S : \A y \in S : x >= y
Min(S) == CHOOSE x \in S : \A y \in S : x <= y

\* The number of elements of S that satisfy P.
Quantify(S, P(_)) == Cardinality({x \in S : P(x)})

\* The subsets of S with exactly k elements ({T \in SUBSET S : Cardinality(T) = k}),
\* built element by element so that the cost follows their number, not 2^Cardinality(S).
kSubset(k, S) ==
  LET RECURSIVE Pick(_, _)
      Pick(j, T) == IF j = 0 THEN {{}}
                    ELSE IF Cardinality(T) < j THEN {}
                    ELSE LET x == CHOOSE e \in T : TRUE
                             rest == T \ {x}
                         IN Pick(j, rest) \cup {U \cup {x} : U \in Pick(j - 1, rest)}
  IN Pick(k, S)

\* The elements in exactly one of A and B.
SymDiff(A, B) == (A \ B) \cup (B \ A)

\* The union of a set of sets.
Flatten(S) == UNION S

\* The functions that pick one element from each of the sets in S.
Choices(S) == {f \in [S -> UNION S] : \A T \in S : f[T] \in T}

\* The element of S satisfying P, which must be the only one.
ChooseUnique(S, P(_)) == CHOOSE x \in S : P(x) /\ \A y \in S : P(y) => y = x
=============================================================================
