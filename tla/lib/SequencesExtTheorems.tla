------------------------- MODULE SequencesExtTheorems -------------------------
(***************************************************************************)
(* Buffy's own version of the library module of theorems about the         *)
(* operators of SequencesExt. Theorems and proofs are dropped by Buffy's   *)
(* parser; extending this module brings in SequencesExt.                   *)
(***************************************************************************)
EXTENDS SequencesExt, SequenceTheorems
=============================================================================
