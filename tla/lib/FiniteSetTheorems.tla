--------------------------- MODULE FiniteSetTheorems ---------------------------
(***************************************************************************)
(* Buffy's own version of the TLAPS library module of theorems about       *)
(* finite sets and their cardinality. It states theorems only; Buffy's     *)
(* parser drops theorems and proofs, so what a specification gets from     *)
(* extending it is the modules it builds on.                               *)
(***************************************************************************)
EXTENDS FiniteSets, Functions, WellFoundedInduction
=============================================================================
