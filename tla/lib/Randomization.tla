---------------------------- MODULE Randomization ----------------------------
(***************************************************************************)
(* Buffy's own version of the community module Randomization: pseudo-      *)
(* random subsets, for models that would be too large to check with every *)
(* subset. The choices come from TLC's RandomElement, which Buffy draws    *)
(* from a seeded generator (--seed, default 1): a run is reproducible, and *)
(* differs from TLC's run, whose generator is different. As in TLC, a      *)
(* constant definition using these operators is evaluated once per run.    *)
(***************************************************************************)
LOCAL INSTANCE Naturals
LOCAL INSTANCE FiniteSets
LOCAL INSTANCE TLC

\* A pseudo-randomly chosen subset of S with exactly k elements
\* (0 <= k <= Cardinality(S)).
RandomSubset(k, S) ==
  LET RECURSIVE Pick(_, _)
      Pick(n, T) == IF n = 0 THEN {}
                    ELSE LET x == RandomElement(T) IN {x} \cup Pick(n - 1, T \ {x})
  IN IF k \in 0..Cardinality(S) THEN Pick(k, S)
     ELSE Assert(FALSE, "RandomSubset(k, S) needs 0 <= k <= Cardinality(S)")

(***************************************************************************)
(* A pseudo-random set of subsets of S: k subsets are drawn, each element  *)
(* of S belonging to a drawn subset with probability n / Cardinality(S),   *)
(* so that the subsets have n elements on average; equal draws count once, *)
(* so the result has at most k elements.                                   *)
(***************************************************************************)
RandomSetOfSubsets(k, n, S) ==
  LET c == Cardinality(S)
      \* One draw per (subset number, element): the pair makes each draw a
      \* separate evaluation.
      Draw(i) == {e \in S : RandomElement({<<i, e>>} \X (1..c))[2] <= n}
  IN IF c = 0 THEN {{}} ELSE {Draw(i) : i \in 1..k}
=============================================================================
