-------------------------- MODULE WellFoundedInduction --------------------------
(***************************************************************************)
(* Buffy's own version of the TLAPS library module about well-founded      *)
(* relations. A relation R is a set of pairs <<x, y>> read "x is below y". *)
(* The theorems are proof-only and dropped by Buffy's parser; the          *)
(* definitions they are stated with follow.                                *)
(***************************************************************************)
EXTENDS NaturalsInduction

\* The elements of S below y.
SetLessThan(y, R, S) == {x \in S : <<x, y>> \in R}

\* R is well founded on S: no infinite descending chain of elements of S.
IsWellFoundedOn(R, S) ==
  ~ \E f \in [Nat -> S] : \A n \in Nat : <<f[n + 1], f[n]>> \in R

\* The strict subset ordering on the subsets of S.
StrictSubsetOrdering(S) == {ss \in (SUBSET S) \X (SUBSET S) : ss[1] \subseteq ss[2] /\ ss[1] # ss[2]}

\* The open interval of integers strictly between a and b.
OpenInterval(a, b) == {i \in Int : a < i /\ i < b}

\* The "less than" relation on the natural numbers (as pairs of Nat).
NatLessThan == {ss \in Nat \X Nat : ss[1] < ss[2]}

\* Def(g, x) defines f on S by well-founded recursion when the value at x
\* depends only on the values of g below x.
WFDefOn(R, S, Def(_, _)) ==
  \A g, h : \A x \in S :
    (\A y \in SetLessThan(x, R, S) : g[y] = h[y]) => (Def(g, x) = Def(h, x))

\* f is the function on S given by the recursive definition Def.
OpDefinesFcn(f, S, Def(_, _)) == f = CHOOSE g : g = [x \in S |-> Def(g, x)]

WFInductiveDefines(f, S, Def(_, _)) == f = [x \in S |-> Def(f, x)]

WFInductiveUnique(S, Def(_, _)) ==
  \A g, h : (g = [x \in S |-> Def(g, x)]) /\ (h = [x \in S |-> Def(h, x)]) => (g = h)
=============================================================================
