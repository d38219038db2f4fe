-------------------------------- MODULE TLAPS --------------------------------
(***************************************************************************)
(* Buffy's own version of the TLA+ Proof System's standard module.         *)
(*                                                                         *)
(* In TLAPS these names select proof back ends and tactics in BY clauses   *)
(* (BY SMT, BY Zenon, BY IsaM("blast")...). Proofs are not read by Buffy:  *)
(* its parser drops theorems and proofs. The names are still defined, with *)
(* the value TRUE (a pragma asserts nothing), so that a specification that *)
(* EXTENDS TLAPS loads and any use of a name outside a proof resolves.     *)
(* The theorems of the real module (SetExtensionality...) are proof-only   *)
(* facts and are not stated here.                                          *)
(***************************************************************************)

\* SMT solvers, with and without a time-out argument (seconds).
SMT == TRUE
SMTT(X) == TRUE
CVC3 == TRUE
CVC3T(X) == TRUE
Yices == TRUE
YicesT(X) == TRUE
veriT == TRUE
veriTT(X) == TRUE
Z3 == TRUE
Z3T(X) == TRUE
Spass == TRUE
SpassT(X) == TRUE
SimpleArithmetic == TRUE

\* The Zenon tableau prover.
Zenon == TRUE
ZenonT(X) == TRUE
SlowZenon == TRUE
SlowerZenon == TRUE
VerySlowZenon == TRUE
SlowestZenon == TRUE

\* Isabelle/TLA+ and its tactics.
Isa == TRUE
IsaT(X) == TRUE
IsaM(X) == TRUE
IsaMT(X, Y) == TRUE
Auto == TRUE
Force == TRUE
Blast == TRUE
SimplifyAndSolve == TRUE
Simplification == TRUE
AutoBlast == TRUE

\* Temporal reasoning.
LS4 == TRUE
PTL == TRUE
PropositionalTemporalLogic == TRUE

\* Several back ends tried in turn.
AllProvers == TRUE
AllProversT(X) == TRUE
AllSMT == TRUE
AllSMTT(X) == TRUE
AllIsa == TRUE
AllIsaT(X) == TRUE

\* Pragmas about ENABLED, action composition and definitions.
ExpandENABLED == TRUE
ExpandCdot == TRUE
AutoUSE == TRUE
Lambdify == TRUE
ENABLEDaxioms == TRUE
ENABLEDrewrites == TRUE
ENABLEDrules == TRUE
LevelComparison == TRUE
IsaWithSetExtensionality == TRUE
=============================================================================
