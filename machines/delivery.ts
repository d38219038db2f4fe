// specs/Delivery.tla's actions, by who takes them: the sender machine
// (machines/delivery-sender.ts), the receiver machine (machines/delivery-receiver.ts), both
// (a connection is made or lost at both ends), the connection itself (the transport loses what
// is in flight; no machine takes part), or nobody (the terminal stuttering step). Every
// disjunct of the spec's Next has exactly one role (test/machines/delivery.test.ts checks it
// against the spec and against the machines' event types).
import { DELIVERY_RECEIVER_EVENTS } from './delivery-receiver.ts';
import { DELIVERY_SENDER_EVENTS } from './delivery-sender.ts';

export type DeliveryRole = 'sender' | 'receiver' | 'both' | 'connection' | 'stutter';

export const DELIVERY_ACTION_ROLES = {
  Send: 'sender',
  Transmit: 'sender',
  Retransmit: 'sender',
  ReceiveAck: 'sender',
  ReceiveData: 'receiver',
  Consume: 'receiver',
  Acknowledge: 'receiver',
  Connect: 'both',
  Break: 'both',
  LoseData: 'connection',
  LoseAck: 'connection',
  Done: 'stutter',
} as const satisfies Readonly<Record<string, DeliveryRole>>;

export type DeliveryAction = keyof typeof DELIVERY_ACTION_ROLES;
export const DELIVERY_ACTIONS = Object.keys(DELIVERY_ACTION_ROLES) as DeliveryAction[];

/** The spec's variables, in the order the spec declares them. */
export const DELIVERY_VARIABLES = [
  'next',
  'buf',
  'acked',
  'tx',
  'limit',
  'delivered',
  'consumed',
  'up',
  'data',
  'acks',
  'faults',
] as const;
export type DeliveryVariable = (typeof DELIVERY_VARIABLES)[number];

export { DELIVERY_RECEIVER_EVENTS, DELIVERY_SENDER_EVENTS };
