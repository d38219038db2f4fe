--------------------------- MODULE NaturalsInduction ---------------------------
(***************************************************************************)
(* Buffy's own version of the TLAPS library module about induction over    *)
(* the natural numbers. Its theorems are proof-only and dropped by Buffy's *)
(* parser; what remains are the definitions that the theorems talk about: *)
(* when a function on Nat (or on m..n) is defined inductively by a base    *)
(* value and a step operator Def(previous value, index).                   *)
(***************************************************************************)
EXTENDS Integers, TLAPS

\* f is the function on Nat with f[0] = f0 and f[i] = Def(f[i-1], i).
NatInductiveDefConclusion(f, f0, Def(_, _)) ==
  f = [i \in Nat |-> IF i = 0 THEN f0 ELSE Def(f[i - 1], i)]

\* f is defined as the (unique) function satisfying the equation above.
NatInductiveDefHypothesis(f, f0, Def(_, _)) ==
  f = CHOOSE g : g = [i \in Nat |-> IF i = 0 THEN f0 ELSE Def(g[i - 1], i)]

\* The same on the interval m..n, starting from f[m] = c.
FiniteNatInductiveDefConclusion(f, c, Def(_, _), m, n) ==
  f = [i \in m..n |-> IF i = m THEN c ELSE Def(f[i - 1], i)]

FiniteNatInductiveDefHypothesis(f, c, Def(_, _), m, n) ==
  f = CHOOSE g : g = [i \in m..n |-> IF i = m THEN c ELSE Def(g[i - 1], i)]
=============================================================================
