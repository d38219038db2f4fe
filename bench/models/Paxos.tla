------------------------------- MODULE Paxos -------------------------------
(* Benchmark model in the style of Lamport's single-decree Paxos: the     *)
(* network is a set of message records that only grows, acceptors keep   *)
(* functions of their promised and voted ballots, and proposers act on   *)
(* quorums of 1b and 2b messages.                                        *)
EXTENDS Integers, FiniteSets

CONSTANTS Values, Acceptors, Quorums, MaxBallot

VARIABLES maxBal, maxVBal, maxVal, msgs

vars == <<maxBal, maxVBal, maxVal, msgs>>

Ballots == 0..MaxBallot
None == CHOOSE v : v \notin Values

Messages ==
       [type : {"1a"}, bal : Ballots]
  \cup [type : {"1b"}, acc : Acceptors, bal : Ballots, mbal : Ballots \cup {-1}, mval : Values \cup {None}]
  \cup [type : {"2a"}, bal : Ballots, val : Values]
  \cup [type : {"2b"}, acc : Acceptors, bal : Ballots, val : Values]

TypeOK == /\ maxBal \in [Acceptors -> Ballots \cup {-1}]
          /\ maxVBal \in [Acceptors -> Ballots \cup {-1}]
          /\ maxVal \in [Acceptors -> Values \cup {None}]
          /\ msgs \subseteq Messages

Init == /\ maxBal = [a \in Acceptors |-> -1]
        /\ maxVBal = [a \in Acceptors |-> -1]
        /\ maxVal = [a \in Acceptors |-> None]
        /\ msgs = {}

Send(m) == msgs' = msgs \cup {m}

Phase1a(b) == /\ ~ \E m \in msgs : m.type = "1a" /\ m.bal = b
              /\ Send([type |-> "1a", bal |-> b])
              /\ UNCHANGED <<maxBal, maxVBal, maxVal>>

Phase1b(a) == \E m \in msgs :
                 /\ m.type = "1a"
                 /\ m.bal > maxBal[a]
                 /\ maxBal' = [maxBal EXCEPT ![a] = m.bal]
                 /\ Send([type |-> "1b", acc |-> a, bal |-> m.bal, mbal |-> maxVBal[a], mval |-> maxVal[a]])
                 /\ UNCHANGED <<maxVBal, maxVal>>

Phase2a(b, v) ==
  /\ ~ \E m \in msgs : m.type = "2a" /\ m.bal = b
  /\ \E Q \in Quorums :
        LET Q1b == {m \in msgs : m.type = "1b" /\ m.acc \in Q /\ m.bal = b}
            Q1bv == {m \in Q1b : m.mbal >= 0}
        IN  /\ \A a \in Q : \E m \in Q1b : m.acc = a
            /\ \/ Q1bv = {}
               \/ \E m \in Q1bv :
                     /\ m.mval = v
                     /\ \A mm \in Q1bv : m.mbal >= mm.mbal
  /\ Send([type |-> "2a", bal |-> b, val |-> v])
  /\ UNCHANGED <<maxBal, maxVBal, maxVal>>

Phase2b(a) == \E m \in msgs :
                /\ m.type = "2a"
                /\ m.bal >= maxBal[a]
                /\ maxBal' = [maxBal EXCEPT ![a] = m.bal]
                /\ maxVBal' = [maxVBal EXCEPT ![a] = m.bal]
                /\ maxVal' = [maxVal EXCEPT ![a] = m.val]
                /\ Send([type |-> "2b", acc |-> a, bal |-> m.bal, val |-> m.val])

Next == \/ \E b \in Ballots : Phase1a(b) \/ \E v \in Values : Phase2a(b, v)
        \/ \E a \in Acceptors : Phase1b(a) \/ Phase2b(a)

VotedFor(a, b, v) == \E m \in msgs : m.type = "2b" /\ m.acc = a /\ m.bal = b /\ m.val = v

ChosenAt(b, v) == \E Q \in Quorums : \A a \in Q : VotedFor(a, b, v)

Chosen == {v \in Values : \E b \in Ballots : ChosenAt(b, v)}

Consistency == Cardinality(Chosen) <= 1
=============================================================================
