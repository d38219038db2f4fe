// OR-Map: string keys -> values of any CRDT type here (counters, sets, registers, OR-Maps).
// A key's presence is an OR-Set element (add-wins over a concurrent remove of what the remover
// saw); its value is a CRDT of the value type, merged key by key.
//
//   ORMapEntry<S> = { d: Dots (presence), c: Seen (the entry's context), v: S (the value) }
//   ORMap<S>      = { [key]: ORMapEntry<S> }
//
// Every entry has its own context, so an OR-Map can be sharded by key: a state step keyed by
// the map's key whose state is `orMap(T).entry` holds the map spread over the partitions, one
// entry per key (examples/word-count-crdt.ts), and `fromEntries` assembles it. One state per
// key is also what keeps an update cheap: a whole map in one state is copied on each update.
//
// Operations (prepared from the author's state, like OR-Set ones):
//   update(k, op): applies the value op (deduped by the value type, by message id); when the
//                  author saw k absent, it also adds a presence dot (the id), so the key appears
//                  and wins over a concurrent remove.
//   remove(k):     removes the presence dots the author observed. The value stays in the entry:
//                  a key made present again shows it with every update applied to it. (A remove
//                  hides, it does not reset.) An update of a key its author saw present adds no
//                  dot, so a concurrent remove of that key hides it.
// Metadata: one entry per key ever used (removed keys keep theirs: dropping an entry is not
// safe while an operation on it may still arrive), plus what the value type keeps.
import type { MessageId } from '../types.ts';
import type { Dots } from './dots.ts';
import { NO_DOTS, checkCovered, checkDots, dotsAdd, dotsJoin, dotsWithout } from './dots.ts';
import type { Frontier, Seen } from './seen.ts';
import {
  EMPTY_SEEN,
  checkSeen,
  checkWindow,
  seenAdd,
  seenAddDots,
  seenCompact,
  seenHasId,
  seenMerge,
} from './seen.ts';
import type { SeenOptions } from './or-set.ts';
import { DEFAULT_WINDOW } from './or-set.ts';
import { CrdtShapeError, checkKeys, checkPlainObject } from './shape.ts';
import type { CrdtType } from './type.ts';

export interface ORMapEntry<S> {
  readonly d: Dots;
  readonly c: Seen;
  readonly v: S;
}

export interface ORMap<S> {
  readonly [key: string]: ORMapEntry<S>;
}

export type ORMapEntryOp<Op> =
  { readonly t: 'up'; readonly add: Dots | null; readonly op: Op } | { readonly t: 'rm'; readonly obs: Dots };

export type ORMapOp<Op> = ORMapEntryOp<Op> & { readonly k: string };

export type ORMapEntryType<S, V, Op> = CrdtType<ORMapEntry<S>, V | undefined, ORMapEntryOp<Op>> & {
  /** Applies value op `op` of message `id` (adding presence if the key is absent). */
  update(e: ORMapEntry<S>, id: MessageId, op: Op): ORMapEntry<S>;
  remove(e: ORMapEntry<S>, id: MessageId): ORMapEntry<S>;
  present(e: ORMapEntry<S>): boolean;
  prepareUpdate(e: ORMapEntry<S>, op: Op): ORMapEntryOp<Op>;
  prepareRemove(e: ORMapEntry<S>): ORMapEntryOp<Op>;
};

export type ORMapType<S, V, Op> = CrdtType<ORMap<S>, { readonly [key: string]: V }, ORMapOp<Op>> & {
  readonly valueType: CrdtType<S, V, Op>;
  readonly entry: ORMapEntryType<S, V, Op>;
  update(m: ORMap<S>, id: MessageId, key: string, op: Op): ORMap<S>;
  remove(m: ORMap<S>, id: MessageId, key: string): ORMap<S>;
  prepare(
    m: ORMap<S>,
    key: string,
    op: { readonly t: 'up'; readonly op: Op } | { readonly t: 'rm' },
  ): ORMapOp<Op>;
  get(m: ORMap<S>, key: string): V | undefined;
  /** The map whose entries are these [key, entry] pairs (e.g. a state step's states). */
  fromEntries(entries: Iterable<readonly [string | number, ORMapEntry<S>]>): ORMap<S>;
};

/** Freezes an array or plain object whose fields are already frozen or primitive (what the
 * types here return); anything else is left to the engine's deep freeze. */
function freezeShallow<T>(v: T): T {
  if (typeof v !== 'object' || v === null || Object.isFrozen(v)) return v;
  for (const k in v) {
    const f: unknown = (v as Record<string, unknown>)[k];
    if (typeof f === 'object' && f !== null && !Object.isFrozen(f)) return v;
  }
  return Object.freeze(v);
}

function checkKey(k: unknown, where: string): string {
  if (typeof k !== 'string') throw new TypeError(`${where}: keys are strings, got ${typeof k}`);
  if (k === '__proto__') throw new TypeError(`${where}: "__proto__" cannot be a key`);
  return k;
}

export function orMap<S, V, Op>(
  valueType: CrdtType<S, V, Op>,
  options: SeenOptions = {},
): ORMapType<S, V, Op> {
  const window = checkWindow(options.window ?? DEFAULT_WINDOW, 'orMap');
  const V = valueType;
  const applyNested = V.applyNested?.bind(V);
  const emptyEntry: ORMapEntry<S> = Object.freeze({ d: NO_DOTS, c: EMPTY_SEEN, v: V.empty() });

  const entryApply = (e: ORMapEntry<S>, id: MessageId, op: ORMapEntryOp<Op>): ORMapEntry<S> => {
    // Presence works as an OR-Set element: observed dots go in any case, the op's own dot only
    // if its id is new to the entry's context.
    const obs = op.t === 'rm' ? op.obs : op.add;
    let d = e.d;
    let c = e.c;
    if (obs !== null) {
      d = dotsWithout(d, obs);
      if (!seenHasId(c, id)) {
        if (op.t === 'up') d = dotsAdd(d, id.source, id.offset, id.sub);
        c = seenAdd(c, id.source, id.offset, id.sub, window);
      }
      c = seenAddDots(c, obs, window);
    }
    const v = op.t === 'up' ? V.apply(e.v, id, op.op) : e.v;
    return d === e.d && c === e.c && v === e.v ? e : { d, c, v };
  };

  const prepareUpdate = (e: ORMapEntry<S>, op: Op): ORMapEntryOp<Op> => ({
    t: 'up',
    add: e.d.length > 0 ? null : NO_DOTS,
    op,
  });
  const prepareRemove = (e: ORMapEntry<S>): ORMapEntryOp<Op> => ({ t: 'rm', obs: e.d });

  const entryMerge = (a: ORMapEntry<S>, b: ORMapEntry<S>): ORMapEntry<S> => {
    if (a === b) return a;
    return { d: dotsJoin(a.d, a.c, b.d, b.c), c: seenMerge(a.c, b.c), v: V.merge(a.v, b.v) };
  };

  const entryCompact = (e: ORMapEntry<S>, frontier: Frontier): ORMapEntry<S> => {
    const c = seenCompact(e.c, frontier);
    const v = V.compact(e.v, frontier);
    return c === e.c && v === e.v ? e : { d: e.d, c, v };
  };

  const entryCheck = (data: unknown, path: string): ORMapEntry<S> => {
    const obj = checkPlainObject(data, path);
    checkKeys(obj, ['d', 'c', 'v'], path);
    const d = checkDots(obj.d, `${path}.d`);
    const c = checkSeen(obj.c, `${path}.c`);
    checkCovered(d, c, `${path}.d`);
    return { d, c, v: V.check(obj.v, `${path}.v`) };
  };

  const entry: ORMapEntryType<S, V, Op> = {
    name: `or-map-entry<${V.name}>`,
    empty: () => emptyEntry,
    apply: entryApply,
    update: (e, id, op) => {
      // The hot path: a present key's update allocates no op object.
      if (e.d.length > 0) {
        if (applyNested !== undefined) {
          // One Object.freeze per update: the entry, around a value left unfrozen (it is never
          // changed: the engine takes a frozen state as deeply frozen, runtime/README.md).
          const v = applyNested(e.v, id, op);
          return v === e.v ? e : Object.freeze({ d: e.d, c: e.c, v });
        }
        const v = V.apply(e.v, id, op);
        // Frozen here (its fields are), so committing it costs the engine one isFrozen test.
        return v === e.v ? e : Object.freeze({ d: e.d, c: e.c, v: freezeShallow(v) });
      }
      return entryApply(e, id, { t: 'up', add: NO_DOTS, op });
    },
    remove: (e, id) => entryApply(e, id, prepareRemove(e)),
    present: (e) => e.d.length > 0,
    prepareUpdate,
    prepareRemove,
    merge: entryMerge,
    value: (e) => (e.d.length > 0 ? V.value(e.v) : undefined),
    compact: entryCompact,
    check: (data, path = `or-map-entry<${V.name}>`) => entryCheck(data, path),
  };

  const mapApply = (m: ORMap<S>, id: MessageId, op: ORMapOp<Op>): ORMap<S> => {
    const k = checkKey(op.k, 'OR-Map');
    const cur = m[k] ?? emptyEntry;
    const next = entryApply(cur, id, op);
    return next === cur ? m : { ...m, [k]: next };
  };

  const EMPTY: ORMap<S> = Object.freeze({});

  return {
    name: `or-map<${V.name}>`,
    valueType: V,
    entry,
    empty: () => EMPTY,
    apply: mapApply,
    update: (m, id, key, op) => {
      const k = checkKey(key, 'OR-Map update');
      const cur = m[k] ?? emptyEntry;
      const next = entry.update(cur, id, op);
      return next === cur ? m : { ...m, [k]: next };
    },
    remove: (m, id, key) => {
      const k = checkKey(key, 'OR-Map remove');
      const cur = m[k] ?? emptyEntry;
      const next = entryApply(cur, id, prepareRemove(cur));
      return next === cur ? m : { ...m, [k]: next };
    },
    prepare: (m, key, op) => {
      const cur = m[checkKey(key, 'OR-Map')] ?? emptyEntry;
      return { ...(op.t === 'rm' ? prepareRemove(cur) : prepareUpdate(cur, op.op)), k: key };
    },
    get: (m, key) => {
      const e = m[key];
      return e !== undefined && e.d.length > 0 ? V.value(e.v) : undefined;
    },
    fromEntries: (entries) => {
      const out: Record<string, ORMapEntry<S>> = {};
      for (const [k, e] of entries) out[checkKey(String(k), 'OR-Map fromEntries')] = e;
      return out;
    },
    merge: (a, b) => {
      if (a === b) return a;
      const out: Record<string, ORMapEntry<S>> = {};
      for (const k in a) out[k] = b[k] === undefined ? a[k]! : entryMerge(a[k]!, b[k]!);
      for (const k in b) if (!(k in out)) out[k] = b[k]!;
      return out;
    },
    value: (m) => {
      const out: Record<string, V> = {};
      for (const k of Object.keys(m).sort()) {
        const e = m[k]!;
        if (e.d.length > 0) out[k] = V.value(e.v);
      }
      return out;
    },
    compact: (m, frontier) => {
      let out: Record<string, ORMapEntry<S>> | null = null;
      for (const k in m) {
        const e = entryCompact(m[k]!, frontier);
        if (e !== m[k]) (out ??= { ...m })[k] = e;
      }
      return out ?? m;
    },
    check: (data, path = `or-map<${V.name}>`) => {
      const obj = checkPlainObject(data, path);
      const out: Record<string, ORMapEntry<S>> = {};
      for (const k in obj) {
        if (k === '__proto__') throw new CrdtShapeError(`${path}: "__proto__" cannot be a key`);
        out[k] = entryCheck(obj[k], `${path}.${k}`);
      }
      return out;
    },
  };
}
