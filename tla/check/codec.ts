// States as flat arrays of numbers and strings, to move them between the worker threads of a
// parallel search (postMessage clones such arrays natively, far faster than objects with
// prototypes, which it would not keep anyway). Enumerated sets keep their element order: every
// worker loads the same model in a fresh thread, so model values are numbered alike and the
// canonical order of the sender is the receiver's. Lazy values are sent in their enumerated form
// (a lazy function materialised, a finite lazy set normalised), which fingerprints and compares
// as the lazy one does; Nat, Int and STRING are sent by name.
import { TlaError } from '../errors.ts';
import type { State } from '../eval/index.ts';
import {
  FcnValue,
  INT,
  IntervalSet,
  LazyFcn,
  ModelValue,
  NAT,
  PrimitiveSet,
  RecordValue,
  STRING_SET,
  SetEnum,
  SetValue,
  TupleValue,
  modelValue,
  toTlaShort,
  type Value,
} from '../values.ts';

const T_INT = 0;
const T_TRUE = 1;
const T_FALSE = 2;
const T_STR = 3;
const T_MV = 4;
const T_SET = 5;
const T_INTERVAL = 6;
const T_PRIM = 7;
const T_TUPLE = 8;
const T_REC = 9;
const T_FCN = 10;

export type Encoded = (number | string)[];

/** Appends the encoding of one value to out. */
export function encodeValue(v: Value, out: Encoded): void {
  switch (typeof v) {
    case 'number':
      out.push(T_INT, v);
      return;
    case 'boolean':
      out.push(v ? T_TRUE : T_FALSE);
      return;
    case 'string':
      out.push(T_STR, v);
      return;
  }
  if (v instanceof ModelValue) {
    out.push(T_MV, v.name);
  } else if (v instanceof TupleValue) {
    out.push(T_TUPLE, v.elems.length);
    for (const e of v.elems) encodeValue(e, out);
  } else if (v instanceof RecordValue) {
    out.push(T_REC, v.names.length);
    for (const n of v.names) out.push(n);
    for (const e of v.vals) encodeValue(e, out);
  } else if (v instanceof FcnValue) {
    out.push(T_FCN, v.dom.length);
    for (const d of v.dom) encodeValue(d, out);
    for (const e of v.vals) encodeValue(e, out);
  } else if (v instanceof LazyFcn) {
    encodeValue(v.materialize(), out);
  } else if (v instanceof SetValue) {
    if (v instanceof SetEnum) {
      out.push(T_SET, v.elems.length);
      for (const e of v.elems) encodeValue(e, out);
    } else if (v instanceof IntervalSet) {
      out.push(T_INTERVAL, v.lo, v.hi);
    } else if (v instanceof PrimitiveSet) {
      out.push(T_PRIM, v.name);
    } else if (v.isFinite()) {
      encodeValue(v.normalized(), out);
    } else {
      throw new TlaError(
        'unsupported',
        `a state holds the infinite set ${toTlaShort(v)}, which cannot be sent between worker threads; check this model with --workers 1`,
      );
    }
  } else {
    throw new Error(`internal error: cannot encode ${String(v)}`);
  }
}

/** Reads encodings back; record field-name lists are shared between the records it builds. */
export class Decoder {
  private pos = 0;
  private data: Encoded = [];
  private readonly names = new Map<string, readonly string[]>();

  /** Decodes `count` states of `width` variables from data. */
  states(data: Encoded, count: number, width: number): State[] {
    this.data = data;
    this.pos = 0;
    const out: State[] = [];
    for (let i = 0; i < count; i++) {
      const s: Value[] = new Array<Value>(width);
      for (let k = 0; k < width; k++) s[k] = this.value();
      out.push(s);
    }
    if (this.pos !== data.length) throw new Error('internal error: a state batch has trailing data');
    return out;
  }

  private value(): Value {
    const d = this.data;
    const tag = d[this.pos++] as number;
    switch (tag) {
      case T_INT:
        return d[this.pos++] as number;
      case T_TRUE:
        return true;
      case T_FALSE:
        return false;
      case T_STR:
        return d[this.pos++] as string;
      case T_MV:
        return modelValue(d[this.pos++] as string);
      case T_SET: {
        const n = d[this.pos++] as number;
        const elems: Value[] = new Array<Value>(n);
        for (let i = 0; i < n; i++) elems[i] = this.value();
        return new SetEnum(elems);
      }
      case T_INTERVAL: {
        const lo = d[this.pos++] as number;
        return new IntervalSet(lo, d[this.pos++] as number);
      }
      case T_PRIM: {
        const name = d[this.pos++] as string;
        return name === 'Nat' ? NAT : name === 'Int' ? INT : STRING_SET;
      }
      case T_TUPLE: {
        const n = d[this.pos++] as number;
        const elems: Value[] = new Array<Value>(n);
        for (let i = 0; i < n; i++) elems[i] = this.value();
        return new TupleValue(elems);
      }
      case T_REC: {
        const n = d[this.pos++] as number;
        const ns = d.slice(this.pos, this.pos + n) as string[];
        this.pos += n;
        const key = ns.join('\u0000');
        let names = this.names.get(key);
        if (!names) this.names.set(key, (names = ns));
        const vals: Value[] = new Array<Value>(n);
        for (let i = 0; i < n; i++) vals[i] = this.value();
        return new RecordValue(names, vals);
      }
      case T_FCN: {
        const n = d[this.pos++] as number;
        const dom: Value[] = new Array<Value>(n);
        for (let i = 0; i < n; i++) dom[i] = this.value();
        const vals: Value[] = new Array<Value>(n);
        for (let i = 0; i < n; i++) vals[i] = this.value();
        return new FcnValue(dom, vals);
      }
      default:
        throw new Error(`internal error: bad value tag ${String(tag)} in a state batch`);
    }
  }
}

/** Encodes states one after the other (decode with Decoder.states and the same count). */
export function encodeStates(states: readonly State[], out: Encoded = []): Encoded {
  for (const s of states) for (const v of s) encodeValue(v, out);
  return out;
}
