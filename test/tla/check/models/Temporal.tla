------------------------------ MODULE Temporal ------------------------------
(* A counter that climbs from 0 to 3 and stops there (CHECK_DEADLOCK FALSE). *)
(* Hand-checkable figures: 4 distinct states, 4 generated (1 initial + 3     *)
(* successors), depth 4. Properties outside the fast-path forms, each with   *)
(* its verdict worked out in the comments (FairSpec / UnfairSpec).           *)
EXTENDS Naturals

VARIABLE x

Init == x = 0
Next == x < 3 /\ x' = x + 1

FairSpec == Init /\ [][Next]_x /\ WF_x(Next)
UnfairSpec == Init /\ [][Next]_x

\* x never decreases once it is 2: holds under both specs.
StaysAbove == [](x = 2 => [](x >= 2))
\* Once 2, always 2: FairSpec violates it (2 -> 3); UnfairSpec too (the step may be taken).
StaysAtTwo == [](x = 2 => [](x = 2))
\* Reaches 3 and stays: holds under FairSpec; UnfairSpec may stutter at 0 forever.
Settles == <>(x = 3 /\ [](x = 3))
\* Implication of recurrences: a behaviour visiting 3 infinitely often visits {2,3} so: holds.
Recurrence == []<>(x = 3) => []<>(x > 1)
\* x = 0 only at the start: FairSpec moves on; UnfairSpec may stay at 0 forever.
NotRecurrentZero == ~[]<>(x = 0)
\* FairSpec: <>[](x = 3) holds; UnfairSpec: stuttering at 1 forever makes both disjuncts false.
Disjunction == (<>[](x = 3)) \/ ([]<>(x = 0))
\* Fairness inside the property: holds under both specs (it is what FairSpec assumes).
FairnessImplies == WF_x(Next) => <>(x = 3)
\* Strong fairness is no stronger here (Next stays enabled until 3): holds under both.
StrongImplies == SF_x(Next) => <>[](x = 3)
\* An action under <>: from 1 the step 1 -> 2 comes under FairSpec; not under UnfairSpec.
StepComes == [](x = 1 => <><<x' = 2>>_x)
\* Bounded quantifiers around temporal formulas: holds under FairSpec only.
EveryValueLeft == \A v \in 0..2 : [](x = v => <>(x # v))
\* Existential: some v in {3, 7} is where x settles: FairSpec holds; UnfairSpec fails.
SettlesSomewhere == \E v \in {3, 7} : <>[](x = v)
\* ENABLED inside a state predicate: Next is disabled exactly at 3. FairSpec: holds.
DisabledForever == (x = 0) => <>[](~ENABLED Next)
\* Refinement: the flag "x >= 2" is raised once, fairly. FairSpec: holds. UnfairSpec: the
\* behaviour may stop at 0 while Raise stays enabled: WF fails. Nested under an implication,
\* the tableau decides it (fairness, ENABLED through the substitution).
Abs == INSTANCE TemporalAbs WITH y <- (x >= 2)
AbsSpec == Abs!Spec
StartsThenRefines == (x = 0) => Abs!Spec
=============================================================================
