----------------------------- MODULE Delivery -----------------------------
(* Reliable, in-order, exactly-once delivery of numbered frames from a     *)
(* sender to a receiver over a connection that loses, duplicates and       *)
(* reorders what is in flight, and that can break and be re-established    *)
(* (losing everything in flight).  Credit-based backpressure is part of    *)
(* it: the receiver's acknowledgement carries, besides the cumulative ack, *)
(* an absolute credit limit (the highest frame it has room for), so that a *)
(* duplicated or reordered acknowledgement is harmless.                    *)
(*                                                                         *)
(* One frame is one batch of messages (the runtime's DATA frame); the body *)
(* is opaque, so the spec tracks frame numbers only.                       *)
(*                                                                         *)
(* Roles: the sender (machines/delivery-sender.ts) does Send, Transmit,    *)
(* Retransmit, ReceiveAck; the receiver (machines/delivery-receiver.ts)    *)
(* does ReceiveData, Consume, Acknowledge; both take part in Connect and   *)
(* Break; the connection alone does LoseData and LoseAck.                  *)
EXTENDS Naturals, Sequences, FiniteSets

CONSTANTS Msgs,      \* how many frames the sender's application sends
          Window,    \* frames the receiver buffers = frames the sender keeps unacknowledged
          MaxFaults  \* how many losses and breaks the connection may inflict (bounds the model)

VARIABLES
  \* sender
  next,      \* the number the next frame from the application gets (1..Msgs+1)
  buf,       \* the frames the sender keeps (sent by the application, not acknowledged), in order
  acked,     \* the highest cumulative acknowledgement the sender has seen
  tx,        \* the next frame the sender transmits on this connection
  limit,     \* the highest frame the receiver has granted credit for (as the sender knows it)
  \* receiver
  delivered, \* the frames the receiver handed to its application, in order
  consumed,  \* how many of them the application has finished with (frees buffer space)
  \* connection
  up,        \* a connection exists and its handshake is done
  data,      \* DATA frames in flight, sender -> receiver (a set: any order, any number of copies)
  acks,      \* ACK frames in flight, receiver -> sender: [ack |-> a, limit |-> l]
  faults     \* losses and breaks so far

vars == <<next, buf, acked, tx, limit, delivered, consumed, up, data, acks, faults>>

Seqs == 1..Msgs
Max(a, b) == IF a >= b THEN a ELSE b
Range(lo, hi) == [i \in 1..(hi - lo + 1) |-> lo + i - 1]   \* <<lo, ..., hi>>, <<>> when hi < lo
\* The receiver's credit limit: the highest frame it has buffer space for.
Granted == consumed + Window
\* What the receiver tells the sender: cumulative ack and credit limit.
AckOf == [ack |-> Len(delivered), limit |-> Granted]

Init == /\ next = 1
        /\ buf = <<>>
        /\ acked = 0
        /\ tx = 1
        /\ limit = 0
        /\ delivered = <<>>
        /\ consumed = 0
        /\ up = FALSE
        /\ data = {}
        /\ acks = {}
        /\ faults = 0

-----------------------------------------------------------------------------
(* The sender *)

\* The application hands the sender a frame; it numbers it and keeps it, while it has room.
Send == /\ next <= Msgs
        /\ Len(buf) < Window
        /\ buf' = Append(buf, next)
        /\ next' = next + 1
        /\ UNCHANGED <<acked, tx, limit, delivered, consumed, up, data, acks, faults>>

\* The next kept frame goes on the wire, within credit.
Transmit == /\ up
            /\ tx < next
            /\ tx <= limit
            /\ data' = data \cup {tx}
            /\ tx' = tx + 1
            /\ UNCHANGED <<next, buf, acked, limit, delivered, consumed, up, acks, faults>>

\* The acknowledgement timer fired: go back to the oldest unacknowledged frame.
Retransmit == /\ up
              /\ tx > acked + 1
              /\ tx' = acked + 1
              /\ UNCHANGED <<next, buf, acked, limit, delivered, consumed, up, data, acks, faults>>

\* An acknowledgement arrives: drop the acknowledged frames, take the credit.
ReceiveAck(k) == /\ k \in acks
                 /\ acked' = Max(acked, k.ack)
                 /\ buf' = SelectSeq(buf, LAMBDA s : s > k.ack)
                 /\ tx' = Max(tx, k.ack + 1)
                 /\ limit' = Max(limit, k.limit)
                 /\ UNCHANGED <<next, delivered, consumed, up, data, acks, faults>>

-----------------------------------------------------------------------------
(* The receiver *)

\* A DATA frame arrives (a copy of it may stay in flight: the wire duplicates). Only the next
\* frame in order, within the credit granted, is delivered; a duplicate, or a frame from beyond a
\* gap, changes nothing (the receiver drops it: a stuttering step).
ReceiveData(s) == /\ s \in data
                  /\ s = Len(delivered) + 1
                  /\ s <= Granted
                  /\ delivered' = Append(delivered, s)
                  /\ UNCHANGED <<next, buf, acked, tx, limit, consumed, up, data, acks, faults>>

\* The application finishes with the oldest delivered frame: its buffer space is credit again.
Consume == /\ consumed < Len(delivered)
           /\ consumed' = consumed + 1
           /\ UNCHANGED <<next, buf, acked, tx, limit, delivered, up, data, acks, faults>>

\* The receiver acknowledges cumulatively, with its current credit limit: after frames arrive or
\* are consumed, and again whenever its acknowledgement timer fires (an ACK may have been lost,
\* and a sender waiting for credit has nothing in flight to provoke one).
Acknowledge == /\ up
               /\ acks' = acks \cup {AckOf}
               /\ UNCHANGED <<next, buf, acked, tx, limit, delivered, consumed, up, data, faults>>

-----------------------------------------------------------------------------
(* The connection *)

\* A connection is (re-)established. The handshake carries the receiver's resume point (its
\* cumulative ack) and credit limit; the sender drops what was delivered and resends from there.
Connect == /\ ~up
           /\ up' = TRUE
           /\ acked' = Max(acked, Len(delivered))
           /\ buf' = SelectSeq(buf, LAMBDA s : s > Len(delivered))
           /\ tx' = Len(delivered) + 1
           /\ limit' = Max(limit, Granted)
           /\ UNCHANGED <<next, delivered, consumed, data, acks, faults>>

\* The connection breaks: everything in flight is lost.
Break == /\ up
         /\ faults < MaxFaults
         /\ up' = FALSE
         /\ data' = {}
         /\ acks' = {}
         /\ faults' = faults + 1
         /\ UNCHANGED <<next, buf, acked, tx, limit, delivered, consumed>>

LoseData(s) == /\ s \in data
               /\ faults < MaxFaults
               /\ data' = data \ {s}
               /\ faults' = faults + 1
               /\ UNCHANGED <<next, buf, acked, tx, limit, delivered, consumed, up, acks>>

LoseAck(k) == /\ k \in acks
              /\ faults < MaxFaults
              /\ acks' = acks \ {k}
              /\ faults' = faults + 1
              /\ UNCHANGED <<next, buf, acked, tx, limit, delivered, consumed, up, data>>

\* Everything was delivered, consumed and acknowledged (a stuttering step, not a deadlock).
Done == /\ acked = Msgs
        /\ consumed = Msgs
        /\ UNCHANGED vars

AckFrames == [ack : 0..Msgs, limit : 0..(Msgs + Window)]

Next == \/ Send
        \/ Transmit
        \/ Retransmit
        \/ \E k \in acks : ReceiveAck(k)
        \/ \E s \in data : ReceiveData(s)
        \/ Consume
        \/ Acknowledge
        \/ Connect
        \/ Break
        \/ \E s \in data : LoseData(s)
        \/ \E k \in acks : LoseAck(k)
        \/ Done

Fairness == /\ WF_vars(Send)
            /\ WF_vars(Transmit)
            /\ WF_vars(Retransmit)
            /\ WF_vars(Consume)
            /\ WF_vars(Acknowledge)
            /\ WF_vars(Connect)
            /\ \A s \in Seqs : WF_vars(ReceiveData(s))
            /\ \A k \in AckFrames : WF_vars(ReceiveAck(k))

Spec == Init /\ [][Next]_vars /\ Fairness

-----------------------------------------------------------------------------
(* Properties *)

TypeOK == /\ next \in 1..(Msgs + 1)
          /\ buf \in Seq(Seqs)
          /\ acked \in 0..Msgs
          /\ tx \in 1..(Msgs + 1)
          /\ limit \in 0..(Msgs + Window)
          /\ delivered \in Seq(Seqs)
          /\ consumed \in 0..Msgs
          /\ up \in BOOLEAN
          /\ data \subseteq Seqs
          /\ acks \subseteq AckFrames
          /\ faults \in 0..MaxFaults

\* What the receiver delivered is a prefix of what the sender sent: no duplicate, no gap, no reordering.
DeliveredPrefix == /\ Len(delivered) <= next - 1
                   /\ delivered = Range(1, Len(delivered))

\* The sender keeps exactly the frames not yet acknowledged, within its bound.
BufferExact == /\ buf = Range(acked + 1, next - 1)
               /\ Len(buf) <= Window

\* Only frames the sender kept, or delivered ones, are ever acknowledged or in flight.
AckedDelivered == /\ acked <= Len(delivered)
                  /\ \A k \in acks : k.ack <= Len(delivered)
                  /\ \A s \in data : s < next

\* Credit is never exceeded: nothing in flight or known to the sender goes past what the receiver
\* has room for, and the receiver never holds more than its window.
CreditRespected == /\ limit <= Granted
                   /\ \A s \in data : s <= Granted
                   /\ \A k \in acks : k.limit <= Granted
                   /\ Len(delivered) - consumed <= Window
                   /\ consumed <= Len(delivered)

\* Every frame the application sends is eventually delivered and acknowledged.
EveryFrameDelivered == \A s \in Seqs : (next > s) ~> (Len(delivered) >= s /\ acked >= s)
AllDone == <>[](acked = Msgs /\ consumed = Msgs)
=============================================================================
