----------------------------- MODULE TemporalAbs -----------------------------
(* An abstract flag that is eventually raised, fairly.                        *)
VARIABLE y

Init == y = FALSE
Raise == ~y /\ y' = TRUE
Spec == Init /\ [][Raise]_y /\ WF_y(Raise)
=============================================================================
