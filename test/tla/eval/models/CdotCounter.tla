---- MODULE CdotCounter ----
\* Action composition: Inc, or Inc followed by Reset (3 wraps to 0), under x <= 3.
\* Worked by hand (Bound keeps x <= 3; a state outside it is generated, not kept):
\*   0: Inc -> 1, Inc \cdot Reset -> (u = 1) 1
\*   1: Inc -> 2, Inc \cdot Reset -> (u = 2) 2
\*   2: Inc -> 3, Inc \cdot Reset -> (u = 3) 0
\*   3: Inc -> 4 (outside Bound), Inc \cdot Reset -> (u = 4) 4 (outside Bound)
\* Distinct states 0..3 (4), depth 4 (0, 1, 2, 3). Successors emitted: 1 initial + 2 per
\* state = 9; intermediate states u: 1 per state = 4; TLC's states generated: 9 + 4 = 13.
EXTENDS Naturals, TLC
VARIABLE x
ASSUME TLCGet("-Dtlc2.tool.impl.Tool.cdot") = "true"
ASSUME TLCGet("config").mode = "bfs" /\ TLCGet("config").worker = 1
Init == x = 0
Inc == x' = x + 1
Reset == x' = IF x = 3 THEN 0 ELSE x
Next == Inc \/ (Inc \cdot Reset)
Bound == x <= 3
TypeOK == x \in 0..4  \* invariants are checked on the states outside Bound too (as TLC)
====
