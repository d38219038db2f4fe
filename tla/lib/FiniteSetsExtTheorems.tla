------------------------- MODULE FiniteSetsExtTheorems -------------------------
(***************************************************************************)
(* Buffy's own version of the library module of theorems about the         *)
(* operators of FiniteSetsExt. Theorems and proofs are dropped by Buffy's  *)
(* parser; extending this module brings in FiniteSetsExt.                  *)
(***************************************************************************)
EXTENDS FiniteSetsExt, FiniteSets, Integers
=============================================================================
