---- MODULE WrappedLib ----
EXTENDS Naturals
VARIABLE x
Init == x \in 0..2
Next == x < 2 /\ x' = x + 1
Spec == Init /\ [][Next]_x
====
