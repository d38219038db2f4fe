-------------------------------- MODULE TLCExt --------------------------------
(***************************************************************************)
(* Buffy's own version of the community module TLCExt: extensions of the   *)
(* TLC module. The operators that only TLC's Java engine can give (the     *)
(* current trace, new model values, catching errors, fingerprints) stop    *)
(* the check with an error naming the operator when they are evaluated.    *)
(***************************************************************************)
LOCAL INSTANCE TLC

\* TRUE when a = b; otherwise prints both values and is FALSE.
AssertEq(a, b) ==
  IF a = b THEN TRUE
  ELSE PrintT(<<"AssertEq: the two values differ", a, b>>) /\ FALSE

\* The value itself (in TLC, evaluated without the checker's side effects).
TLCNoOp(val) == val

\* The value of expr (TLC may cache it; caching does not change values).
TLCCache(expr, closure) == expr

AssertError(err, exp) ==
  Assert(FALSE, "TLCExt!AssertError is not supported by Buffy: it cannot catch evaluation errors")

TLCModelValue(str) ==
  Assert(FALSE, "TLCExt!TLCModelValue is not supported by Buffy: declare model values in the .cfg file instead")

Trace ==
  Assert(FALSE, "TLCExt!Trace is not supported by Buffy: the trace to the current state is not available to expressions")

CounterExample ==
  Assert(FALSE, "TLCExt!CounterExample is not supported by Buffy: counterexamples are written by the checker (--json, ITF traces)")

ToTrace(CE) ==
  Assert(FALSE, "TLCExt!ToTrace is not supported by Buffy: counterexamples are written by the checker (--json, ITF traces)")

TLCFP(val) ==
  Assert(FALSE, "TLCExt!TLCFP is not supported by Buffy: its fingerprints differ from TLC's")

PickSuccessor(exp) ==
  Assert(FALSE, "TLCExt!PickSuccessor is not supported by Buffy: it needs TLC's interactive simulation")

TLCDefer(exp) ==
  Assert(FALSE, "TLCExt!TLCDefer is not supported by Buffy")
=============================================================================
