---------------------------- MODULE LibQueue ----------------------------
(* A bounded stack of 1s and 2s written with the community modules' operators: every
   sequence over {1, 2} of length at most 3 is reachable (1 + 2 + 4 + 8 = 15 states). *)
EXTENDS Naturals, SequencesExt, FiniteSetsExt, Functions, TLAPS

VARIABLE q

Init == q = <<>>

Next == \/ /\ Len(q) < 3
           /\ \E v \in 1..2 : q' = Cons(v, q)
        \/ /\ q # <<>>
           /\ q' = Front(q)

Inv == /\ Sum(ToSet(q)) <= 3
       /\ IsPrefix(Front(q), q)
       /\ Reverse(Reverse(q)) = q
       /\ Range(q) \subseteq 1..2
       /\ Len(SetToSeq(ToSet(q))) = Cardinality(ToSet(q))
       /\ FoldLeft(LAMBDA a, b : a + b, 0, q) = FoldRight(LAMBDA a, b : a + b, q, 0)

\* Not an invariant: the stack <<2, 2, 2>> is reachable.
SmallSum == FoldLeft(LAMBDA a, b : a + b, 0, q) < 6
=============================================================================
