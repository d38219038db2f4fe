------------------------------- MODULE Bitwise -------------------------------
(***************************************************************************)
(* Buffy's own version of the community module Bitwise: bitwise operators  *)
(* on natural numbers (their binary representations), defined by           *)
(* recursion on the bits, least significant first.                         *)
(***************************************************************************)
LOCAL INSTANCE Naturals

\* Bitwise AND: 6 & 3 = 2.
a & b ==
  LET RECURSIVE F(_, _)
      F(x, y) == IF x = 0 \/ y = 0 THEN 0
                 ELSE 2 * F(x \div 2, y \div 2) + (x % 2) * (y % 2)
  IN F(a, b)

\* Bitwise OR: 6 | 3 = 7.
a | b ==
  LET RECURSIVE F(_, _)
      F(x, y) == IF x = 0 THEN y
                 ELSE IF y = 0 THEN x
                 ELSE 2 * F(x \div 2, y \div 2) + IF (x % 2) + (y % 2) > 0 THEN 1 ELSE 0
  IN F(a, b)

\* Bitwise exclusive OR: 6 ^^ 3 = 5.
a ^^ b ==
  LET RECURSIVE F(_, _)
      F(x, y) == IF x = 0 THEN y
                 ELSE IF y = 0 THEN x
                 ELSE 2 * F(x \div 2, y \div 2) + ((x + y) % 2)
  IN F(a, b)

\* n shifted right by pos bits: shiftR(13, 2) = 3.
shiftR(n, pos) == n \div (2 ^ pos)
=============================================================================
