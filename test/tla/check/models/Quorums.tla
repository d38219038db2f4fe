---- MODULE Quorums ----
\* Invariants that test membership in set filters over SUBSET SUBSET (1..4) (65,536 elements),
\* decided without building the set (test/tla/eval/lazy-membership.test.ts). TLC 2.18: 3145
\* states generated, 849 distinct, depth 4.
EXTENDS Naturals, FiniteSets
S == 1..4
VARIABLES picked, n
\* A family of subsets in which every two members intersect.
Intersecting(F) == \A A, B \in F : A \cap B /= {}
Init == picked = {} /\ n = 0
Next == \/ /\ n < 3
           /\ \E s \in SUBSET S : picked' = picked \cup {s} /\ n' = n + 1
        \/ /\ n = 3
           /\ UNCHANGED <<picked, n>>
TypeOK == picked \in SUBSET SUBSET S /\ n \in 0..3
Inv == picked \in {F \in SUBSET SUBSET S : Cardinality(F) <= n}
Valid == {F \in SUBSET SUBSET S : Intersecting(F)}
Inv2 == Intersecting(picked) => picked \in Valid
Card == Cardinality(SUBSET SUBSET S) = 65536 /\ Cardinality([S -> S]) = 256
Spec == Init /\ [][Next]_<<picked, n>>
====
