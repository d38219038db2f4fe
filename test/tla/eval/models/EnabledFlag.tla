----------------------------- MODULE EnabledFlag ----------------------------
VARIABLE flag
FInit == flag = FALSE
FRaise == ~flag /\ flag' = TRUE
FSpec == FInit /\ [][FRaise]_flag /\ WF_flag(FRaise)
=============================================================================
