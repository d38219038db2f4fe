--------------------------------- MODULE Grid ---------------------------------
(* Processes (model values) each step a position up to N, remembering the     *)
(* steps taken in a set of tuples and the last mover in a record: states hold  *)
(* functions, sets, tuples, records and model values, so a parallel search     *)
(* sends all of them between workers.                                         *)
EXTENDS Naturals, FiniteSets

CONSTANTS N, Procs

VARIABLES pos, steps, last

Init == /\ pos = [p \in Procs |-> 0]
        /\ steps = {}
        /\ last = [who |-> "none"]

Move(p) == /\ pos[p] < N
           /\ pos' = [pos EXCEPT ![p] = @ + 1]
           /\ steps' = steps \cup {<<p, pos[p]>>}
           /\ last' = [who |-> p]

Next == \E p \in Procs : Move(p)

TypeOK == /\ pos \in [Procs -> 0..N]
          /\ Cardinality(steps) <= N * Cardinality(Procs)

\* Violated wherever some process has arrived: (N + 1)^k - N^k states.
NoneArrived == \A p \in Procs : pos[p] < N

\* Violated only where every process has arrived (the one deadlocked state).
NotAllArrived == \E p \in Procs : pos[p] < N
===============================================================================
