-------------------------- MODULE EnabledRefineAbs --------------------------
VARIABLES active, detected
vars == <<active, detected>>

AInit == active \in BOOLEAN /\ detected = FALSE
AStop == active /\ active' = FALSE /\ UNCHANGED detected
ADetect == ~active /\ ~detected /\ detected' = TRUE /\ UNCHANGED active
ANext == AStop \/ ADetect
ASpec == AInit /\ [][ANext]_vars /\ WF_vars(ADetect)
=============================================================================
