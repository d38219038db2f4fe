// Law-test harness for runtime/state: histories of operations authored at several origins,
// delivery schedules (any order with duplicates, or per-origin FIFO with duplicates), replicas
// built from them, and safe compaction frontiers. Each CRDT test file describes its type with a
// Model and runs the shared laws (laws.ts) on it.
import fc from 'fast-check';
import { freezeState } from '../../../runtime/engine/frozen-state.ts';
import type { CrdtType, Frontier } from '../../../runtime/state/index.ts';
import { compareIds } from '../../../runtime/state/index.ts';
import type { MessageId } from '../../../runtime/types.ts';

export interface Model<S, V, Op, Cmd> {
  readonly name: string;
  readonly type: CrdtType<S, V, Op>;
  /** A command an author issues; `prepare` turns it into an op from the author's state. */
  readonly cmd: fc.Arbitrary<Cmd>;
  prepare(state: S, cmd: Cmd): Op;
  /** The delivery the type needs: any order, per-origin FIFO, or causal (an op after the ops
   * its author had applied; implies FIFO). Duplicates are allowed in all three. */
  readonly delivery: Delivery;
  /** Replicas that applied the same ops are structurally equal (not only equal in value). */
  readonly exact: boolean;
  /** The value expected from the distinct ops, when the type has a simple sequential meaning. */
  reference?(ops: readonly Authored<Op>[]): V;
}

export type Delivery = 'any' | 'fifo' | 'causal';

export interface Authored<Op> {
  readonly id: MessageId;
  readonly op: Op;
  /** Position in the history. */
  readonly index: number;
  /** Indexes of the ops its author had applied when it prepared this one (its causal past). */
  readonly deps: readonly number[];
}

export const ORIGINS = 3;

export type Step<Cmd> =
  { readonly origin: number; readonly cmd: Cmd; readonly sub: number } | { readonly sync: number };

export function stepsArb<Cmd>(cmd: fc.Arbitrary<Cmd>, maxLength = 24): fc.Arbitrary<Step<Cmd>[]> {
  const author = fc.record({
    origin: fc.integer({ min: 0, max: ORIGINS - 1 }),
    cmd,
    sub: fc.constantFrom(0, 1, 2, 1048577),
  });
  const sync = fc.record({ sync: fc.integer({ min: 0, max: ORIGINS - 1 }) });
  return fc.array(fc.oneof({ weight: 4, arbitrary: author }, { weight: 1, arbitrary: sync }), { maxLength });
}

/** Every operation of a history, in the order authored: origin i's author applies its own ops
 * to its state and prepares the next from it; a sync step delivers everything authored so far
 * to that author (in order, which is per-origin FIFO). */
export function author<S, Op, Cmd>(
  m: Model<S, unknown, Op, Cmd>,
  steps: readonly Step<Cmd>[],
): Authored<Op>[] {
  const states: S[] = Array.from({ length: ORIGINS }, () => m.type.empty());
  const applied: number[][] = Array.from({ length: ORIGINS }, () => []);
  const offsets = new Array<number>(ORIGINS).fill(0);
  const ops: Authored<Op>[] = [];
  for (const st of steps) {
    if ('sync' in st) {
      let s: S = states[st.sync]!;
      for (const a of ops) s = m.type.apply(s, a.id, a.op);
      states[st.sync] = s;
      applied[st.sync] = ops.map((a) => a.index);
      continue;
    }
    const offset = offsets[st.origin]!;
    offsets[st.origin] = offset + 1 + (st.sub % 2); // sparse offsets, as a key sees them
    const id: MessageId = { source: st.origin, offset, sub: st.sub };
    const op = m.prepare(states[st.origin]!, st.cmd);
    states[st.origin] = m.type.apply(states[st.origin]!, id, op);
    const index = ops.length;
    ops.push({ id, op, index, deps: [...applied[st.origin]!] });
    applied[st.origin]!.push(index);
  }
  return ops;
}

/** A small seeded generator for schedules (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function byOrigin<Op>(ops: readonly Authored<Op>[]): Authored<Op>[][] {
  const q: Authored<Op>[][] = Array.from({ length: ORIGINS }, () => []);
  for (const a of ops) q[a.id.source]!.push(a);
  return q;
}

/** A delivery of every op of `ops` at least once, in an order `delivery` allows (for causal,
 * deps outside `ops` count as delivered already), with duplicates of already delivered ops
 * inserted at random later points. */
export function schedule<Op>(
  ops: readonly Authored<Op>[],
  delivery: Delivery,
  seed: number,
  dupRate = 0.3,
): Authored<Op>[] {
  const r = rng(seed);
  const out: Authored<Op>[] = [];
  const delivered: Authored<Op>[] = [];
  const done = new Set<number>();
  const take = (a: Authored<Op>): void => {
    out.push(a);
    delivered.push(a);
    done.add(a.index);
    while (r() < dupRate) out.push(delivered[Math.floor(r() * delivered.length)]!);
  };
  if (delivery === 'fifo') {
    const q = byOrigin(ops).filter((x) => x.length > 0);
    while (q.length > 0) {
      const i = Math.floor(r() * q.length);
      take(q[i]!.shift()!);
      if (q[i]!.length === 0) q.splice(i, 1);
    }
  } else if (delivery === 'causal') {
    const inSet = new Set(ops.map((a) => a.index));
    const rest = [...ops];
    while (rest.length > 0) {
      const ready = rest.filter((a) => a.deps.every((d) => done.has(d) || !inSet.has(d)));
      const a = ready[Math.floor(r() * ready.length)]!;
      rest.splice(rest.indexOf(a), 1);
      take(a);
    }
  } else {
    const rest = [...ops];
    while (rest.length > 0) take(rest.splice(Math.floor(r() * rest.length), 1)[0]!);
  }
  return out;
}

/** The ops a partial replica gets: a random subset; FIFO: a random prefix of each origin;
 * causal: a random subset closed under deps (a causal cut). */
export function subset<Op>(ops: readonly Authored<Op>[], delivery: Delivery, seed: number): Authored<Op>[] {
  const r = rng(seed);
  if (delivery === 'any') return ops.filter(() => r() < 0.6);
  if (delivery === 'causal') {
    const keep = new Set<number>();
    for (const a of ops) {
      if (r() < 0.5) {
        keep.add(a.index);
        for (const d of a.deps) keep.add(d);
      }
    }
    return ops.filter((a) => keep.has(a.index));
  }
  const cut = Array.from({ length: ORIGINS }, () => r());
  const q = byOrigin(ops);
  const keep = new Set<Authored<Op>>();
  q.forEach((list, o) => list.slice(0, Math.round(cut[o]! * list.length)).forEach((a) => keep.add(a)));
  return ops.filter((a) => keep.has(a));
}

/** Freezes every object and array in `v`, also below objects already frozen (an OR-Map entry is
 * frozen around a value left unfrozen); checks the shape as the engine does. */
export function deepFreeze<T>(v: T, name = 'state'): T {
  freezeState(v, name);
  const walk = (x: unknown): void => {
    if (typeof x !== 'object' || x === null) return;
    Object.freeze(x);
    for (const k in x) walk((x as Record<string, unknown>)[k]);
  };
  walk(v);
  return v;
}

/** Applies a schedule; every state is deeply frozen, so an op that changed its input in place
 * would throw. */
export function run<S, Op>(type: CrdtType<S, unknown, Op>, ops: readonly Authored<Op>[], from?: S): S {
  let s = deepFreeze(from ?? type.empty(), type.name);
  for (const a of ops) s = deepFreeze(type.apply(s, a.id, a.op), type.name);
  return s;
}

/** A frontier that is safe for a replica that applied `applied` out of `all`: per origin, an id
 * within the prefix (in id order) of that origin's ops that the replica has all applied. */
export function safeFrontier<Op>(
  all: readonly Authored<Op>[],
  applied: readonly Authored<Op>[],
  seed: number,
): Frontier {
  const r = rng(seed);
  const have = new Set(applied);
  const f: Record<string, readonly [number, number]> = {};
  byOrigin(all).forEach((list, o) => {
    const sorted = [...list].sort((x, y) => compareIds(x.id.offset, x.id.sub, y.id.offset, y.id.sub));
    let k = 0;
    while (k < sorted.length && have.has(sorted[k]!)) k++;
    if (k === 0) return;
    const pick = sorted[Math.floor(r() * k)]!;
    f[o] = [pick.id.offset, pick.id.sub];
  });
  return f;
}

/** The ops of `ops` not in `applied` (each once). */
export function missing<Op>(ops: readonly Authored<Op>[], applied: readonly Authored<Op>[]): Authored<Op>[] {
  const have = new Set(applied);
  return ops.filter((a) => !have.has(a));
}

/** Distinct ops (by id) in authored order. */
export function distinct<Op>(ops: readonly Authored<Op>[]): Authored<Op>[] {
  const seen = new Set<string>();
  return ops.filter((a) => {
    const k = `${a.id.source}:${a.id.offset}:${a.id.sub}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
