---- MODULE OverridesLib ----
EXTENDS Naturals
\* Only finite once the model replaces Nat here.
Small == {n \in Nat : n < 3}
====
