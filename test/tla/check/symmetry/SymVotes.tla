---- MODULE SymVotes ----
\* Each process votes for a value (none at first) and may change its vote; the state is the
\* function from processes to votes, a tuple of the processes' votes and the set of values
\* voted for.
EXTENDS TLC
CONSTANTS Procs, Values, none
VARIABLES vote, voted

Init == /\ vote = [p \in Procs |-> none]
        /\ voted = {}

Next == \E p \in Procs, v \in Values :
          /\ vote' = [vote EXCEPT ![p] = v]
          /\ voted' = {vote'[q] : q \in Procs} \ {none}

SymProcs == Permutations(Procs)
\* Renaming processes and values together: the product of the two groups.
SymBoth == { [x \in Procs \cup Values |-> IF x \in Procs THEN f[x] ELSE g[x]] :
               f \in Permutations(Procs), g \in Permutations(Values) }
====
