----------------------------- MODULE EnabledParam ---------------------------
(* Two flags f[1], f[2], each raised once. 4 states (FF TF FT TT); 1 initial *)
(* + 4 successors = 5 generated. A(p) views f[p] as EnabledFlag's flag (a     *)
(* parameterised instance, substituted by an expression). FairSpec raises    *)
(* both: Refines holds. UnfairSpec is fair to Raise(1) only: it may stop     *)
(* with f[2] = FALSE while A(2)!FRaise stays enabled.                        *)
VARIABLE f
Init == f = [p \in {1, 2} |-> FALSE]
Raise(p) == ~f[p] /\ f' = [f EXCEPT ![p] = TRUE]
Next == \E p \in {1, 2} : Raise(p)
FairSpec == Init /\ [][Next]_f /\ \A p \in {1, 2} : WF_f(Raise(p))
UnfairSpec == Init /\ [][Next]_f /\ WF_f(Raise(1))
A(p) == INSTANCE EnabledFlag WITH flag <- f[p]
Refines == \A p \in {1, 2} : A(p)!FSpec
Refines2 == A(2)!FSpec
=============================================================================
