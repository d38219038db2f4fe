------------------------------- MODULE Counters -------------------------------
(* K counters, each counting modulo M; one step increments one counter.      *)
(* Hand-checkable figures: M^K distinct states, 1 + K * M^K states generated *)
(* (one initial state, K successors per state), depth K * (M - 1) + 1.       *)
EXTENDS Naturals

CONSTANTS K, M

VARIABLE c

Idx == 1..K

Init == c = [i \in Idx |-> 0]

Tick(i) == c' = [c EXCEPT ![i] = (@ + 1) % M]

Next == \E i \in Idx : Tick(i)

TypeOK == c \in [Idx -> 0..(M - 1)]

\* Fails first at a state where every counter is M - 1: K * (M - 1) steps away.
NotAllFull == \E i \in Idx : c[i] # M - 1

\* Only the first counter ticks, fairly.
FirstSpec == Init /\ [][Tick(1)]_c /\ WF_c(Tick(1))

\* Everything ticks, fairly as a whole: the first counter may stay put forever.
AnySpec == Init /\ [][Next]_c /\ WF_c(Next)

FirstReturnsToZero == []<>(c[1] = 0)
FirstSettles == <>[](c[1] = 0)
FirstReachesTop == <>(c[1] = M - 1)
TopLeadsToZero == (c[1] = M - 1) ~> (c[1] = 0)
FirstNeverDecreasesByTwo == [][c'[1] # c[1] - 2]_c
===============================================================================
