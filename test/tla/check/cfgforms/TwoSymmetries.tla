---- MODULE TwoSymmetries ----
\* Two independent sets of symmetric model values.
EXTENDS TLC
CONSTANTS A, B
VARIABLES a, b
Init == a \in A /\ b \in B
Next == UNCHANGED <<a, b>>
Perms == Permutations(A) \cup Permutations(B)
====
