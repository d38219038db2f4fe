---- MODULE Wrapped ----
\* A specification that adds an initial conjunct to one defined in an extended module
\* (as MCEcho's TestSpec == PrintT(R) /\ Spec does): both are initial predicates.
EXTENDS WrappedLib
Wrapped == Spec /\ x # 1
====
