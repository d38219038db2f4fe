// What every CRDT of runtime/state offers, and how its states become bytes and back.
//
// A state is plain data (objects, arrays, numbers, strings): it passes the engine's state-shape
// check, the engine freezes it, and it is JSON as it is. Operations never change a state in
// place; they return the next state, or the same object when the operation changes nothing
// (a duplicate), which the engine counts as the identity transition.
//
// Performance note: the states are frozen, and V8 copies a frozen array with slice, filter or
// concat on a slow path (about 1 us for 4 numbers here, against ~40 ns for [...a] or a loop),
// so the types copy with spread or loops.
import type { Codec } from '../api/codec.ts';
import { payloadToString } from '../api/codec.ts';
import type { MessageId, RawPayload } from '../types.ts';
import type { Frontier } from './seen.ts';
import { CrdtShapeError } from './shape.ts';

export interface CrdtType<S, V, Op> {
  /** e.g. `g-counter`, `or-map<g-counter>`. */
  readonly name: string;
  /** The state of an object that has applied nothing (the bottom of the lattice). */
  empty(): S;
  /** Operation-based update: applies `op`, the operation carried by message `id`. Applying the
   * same message again returns the state unchanged (the same object). Ops that depend on what
   * their author observed (OR-Set remove, MV-Register set, ...) are prepared from the author's
   * state by the type's helpers first. */
  apply(state: S, id: MessageId, op: Op): S;
  /** As `apply`, but the new top-level object may be left unfrozen (its parts are frozen or
   * themselves nested): for a parent state that freezes itself around it (an OR-Map entry),
   * which saves one Object.freeze per update. Optional. */
  applyNested?(state: S, id: MessageId, op: Op): S;
  /** State-based merge: commutative, associative, idempotent. */
  merge(a: S, b: S): S;
  /** What the application reads. */
  value(state: S): V;
  /** Drops dedup metadata the frontier makes redundant; the value is unchanged. Safe once every
   * operation of origin `o` with id <= frontier[o] that will ever reach this object has. */
  compact(state: S, frontier: Frontier): S;
  /** Checks decoded plain data and returns it as a state; throws CrdtShapeError naming the path. */
  check(data: unknown, path?: string): S;
}

/** JSON codec of a CRDT's states, checking their shape on decode: for the store, for states that
 * move between workers, and anywhere the app's codecs are expected. */
export function crdtCodec<S>(type: CrdtType<S, unknown, unknown>): Codec<S> {
  return {
    name: `crdt:${type.name}`,
    encode: (state: S): RawPayload => JSON.stringify(state),
    decode: (payload: RawPayload): S => {
      let data: unknown;
      try {
        data = JSON.parse(payloadToString(payload));
      } catch (err) {
        throw new CrdtShapeError(`${type.name} state: not JSON (${(err as Error).message})`);
      }
      return type.check(data, `${type.name} state`);
    },
  };
}

const utf8 = new TextEncoder();

/** A state as bytes (UTF-8 JSON), e.g. for `Store.writeBatch`. */
export function encodeState<S>(type: CrdtType<S, unknown, unknown>, state: S): Uint8Array {
  const text = crdtCodec(type).encode(state);
  return typeof text === 'string' ? utf8.encode(text) : text;
}

/** The state stored by `encodeState`; throws CrdtShapeError if it is not one of `type`. */
export function decodeState<S>(type: CrdtType<S, unknown, unknown>, bytes: Uint8Array): S {
  return crdtCodec(type).decode(bytes);
}

export function checkAmount(amount: number, where: string, nonNegative: boolean): number {
  if (typeof amount !== 'number' || !Number.isFinite(amount) || (nonNegative && amount < 0)) {
    throw new RangeError(
      `${where}: amount ${String(amount)} must be a finite${nonNegative ? ' non-negative' : ''} number`,
    );
  }
  return amount;
}
