-------------------------- MODULE SubexprCounter --------------------------
(* A counter modulo 5 whose invariants are conjuncts of Inv named by subexpression
   references, and a theorem used as an assumption. *)
EXTENDS Naturals

VARIABLE x

Init == x = 0
Next == x' = (x + 1) % 5

Inv == /\ x \in 0..4
       /\ x <= 2

THEOREM Bounded == \A n \in 0..4 : n + 1 > n
ASSUME Bounded

TypeOK == Inv!1
Small == Inv!2
=============================================================================
