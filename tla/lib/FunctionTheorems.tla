--------------------------- MODULE FunctionTheorems ---------------------------
(***************************************************************************)
(* Buffy's own version of the TLAPS library module of theorems about       *)
(* functions (injections, surjections, bijections). Theorems and proofs    *)
(* are dropped by Buffy's parser; the operators they are about come from   *)
(* the community module Functions, extended here.                          *)
(***************************************************************************)
EXTENDS Functions, Integers, FiniteSets, TLAPS
=============================================================================
