---------------------------- MODULE CreditFlow ----------------------------
(* Credit-based backpressure on one channel between two workers: the      *)
(* sender may have at most as many messages outstanding as the receiver   *)
(* has granted credit for; the receiver grants credit only for buffer     *)
(* space it has freed.  Frames travel in order over one connection (TCP). *)
(* The runtime's pure channel core (runtime/net/channel.ts) follows this  *)
(* protocol; the delivery protocol will later add loss and resends.       *)
EXTENDS Naturals, Sequences

CONSTANTS Msgs,      \* how many messages the sender has to send
          Capacity   \* the receiver's buffer size, in messages

VARIABLES next,      \* the next message the sender will send (1..Msgs+1)
          credit,    \* credit the sender holds
          wire,      \* frames in flight, in order: data or credit grants
          buffer,    \* messages the receiver holds, not yet consumed
          consumed,  \* how many messages the receiver's consumer has taken
          owed       \* buffer slots freed but not yet granted back

vars == <<next, credit, wire, buffer, consumed, owed>>

Data(m)   == [type |-> "data", msg |-> m]
Grant(n)  == [type |-> "credit", n |-> n]

Init == /\ next = 1
        /\ credit = 0
        /\ wire = <<Grant(Capacity)>>
        /\ buffer = <<>>
        /\ consumed = 0
        /\ owed = 0

\* The sender sends one message when it holds credit for it.
Send == /\ next <= Msgs
        /\ credit > 0
        /\ wire' = Append(wire, Data(next))
        /\ next' = next + 1
        /\ credit' = credit - 1
        /\ UNCHANGED <<buffer, consumed, owed>>

\* The head frame arrives: data goes to the receiver's buffer, a grant to the sender.
Receive == /\ wire # <<>>
           /\ LET f == Head(wire) IN
              IF f.type = "data"
              THEN /\ buffer' = Append(buffer, f.msg)
                   /\ UNCHANGED credit
              ELSE /\ credit' = credit + f.n
                   /\ UNCHANGED buffer
           /\ wire' = Tail(wire)
           /\ UNCHANGED <<next, consumed, owed>>

\* The consumer takes the oldest buffered message; its slot is owed back as credit.
Consume == /\ buffer # <<>>
           /\ consumed' = consumed + 1
           /\ buffer' = Tail(buffer)
           /\ owed' = owed + 1
           /\ UNCHANGED <<next, credit, wire>>

\* The receiver grants the credit it owes, batched: all of it in one frame, once half its
\* window is owed or nothing is left to consume (the channel core's rule: fewer, larger
\* grants, and never a grant held back while the consumer is idle).
GrantCredit == /\ owed > 0
               /\ (owed * 2 >= Capacity \/ buffer = <<>>)
               /\ wire' = Append(wire, Grant(owed))
               /\ owed' = 0
               /\ UNCHANGED <<next, credit, buffer, consumed>>

Done == /\ consumed = Msgs
        /\ UNCHANGED vars

Next == Send \/ Receive \/ Consume \/ GrantCredit \/ Done

Spec == Init /\ [][Next]_vars /\ WF_vars(Send \/ Receive \/ Consume \/ GrantCredit)

InFlightData == Len(SelectSeq(wire, LAMBDA f : f.type = "data"))
InFlightCredit ==
  LET grants == SelectSeq(wire, LAMBDA f : f.type = "credit")
      Sum[i \in 0..Len(grants)] == IF i = 0 THEN 0 ELSE Sum[i - 1] + grants[i].n
  IN Sum[Len(grants)]

TypeOK == /\ next \in 1..(Msgs + 1)
          /\ credit \in 0..Capacity
          /\ consumed \in 0..Msgs
          /\ owed \in 0..Capacity

\* Memory stays bounded: the receiver never holds more than its capacity.
BufferBounded == Len(buffer) <= Capacity

\* Credit is conserved: held, in flight, in use or owed, it always adds up to Capacity.
CreditConserved == credit + InFlightCredit + InFlightData + Len(buffer) + owed = Capacity

\* Messages arrive in order and none is lost or duplicated.
InOrder == \A i \in 1..Len(buffer) : buffer[i] = consumed + i

\* Every message is eventually consumed.
AllConsumed == <>(consumed = Msgs)
=============================================================================
