---- MODULE SpecAssumption ----
\* A counter 0 -> 1 -> 2 -> 3 -> 0.  Without fairness it may stop anywhere; the SPECIFICATION
\* EventuallyMoving adds the temporal assumption []<><<Next>>_x, which is neither WF nor SF:
\* as in TLC it is an assumption of the liveness check.  4 distinct states, 5 generated
\* (the initial state and one successor per state), depth 4.
EXTENDS Naturals
VARIABLE x
Init == x = 0
Next == IF x < 3 THEN x' = x + 1 ELSE x' = 0
Unfair == Init /\ [][Next]_x
EventuallyMoving == Init /\ [][Next]_x /\ []<><<Next>>_x
\* Holds only for behaviours that keep moving.
ReachesThree == <>(x = 3)
\* Fails even then: the counter keeps coming back to 0.
SettlesAtZero == <>[](x = 0)
====
