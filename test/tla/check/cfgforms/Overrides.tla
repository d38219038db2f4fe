---- MODULE Overrides ----
\* Definitions the .cfg replaces: NoVal (TLC cannot evaluate an unbounded CHOOSE) by a model
\* value, Limit by 3, and Nat as OverridesLib uses it by Few.
EXTENDS Integers, FiniteSets, OverridesLib
VARIABLE x

NoVal == CHOOSE v : v \notin Nat
Limit == 100
Few == 0..1

ASSUME Cardinality(Small) = 2

Init == x = NoVal
Next == /\ x # NoVal => x < Limit
        /\ x' = IF x = NoVal THEN 0 ELSE x + 1

TypeOK == x = NoVal \/ x \in 0..Limit

Alias == [now |-> x, then |-> x']

PostOk == Limit = 3
PostBad == Limit = 4
====
