------------------------------ MODULE Functions ------------------------------
(***************************************************************************)
(* Buffy's own version of the community module Functions: ranges,          *)
(* restrictions, inverses, injections, surjections, bijections and folds   *)
(* over functions. Written from the documented meaning of each operator.   *)
(***************************************************************************)
LOCAL INSTANCE Naturals
LOCAL INSTANCE FiniteSets

\* f restricted to the domain S (S should be a subset of DOMAIN f).
Restrict(f, S) == [x \in S |-> f[x]]

\* f restricted to the elements of its domain that pass Test.
RestrictDomain(f, Test(_)) == Restrict(f, {x \in DOMAIN f : Test(x)})

\* f restricted to the elements of its domain whose value passes Test.
RestrictValues(f, Test(_)) == Restrict(f, {x \in DOMAIN f : Test(f[x])})

\* f is a restriction of g: g agrees with f on the (smaller) domain of f.
IsRestriction(f, g) ==
  /\ DOMAIN f \subseteq DOMAIN g
  /\ \A x \in DOMAIN f : f[x] = g[x]

\* The set of values of f.
Range(f) == {f[x] : x \in DOMAIN f}

(***************************************************************************)
(* A function from T to S that maps each t in the range of f to some s     *)
(* with f[s] = t (an element of S chosen by CHOOSE; any element of S when  *)
(* t is not a value of f).                                                 *)
(***************************************************************************)
Inverse(f, S, T) ==
  LET R == Range(f)
  IN [t \in T |-> CHOOSE s \in S : t \in R => f[s] = t]

\* The inverse of f over its own domain and range.
AntiFunction(f) == Inverse(f, DOMAIN f, Range(f))

\* No two elements of the domain have the same value.
IsInjective(f) == \A a, b \in DOMAIN f : f[a] = f[b] => a = b

\* Every element of T is the value of f at some element of S.
IsSurjective(f, S, T) == \A t \in T : \E s \in S : f[s] = t

IsBijection(f, S, T) == IsInjective(f) /\ IsSurjective(f, S, T)

\* The injections, surjections and bijections from S to T.
Injection(S, T) == {M \in [S -> T] : IsInjective(M)}
Surjection(S, T) == {M \in [S -> T] : IsSurjective(M, S, T)}
Bijection(S, T) == {M \in [S -> T] : IsBijection(M, S, T)}

(***************************************************************************)
(* Whether such functions exist. For finite S and T this is a comparison   *)
(* of sizes, computed without enumerating [S -> T].                        *)
(***************************************************************************)
ExistsInjection(S, T) == Cardinality(S) <= Cardinality(T)
ExistsSurjection(S, T) == IF T = {} THEN S = {} ELSE Cardinality(S) >= Cardinality(T)
ExistsBijection(S, T) == Cardinality(S) = Cardinality(T)

(***************************************************************************)
(* Fold op over the values of fun (over its values at the indices in the   *)
(* given set), starting from base. The order in which the values are       *)
(* taken is not specified: op should be associative and commutative.       *)
(***************************************************************************)
FoldFunctionOnSet(op(_, _), base, fun, indices) ==
  LET RECURSIVE Fold(_)
      Fold(S) == IF S = {} THEN base
                 ELSE LET i == CHOOSE j \in S : TRUE IN op(fun[i], Fold(S \ {i}))
  IN Fold(indices)

FoldFunction(op(_, _), base, fun) == FoldFunctionOnSet(op, base, fun, DOMAIN fun)
=============================================================================
