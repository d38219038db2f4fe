---------------------------- MODULE SlidingWindow ----------------------------
(* Benchmark model: a go-back-N sliding-window protocol over two lossy    *)
(* FIFO channels held as sequences (Append, Head, Tail, SubSeq, \o).      *)
(* The sender keeps a window of unacknowledged messages and goes back to  *)
(* its base on a timeout; the receiver delivers in order into a sequence  *)
(* and acknowledges cumulatively.                                         *)
EXTENDS Naturals, Sequences

CONSTANTS N, W, Cap

VARIABLES base, nextSeq, dataChan, ackChan, rcvNext, delivered

vars == <<base, nextSeq, dataChan, ackChan, rcvNext, delivered>>

Payload(i) == IF i % 2 = 0 THEN "even" ELSE "odd"

Init == /\ base = 1
        /\ nextSeq = 1
        /\ dataChan = <<>>
        /\ ackChan = <<>>
        /\ rcvNext = 1
        /\ delivered = <<>>

Remove(s, i) == SubSeq(s, 1, i - 1) \o SubSeq(s, i + 1, Len(s))

Send == /\ nextSeq < base + W
        /\ nextSeq <= N
        /\ Len(dataChan) < Cap
        /\ dataChan' = Append(dataChan, [seq |-> nextSeq, data |-> Payload(nextSeq)])
        /\ nextSeq' = nextSeq + 1
        /\ UNCHANGED <<base, ackChan, rcvNext, delivered>>

Timeout == /\ nextSeq > base
           /\ nextSeq' = base
           /\ UNCHANGED <<base, dataChan, ackChan, rcvNext, delivered>>

LoseData == /\ \E i \in 1..Len(dataChan) : dataChan' = Remove(dataChan, i)
            /\ UNCHANGED <<base, nextSeq, ackChan, rcvNext, delivered>>

Receive == /\ dataChan # <<>>
           /\ LET m == Head(dataChan) IN
              IF m.seq = rcvNext
              THEN /\ delivered' = Append(delivered, m.data)
                   /\ rcvNext' = rcvNext + 1
                   /\ ackChan' = IF Len(ackChan) < Cap THEN Append(ackChan, m.seq) ELSE ackChan
              ELSE /\ ackChan' = IF Len(ackChan) < Cap /\ rcvNext > 1
                                 THEN Append(ackChan, rcvNext - 1) ELSE ackChan
                   /\ UNCHANGED <<delivered, rcvNext>>
           /\ dataChan' = Tail(dataChan)
           /\ UNCHANGED <<base, nextSeq>>

ReceiveAck == /\ ackChan # <<>>
              /\ base' = IF Head(ackChan) + 1 > base THEN Head(ackChan) + 1 ELSE base
              /\ nextSeq' = IF nextSeq < base' THEN base' ELSE nextSeq
              /\ ackChan' = Tail(ackChan)
              /\ UNCHANGED <<dataChan, rcvNext, delivered>>

LoseAck == /\ \E i \in 1..Len(ackChan) : ackChan' = Remove(ackChan, i)
           /\ UNCHANGED <<base, nextSeq, dataChan, rcvNext, delivered>>

Next == Send \/ Timeout \/ LoseData \/ Receive \/ ReceiveAck \/ LoseAck

TypeOK == /\ base \in 1..N + 1
          /\ nextSeq \in 1..N + 1
          /\ dataChan \in Seq([seq : 1..N, data : {"even", "odd"}])
          /\ ackChan \in Seq(1..N)
          /\ rcvNext \in 1..N + 1
          /\ delivered \in Seq({"even", "odd"})

InOrder == /\ Len(delivered) = rcvNext - 1
           /\ \A i \in 1..Len(delivered) : delivered[i] = Payload(i)

WindowSafe == /\ base <= rcvNext
              /\ \A i \in 1..Len(dataChan) : dataChan[i].seq < base + W
=============================================================================
