---------------------------- MODULE EnabledOuter ----------------------------
(* ENABLED through INSTANCE substitutions. Under an ENABLED written inside   *)
(* the instantiated module, its variables are free next-state variables (y'  *)
(* gets a value of its own) while an unprimed y still means x % 3; an        *)
(* ENABLED written here, around I!A, primes the substitution instead.        *)
EXTENDS Naturals
VARIABLES x, z

I == INSTANCE EnabledInner WITH y <- x % 3, w <- z

EnBump == I!EnBump
EnBumpSucc == I!EnBumpSucc
EnAngleSame == I!EnAngleSame
EnAnglePick == I!EnAnglePick
EnPickStay == I!EnPickStay
EnTwice == I!EnTwice
\* The ENABLED is outside the instance: y' means (x % 3)', which it cannot assign (TLC: error).
OutsideBump == ENABLED I!Bump
\* w <- z is a variable: z' is assigned (as in TLC).
OutsideMoveW == ENABLED I!MoveW
OutsideKeepW == ENABLED (I!KeepW /\ z' = z + 1)
\* Two levels: u <- y + 10 inside EnabledInner, u free under an ENABLED in EnabledInner2.
EnUpNested == I!J!EnUp
EnUpVia == I!EnJ2Up
EnUpCut == I!EnJUp
=============================================================================
