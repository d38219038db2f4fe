---- MODULE PrimedArgs ----
\* Operators that assign a primed argument (Specifying Systems' MCInternalMemory:
\* Send(p, d, memInt, memInt') with Send <- MCSend, MCSend(p, d, old, new) == new = <<p, d>>).
EXTENDS Naturals
CONSTANT Op(_, _)
VARIABLE x
Set(v, nv) == nv = v + 1
Double(v, nv) == nv = 2 * v
Init == x = 1
Next == \/ x < 5 /\ Set(x, x')
        \/ x < 5 /\ Op(x, x')
\* The same through an instance: its Op is PrimedArgs's Op, which the .cfg replaces.
I == INSTANCE PrimedArgsInner
NextI == \/ x < 5 /\ Set(x, x')
         \/ I!Step
\* Calls by name: a variable argument assigned in an initial predicate, an action argument.
SetTo(v, k) == v = k
InitByName == SetTo(x, 1)
Inc == x' = x + 1
Guarded(A) == x < 5 /\ A
NextByName == Guarded(Inc) \/ Guarded(Op(x, x'))
====
