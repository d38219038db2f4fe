---- MODULE SymRel ----
\* A binary relation over a set of model values, one pair toggled per step.
\* Every relation over Procs is reachable; under SYMMETRY the states are the relations up to
\* renaming the points.
EXTENDS TLC
CONSTANTS Procs
VARIABLE rel

Edge(p, q) == [src |-> p, dst |-> q]

Init == rel = {}

Next == \E p, q \in Procs :
          rel' = IF Edge(p, q) \in rel THEN rel \ {Edge(p, q)} ELSE rel \cup {Edge(p, q)}

TypeOK == rel \subseteq [src : Procs, dst : Procs]

Sym == Permutations(Procs)
====
