-------------------------------- MODULE Folds --------------------------------
(***************************************************************************)
(* Buffy's own version of the community module Folds: the general fold     *)
(* over a finite set that FoldSet, FoldFunction, FoldLeft... are built on. *)
(***************************************************************************)
LOCAL INSTANCE Naturals

(***************************************************************************)
(* Starting from base, combine f(x) for every x in the finite set S with   *)
(* op, taking the elements in the order given by choose (choose(T) is the  *)
(* element of the non-empty set T to take next):                           *)
(*   MapThenFoldSet(op, base, f, choose, {a, b}) = op(f(a), op(f(b), base)) *)
(* when choose({a, b}) = a. The result depends on choose unless op is      *)
(* associative and commutative.                                            *)
(***************************************************************************)
RECURSIVE MapThenFoldSet(_, _, _, _, _)
MapThenFoldSet(op(_, _), base, f(_), choose(_), S) ==
  IF S = {} THEN base
  ELSE LET x == choose(S)
       IN op(f(x), MapThenFoldSet(op, base, f, choose, S \ {x}))
=============================================================================
