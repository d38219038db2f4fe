// Standard-module operators implemented natively: Naturals, Integers, Sequences,
// FiniteSets, Bags, TLC, and the built-in set/function operators of TLA+ itself.
//
// Each operator is a strict function of its argument values (short-circuiting operators are
// compiled in compile.ts). Errors are TlaError('eval') without a place; the call site adds it.
import { TlaError } from '../errors.ts';
import {
  BOOLEAN_SET,
  EMPTY_SET,
  EMPTY_TUPLE,
  FcnSet,
  INT,
  IntervalSet,
  ModelValue,
  NAT,
  ProductSet,
  SeqSet,
  SetEnum,
  SetValue,
  SubsetSet,
  TupleValue,
  bigUnion,
  checkInt,
  compare,
  describeValue,
  equals,
  fcnApply,
  fcnDomain,
  fcnFromPairs,
  fcnKeys,
  fcnVals,
  isFcn,
  mkFcn,
  setDiff,
  setIntersect,
  setOf,
  setUnion,
  subseteq,
  toTla,
  toTlaShort,
} from '../values.ts';
import type { Value } from '../values.ts';

/** An operator used as a value: a LAMBDA, a user operator passed by name, a built-in. */
export interface OpClosure {
  readonly kind: 'op';
  readonly name: string;
  readonly arity: number;
  call(args: readonly Value[]): Value;
}

/** Services the TLC module needs from the evaluator. */
export interface BuiltinHost {
  print(line: string): void;
  random(): number;
  tlcGet(key: Value): Value;
  tlcSet(key: Value, v: Value): void;
}

export function err(msg: string): TlaError {
  return new TlaError('eval', msg);
}

export function asInt(op: string, v: Value): number {
  if (typeof v !== 'number') throw err(`${op} expects integers, got ${describeValue(v)}`);
  return v;
}

export function asBool(op: string, v: Value): boolean {
  if (typeof v !== 'boolean') throw err(`${op} expects a boolean, got ${describeValue(v)}`);
  return v;
}

export function asSet(op: string, v: Value): SetValue {
  if (!(v instanceof SetValue)) throw err(`${op} expects a set, got ${describeValue(v)}`);
  return v;
}

export function asSeq(op: string, v: Value): readonly Value[] {
  if (v instanceof TupleValue) return v.elems;
  throw err(`${op} expects a sequence, got ${describeValue(v)}`);
}

export function asOp(op: string, v: unknown, arity: number): OpClosure {
  const o = v as OpClosure;
  if (!o || typeof o !== 'object' || o.kind !== 'op') throw err(`${op} expects an operator argument, got ${String(v)}`);
  if (o.arity !== arity) throw err(`${op} expects an operator of ${arity} argument(s), got ${o.name} with ${o.arity}`);
  return o;
}

/** A set that contains every value (TLC's Any). */
export class AnySet extends SetValue {
  has(): boolean {
    return true;
  }
  isFinite(): boolean {
    return false;
  }
  normalized(): SetEnum {
    throw err('The set Any is not enumerable');
  }
  show(): string {
    return 'Any';
  }
}

const ANY = new AnySet();

function power(a: number, b: number): number {
  if (b < 0) throw err(`Exponent of ^ must be a natural number, got ${a}^${b}`);
  if (a === 0 && b === 0) throw err('0^0 is undefined');
  let r = 1;
  for (let i = 0; i < b; i++) {
    r = checkInt(r * a, a, '^', b);
    if (r === 0 || r === 1) break;
  }
  if (r === 1 && a === -1) return b % 2 === 0 ? 1 : -1;
  return r;
}

function seqConcat(a: Value, b: Value): Value {
  // TLC also concatenates strings with \o.
  if (typeof a === 'string' && typeof b === 'string') return a + b;
  const x = asSeq('\\o', a);
  const y = asSeq('\\o', b);
  if (x.length === 0) return b;
  if (y.length === 0) return a;
  return new TupleValue(x.concat(y));
}

function isBag(v: Value): boolean {
  if (!isFcn(v)) return false;
  for (const c of fcnVals(v)) if (typeof c !== 'number' || c <= 0) return false;
  return true;
}

function asBag(op: string, v: Value): { keys: readonly Value[]; counts: readonly number[] } {
  if (!isFcn(v)) throw err(`${op} expects a bag, got ${describeValue(v)}`);
  const counts = fcnVals(v);
  for (const c of counts) if (typeof c !== 'number') throw err(`${op} expects a bag (a function to positive integers), got ${toTlaShort(v)}`);
  return { keys: fcnKeys(v), counts: counts as number[] };
}

function bagAdd(a: Value, b: Value): Value {
  const x = asBag('(+)', a);
  const y = asBag('(+)', b);
  const keys: Value[] = [];
  const vals: Value[] = [];
  let i = 0;
  let j = 0;
  while (i < x.keys.length || j < y.keys.length) {
    const c = i >= x.keys.length ? 1 : j >= y.keys.length ? -1 : compare(x.keys[i]!, y.keys[j]!);
    if (c < 0) {
      keys.push(x.keys[i]!);
      vals.push(x.counts[i++]!);
    } else if (c > 0) {
      keys.push(y.keys[j]!);
      vals.push(y.counts[j++]!);
    } else {
      keys.push(x.keys[i]!);
      vals.push(checkInt(x.counts[i]! + y.counts[j]!, x.counts[i]!, '+', y.counts[j]!));
      i++;
      j++;
    }
  }
  return mkFcn(keys, vals);
}

function bagSub(a: Value, b: Value): Value {
  const x = asBag('(-)', a);
  const keys: Value[] = [];
  const vals: Value[] = [];
  for (let i = 0; i < x.keys.length; i++) {
    const n = x.counts[i]! - copiesIn(x.keys[i]!, b);
    if (n > 0) {
      keys.push(x.keys[i]!);
      vals.push(n);
    }
  }
  return mkFcn(keys, vals);
}

function copiesIn(e: Value, b: Value): number {
  if (!isFcn(b)) throw err(`CopiesIn expects a bag, got ${describeValue(b)}`);
  if (!fcnDomain(b).has(e)) return 0;
  return asInt('CopiesIn', fcnApply(b, e));
}

function permutations(s: Value): Value {
  const elems = asSet('Permutations', s).normalized().elems;
  const n = elems.length;
  if (n > 10) throw err(`Permutations of a set with ${n} elements is too large`);
  const out: Value[] = [];
  const perm = elems.slice();
  const rec = (k: number): void => {
    if (k === n) {
      out.push(mkFcn(elems, perm.slice()));
      return;
    }
    for (let i = k; i < n; i++) {
      [perm[k], perm[i]] = [perm[i]!, perm[k]!];
      rec(k + 1);
      [perm[k], perm[i]] = [perm[i]!, perm[k]!];
    }
  };
  rec(0);
  return setOf(out);
}

type B0 = () => Value;
type B1 = (a: Value) => Value;
type B2 = (a: Value, b: Value) => Value;
type B3 = (a: Value, b: Value, c: Value) => Value;
export type BuiltinFn = B0 | B1 | B2 | B3;

export interface Builtin {
  readonly arity: number;
  /** Arguments at these positions are operators (OpClosure), not values. */
  readonly opArgs?: readonly number[];
  /** Depends on something other than its arguments (time, randomness, TLC registers). */
  readonly impure?: boolean;
  readonly fn: BuiltinFn;
}

/** Builtins, given the host services (printing, randomness, TLC registers). */
export function makeBuiltins(host: BuiltinHost): ReadonlyMap<string, Builtin> {
  const m = new Map<string, Builtin>();
  const def0 = (name: string, fn: B0, impure = false): void => void m.set(name, { arity: 0, fn, impure });
  const def1 = (name: string, fn: B1, extra: Partial<Builtin> = {}): void => void m.set(name, { arity: 1, fn, ...extra });
  const def2 = (name: string, fn: B2, extra: Partial<Builtin> = {}): void => void m.set(name, { arity: 2, fn, ...extra });
  const def3 = (name: string, fn: B3, extra: Partial<Builtin> = {}): void => void m.set(name, { arity: 3, fn, ...extra });

  // Logic and equality (the short-circuiting ones are also compiled specially).
  def2('=', (a, b) => equals(a, b));
  def2('#', (a, b) => !equals(a, b));
  def1('~', (a) => !asBool('~', a));
  def2('=>', (a, b) => !asBool('=>', a) || asBool('=>', b));
  def2('<=>', (a, b) => asBool('<=>', a) === asBool('<=>', b));
  def2('\\equiv', (a, b) => asBool('\\equiv', a) === asBool('\\equiv', b));
  def2('/\\', (a, b) => asBool('/\\', a) && asBool('/\\', b));
  def2('\\/', (a, b) => asBool('\\/', a) || asBool('\\/', b));

  // Sets.
  def2('\\in', (a, b) => asSet('\\in', b).has(a));
  def2('\\notin', (a, b) => !asSet('\\notin', b).has(a));
  def2('\\cup', (a, b) => setUnion(asSet('\\cup', a), asSet('\\cup', b)));
  def2('\\cap', (a, b) => setIntersect(asSet('\\cap', a), asSet('\\cap', b)));
  def2('\\', (a, b) => setDiff(asSet('\\', a), asSet('\\', b)));
  def2('\\subseteq', (a, b) => subseteq(asSet('\\subseteq', a), asSet('\\subseteq', b)));
  def2('\\supseteq', (a, b) => subseteq(asSet('\\supseteq', b), asSet('\\supseteq', a)));
  def2('\\subset', (a, b) => {
    const x = asSet('\\subset', a);
    const y = asSet('\\subset', b);
    return subseteq(x, y) && !equals(x, y);
  });
  def2('\\supset', (a, b) => {
    const x = asSet('\\supset', a);
    const y = asSet('\\supset', b);
    return subseteq(y, x) && !equals(x, y);
  });
  def1('SUBSET', (a) => new SubsetSet(asSet('SUBSET', a)));
  def1('UNION', (a) => bigUnion(asSet('UNION', a)));
  def1('DOMAIN', (a) => fcnDomain(a));
  m.set('\\X', { arity: -1, fn: (() => EMPTY_SET) as B0 }); // n-ary, compiled specially
  def0('BOOLEAN', () => BOOLEAN_SET);

  // Naturals / Integers.
  def0('Nat', () => NAT);
  def0('Int', () => INT);
  def2('+', (a, b) => {
    const x = asInt('+', a);
    const y = asInt('+', b);
    return checkInt(x + y, x, '+', y);
  });
  def2('-', (a, b) => {
    const x = asInt('-', a);
    const y = asInt('-', b);
    return checkInt(x - y, x, '-', y);
  });
  def2('*', (a, b) => {
    const x = asInt('*', a);
    const y = asInt('*', b);
    return checkInt(x * y, x, '*', y);
  });
  def2('^', (a, b) => power(asInt('^', a), asInt('^', b)));
  def2('\\div', (a, b) => {
    const x = asInt('\\div', a);
    const y = asInt('\\div', b);
    if (y === 0) throw err(`\\div by 0 (in ${x} \\div 0)`);
    return checkInt(Math.floor(x / y), x, '\\div', y);
  });
  def2('%', (a, b) => {
    const x = asInt('%', a);
    const y = asInt('%', b);
    if (y <= 0) throw err(`The second argument of % should be a positive number, but instead it is: ${y}`);
    const r = x % y;
    return r < 0 ? r + y : r | 0;
  });
  def1('-.', (a) => {
    const x = asInt('-', a);
    return checkInt(-x, 0, '-', x);
  });
  def2('<', (a, b) => asInt('<', a) < asInt('<', b));
  def2('>', (a, b) => asInt('>', a) > asInt('>', b));
  def2('\\leq', (a, b) => asInt('\\leq', a) <= asInt('\\leq', b));
  def2('\\geq', (a, b) => asInt('\\geq', a) >= asInt('\\geq', b));
  def2('..', (a, b) => new IntervalSet(asInt('..', a), asInt('..', b)));

  // Sequences.
  def1('Seq', (a) => new SeqSet(asSet('Seq', a)));
  def1('Len', (a) => (typeof a === 'string' ? a.length : asSeq('Len', a).length));
  def2('\\o', seqConcat);
  def2('Append', (s, e) => new TupleValue([...asSeq('Append', s), e]));
  def1('Head', (s) => {
    const x = asSeq('Head', s);
    if (x.length === 0) throw err('Attempted to apply Head to the empty sequence <<>>');
    return x[0]!;
  });
  def1('Tail', (s) => {
    const x = asSeq('Tail', s);
    if (x.length === 0) throw err('Attempted to apply Tail to the empty sequence <<>>');
    return x.length === 1 ? EMPTY_TUPLE : new TupleValue(x.slice(1));
  });
  def3('SubSeq', (s, m, n) => {
    const a = asInt('SubSeq', m);
    const b = asInt('SubSeq', n);
    if (typeof s === 'string') {
      // TLC takes substrings with SubSeq.
      if (a > b) return '';
      if (a < 1 || b > s.length) throw err(`SubSeq(${toTlaShort(s)}, ${a}, ${b}): the range ${a}..${b} is not within 1..${s.length}`);
      return s.slice(a - 1, b);
    }
    const x = asSeq('SubSeq', s);
    if (a > b) return EMPTY_TUPLE;
    if (a < 1 || b > x.length) {
      throw err(`SubSeq(${toTlaShort(s)}, ${a}, ${b}): the range ${a}..${b} is not within 1..${x.length}`);
    }
    return new TupleValue(x.slice(a - 1, b));
  });
  def2(
    'SelectSeq',
    (s, t) => {
      const test = asOp('SelectSeq', t, 1);
      const out = asSeq('SelectSeq', s).filter((e) => asBool('SelectSeq', test.call([e])));
      return out.length === 0 ? EMPTY_TUPLE : new TupleValue(out);
    },
    { opArgs: [1] },
  );

  // FiniteSets.
  def1('IsFiniteSet', (s) => asSet('IsFiniteSet', s).isFinite());
  def1('Cardinality', (s) => {
    const set = asSet('Cardinality', s);
    if (!set.isFinite()) throw err(`Attempted to compute the cardinality of the infinite set ${set.show()}`);
    return set.size();
  });

  // TLC.
  def2(':>', (a, b) => mkFcn([a], [b]));
  def2('@@', (f, g) => {
    if (!isFcn(f)) throw err(`@@ expects functions, got ${describeValue(f)}`);
    if (!isFcn(g)) throw err(`@@ expects functions, got ${describeValue(g)}`);
    return fcnFromPairs([...fcnKeys(f), ...fcnKeys(g)], [...fcnVals(f), ...fcnVals(g)]);
  });
  // Print and PrintT are impure: they print each time they are evaluated, never cached.
  def2(
    'Print',
    (out, v) => {
      host.print(toTla(out));
      return v;
    },
    { impure: true },
  );
  def1(
    'PrintT',
    (out) => {
      host.print(toTla(out));
      return true;
    },
    { impure: true },
  );
  def2('Assert', (c, msg) => {
    if (asBool('Assert', c)) return true;
    throw err(`The first argument of Assert evaluated to FALSE; the second argument was: ${typeof msg === 'string' ? msg : toTla(msg)}`);
  });
  def1('Permutations', permutations);
  def2(
    'SortSeq',
    (s, o) => {
      const op = asOp('SortSeq', o, 2);
      const x = asSeq('SortSeq', s).slice();
      x.sort((a, b) => (asBool('SortSeq', op.call([a, b])) ? -1 : asBool('SortSeq', op.call([b, a])) ? 1 : 0));
      return x.length === 0 ? EMPTY_TUPLE : new TupleValue(x);
    },
    { opArgs: [1] },
  );
  def1('ToString', (v) => toTla(v));
  def1(
    'RandomElement',
    (s) => {
      const e = asSet('RandomElement', s).normalized().elems;
      if (e.length === 0) throw err('RandomElement applied to the empty set');
      return e[Math.floor(host.random() * e.length)]!;
    },
    // Not marked impure: like TLC, a constant definition or expression using RandomElement
    // is evaluated once (so `Edges == ... RandomElement(...)` is one graph for the whole run).
  );
  def0('Any', () => ANY);
  def1('TLCEval', (v) => v);
  def0('JavaTime', () => Math.floor(Date.now() / 1000) & 0x7fffffff, true);
  def1('TLCGet', (k) => host.tlcGet(k), { impure: true });
  def2('TLCSet', (k, v) => (host.tlcSet(k, v), true), { impure: true });

  // Bags.
  def0('EmptyBag', () => EMPTY_TUPLE);
  def1('IsABag', (b) => isBag(b));
  def1('BagToSet', (b) => fcnDomain(b));
  def1('SetToBag', (s) => {
    const e = asSet('SetToBag', s).normalized().elems;
    return mkFcn(
      e,
      e.map(() => 1),
    );
  });
  def2('BagIn', (e, b) => copiesIn(e, b) > 0);
  def2('CopiesIn', (e, b) => copiesIn(e, b));
  def2('\\oplus', bagAdd);
  def2('\\ominus', bagSub);
  def1('BagUnion', (s) => {
    let acc: Value = EMPTY_TUPLE;
    for (const b of asSet('BagUnion', s).normalized().elems) acc = bagAdd(acc, b);
    return acc;
  });
  def2('\\sqsubseteq', (a, b) => {
    const x = asBag('\\sqsubseteq', a);
    for (let i = 0; i < x.keys.length; i++) if (x.counts[i]! > copiesIn(x.keys[i]!, b)) return false;
    return true;
  });
  def1('SubBag', (b) => {
    const x = asBag('SubBag', b);
    const out: Value[] = [];
    const rec = (i: number, keys: Value[], vals: Value[]): void => {
      if (i === x.keys.length) {
        out.push(mkFcn(keys.slice(), vals.slice()));
        return;
      }
      rec(i + 1, keys, vals);
      for (let c = 1; c <= x.counts[i]!; c++) {
        keys.push(x.keys[i]!);
        vals.push(c);
        rec(i + 1, keys, vals);
        keys.pop();
        vals.pop();
      }
    };
    rec(0, [], []);
    return setOf(out);
  });
  def2(
    'BagOfAll',
    (f, b) => {
      const op = asOp('BagOfAll', f, 1);
      const x = asBag('BagOfAll', b);
      const keys: Value[] = [];
      const vals: Value[] = [];
      for (let i = 0; i < x.keys.length; i++) {
        keys.push(op.call([x.keys[i]!]));
        vals.push(x.counts[i]!);
      }
      // Sum the counts of elements with equal images.
      const order = keys.map((_, i) => i).sort((p, q) => compare(keys[p]!, keys[q]!) || p - q);
      const ks: Value[] = [];
      const vs: number[] = [];
      for (const i of order) {
        if (ks.length > 0 && equals(ks[ks.length - 1]!, keys[i]!)) vs[vs.length - 1]! += vals[i] as number;
        else {
          ks.push(keys[i]!);
          vs.push(vals[i] as number);
        }
      }
      return mkFcn(ks, vs);
    },
    { opArgs: [0] },
  );
  def1('BagCardinality', (b) => {
    const x = asBag('BagCardinality', b);
    let n = 0;
    for (const c of x.counts) n += c;
    return n;
  });
  return m;
}

/** \X of n sets. */
export function product(sets: readonly Value[]): Value {
  return new ProductSet(sets.map((s) => asSet('\\X', s)));
}

/** [S -> T]. */
export function fcnSet(d: Value, r: Value): Value {
  return new FcnSet(asSet('[S -> T]', d), asSet('[S -> T]', r));
}

export { ModelValue };
