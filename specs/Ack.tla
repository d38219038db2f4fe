------------------------------- MODULE Ack -------------------------------
(* Acknowledgements flow upstream, from the sink to the source, and each   *)
(* one promises durability.  A pipeline source -> stateful worker -> sink: *)
(*   - the stateful worker acknowledges an input only after the state      *)
(*     change and the outputs it caused are durable (in its store and its  *)
(*     outbox);                                                            *)
(*   - an upstream (the source towards the worker, the worker towards the  *)
(*     sink) keeps a message until it is acknowledged, and resends it;     *)
(*   - the source commits its offset in the external system only when      *)
(*     everything downstream of the message is durable, i.e. once it is    *)
(*     acknowledged (the worker's outbox carries the rest to the sink).    *)
(*                                                                         *)
(* Message m is the source's offset m; its output at the worker has the    *)
(* id m too (ids are deterministic under replay).  Connections are those   *)
(* of Delivery.tla seen from above: what is in flight is a set (any order) *)
(* and is lost when either end crashes.  The worker and the source crash   *)
(* and restart, losing everything volatile; the sink's writes are durable. *)
(*                                                                         *)
(* Two constants switch on deliberately broken variants, which the checker *)
(* must refute (specs/Ack-ack-early.cfg, specs/Ack-commit-early.cfg):      *)
(* AckEarly acknowledges what is applied in memory only; CommitEarly       *)
(* commits the source offset as soon as the message is read.               *)
EXTENDS Naturals, FiniteSets

CONSTANTS Msgs,        \* how many messages the external system holds (offsets 1..Msgs)
          MaxCrashes,  \* how many crashes (worker or source) a behaviour may have
          AckEarly,    \* BROKEN variant: the worker acknowledges before its write is durable
          CommitEarly  \* BROKEN variant: the source commits an offset it has only read

VARIABLES
  \* source
  offset,   \* the committed offset in the external system (durable): 1..offset are done
  read,     \* the highest offset the source has read since it (re)started (volatile)
  kept,     \* read and not yet acknowledged: the source keeps them to resend (volatile)
  \* worker
  mem,      \* applied in memory: state change and outputs not yet durable (volatile)
  dur,      \* applied durably: state change in the store, outputs in the outbox
  toAck,    \* durable, acknowledgement not yet sent (volatile)
  outbox,   \* durable outputs the sink has not acknowledged
  \* sink
  sunk,     \* outputs written durably by the sink
  \* connections
  toW,      \* messages in flight, source -> worker
  acksW,    \* acknowledgements in flight, worker -> source
  toSink,   \* outputs in flight, worker -> sink
  acksS,    \* acknowledgements in flight, sink -> worker
  crashes   \* crashes so far

vars == <<offset, read, kept, mem, dur, toAck, outbox, sunk, toW, acksW, toSink, acksS, crashes>>

Seqs == 1..Msgs

Init == /\ offset = 0
        /\ read = 0
        /\ kept = {}
        /\ mem = {}
        /\ dur = {}
        /\ toAck = {}
        /\ outbox = {}
        /\ sunk = {}
        /\ toW = {}
        /\ acksW = {}
        /\ toSink = {}
        /\ acksS = {}
        /\ crashes = 0

-----------------------------------------------------------------------------
(* The source *)

\* The source reads the next message from the external system and keeps it.
SourceRead == /\ read < Msgs
              /\ read' = read + 1
              /\ kept' = kept \cup {read + 1}
              /\ UNCHANGED <<offset, mem, dur, toAck, outbox, sunk, toW, acksW, toSink, acksS, crashes>>

\* A kept message goes (again) to the worker.
SourceSend(m) == /\ m \in kept
                 /\ m \notin toW
                 /\ toW' = toW \cup {m}
                 /\ UNCHANGED <<offset, read, kept, mem, dur, toAck, outbox, sunk, acksW, toSink, acksS, crashes>>

\* An acknowledgement arrives: the source releases the message.
SourceReceiveAck(m) == /\ m \in acksW
                       /\ acksW' = acksW \ {m}
                       /\ kept' = kept \ {m}
                       /\ UNCHANGED <<offset, read, mem, dur, toAck, outbox, sunk, toW, toSink, acksS, crashes>>

\* The source commits the next offset in the external system, once that message is
\* acknowledged (read and no longer kept); the broken variant commits what it has read.
SourceCommit == /\ offset < read
                /\ CommitEarly \/ (offset + 1) \notin kept
                /\ offset' = offset + 1
                /\ UNCHANGED <<read, kept, mem, dur, toAck, outbox, sunk, toW, acksW, toSink, acksS, crashes>>

-----------------------------------------------------------------------------
(* The stateful worker *)

\* A message arrives. A new one is applied in memory; a duplicate of a durable one is
\* acknowledged again (its first acknowledgement may have been lost); a duplicate of one
\* still in memory is dropped.
WorkerReceive(m) == /\ m \in toW
                    /\ toW' = toW \ {m}
                    /\ IF m \in mem \cup dur
                         THEN /\ toAck' = IF m \in dur THEN toAck \cup {m} ELSE toAck
                              /\ mem' = mem
                         ELSE /\ mem' = mem \cup {m}
                              /\ toAck' = toAck
                    /\ UNCHANGED <<offset, read, kept, dur, outbox, sunk, acksW, toSink, acksS, crashes>>

\* Group commit: one atomic durable write of everything applied in memory (state changes and
\* their outputs, into the outbox); only now may those inputs be acknowledged.
WorkerPersist == /\ mem # {}
                 /\ dur' = dur \cup mem
                 /\ outbox' = outbox \cup mem
                 /\ toAck' = toAck \cup mem
                 /\ mem' = {}
                 /\ UNCHANGED <<offset, read, kept, sunk, toW, acksW, toSink, acksS, crashes>>

\* The worker acknowledges an input upstream: a durable one (or, broken, one in memory).
WorkerAck(m) == /\ \/ m \in toAck
                   \/ AckEarly /\ m \in mem /\ m \notin acksW
                /\ acksW' = acksW \cup {m}
                /\ toAck' = toAck \ {m}
                /\ UNCHANGED <<offset, read, kept, mem, dur, outbox, sunk, toW, toSink, acksS, crashes>>

\* An output in the outbox goes (again) to the sink.
WorkerSendOut(m) == /\ m \in outbox
                    /\ m \notin toSink
                    /\ toSink' = toSink \cup {m}
                    /\ UNCHANGED <<offset, read, kept, mem, dur, toAck, outbox, sunk, toW, acksW, acksS, crashes>>

\* The sink acknowledged an output: the worker drops it from its outbox.
WorkerReceiveSinkAck(m) == /\ m \in acksS
                           /\ acksS' = acksS \ {m}
                           /\ outbox' = outbox \ {m}
                           /\ UNCHANGED <<offset, read, kept, mem, dur, toAck, sunk, toW, acksW, toSink, crashes>>

-----------------------------------------------------------------------------
(* The sink: it writes an output durably (idempotently: a set), then acknowledges it. *)

SinkReceive(m) == /\ m \in toSink
                  /\ toSink' = toSink \ {m}
                  /\ sunk' = sunk \cup {m}
                  /\ acksS' = acksS \cup {m}
                  /\ UNCHANGED <<offset, read, kept, mem, dur, toAck, outbox, toW, acksW, crashes>>

-----------------------------------------------------------------------------
(* Crashes *)

\* The worker crashes and restarts from its store: memory, pending acknowledgements and
\* everything in flight on its connections are lost; the store and outbox survive.
CrashWorker == /\ crashes < MaxCrashes
               /\ crashes' = crashes + 1
               /\ mem' = {}
               /\ toAck' = {}
               /\ toW' = {}
               /\ acksW' = {}
               /\ toSink' = {}
               /\ acksS' = {}
               /\ UNCHANGED <<offset, read, kept, dur, outbox, sunk>>

\* The source crashes and restarts from its committed offset: it reads again from there.
CrashSource == /\ crashes < MaxCrashes
               /\ crashes' = crashes + 1
               /\ read' = offset
               /\ kept' = {}
               /\ toW' = {}
               /\ acksW' = {}
               /\ UNCHANGED <<offset, mem, dur, toAck, outbox, sunk, toSink, acksS>>

\* Everything committed, written by the sink and released (a stuttering step, not a deadlock).
Done == /\ offset = Msgs
        /\ sunk = Seqs
        /\ outbox = {}
        /\ UNCHANGED vars

Next == \/ SourceRead
        \/ \E m \in Seqs : SourceSend(m)
        \/ \E m \in Seqs : SourceReceiveAck(m)
        \/ SourceCommit
        \/ \E m \in Seqs : WorkerReceive(m)
        \/ WorkerPersist
        \/ \E m \in Seqs : WorkerAck(m)
        \/ \E m \in Seqs : WorkerSendOut(m)
        \/ \E m \in Seqs : WorkerReceiveSinkAck(m)
        \/ \E m \in Seqs : SinkReceive(m)
        \/ CrashWorker
        \/ CrashSource
        \/ Done

\* Every step but a crash is eventually taken while it stays enabled.
Fairness == /\ WF_vars(SourceRead)
            /\ WF_vars(SourceCommit)
            /\ WF_vars(WorkerPersist)
            /\ \A m \in Seqs : /\ WF_vars(SourceSend(m))
                               /\ WF_vars(SourceReceiveAck(m))
                               /\ WF_vars(WorkerReceive(m))
                               /\ WF_vars(WorkerAck(m))
                               /\ WF_vars(WorkerSendOut(m))
                               /\ WF_vars(WorkerReceiveSinkAck(m))
                               /\ WF_vars(SinkReceive(m))

Spec == Init /\ [][Next]_vars /\ Fairness

-----------------------------------------------------------------------------
(* Properties *)

TypeOK == /\ offset \in 0..Msgs
          /\ read \in 0..Msgs
          /\ kept \subseteq Seqs
          /\ mem \subseteq Seqs
          /\ dur \subseteq Seqs
          /\ toAck \subseteq Seqs
          /\ outbox \subseteq Seqs
          /\ sunk \subseteq Seqs
          /\ toW \subseteq Seqs
          /\ acksW \subseteq Seqs
          /\ toSink \subseteq Seqs
          /\ acksS \subseteq Seqs
          /\ crashes \in 0..MaxCrashes

\* What the worker has acknowledged to the source: on the wire, released by the source (read
\* and no longer kept), or committed in the external system.
AckedAtWorker == acksW \cup {m \in 1..read : m \notin kept} \cup (1..offset)

\* Nothing acknowledged is lost by any later crash. A crash erases exactly mem, toAck, kept,
\* read and what is in flight, so this says: whatever was acknowledged, at any stage, is held
\* by something no crash erases.
\*  - an input acknowledged by the worker, or committed by the source, is in the worker's store;
\*  - an output the sink acknowledged (the worker may drop it) is written by the sink;
\*  - every durable input's output is still in the outbox or already written by the sink.
NothingAckedLost == /\ AckedAtWorker \subseteq dur
                    /\ acksS \cup (dur \ outbox) \subseteq sunk
                    /\ dur \subseteq outbox \cup sunk

\* Every message is eventually committed at the source and written by the sink.
EveryMessageCommitted == \A m \in Seqs : <>(offset >= m)
AllDone == <>[](offset = Msgs /\ sunk = Seqs /\ outbox = {})
=============================================================================
