------------------------------- MODULE Bakery -------------------------------
(* Benchmark model: Lamport's bakery algorithm as PlusCal translates it   *)
(* (a pc function, per-process local variables as functions, one         *)
(* EXCEPT per assignment), with non-atomic reads and writes: a process   *)
(* writing flag or num makes the value flicker before it settles.         *)
EXTENDS Naturals

CONSTANTS N, MaxNum

Procs == 1..N

VARIABLES num, flag, pc, unchecked, max, nxt

vars == <<num, flag, pc, unchecked, max, nxt>>

a \prec b == a[1] < b[1] \/ (a[1] = b[1] /\ a[2] < b[2])

Init == /\ num = [i \in Procs |-> 0]
        /\ flag = [i \in Procs |-> FALSE]
        /\ unchecked = [i \in Procs |-> {}]
        /\ max = [i \in Procs |-> 0]
        /\ nxt = [i \in Procs |-> 1]
        /\ pc = [i \in Procs |-> "ncs"]

ncs(self) == /\ pc[self] = "ncs"
             /\ pc' = [pc EXCEPT ![self] = "e1"]
             /\ UNCHANGED <<num, flag, unchecked, max, nxt>>

e1(self) == /\ pc[self] = "e1"
            /\ \/ /\ flag' = [flag EXCEPT ![self] = ~ flag[self]]
                  /\ UNCHANGED <<pc, unchecked, max>>
               \/ /\ flag' = [flag EXCEPT ![self] = TRUE]
                  /\ unchecked' = [unchecked EXCEPT ![self] = Procs \ {self}]
                  /\ max' = [max EXCEPT ![self] = 0]
                  /\ pc' = [pc EXCEPT ![self] = "e2"]
            /\ UNCHANGED <<num, nxt>>

e2(self) == /\ pc[self] = "e2"
            /\ IF unchecked[self] # {}
                 THEN \E i \in unchecked[self] :
                        /\ unchecked' = [unchecked EXCEPT ![self] = unchecked[self] \ {i}]
                        /\ IF num[i] > max[self]
                             THEN max' = [max EXCEPT ![self] = num[i]]
                             ELSE UNCHANGED max
                        /\ UNCHANGED pc
                 ELSE /\ pc' = [pc EXCEPT ![self] = "e3"]
                      /\ UNCHANGED <<unchecked, max>>
            /\ UNCHANGED <<num, flag, nxt>>

e3(self) == /\ pc[self] = "e3"
            /\ \/ /\ \E k \in 0..MaxNum : num' = [num EXCEPT ![self] = k]
                  /\ UNCHANGED pc
               \/ /\ num' = [num EXCEPT ![self] = max[self] + 1]
                  /\ pc' = [pc EXCEPT ![self] = "e4"]
            /\ UNCHANGED <<flag, unchecked, max, nxt>>

e4(self) == /\ pc[self] = "e4"
            /\ \/ /\ flag' = [flag EXCEPT ![self] = ~ flag[self]]
                  /\ UNCHANGED <<pc, unchecked>>
               \/ /\ flag' = [flag EXCEPT ![self] = FALSE]
                  /\ unchecked' = [unchecked EXCEPT ![self] = Procs \ {self}]
                  /\ pc' = [pc EXCEPT ![self] = "w1"]
            /\ UNCHANGED <<num, max, nxt>>

w1(self) == /\ pc[self] = "w1"
            /\ IF unchecked[self] # {}
                 THEN /\ \E i \in unchecked[self] : nxt' = [nxt EXCEPT ![self] = i]
                      /\ ~ flag[nxt'[self]]
                      /\ pc' = [pc EXCEPT ![self] = "w2"]
                 ELSE /\ pc' = [pc EXCEPT ![self] = "cs"]
                      /\ UNCHANGED nxt
            /\ UNCHANGED <<num, flag, unchecked, max>>

w2(self) == /\ pc[self] = "w2"
            /\ \/ num[nxt[self]] = 0
               \/ <<num[self], self>> \prec <<num[nxt[self]], nxt[self]>>
            /\ unchecked' = [unchecked EXCEPT ![self] = unchecked[self] \ {nxt[self]}]
            /\ pc' = [pc EXCEPT ![self] = "w1"]
            /\ UNCHANGED <<num, flag, max, nxt>>

cs(self) == /\ pc[self] = "cs"
            /\ pc' = [pc EXCEPT ![self] = "exit"]
            /\ UNCHANGED <<num, flag, unchecked, max, nxt>>

exit(self) == /\ pc[self] = "exit"
              /\ \/ /\ \E k \in 0..MaxNum : num' = [num EXCEPT ![self] = k]
                    /\ UNCHANGED pc
                 \/ /\ num' = [num EXCEPT ![self] = 0]
                    /\ pc' = [pc EXCEPT ![self] = "ncs"]
              /\ UNCHANGED <<flag, unchecked, max, nxt>>

p(self) == ncs(self) \/ e1(self) \/ e2(self) \/ e3(self) \/ e4(self)
             \/ w1(self) \/ w2(self) \/ cs(self) \/ exit(self)

Next == \E self \in Procs : p(self)

TypeOK == /\ num \in [Procs -> Nat]
          /\ flag \in [Procs -> BOOLEAN]
          /\ unchecked \in [Procs -> SUBSET Procs]
          /\ max \in [Procs -> Nat]
          /\ nxt \in [Procs -> Procs]
          /\ pc \in [Procs -> {"ncs", "e1", "e2", "e3", "e4", "w1", "w2", "cs", "exit"}]

MutualExclusion == \A i, j \in Procs : (i # j) => ~ (pc[i] = "cs" /\ pc[j] = "cs")

NumBound == \A i \in Procs : num[i] <= MaxNum
=============================================================================
