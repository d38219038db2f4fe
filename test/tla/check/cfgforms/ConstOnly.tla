---- MODULE ConstOnly ----
\* No variables and no behaviour: TLC only evaluates the ASSUMEs.
EXTENDS Naturals
CONSTANT N
Double(k) == 2 * k
ASSUME Double(N) = N + N
ASSUME N > 2
TypeOK == TRUE
====
