---- MODULE PrimedArgsInner ----
EXTENDS Naturals
CONSTANT Op(_, _)
VARIABLE x
Step == x < 5 /\ Op(x, x')
====
