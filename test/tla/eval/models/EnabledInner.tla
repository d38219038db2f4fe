---------------------------- MODULE EnabledInner ----------------------------
EXTENDS Naturals
VARIABLES y, w

Succ == y + 1
Bump == y < 2 /\ y' = y + 1 /\ UNCHANGED w
Pick == y' \in {y, 7} /\ w' = w
Same == UNCHANGED <<y, w>>
MoveW == w' = w + 1
KeepW == UNCHANGED w

\* Enabled iff y < 2.
EnBump == ENABLED Bump
\* Succ' is y' + 1 (y' free): 2 iff y' = 1, i.e. iff y = 0.
EnBumpSucc == ENABLED (Bump /\ Succ' = 2)
\* Same leaves <<y, w>> unchanged: never an <<..>>_ step.
EnAngleSame == ENABLED <<Same>>_<<y, w>>
\* y' = 7 changes y (y \in 0..2).
EnAnglePick == ENABLED <<Pick>>_y
\* y' = y is one of Pick's choices.
EnPickStay == ENABLED (Pick /\ y' = y)
\* y' is read after it is assigned: y + 1 > 1 iff y >= 1, and y < 2: iff y = 1.
EnTwice == ENABLED (Bump /\ y' > 1)

J == INSTANCE EnabledInner2 WITH u <- y + 10
J2 == INSTANCE EnabledInner2 WITH u <- y
\* u <- y: u' is y', free here.
EnJ2Up == ENABLED J2!Up
\* u <- y + 10 is substituted inside this ENABLED: u' is (y + 10)', and y' has no value (TLC: error).
EnJUp == ENABLED J!Up
=============================================================================
