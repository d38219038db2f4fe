---- MODULE ScopedValueLib ----
EXTENDS Naturals
None == CHOOSE v : v \notin Nat
====
