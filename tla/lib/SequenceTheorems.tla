--------------------------- MODULE SequenceTheorems ---------------------------
(***************************************************************************)
(* Buffy's own version of the TLAPS library module of theorems about       *)
(* sequences. Theorems and proofs are dropped by Buffy's parser; extending *)
(* this module brings in the modules it builds on.                         *)
(***************************************************************************)
EXTENDS Sequences, Integers, WellFoundedInduction, Functions, TLAPS
=============================================================================
