---- MODULE ScopedValue ----
\* A definition of an instanced module replaced by a value (NanoBlockchain's NoHash = [Nano]NoHashVal).
EXTENDS Naturals
VARIABLE x
L == INSTANCE ScopedValueLib
Init == x = L!None
Next == x = L!None /\ x' = 0
====
