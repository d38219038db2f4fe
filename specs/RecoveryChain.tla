--------------------------- MODULE RecoveryChain ---------------------------
(* Exactly-once through two stateful workers in a row: a source, worker W1 *)
(* (state step A), worker W2 (state step B, fed by A's outputs) and a      *)
(* sink.  Recovery.tla with a second stateful stage: W1's outputs go to W2 *)
(* through W1's outbox exactly as W2's go to the sink, and W2 keeps a      *)
(* dedup watermark over W1's output ids as W1 keeps one over the source's  *)
(* offsets.  Any of the three may crash at any point, also while it        *)
(* recovers, losing everything volatile, and restart from its durable      *)
(* store; upstreams resend what was not acknowledged (W1 resends its       *)
(* outbox to a restarted W2, the source resends from its committed         *)
(* offset).                                                                *)
(*                                                                         *)
(* Acknowledgements are end to end, as the runtime's are                   *)
(* (runtime/engine/chain.ts): W2 acknowledges W1's outputs up to its       *)
(* durable watermark; W1 acknowledges the source only up to the greatest   *)
(* offset k <= its durable watermark such that every output of 1..k still  *)
(* in its outbox is acknowledged by W2.  So what the source commits is     *)
(* durable in the last stage's state (CommittedDurable), not only in an    *)
(* outbox.                                                                 *)
(*                                                                         *)
(* As in Recovery.tla, message m produces output m at each stage (ids are  *)
(* deterministic).  The runtime gets that determinism by sending only what *)
(* a commit made durable (an output of a state that a crash could take     *)
(* back is never sent) and by numbering outbox entries at the commit; it   *)
(* drops an entry that arrives beyond its watermark (a gap) and the        *)
(* upstream resends from its oldest unacknowledged entry, which this       *)
(* model's in-order connection with resend after a crash abstracts.        *)
(*                                                                         *)
(* Broken variants, which the checker must refute (specs/RecoveryChain-*   *)
(* .cfg, test/specs/recovery-chain.test.ts): NoDedup2, W2 applies          *)
(* whatever W1 sends (StateIsFold fails at W2); AckEarly2, W2              *)
(* acknowledges what it applied in memory (W1 drops it from its outbox, a  *)
(* crash of W2 loses it: a liveness failure); NoGate, W1 acknowledges the  *)
(* source as soon as its own store holds the state (the committed offset   *)
(* runs ahead of W2: CommittedDurable fails, though nothing is lost).      *)
EXTENDS Naturals, Sequences, FiniteSets

CONSTANTS Msgs,        \* how many messages the external system holds (offsets 1..Msgs)
          MaxCrashes,  \* how many crashes a behaviour may have (finitely many)
          NoDedup2,    \* BROKEN variant: W2 ignores its watermark
          AckEarly2,   \* BROKEN variant: W2 acknowledges before its write is durable
          NoGate       \* BROKEN variant: W1 acknowledges the source without waiting for W2

VARIABLES
  \* source
  committed, srcTx,
  \* W1: volatile, then durable; acked2: the highest acknowledgement W1 received from W2
  state1, mark1, out1, outTx1, acked2,
  dState1, dMark1, dOut1,
  \* W2: volatile, then durable
  state2, mark2, out2, outTx2,
  dState2, dMark2, dOut2,
  \* sink (durable)
  written, sinkMark,
  \* connections: in flight, in order; acknowledgements cumulative (0: none)
  toW1, ackW1, toW2, ackW2, toSink, ackS,
  crashes

vars == <<committed, srcTx, state1, mark1, out1, outTx1, acked2, dState1, dMark1, dOut1,
          state2, mark2, out2, outTx2, dState2, dMark2, dOut2, written, sinkMark,
          toW1, ackW1, toW2, ackW2, toSink, ackS, crashes>>

src == <<committed, srcTx>>
w1 == <<state1, mark1, out1, outTx1, acked2, dState1, dMark1, dOut1>>
w2 == <<state2, mark2, out2, outTx2, dState2, dMark2, dOut2>>
snk == <<written, sinkMark>>

Seqs == 1..Msgs
Max(a, b) == IF a >= b THEN a ELSE b
Min(a, b) == IF a <= b THEN a ELSE b
Least(S) == CHOOSE x \in S : \A y \in S : x <= y
Fold(S) == [m \in Seqs |-> IF m \in S THEN 1 ELSE 0]
Range(s) == {s[i] : i \in DOMAIN s}

Init == /\ committed = 0 /\ srcTx = 1
        /\ state1 = Fold({}) /\ mark1 = 0 /\ out1 = {} /\ outTx1 = 0 /\ acked2 = 0
        /\ dState1 = Fold({}) /\ dMark1 = 0 /\ dOut1 = {}
        /\ state2 = Fold({}) /\ mark2 = 0 /\ out2 = {} /\ outTx2 = 0
        /\ dState2 = Fold({}) /\ dMark2 = 0 /\ dOut2 = {}
        /\ written = <<>> /\ sinkMark = 0
        /\ toW1 = <<>> /\ ackW1 = 0 /\ toW2 = <<>> /\ ackW2 = 0 /\ toSink = <<>> /\ ackS = 0
        /\ crashes = 0

-----------------------------------------------------------------------------
(* The source (Recovery.tla's) *)

SourceSend == /\ srcTx <= Msgs
              /\ toW1' = Append(toW1, srcTx)
              /\ srcTx' = srcTx + 1
              /\ UNCHANGED <<committed, w1, w2, snk, ackW1, toW2, ackW2, toSink, ackS, crashes>>

SourceReceiveAck == /\ ackW1 > committed
                    /\ committed' = ackW1
                    /\ UNCHANGED <<srcTx, w1, w2, snk, toW1, ackW1, toW2, ackW2, toSink, ackS, crashes>>

-----------------------------------------------------------------------------
(* W1: Recovery.tla's worker towards the source; its outbox goes to W2 *)

W1Receive == /\ toW1 # <<>>
             /\ toW1' = Tail(toW1)
             /\ LET m == Head(toW1) IN
                  IF m > mark1
                    THEN /\ state1' = [state1 EXCEPT ![m] = @ + 1]
                         /\ mark1' = Max(mark1, m)
                         /\ out1' = out1 \cup {m}
                    ELSE UNCHANGED <<state1, mark1, out1>>
             /\ UNCHANGED <<src, outTx1, acked2, dState1, dMark1, dOut1, w2, snk,
                            ackW1, toW2, ackW2, toSink, ackS, crashes>>

\* Group commit: state, watermark and outbox (the entries for W2) in one atomic write.
W1Persist == /\ <<state1, mark1, out1>> # <<dState1, dMark1, dOut1>>
             /\ dState1' = state1 /\ dMark1' = mark1 /\ dOut1' = out1
             /\ UNCHANGED <<src, state1, mark1, out1, outTx1, acked2, w2, snk,
                            toW1, ackW1, toW2, ackW2, toSink, ackS, crashes>>

\* End to end: up to the durable watermark, but not beyond an output W2 has not acknowledged.
Pending1 == {o \in dOut1 : o > acked2}
Acked1 == IF NoGate \/ Pending1 = {} THEN dMark1 ELSE Min(dMark1, Least(Pending1) - 1)
W1Ack == /\ Acked1 > ackW1
         /\ ackW1' = Acked1
         /\ UNCHANGED <<src, w1, w2, snk, toW1, toW2, ackW2, toSink, ackS, crashes>>

\* Only what a commit made durable is sent (after a restart of either end: the whole outbox).
\* (A set, not an \E over the outputs: in an action each witness of an \E is a branch of its own,
\* which makes the same successor again at the cost of another pass over the outbox.)
W1SendOut == LET pending == {x \in dOut1 \cap out1 : x > outTx1}
             IN  /\ pending # {}
                 /\ toW2' = Append(toW2, Least(pending))
                 /\ outTx1' = Least(pending)
                 /\ UNCHANGED <<src, state1, mark1, out1, acked2, dState1, dMark1, dOut1, w2, snk,
                                toW1, ackW1, ackW2, toSink, ackS, crashes>>

\* W2 acknowledged: those outputs leave the outbox (the store's copy at the next W1Persist).
W1ReceiveAck == /\ ackW2 > acked2
                /\ acked2' = ackW2
                /\ out1' = {o \in out1 : o > ackW2}
                /\ UNCHANGED <<src, state1, mark1, outTx1, dState1, dMark1, dOut1, w2, snk,
                               toW1, ackW1, toW2, ackW2, toSink, ackS, crashes>>

-----------------------------------------------------------------------------
(* W2: Recovery.tla's worker, whose source is W1's outbox *)

W2Receive == /\ toW2 # <<>>
             /\ toW2' = Tail(toW2)
             /\ LET o == Head(toW2) IN
                  IF o > mark2 \/ NoDedup2
                    THEN /\ state2' = [state2 EXCEPT ![o] = @ + 1]
                         /\ mark2' = Max(mark2, o)
                         /\ out2' = out2 \cup {o}
                    ELSE UNCHANGED <<state2, mark2, out2>>
             /\ UNCHANGED <<src, w1, outTx2, dState2, dMark2, dOut2, snk,
                            toW1, ackW1, ackW2, toSink, ackS, crashes>>

W2Persist == /\ <<state2, mark2, out2>> # <<dState2, dMark2, dOut2>>
             /\ dState2' = state2 /\ dMark2' = mark2 /\ dOut2' = out2
             /\ UNCHANGED <<src, w1, state2, mark2, out2, outTx2, snk,
                            toW1, ackW1, toW2, ackW2, toSink, ackS, crashes>>

Acked2 == IF AckEarly2 THEN mark2 ELSE dMark2
W2Ack == /\ Acked2 > ackW2
         /\ ackW2' = Acked2
         /\ UNCHANGED <<src, w1, w2, snk, toW1, ackW1, toW2, toSink, ackS, crashes>>

W2SendOut == LET pending == {x \in dOut2 \cap out2 : x > outTx2}
             IN  /\ pending # {}
                 /\ toSink' = Append(toSink, Least(pending))
                 /\ outTx2' = Least(pending)
                 /\ UNCHANGED <<src, w1, state2, mark2, out2, dState2, dMark2, dOut2, snk,
                                toW1, ackW1, toW2, ackW2, ackS, crashes>>

W2ReceiveSinkAck == LET kept == {o \in out2 : o > ackS}
                    IN  /\ kept # out2
                        /\ out2' = kept
                        /\ UNCHANGED <<src, w1, state2, mark2, outTx2, dState2, dMark2, dOut2, snk,
                                       toW1, ackW1, toW2, ackW2, toSink, ackS, crashes>>

-----------------------------------------------------------------------------
(* The sink (Recovery.tla's) *)

SinkReceive == /\ toSink # <<>>
               /\ toSink' = Tail(toSink)
               /\ LET o == Head(toSink) IN
                    IF o > sinkMark
                      THEN /\ written' = Append(written, o)
                           /\ sinkMark' = Max(sinkMark, o)
                           /\ ackS' = Max(sinkMark, o)
                      ELSE /\ ackS' = sinkMark
                           /\ UNCHANGED <<written, sinkMark>>
               /\ UNCHANGED <<src, w1, w2, toW1, ackW1, toW2, ackW2, crashes>>

-----------------------------------------------------------------------------
(* Crashes: each loses its volatile variables and its connections' contents *)

CrashW1 == /\ crashes < MaxCrashes
           /\ crashes' = crashes + 1
           /\ state1' = dState1 /\ mark1' = dMark1 /\ out1' = dOut1
           /\ outTx1' = 0 /\ acked2' = 0
           /\ toW1' = <<>> /\ ackW1' = 0 /\ toW2' = <<>> /\ ackW2' = 0
           /\ srcTx' = committed + 1
           /\ UNCHANGED <<committed, dState1, dMark1, dOut1, w2, snk, toSink, ackS>>

\* W2 restarts; W1 sends its outbox again from the oldest entry it holds.
CrashW2 == /\ crashes < MaxCrashes
           /\ crashes' = crashes + 1
           /\ state2' = dState2 /\ mark2' = dMark2 /\ out2' = dOut2
           /\ outTx2' = 0
           /\ toW2' = <<>> /\ ackW2' = 0 /\ toSink' = <<>> /\ ackS' = 0
           /\ outTx1' = 0
           /\ UNCHANGED <<src, state1, mark1, out1, acked2, dState1, dMark1, dOut1,
                          dState2, dMark2, dOut2, snk, toW1, ackW1>>

CrashSource == /\ crashes < MaxCrashes
               /\ crashes' = crashes + 1
               /\ srcTx' = committed + 1
               /\ toW1' = <<>> /\ ackW1' = 0
               /\ UNCHANGED <<committed, w1, w2, snk, toW2, ackW2, toSink, ackS>>

Done == /\ committed = Msgs
        /\ dState2 = Fold(Seqs)
        /\ Range(written) = Seqs
        /\ dOut1 = {} /\ dOut2 = {}
        /\ UNCHANGED vars

Next == \/ SourceSend \/ SourceReceiveAck
        \/ W1Receive \/ W1Persist \/ W1Ack \/ W1SendOut \/ W1ReceiveAck
        \/ W2Receive \/ W2Persist \/ W2Ack \/ W2SendOut \/ W2ReceiveSinkAck
        \/ SinkReceive
        \/ CrashW1 \/ CrashW2 \/ CrashSource
        \/ Done

Fairness == /\ WF_vars(SourceSend) /\ WF_vars(SourceReceiveAck)
            /\ WF_vars(W1Receive) /\ WF_vars(W1Persist) /\ WF_vars(W1Ack)
            /\ WF_vars(W1SendOut) /\ WF_vars(W1ReceiveAck)
            /\ WF_vars(W2Receive) /\ WF_vars(W2Persist) /\ WF_vars(W2Ack)
            /\ WF_vars(W2SendOut) /\ WF_vars(W2ReceiveSinkAck)
            /\ WF_vars(SinkReceive)

Spec == Init /\ [][Next]_vars /\ Fairness

-----------------------------------------------------------------------------
(* Properties *)

TypeOK == /\ committed \in 0..Msgs /\ srcTx \in 1..(Msgs + 1)
          /\ state1 \in [Seqs -> 0..1] /\ dState1 \in [Seqs -> 0..1]
          /\ state2 \in [Seqs -> 0..1] /\ dState2 \in [Seqs -> 0..1]
          /\ {mark1, dMark1, mark2, dMark2, outTx1, outTx2, acked2} \subseteq 0..Msgs
          /\ {out1, dOut1, out2, dOut2} \subseteq SUBSET Seqs
          /\ written \in Seq(Seqs) /\ sinkMark \in 0..Msgs
          /\ toW1 \in Seq(Seqs) /\ toW2 \in Seq(Seqs) /\ toSink \in Seq(Seqs)
          /\ {ackW1, ackW2, ackS} \subseteq 0..Msgs
          /\ crashes \in 0..MaxCrashes

\* Both states, in memory and in the store, are folds of sets of distinct messages.
StateIsFold == \A s \in {state1, dState1, state2, dState2} : \E S \in SUBSET Seqs : s = Fold(S)

SinkNoDuplicate == \A i, j \in DOMAIN written : i < j => written[i] # written[j]

\* End to end: what the source committed is in the last stage's store.
CommittedDurable == \A m \in 1..committed : dState1[m] = 1 /\ dState2[m] = 1

EveryMessageOnce == \A m \in Seqs : <>[](state2[m] = 1 /\ dState2[m] = 1 /\ m \in Range(written))
AllDone == <>[](committed = Msgs /\ dOut1 = {} /\ dOut2 = {})
=============================================================================
