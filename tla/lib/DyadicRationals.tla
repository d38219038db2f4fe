---------------------------- MODULE DyadicRationals ----------------------------
(***************************************************************************)
(* Buffy's own version of the community module DyadicRationals: fractions  *)
(* whose denominator is a power of two, as records [num |-> n, den |-> d], *)
(* always reduced (num odd or den = 1), so that equal numbers are equal    *)
(* records (and equal states in a model).                                  *)
(***************************************************************************)
LOCAL INSTANCE Naturals
LOCAL INSTANCE TLC

Zero == [num |-> 0, den |-> 1]
One == [num |-> 1, den |-> 1]

\* Whether r is a fraction whose denominator is a power of two.
IsDyadicRational(r) ==
  LET RECURSIVE PowerOfTwo(_)
      PowerOfTwo(d) == d = 1 \/ (d > 1 /\ d % 2 = 0 /\ PowerOfTwo(d \div 2))
  IN /\ r = [num |-> r.num, den |-> r.den]
     /\ r.num \in Nat
     /\ r.den \in Nat
     /\ PowerOfTwo(r.den)

\* p with common factors of two taken out of numerator and denominator.
LOCAL ReduceDyadic(p) ==
  LET RECURSIVE R(_, _)
      R(n, d) == IF d > 1 /\ n % 2 = 0 THEN R(n \div 2, d \div 2) ELSE [num |-> n, den |-> d]
  IN R(p.num, p.den)

\* The sum of two dyadic rationals.
Add(p, q) ==
  LET d == IF p.den >= q.den THEN p.den ELSE q.den
  IN ReduceDyadic([num |-> p.num * (d \div p.den) + q.num * (d \div q.den), den |-> d])

\* Half of p.
Half(p) == ReduceDyadic([num |-> p.num, den |-> p.den * 2])

\* p as text: "0", "1", "3/8".
PrettyPrint(p) ==
  IF p.num = 0 THEN "0"
  ELSE IF p.den = 1 THEN ToString(p.num)
  ELSE ToString(p.num) \o "/" \o ToString(p.den)
=============================================================================
