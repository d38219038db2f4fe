----------------------------- MODULE Recovery -----------------------------
(* Exactly-once processing across crashes.  A source (replayable from its  *)
(* committed offset in an external system), a stateful worker with a       *)
(* durable store, and a sink that writes outputs durably.  Either worker   *)
(* may crash at any point, also while recovering, losing everything        *)
(* volatile; it restarts from its durable store.  Upstreams resend what    *)
(* was not acknowledged; duplicates are dropped by dedup watermarks: the   *)
(* worker keeps the highest input offset it applied, the sink the highest  *)
(* output id it wrote.                                                     *)
(*                                                                         *)
(* Connections are Delivery.tla's channels seen from above: in order, no   *)
(* loss or duplicate while the connection lives; a crash of either end     *)
(* breaks it and loses what is in flight; acknowledgements are cumulative  *)
(* (a newer one subsumes an older one in flight).  Acknowledgement timing  *)
(* is Ack.tla's; here the source commits what the worker acknowledged.     *)
(*                                                                         *)
(* The worker's state is a fold over the messages it applied: for each     *)
(* message id, how many times it was applied (the bag of applied messages; *)
(* any other fold is a function of it).  Message m produces output m.      *)
(*                                                                         *)
(* Broken variants, which the checker must refute                          *)
(* (specs/Recovery-*.cfg, test/specs/ack-recovery.test.ts): NoDedup, the   *)
(* worker applies whatever arrives; SinkNoDedup, the sink writes whatever  *)
(* arrives; AckEarly, the worker acknowledges what it applied in memory.   *)
EXTENDS Naturals, Sequences, FiniteSets

CONSTANTS Msgs,         \* how many messages the external system holds (offsets 1..Msgs)
          MaxCrashes,   \* how many crashes a behaviour may have (finitely many)
          NoDedup,      \* BROKEN variant: the worker ignores its watermark
          SinkNoDedup,  \* BROKEN variant: the sink ignores its watermark
          AckEarly      \* BROKEN variant: the worker acknowledges before its write is durable

VARIABLES
  \* source
  committed, \* the offset committed in the external system (durable)
  srcTx,     \* the next offset the source sends on this connection (volatile)
  \* worker: volatile
  state,     \* [Seqs -> Nat]: the fold of the messages applied
  mark,      \* dedup watermark: the highest input offset applied
  out,       \* outbox: outputs produced and not acknowledged by the sink
  outTx,     \* the highest output id sent to the sink on this connection
  \* worker: durable store
  dState, dMark, dOut,
  \* sink (durable)
  written,   \* the outputs the sink wrote, in order
  sinkMark,  \* dedup watermark: the highest output id written
  \* connections
  toW,       \* offsets in flight, source -> worker (in order)
  ackW,      \* the cumulative acknowledgement in flight, worker -> source (0: none)
  toSink,    \* output ids in flight, worker -> sink (in order)
  ackS,      \* the cumulative acknowledgement in flight, sink -> worker (0: none)
  crashes

vars == <<committed, srcTx, state, mark, out, outTx, dState, dMark, dOut,
          written, sinkMark, toW, ackW, toSink, ackS, crashes>>

Seqs == 1..Msgs
Max(a, b) == IF a >= b THEN a ELSE b
Least(S) == CHOOSE x \in S : \A y \in S : x <= y
\* The fold of a set of distinct messages: each applied once.
Fold(S) == [m \in Seqs |-> IF m \in S THEN 1 ELSE 0]
Range(s) == {s[i] : i \in DOMAIN s}

Init == /\ committed = 0
        /\ srcTx = 1
        /\ state = Fold({})
        /\ mark = 0
        /\ out = {}
        /\ outTx = 0
        /\ dState = Fold({})
        /\ dMark = 0
        /\ dOut = {}
        /\ written = <<>>
        /\ sinkMark = 0
        /\ toW = <<>>
        /\ ackW = 0
        /\ toSink = <<>>
        /\ ackS = 0
        /\ crashes = 0

-----------------------------------------------------------------------------
(* The source *)

\* The source sends the next offset (after a restart or reconnect: from its committed offset).
SourceSend == /\ srcTx <= Msgs
              /\ toW' = Append(toW, srcTx)
              /\ srcTx' = srcTx + 1
              /\ UNCHANGED <<committed, state, mark, out, outTx, dState, dMark, dOut,
                             written, sinkMark, ackW, toSink, ackS, crashes>>

\* An acknowledgement arrives: everything downstream of those offsets is durable; commit.
SourceReceiveAck == /\ ackW > committed
                    /\ committed' = ackW
                    /\ UNCHANGED <<srcTx, state, mark, out, outTx, dState, dMark, dOut,
                                   written, sinkMark, toW, ackW, toSink, ackS, crashes>>

-----------------------------------------------------------------------------
(* The stateful worker *)

\* The next input arrives: applied (state, watermark, output) if beyond the watermark,
\* dropped otherwise.
WorkerReceive == /\ toW # <<>>
                 /\ toW' = Tail(toW)
                 /\ LET m == Head(toW) IN
                      IF m > mark \/ NoDedup
                        THEN /\ state' = [state EXCEPT ![m] = @ + 1]
                             /\ mark' = Max(mark, m)
                             /\ out' = out \cup {m}
                        ELSE UNCHANGED <<state, mark, out>>
                 /\ UNCHANGED <<committed, srcTx, outTx, dState, dMark, dOut,
                                written, sinkMark, ackW, toSink, ackS, crashes>>

\* Group commit: state, watermark and outbox in one atomic durable write.
WorkerPersist == /\ <<state, mark, out>> # <<dState, dMark, dOut>>
                 /\ dState' = state
                 /\ dMark' = mark
                 /\ dOut' = out
                 /\ UNCHANGED <<committed, srcTx, state, mark, out, outTx,
                                written, sinkMark, toW, ackW, toSink, ackS, crashes>>

\* The worker acknowledges its inputs up to its durable watermark (broken: its volatile one).
Acked == IF AckEarly THEN mark ELSE dMark
WorkerAck == /\ Acked > ackW
             /\ ackW' = Acked
             /\ UNCHANGED <<committed, srcTx, state, mark, out, outTx, dState, dMark, dOut,
                            written, sinkMark, toW, toSink, ackS, crashes>>

\* The next durable output still in the outbox goes to the sink (after a restart: the whole
\* stored outbox, again; what the sink acknowledged since is not sent again).
\* (A set, not an \E over the outputs: in an action each witness of an \E is a branch of its own,
\* which makes the same successor again at the cost of another pass over the outbox.)
WorkerSendOut == LET pending == {x \in dOut \cap out : x > outTx}
                 IN  /\ pending # {}
                     /\ toSink' = Append(toSink, Least(pending))
                     /\ outTx' = Least(pending)
                     /\ UNCHANGED <<committed, srcTx, state, mark, out, dState, dMark, dOut,
                                    written, sinkMark, toW, ackW, ackS, crashes>>

\* The sink acknowledged: the worker drops those outputs from its outbox. The store's copy is
\* trimmed by the next WorkerPersist (the runtime writes the trim with the next batch's commit);
\* a crash before it sends them again, and the sink's watermark drops them.
WorkerReceiveSinkAck == LET kept == {o \in out : o > ackS}
                        IN  /\ kept # out
                            /\ out' = kept
                            /\ UNCHANGED <<committed, srcTx, state, mark, outTx, dState, dMark, dOut,
                                           written, sinkMark, toW, ackW, toSink, ackS, crashes>>

-----------------------------------------------------------------------------
(* The sink: writes the next output if beyond its watermark, and acknowledges. *)

SinkReceive == /\ toSink # <<>>
               /\ toSink' = Tail(toSink)
               /\ LET o == Head(toSink) IN
                    IF o > sinkMark \/ SinkNoDedup
                      THEN /\ written' = Append(written, o)
                           /\ sinkMark' = Max(sinkMark, o)
                           /\ ackS' = Max(sinkMark, o)
                      ELSE /\ ackS' = sinkMark
                           /\ UNCHANGED <<written, sinkMark>>
               /\ UNCHANGED <<committed, srcTx, state, mark, out, outTx, dState, dMark, dOut,
                              toW, ackW, crashes>>

-----------------------------------------------------------------------------
(* Crashes *)

\* The worker crashes and restarts from its store. Its connections break: what is in flight
\* is lost, and the source resends from its committed offset when they reconnect.
CrashWorker == /\ crashes < MaxCrashes
               /\ crashes' = crashes + 1
               /\ state' = dState
               /\ mark' = dMark
               /\ out' = dOut
               /\ outTx' = 0
               /\ toW' = <<>>
               /\ ackW' = 0
               /\ toSink' = <<>>
               /\ ackS' = 0
               /\ srcTx' = committed + 1
               /\ UNCHANGED <<committed, dState, dMark, dOut, written, sinkMark>>

\* The source crashes and restarts from its committed offset.
CrashSource == /\ crashes < MaxCrashes
               /\ crashes' = crashes + 1
               /\ srcTx' = committed + 1
               /\ toW' = <<>>
               /\ ackW' = 0
               /\ UNCHANGED <<committed, state, mark, out, outTx, dState, dMark, dOut,
                              written, sinkMark, toSink, ackS>>

\* Everything applied once, durable, committed and written (stuttering, not a deadlock).
Done == /\ committed = Msgs
        /\ dState = Fold(Seqs)
        /\ Range(written) = Seqs
        /\ dOut = {}
        /\ UNCHANGED vars

Next == \/ SourceSend
        \/ SourceReceiveAck
        \/ WorkerReceive
        \/ WorkerPersist
        \/ WorkerAck
        \/ WorkerSendOut
        \/ WorkerReceiveSinkAck
        \/ SinkReceive
        \/ CrashWorker
        \/ CrashSource
        \/ Done

\* Every step but a crash is eventually taken while it stays enabled.
Fairness == /\ WF_vars(SourceSend)
            /\ WF_vars(SourceReceiveAck)
            /\ WF_vars(WorkerReceive)
            /\ WF_vars(WorkerPersist)
            /\ WF_vars(WorkerAck)
            /\ WF_vars(WorkerSendOut)
            /\ WF_vars(WorkerReceiveSinkAck)
            /\ WF_vars(SinkReceive)

Spec == Init /\ [][Next]_vars /\ Fairness

-----------------------------------------------------------------------------
(* Properties *)

TypeOK == /\ committed \in 0..Msgs
          /\ srcTx \in 1..(Msgs + 1)
          /\ state \in [Seqs -> 0..1]
          /\ mark \in 0..Msgs
          /\ out \subseteq Seqs
          /\ outTx \in 0..Msgs
          /\ dState \in [Seqs -> 0..1]
          /\ dMark \in 0..Msgs
          /\ dOut \subseteq Seqs
          /\ written \in Seq(Seqs)
          /\ sinkMark \in 0..Msgs
          /\ toW \in Seq(Seqs)
          /\ ackW \in 0..Msgs
          /\ toSink \in Seq(Seqs)
          /\ ackS \in 0..Msgs
          /\ crashes \in 0..MaxCrashes

\* The state, in memory and in the store, is the fold of a set of distinct source messages:
\* none applied twice.
StateIsFold == /\ \E S \in SUBSET Seqs : state = Fold(S)
               /\ \E S \in SUBSET Seqs : dState = Fold(S)

\* The sink never writes an output twice.
SinkNoDuplicate == \A i, j \in DOMAIN written : i < j => written[i] # written[j]

\* What the source committed is in the worker's store (it will not be resent).
CommittedDurable == \A m \in 1..committed : dState[m] = 1

\* With finitely many crashes, every source message is eventually reflected exactly once in
\* the state (in memory and in the store) and at the sink.
EveryMessageOnce == \A m \in Seqs : <>[](state[m] = 1 /\ dState[m] = 1 /\ m \in Range(written))
AllDone == <>[](committed = Msgs /\ dOut = {})
=============================================================================
