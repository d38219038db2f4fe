---------------------------- MODULE EnabledRefine ---------------------------
(* A node stops (a: TRUE -> FALSE), then termination is detected (d: 0 -> 1). *)
(* 3 states: (T,0) (F,0) (F,1); 2 initial + 2 successors = 4 generated.     *)
(* EnabledRefineAbs's detected is substituted by the expression d = 1, so    *)
(* the ENABLED of its fairness condition assigns detected' as a free         *)
(* variable. FairSpec refines it; UnfairSpec may stop at (F,0) while ADetect *)
(* stays enabled, violating WF.                                              *)
EXTENDS Naturals
VARIABLES a, d

Init == a \in BOOLEAN /\ d = 0
Stop == a /\ a' = FALSE /\ d' = d
Detect == ~a /\ d = 0 /\ d' = 1 /\ a' = a
Next == Stop \/ Detect
FairSpec == Init /\ [][Next]_<<a, d>> /\ WF_<<a, d>>(Next)
UnfairSpec == Init /\ [][Next]_<<a, d>>

Abs == INSTANCE EnabledRefineAbs WITH active <- a, detected <- (d = 1)
AbsSpec == Abs!ASpec
=============================================================================
