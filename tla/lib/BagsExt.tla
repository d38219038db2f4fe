-------------------------------- MODULE BagsExt --------------------------------
(***************************************************************************)
(* Buffy's own version of the community module BagsExt: more operators on  *)
(* bags (functions from elements to their positive number of copies, as in *)
(* the standard module Bags).                                              *)
(***************************************************************************)
LOCAL INSTANCE Bags
LOCAL INSTANCE Naturals

\* B with one more copy of x.
BagAdd(B, x) ==
  IF x \in DOMAIN B THEN [e \in DOMAIN B |-> IF e = x THEN B[e] + 1 ELSE B[e]]
  ELSE [e \in DOMAIN B \cup {x} |-> IF e = x THEN 1 ELSE B[e]]

\* B with one copy of x less (B itself when x is not in B).
BagRemove(B, x) ==
  IF x \notin DOMAIN B THEN B
  ELSE IF B[x] = 1 THEN [e \in DOMAIN B \ {x} |-> B[e]]
  ELSE [e \in DOMAIN B |-> IF e = x THEN B[e] - 1 ELSE B[e]]

\* B without any copy of x.
BagRemoveAll(B, x) == [e \in DOMAIN B \ {x} |-> B[e]]

(***************************************************************************)
(* Fold op over every copy of every element of B (f applied to each),       *)
(* starting from base, elements taken in the order choose gives.           *)
(***************************************************************************)
MapThenFoldBag(op(_, _), base, f(_), choose(_), B) ==
  LET RECURSIVE Fold(_)
      Fold(C) == IF DOMAIN C = {} THEN base
                 ELSE LET x == choose(DOMAIN C) IN op(f(x), Fold(BagRemove(C, x)))
  IN Fold(B)

FoldBag(op(_, _), base, B) ==
  MapThenFoldBag(op, base, LAMBDA x : x, LAMBDA S : CHOOSE x \in S : TRUE, B)

\* The sum and the product of a bag of integers, copies included.
SumBag(B) == FoldBag(LAMBDA x, y : x + y, 0, B)
ProductBag(B) == FoldBag(LAMBDA x, y : x * y, 1, B)
=============================================================================
