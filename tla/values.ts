// TLA+ values as the evaluator and the checker see them, with TLC's semantics.
//
// Representation (chosen for the checker's hot path):
// - integers are JS numbers (TLC's 32-bit range; arithmetic that leaves it is an error),
//   booleans are JS booleans, strings are JS strings;
// - model values are interned `ModelValue` objects (one object per name);
// - finite sets are `SetEnum`: a canonical array, sorted in TLC's order, without duplicates;
//   sets that need not or cannot be enumerated are lazy (`IntervalSet`, `SubsetSet`,
//   `FcnSet`, `RecordSet`, `ProductSet`, `SeqSet`, `PrimitiveSet` (Nat, Int, STRING),
//   `FilteredSet`, `UnionSet`, `DiffSet`);
// - functions have one canonical form per value, so equality and fingerprints do not depend
//   on how a function was built: domain 1..n (also the empty function) -> `TupleValue`,
//   non-empty domain of strings -> `RecordValue`, anything else -> `FcnValue`; a function
//   over an infinite domain or defined recursively is a `LazyFcn` until it must be compared.
import type { Loc } from './ast.ts';
import { TlaError } from './errors.ts';
import { ENUMERATION_WATCH_MASK, reserveEnumeration, watchEnumeration } from './memory.ts';

export type Value = number | boolean | string | ModelValue | SetValue | FcnLike;
export type FcnLike = TupleValue | RecordValue | FcnValue | LazyFcn;

// ---------------------------------------------------------------------------------------
// Errors

function evalError(msg: string, loc: Loc | null = null): TlaError {
  return new TlaError('eval', msg, loc);
}

const INT_MAX = 2147483647;
const INT_MIN = -2147483648;

/** Checks that an integer result is inside TLC's 32-bit range. */
export function checkInt(n: number, a: number, op: string, b: number): number {
  if (n > INT_MAX || n < INT_MIN || !Number.isFinite(n)) {
    throw evalError(
      `Overflow when computing ${a} ${op} ${b}: TLC integers are 32-bit (-2147483648..2147483647)`,
    );
  }
  return n | 0; // also turns -0 into 0
}

// ---------------------------------------------------------------------------------------
// Names

const internedNames = new Map<string, string>();

/**
 * One string object per content for field names and string literals, so that comparing two
 * of them is a pointer comparison (records look their fields up by ===). The result is the
 * internalized form V8 keeps for property keys.
 */
export function internName(s: string): string {
  let r = internedNames.get(s);
  if (r === undefined) {
    r = Object.keys({ [s]: 0 })[0]!;
    internedNames.set(s, r);
  }
  return r;
}

// ---------------------------------------------------------------------------------------
// Model values

export class ModelValue {
  readonly h1: number;
  readonly h2: number;
  constructor(
    readonly name: string,
    readonly index: number,
  ) {
    this.h1 = hashString(name, 0x6d6f6465);
    this.h2 = hashString(name, 0x1b7c3a59);
  }
}

const modelValues = new Map<string, ModelValue>();

/** The model value of that name (one object per name, so identity is equality). */
export function modelValue(name: string): ModelValue {
  let mv = modelValues.get(name);
  if (!mv) {
    mv = new ModelValue(name, modelValues.size);
    modelValues.set(name, mv);
  }
  return mv;
}

// ---------------------------------------------------------------------------------------
// Sets

export abstract class SetValue {
  /** Hash cache (valid when hashed is true). */
  h1 = 0;
  h2 = 0;
  hashed = false;
  /** Whether the set contains a model value at any depth (valid when hashed is true). */
  hasMv = false;
  /** Offset and epoch of its permuted hash lanes in the SYMMETRY arena (see permAll). */
  pci = 0;
  pce = 0;
  /** Membership without enumeration. */
  abstract has(v: Value): boolean;
  /** False when the set cannot be enumerated (Nat, Int, STRING, Seq(S), a filter of those...). */
  abstract isFinite(): boolean;
  /** The canonical enumerated form; an error for sets that are not enumerable. */
  abstract normalized(): SetEnum;
  /** Number of elements (an error when infinite). */
  size(): number {
    return this.normalized().elems.length;
  }
  /** TLA+ text for a lazy set (enumerated sets print their elements). */
  abstract show(): string;
}

function notEnumerable(s: SetValue): TlaError {
  return evalError(
    `The set ${s.show()} is not enumerable (it is infinite or defined by a predicate over an infinite set)`,
  );
}

export class SetEnum extends SetValue {
  constructor(readonly elems: readonly Value[]) {
    super();
  }
  has(v: Value): boolean {
    return indexInSorted(this.elems, v) >= 0;
  }
  isFinite(): boolean {
    return true;
  }
  normalized(): SetEnum {
    return this;
  }
  override size(): number {
    return this.elems.length;
  }
  show(): string {
    return toTla(this);
  }
}

export const EMPTY_SET = new SetEnum([]);
export const BOOLEAN_SET = new SetEnum([false, true]);

/** Binary search for v in a canonical array; -1 when absent. Model values never raise errors. */
export function indexInSorted(elems: readonly Value[], v: Value): number {
  let lo = 0;
  let hi = elems.length - 1;
  if (hi < 8) {
    if (v instanceof ModelValue) {
      // Model values are interned and equal nothing else: identity decides.
      for (let i = 0; i <= hi; i++) if (elems[i] === v) return i;
      return -1;
    }
    if (typeof v !== 'object') {
      // A primitive equals only a primitive of its kind (===); an element of another kind is
      // still compared by equals, which raises TLC's error for incomparable values.
      const tv = typeof v;
      for (let i = 0; i <= hi; i++) {
        const e = elems[i]!;
        if (e === v) return i;
        if (typeof e !== tv) equals(e, v);
      }
      return -1;
    }
    for (let i = 0; i <= hi; i++) if (equals(elems[i]!, v)) return i;
    return -1;
  }
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const c = compare(elems[mid]!, v);
    if (c === 0) return mid;
    if (c < 0) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

/** Sorts (TLC order) and removes duplicates; takes ownership of arr. */
export function setOf(arr: Value[]): SetEnum {
  const n = arr.length;
  if (n === 0) return EMPTY_SET;
  if (n === 1) return new SetEnum(arr);
  let sorted = true;
  for (let i = 1; i < n; i++) {
    if (compare(arr[i - 1]!, arr[i]!) >= 0) {
      sorted = false;
      break;
    }
  }
  if (sorted) return new SetEnum(arr);
  arr.sort(compare);
  let w = 1;
  for (let i = 1; i < n; i++) {
    if (compare(arr[w - 1]!, arr[i]!) !== 0) arr[w++] = arr[i]!;
  }
  arr.length = w;
  return new SetEnum(arr);
}

/** Heap bytes of one slot of an array (a pointer, or a small integer held in place). */
const BYTES_PER_SLOT = 8;
/**
 * Heap bytes of an enumerated element's slot in the result, with room for the copies the
 * result array makes while it grows.
 */
const BYTES_PER_RESULT_SLOT = 20;

/**
 * About the heap bytes of one enumerated element made of `width` values: a set, tuple, record
 * or function object (about 130 bytes on node 20, measured) and its array of references, plus
 * its slot in the result. Component values are shared with the component sets, not copied.
 */
function elementBytes(width: number): number {
  return 130 + BYTES_PER_SLOT * width + BYTES_PER_RESULT_SLOT;
}

export class IntervalSet extends SetValue {
  constructor(
    readonly lo: number,
    readonly hi: number,
  ) {
    super();
  }
  has(v: Value): boolean {
    if (typeof v === 'number') return v >= this.lo && v <= this.hi;
    if (v instanceof ModelValue) return false;
    throw evalError(
      `Attempted to check whether ${describeValue(v)} is in the integer interval ${this.show()}`,
    );
  }
  isFinite(): boolean {
    return true;
  }
  private norm: SetEnum | null = null;
  normalized(): SetEnum {
    if (!this.norm) {
      reserveEnumeration(this.size(), BYTES_PER_RESULT_SLOT, this);
      const out: Value[] = [];
      for (let i = this.lo; i <= this.hi; i++) out.push(i);
      this.norm = out.length === 0 ? EMPTY_SET : new SetEnum(out);
    }
    return this.norm;
  }
  override size(): number {
    return this.hi >= this.lo ? this.hi - this.lo + 1 : 0;
  }
  show(): string {
    return `${this.lo}..${this.hi}`;
  }
}

/** Nat, Int and STRING: infinite sets decided by a membership test, never enumerated. */
export class PrimitiveSet extends SetValue {
  constructor(
    readonly name: 'Nat' | 'Int' | 'STRING',
    private readonly member: (v: number | string) => boolean,
    private readonly kind: 'number' | 'string',
  ) {
    super();
  }
  has(v: Value): boolean {
    if (typeof v === this.kind) return this.member(v as number | string);
    if (v instanceof ModelValue) return false;
    throw evalError(`Attempted to check whether ${describeValue(v)} is in ${this.name}`);
  }
  isFinite(): boolean {
    return false;
  }
  normalized(): SetEnum {
    throw notEnumerable(this);
  }
  show(): string {
    return this.name;
  }
  /** Whether every element of `other` (a primitive set) is in this one. */
  includes(other: PrimitiveSet): boolean {
    return other === this || (this.name === 'Int' && other.name === 'Nat');
  }
}

export const NAT = new PrimitiveSet('Nat', (n) => (n as number) >= 0, 'number');
export const INT = new PrimitiveSet('Int', () => true, 'number');
export const STRING_SET = new PrimitiveSet('STRING', () => true, 'string');

export class SubsetSet extends SetValue {
  constructor(readonly base: SetValue) {
    super();
  }
  has(v: Value): boolean {
    if (!(v instanceof SetValue)) {
      if (v instanceof ModelValue) return false;
      throw evalError(`Attempted to check whether the non-set ${describeValue(v)} is in ${this.show()}`);
    }
    return subseteq(v, this.base);
  }
  isFinite(): boolean {
    return this.base.isFinite();
  }
  private norm: SetEnum | null = null;
  normalized(): SetEnum {
    if (this.norm) return this.norm;
    const b = this.base.normalized().elems;
    const n = b.length;
    if (n > 24) throw evalError(`SUBSET of a set with ${n} elements is too large to enumerate`);
    reserveEnumeration(2 ** n, elementBytes(n / 2), this);
    const out: Value[] = [];
    // Sets compare by size first, then element-wise: enumerate k-subsets in lexicographic order.
    const idx: number[] = [];
    for (let k = 0; k <= n; k++) {
      for (let i = 0; i < k; i++) idx[i] = i;
      idx.length = k;
      while (true) {
        const elems: Value[] = new Array(k);
        for (let i = 0; i < k; i++) elems[i] = b[idx[i]!]!;
        out.push(k === 0 ? EMPTY_SET : new SetEnum(elems));
        if ((out.length & ENUMERATION_WATCH_MASK) === 0) watchEnumeration(out.length, 2 ** n, this);
        let i = k - 1;
        while (i >= 0 && idx[i] === n - k + i) i--;
        if (i < 0) break;
        idx[i]!++;
        for (let j = i + 1; j < k; j++) idx[j] = idx[j - 1]! + 1;
      }
    }
    this.norm = new SetEnum(out);
    return this.norm;
  }
  override size(): number {
    const n = this.base.size();
    if (n > 30) throw evalError(`Cardinality of SUBSET of a set with ${n} elements exceeds TLC's integers`);
    return 2 ** n;
  }
  show(): string {
    return `SUBSET ${showInner(this.base)}`;
  }
}

/** Odometer over the cartesian product of lists, last position fastest (lexicographic). */
function odometer(lists: readonly (readonly Value[])[], f: (vals: Value[]) => void): void {
  const n = lists.length;
  for (const l of lists) if (l.length === 0) return;
  const idx = new Array<number>(n).fill(0);
  while (true) {
    const vals: Value[] = new Array(n);
    for (let i = 0; i < n; i++) vals[i] = lists[i]![idx[i]!]!;
    f(vals);
    let i = n - 1;
    while (i >= 0) {
      idx[i]!++;
      if (idx[i]! < lists[i]!.length) break;
      idx[i] = 0;
      i--;
    }
    if (i < 0) return;
  }
}

function productSize(sizes: number[], what: string): number {
  let p = 1;
  for (const s of sizes) p *= s;
  if (p > INT_MAX) throw evalError(`The number of elements of ${what} exceeds TLC's integers`);
  return p;
}

/** Enumerations larger than this are refused (they would exhaust memory). */
const ENUMERATION_LIMIT = 20_000_000;

function enumerationSize(sizes: number[], what: string): void {
  let p = 1;
  for (const s of sizes) p *= s;
  if (p > ENUMERATION_LIMIT) {
    throw evalError(
      `Refusing to enumerate ${what}: it has ${p} elements (more than ${ENUMERATION_LIMIT}); constrain it with a smaller domain or range`,
    );
  }
}

/** [S -> T]. */
export class FcnSet extends SetValue {
  constructor(
    readonly domain: SetValue,
    readonly range: SetValue,
  ) {
    super();
  }
  has(v: Value): boolean {
    if (!isFcn(v)) {
      if (v instanceof ModelValue) return false;
      throw evalError(`Attempted to check whether the non-function ${describeValue(v)} is in ${this.show()}`);
    }
    if (v instanceof LazyFcn) {
      if (!setEquals(v.domain, this.domain)) return false;
      const f = v.materialize();
      return allIn(fcnVals(f), this.range);
    }
    if (!domainEquals(v, this.domain)) return false;
    return allIn(fcnVals(v), this.range);
  }
  isFinite(): boolean {
    return this.domain.isFinite() && this.range.isFinite();
  }
  private norm: SetEnum | null = null;
  normalized(): SetEnum {
    if (this.norm) return this.norm;
    const dom = this.domain.normalized().elems;
    const rng = this.range.normalized().elems;
    enumerationSize(
      dom.map(() => rng.length),
      this.show(),
    );
    const count = rng.length ** dom.length;
    reserveEnumeration(count, elementBytes(dom.length), this);
    const out: Value[] = [];
    odometer(
      dom.map(() => rng),
      (vals) => {
        out.push(mkFcn(dom as Value[], vals));
        if ((out.length & ENUMERATION_WATCH_MASK) === 0) watchEnumeration(out.length, count, this);
      },
    );
    this.norm = out.length === 0 ? EMPTY_SET : new SetEnum(out);
    return this.norm;
  }
  override size(): number {
    const d = this.domain.size();
    const r = this.range.size();
    return productSize(new Array<number>(d).fill(r), this.show());
  }
  show(): string {
    return `[${showInner(this.domain)} -> ${showInner(this.range)}]`;
  }
}

/** Whether DOMAIN f = d, for a finite canonical f, without building DOMAIN f when d is enumerated. */
function domainEquals(f: TupleValue | RecordValue | FcnValue, d: SetValue): boolean {
  if (f instanceof TupleValue) {
    const n = f.elems.length;
    if (d instanceof IntervalSet) return n === 0 ? d.lo > d.hi : d.lo === 1 && d.hi === n;
  } else if (d instanceof SetEnum) {
    const ks = f instanceof RecordValue ? f.names : f.dom;
    const es = d.elems;
    if (ks === es) return true;
    if (ks.length !== es.length) return false;
    for (let i = 0; i < ks.length; i++) if (!equals(ks[i]!, es[i]!)) return false;
    return true;
  }
  return setEquals(fcnDomain(f), d);
}

function allIn(vals: readonly Value[], s: SetValue): boolean {
  for (const x of vals) if (!s.has(x)) return false;
  return true;
}

/** A set whose elements are all combinations of one element from each of `sets`. */
abstract class CartesianSet extends SetValue {
  abstract readonly sets: readonly SetValue[];
  /** The element made of one value per component set. */
  protected abstract element(vals: Value[]): Value;
  isFinite(): boolean {
    return this.sets.every((s) => s.isFinite());
  }
  private norm: SetEnum | null = null;
  normalized(): SetEnum {
    if (this.norm) return this.norm;
    const lists = this.sets.map((s) => s.normalized().elems);
    enumerationSize(
      lists.map((l) => l.length),
      this.show(),
    );
    let count = 1;
    for (const l of lists) count *= l.length;
    reserveEnumeration(count, elementBytes(lists.length), this);
    const out: Value[] = [];
    odometer(lists, (vals) => {
      out.push(this.element(vals));
      if ((out.length & ENUMERATION_WATCH_MASK) === 0) watchEnumeration(out.length, count, this);
    });
    this.norm = out.length === 0 ? EMPTY_SET : new SetEnum(out);
    return this.norm;
  }
  override size(): number {
    return productSize(
      this.sets.map((s) => s.size()),
      this.show(),
    );
  }
}

/** [a : S, b : T] (a set of records); names sorted. */
export class RecordSet extends CartesianSet {
  readonly names: readonly string[];
  readonly sets: readonly SetValue[];
  constructor(fields: readonly (readonly [string, SetValue])[]) {
    super();
    const sorted = [...fields].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    this.names = sorted.map((f) => f[0]);
    this.sets = sorted.map((f) => f[1]);
  }
  has(v: Value): boolean {
    if (!(v instanceof RecordValue)) {
      if (v instanceof ModelValue) return false;
      if (isFcn(v)) return false;
      throw evalError(`Attempted to check whether the non-record ${describeValue(v)} is in ${this.show()}`);
    }
    if (v.names.length !== this.names.length) return false;
    for (let i = 0; i < this.names.length; i++) {
      if (v.names[i] !== this.names[i]) return false;
      if (!this.sets[i]!.has(v.vals[i]!)) return false;
    }
    return true;
  }
  protected element(vals: Value[]): Value {
    return new RecordValue(this.names, vals);
  }
  show(): string {
    return `[${this.names.map((n, i) => `${n} : ${showInner(this.sets[i]!)}`).join(', ')}]`;
  }
}

/** S1 \X S2 \X ... (a set of tuples). */
export class ProductSet extends CartesianSet {
  constructor(readonly sets: readonly SetValue[]) {
    super();
  }
  has(v: Value): boolean {
    if (!(v instanceof TupleValue)) {
      if (v instanceof ModelValue || isFcn(v)) return false;
      throw evalError(`Attempted to check whether the non-tuple ${describeValue(v)} is in ${this.show()}`);
    }
    if (v.elems.length !== this.sets.length) return false;
    for (let i = 0; i < this.sets.length; i++) if (!this.sets[i]!.has(v.elems[i]!)) return false;
    return true;
  }
  protected element(vals: Value[]): Value {
    return new TupleValue(vals);
  }
  show(): string {
    return this.sets.map((s) => showInner(s)).join(' \\X ');
  }
}

/** Seq(S). */
export class SeqSet extends SetValue {
  constructor(readonly base: SetValue) {
    super();
  }
  has(v: Value): boolean {
    if (!(v instanceof TupleValue)) {
      if (v instanceof ModelValue || isFcn(v)) return false;
      throw evalError(`Attempted to check whether the non-sequence ${describeValue(v)} is in ${this.show()}`);
    }
    return allIn(v.elems, this.base);
  }
  isFinite(): boolean {
    return false;
  }
  normalized(): SetEnum {
    throw notEnumerable(this);
  }
  show(): string {
    return `Seq(${toTla(this.base)})`;
  }
}

/** {x \in S : P} where S is not enumerable: membership only. */
export class FilteredSet extends SetValue {
  constructor(
    readonly base: SetValue,
    readonly pred: (v: Value) => boolean,
    readonly text: string,
  ) {
    super();
  }
  has(v: Value): boolean {
    return this.base.has(v) && this.pred(v);
  }
  isFinite(): boolean {
    return false;
  }
  normalized(): SetEnum {
    throw notEnumerable(this);
  }
  show(): string {
    return this.text;
  }
}

/** S \cup T where one side is not enumerable. */
export class UnionSet extends SetValue {
  constructor(readonly parts: readonly SetValue[]) {
    super();
  }
  has(v: Value): boolean {
    for (const p of this.parts) if (p.has(v)) return true;
    return false;
  }
  isFinite(): boolean {
    return false;
  }
  normalized(): SetEnum {
    throw notEnumerable(this);
  }
  show(): string {
    return this.parts.map((p) => showInner(p)).join(' \\cup ');
  }
}

/** S \ T where S is not enumerable. */
export class DiffSet extends SetValue {
  constructor(
    readonly a: SetValue,
    readonly b: SetValue,
  ) {
    super();
  }
  has(v: Value): boolean {
    return this.a.has(v) && !this.b.has(v);
  }
  isFinite(): boolean {
    return false;
  }
  normalized(): SetEnum {
    throw notEnumerable(this);
  }
  show(): string {
    return `${showInner(this.a)} \\ ${showInner(this.b)}`;
  }
}

// Set algebra on canonical arrays.

export function setUnion(a: SetValue, b: SetValue): SetValue {
  if (!a.isFinite() || !b.isFinite()) return new UnionSet([a, b]);
  const x = a.normalized().elems;
  const y = b.normalized().elems;
  if (x.length === 0) return b.normalized();
  if (y.length === 0) return a.normalized();
  const out: Value[] = [];
  let i = 0;
  let j = 0;
  while (i < x.length && j < y.length) {
    const c = compare(x[i]!, y[j]!);
    if (c < 0) out.push(x[i++]!);
    else if (c > 0) out.push(y[j++]!);
    else {
      out.push(x[i++]!);
      j++;
    }
  }
  while (i < x.length) out.push(x[i++]!);
  while (j < y.length) out.push(y[j++]!);
  return new SetEnum(out);
}

export function setIntersect(a: SetValue, b: SetValue): SetValue {
  if (!a.isFinite()) {
    if (!b.isFinite()) return new FilteredSet(a, (v) => b.has(v), `${showInner(a)} \\cap ${showInner(b)}`);
    return setIntersect(b, a);
  }
  const x = a.normalized().elems;
  if (b instanceof SetEnum) {
    const y = b.elems;
    const out: Value[] = [];
    let i = 0;
    let j = 0;
    while (i < x.length && j < y.length) {
      const c = compare(x[i]!, y[j]!);
      if (c < 0) i++;
      else if (c > 0) j++;
      else {
        out.push(x[i++]!);
        j++;
      }
    }
    return out.length === 0 ? EMPTY_SET : new SetEnum(out);
  }
  const out: Value[] = [];
  for (const v of x) if (b.has(v)) out.push(v);
  return out.length === 0 ? EMPTY_SET : new SetEnum(out);
}

export function setDiff(a: SetValue, b: SetValue): SetValue {
  if (!a.isFinite()) return new DiffSet(a, b);
  const x = a.normalized().elems;
  if (b instanceof SetEnum) {
    const y = b.elems;
    if (y.length === 0) return a.normalized();
    const out: Value[] = [];
    let i = 0;
    let j = 0;
    while (i < x.length && j < y.length) {
      const c = compare(x[i]!, y[j]!);
      if (c < 0) out.push(x[i++]!);
      else if (c > 0) j++;
      else {
        i++;
        j++;
      }
    }
    while (i < x.length) out.push(x[i++]!);
    return out.length === 0 ? EMPTY_SET : new SetEnum(out);
  }
  const out: Value[] = [];
  for (const v of x) if (!b.has(v)) out.push(v);
  return out.length === 0 ? EMPTY_SET : new SetEnum(out);
}

export function subseteq(a: SetValue, b: SetValue): boolean {
  if (a instanceof IntervalSet && b instanceof IntervalSet) {
    return a.lo > a.hi || (b.lo <= a.lo && a.hi <= b.hi);
  }
  // SUBSET A \subseteq SUBSET B iff A \subseteq B: decided without enumerating either powerset.
  if (a instanceof SubsetSet && b instanceof SubsetSet) return subseteq(a.base, b.base);
  if (a instanceof FcnSet && b instanceof FcnSet) return fcnSetSubseteq(a, b);
  if (!a.isFinite()) {
    if (a instanceof PrimitiveSet && b instanceof PrimitiveSet && b.includes(a)) return true;
    throw evalError(`Cannot decide whether the non-enumerable set ${a.show()} is a subset of ${b.show()}`);
  }
  for (const v of a.normalized().elems) if (!b.has(v)) return false;
  return true;
}

/** [S -> T] \subseteq [U -> V] without enumerating: by domain and range. */
function fcnSetSubseteq(a: FcnSet, b: FcnSet): boolean {
  const domEmpty = a.domain.isFinite() && a.domain.size() === 0;
  // [S -> {}] is empty when S is not: a subset of anything.
  if (!domEmpty && a.range.isFinite() && a.range.size() === 0) return true;
  if (!setEquals(a.domain, b.domain)) return false;
  return domEmpty || subseteq(a.range, b.range);
}

/** UNION of a set of sets. */
export function bigUnion(s: SetValue): SetValue {
  const parts = s.normalized().elems;
  const all: Value[] = [];
  let lazy = false;
  for (const p of parts) {
    if (!(p instanceof SetValue))
      throw evalError(`UNION applied to a set containing the non-set ${describeValue(p)}`);
    if (!p.isFinite()) lazy = true;
  }
  if (lazy) return new UnionSet(parts as SetValue[]);
  for (const p of parts) for (const v of (p as SetValue).normalized().elems) all.push(v);
  return setOf(all);
}

// ---------------------------------------------------------------------------------------
// Functions

export class TupleValue {
  h1 = 0;
  h2 = 0;
  hashed = false;
  /** Whether a model value occurs in it at any depth (valid when hashed is true). */
  hasMv = false;
  /** Offset and epoch of its permuted hash lanes in the SYMMETRY arena (see permAll). */
  pci = 0;
  pce = 0;
  constructor(readonly elems: readonly Value[]) {}
}

export class RecordValue {
  h1 = 0;
  h2 = 0;
  hashed = false;
  /** Whether a model value occurs in it at any depth (valid when hashed is true). */
  hasMv = false;
  /** Offset and epoch of its permuted hash lanes in the SYMMETRY arena (see permAll). */
  pci = 0;
  pce = 0;
  /** names sorted, one value per name. */
  constructor(
    readonly names: readonly string[],
    readonly vals: readonly Value[],
  ) {}
  indexOf(name: string): number {
    const ns = this.names;
    for (let i = 0; i < ns.length; i++) if (ns[i] === name) return i;
    return -1;
  }
}

export class FcnValue {
  h1 = 0;
  h2 = 0;
  hashed = false;
  /** Whether a model value occurs in it at any depth (valid when hashed is true). */
  hasMv = false;
  /** Offset and epoch of its permuted hash lanes in the SYMMETRY arena (see permAll). */
  pci = 0;
  pce = 0;
  /** dom canonical (sorted, no duplicates), vals parallel. */
  constructor(
    readonly dom: readonly Value[],
    readonly vals: readonly Value[],
  ) {}
}

/** A function whose values are computed on demand (recursive definitions, infinite domains). */
export class LazyFcn {
  private memo: Map<unknown, Value> | null = null;
  private done: FcnValue | TupleValue | RecordValue | null = null;
  constructor(
    readonly domain: SetValue,
    readonly compute: (arg: Value) => Value,
    readonly memoize: boolean,
  ) {}
  apply(arg: Value): Value {
    if (this.done) return fcnApply(this.done, arg);
    if (!this.domain.has(arg)) throw outOfDomain(this, arg);
    if (!this.memoize) return this.compute(arg);
    const key = typeof arg === 'object' ? fingerprintKey(arg) : arg;
    if (!this.memo) this.memo = new Map();
    let v = this.memo.get(key);
    if (v === undefined) {
      v = this.compute(arg);
      this.memo.set(key, v);
    }
    return v;
  }
  materialize(): TupleValue | RecordValue | FcnValue {
    if (!this.done) {
      if (!this.domain.isFinite()) {
        throw evalError(
          `The function with domain ${this.domain.show()} cannot be compared, hashed or printed: its domain is infinite`,
        );
      }
      const dom = this.domain.normalized().elems;
      const vals = dom.map((d) => this.apply(d));
      this.done = mkFcn(dom as Value[], vals) as TupleValue | RecordValue | FcnValue;
    }
    return this.done;
  }
}

export const EMPTY_TUPLE = new TupleValue([]);

export function isFcn(v: Value): v is FcnLike {
  return v instanceof TupleValue || v instanceof RecordValue || v instanceof FcnValue || v instanceof LazyFcn;
}

/** The canonical function with this (canonical) domain and these values. */
export function mkFcn(dom: readonly Value[], vals: readonly Value[]): Value {
  const n = dom.length;
  if (n === 0) return EMPTY_TUPLE;
  const d0 = dom[0];
  if (typeof d0 === 'number') {
    if (d0 === 1 && dom[n - 1] === n) return new TupleValue(vals);
    return new FcnValue(dom, vals);
  }
  if (typeof d0 === 'string') return new RecordValue(dom as string[], vals);
  return new FcnValue(dom, vals);
}

/** A record from field/value pairs in any order (duplicates: the last wins). */
export function mkRecord(fields: readonly (readonly [string, Value])[]): Value {
  if (fields.length === 0) return EMPTY_TUPLE;
  const sorted = [...fields].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const names: string[] = [];
  const vals: Value[] = [];
  for (const [n, v] of sorted) {
    if (names.length > 0 && names[names.length - 1] === n) vals[vals.length - 1] = v;
    else {
      names.push(n);
      vals.push(v);
    }
  }
  return new RecordValue(names, vals);
}

/** A function from unsorted (key, value) pairs; duplicate keys keep the first value. */
export function fcnFromPairs(keys: Value[], vals: Value[]): Value {
  const n = keys.length;
  if (n === 0) return EMPTY_TUPLE;
  const order = keys.map((_, i) => i);
  let sorted = true;
  for (let i = 1; i < n; i++) {
    if (compare(keys[i - 1]!, keys[i]!) >= 0) {
      sorted = false;
      break;
    }
  }
  if (sorted) return mkFcn(keys, vals);
  order.sort((a, b) => compare(keys[a]!, keys[b]!) || a - b);
  const dom: Value[] = [];
  const vs: Value[] = [];
  for (const i of order) {
    if (dom.length > 0 && compare(dom[dom.length - 1]!, keys[i]!) === 0) continue;
    dom.push(keys[i]!);
    vs.push(vals[i]!);
  }
  return mkFcn(dom, vs);
}

function outOfDomain(f: Value, arg: Value): TlaError {
  return evalError(
    `Attempted to apply function ${toTlaShort(f)} to ${toTlaShort(arg)}, which is not in its domain`,
  );
}

export function fcnApply(f: Value, arg: Value): Value {
  if (f instanceof TupleValue) {
    if (typeof arg === 'number' && arg >= 1 && arg <= f.elems.length && Number.isInteger(arg))
      return f.elems[arg - 1]!;
    throw outOfDomain(f, arg);
  }
  if (f instanceof RecordValue) {
    if (typeof arg === 'string') {
      const i = f.indexOf(arg);
      if (i >= 0) return f.vals[i]!;
    }
    throw outOfDomain(f, arg);
  }
  if (f instanceof FcnValue) {
    const i = indexInSorted(f.dom, arg);
    if (i >= 0) return f.vals[i]!;
    throw outOfDomain(f, arg);
  }
  if (f instanceof LazyFcn) return f.apply(arg);
  throw evalError(`Attempted to apply ${describeValue(f)}, which is not a function, to ${toTlaShort(arg)}`);
}

/** Whether arg is in the domain of the function f (no allocation). */
export function fcnHas(f: FcnLike, arg: Value): boolean {
  if (f instanceof TupleValue)
    return typeof arg === 'number' && arg >= 1 && arg <= f.elems.length && Number.isInteger(arg);
  if (f instanceof RecordValue) return typeof arg === 'string' && f.indexOf(arg) >= 0;
  if (f instanceof FcnValue) return indexInSorted(f.dom, arg) >= 0;
  return f.domain.has(arg);
}

export function fcnDomain(f: Value): SetValue {
  if (f instanceof TupleValue) return f.elems.length === 0 ? EMPTY_SET : new IntervalSet(1, f.elems.length);
  if (f instanceof RecordValue) return new SetEnum(f.names);
  if (f instanceof FcnValue) return new SetEnum(f.dom);
  if (f instanceof LazyFcn) return f.domain;
  throw evalError(`DOMAIN applied to ${describeValue(f)}, which is not a function`);
}

/** Domain elements of a finite function, canonical. */
export function fcnKeys(f: Value): readonly Value[] {
  if (f instanceof TupleValue) {
    const out: Value[] = new Array(f.elems.length);
    for (let i = 0; i < out.length; i++) out[i] = i + 1;
    return out;
  }
  if (f instanceof RecordValue) return f.names;
  if (f instanceof FcnValue) return f.dom;
  if (f instanceof LazyFcn) return fcnKeys(f.materialize());
  throw evalError(`Expected a function, got ${describeValue(f)}`);
}

export function fcnVals(f: Value): readonly Value[] {
  if (f instanceof TupleValue) return f.elems;
  if (f instanceof RecordValue || f instanceof FcnValue) return f.vals;
  if (f instanceof LazyFcn) return fcnVals(f.materialize());
  throw evalError(`Expected a function, got ${describeValue(f)}`);
}

/**
 * The position of arg in the domain of a finite canonical function (its index in elems,
 * names or dom), or -1 when arg is not in the domain. For EXCEPT, which reads the old value
 * and replaces it at one position (fcnValAt, fcnReplaceAt) with one lookup.
 */
export function fcnPos(f: TupleValue | RecordValue | FcnValue, arg: Value): number {
  if (f instanceof TupleValue)
    return typeof arg === 'number' && arg >= 1 && arg <= f.elems.length && Number.isInteger(arg)
      ? arg - 1
      : -1;
  if (f instanceof RecordValue) return typeof arg === 'string' ? f.indexOf(arg) : -1;
  return indexInSorted(f.dom, arg);
}

/** The value at position i (from fcnPos) of a finite canonical function. */
export function fcnValAt(f: TupleValue | RecordValue | FcnValue, i: number): Value {
  return f instanceof TupleValue ? f.elems[i]! : f.vals[i]!;
}

/** The function f with the value at position i (from fcnPos) replaced by v. */
export function fcnReplaceAt(f: TupleValue | RecordValue | FcnValue, i: number, v: Value): Value {
  if (f instanceof TupleValue) {
    const e = f.elems.slice();
    e[i] = v;
    return new TupleValue(e);
  }
  const vals = f.vals.slice();
  vals[i] = v;
  return f instanceof RecordValue ? new RecordValue(f.names, vals) : new FcnValue(f.dom, vals);
}

/** [f EXCEPT ![arg] = v]; arg must be in the domain (TLC leaves f unchanged otherwise, we do too). */
export function fcnExcept(f: Value, arg: Value, v: Value): Value {
  if (f instanceof TupleValue) {
    if (typeof arg === 'number' && arg >= 1 && arg <= f.elems.length) {
      const e = f.elems.slice();
      e[arg - 1] = v;
      return new TupleValue(e);
    }
    return f;
  }
  if (f instanceof RecordValue) {
    if (typeof arg === 'string') {
      const i = f.indexOf(arg);
      if (i >= 0) {
        const vals = f.vals.slice();
        vals[i] = v;
        return new RecordValue(f.names, vals);
      }
    }
    return f;
  }
  if (f instanceof FcnValue) {
    const i = indexInSorted(f.dom, arg);
    if (i < 0) return f;
    const vals = f.vals.slice();
    vals[i] = v;
    return new FcnValue(f.dom, vals);
  }
  if (f instanceof LazyFcn) return fcnExcept(f.materialize(), arg, v);
  throw evalError(`EXCEPT applied to ${describeValue(f)}, which is not a function`);
}

// ---------------------------------------------------------------------------------------
// Kinds, equality, order

export function kindName(v: Value): string {
  if (typeof v === 'number') return 'integer';
  if (typeof v === 'boolean') return 'boolean';
  if (typeof v === 'string') return 'string';
  if (v instanceof ModelValue) return 'model value';
  if (v instanceof SetValue) return 'set';
  if (v instanceof TupleValue) return 'tuple';
  if (v instanceof RecordValue) return 'record';
  return 'function';
}

/** "integer 4", "tuple <<1, 2>>": for error messages. */
export function describeValue(v: Value): string {
  return `${kindName(v)} ${toTlaShort(v)}`;
}

export function toTlaShort(v: Value, max = 200): string {
  let s: string;
  try {
    s = toTla(v);
  } catch {
    s = v instanceof SetValue ? v.show() : '(a function over an infinite domain)';
  }
  return s.length > max ? `${s.slice(0, max)}...` : s;
}

function incomparable(a: Value, b: Value, what: string): TlaError {
  return evalError(
    `Attempted to ${what} ${describeValue(a)} with ${describeValue(b)}: values of different kinds are not comparable in TLC`,
  );
}

/** TLA+ equality with TLC's rules: values of different kinds are an error, except model values. */
export function equals(a: Value, b: Value): boolean {
  if (a === b) return true;
  switch (typeof a) {
    case 'number':
      if (typeof b === 'number') return false;
      break;
    case 'string':
      if (typeof b === 'string') return false;
      break;
    case 'boolean':
      if (typeof b === 'boolean') return false;
      break;
    default:
      if (a instanceof ModelValue) return false;
      if (a instanceof SetValue) {
        if (b instanceof SetValue) return setEquals(a, b);
        break;
      }
      if (isFcn(b)) return fcnEquals(a, b);
  }
  if (b instanceof ModelValue) return false;
  throw incomparable(a, b, 'check equality of');
}

export function setEquals(a: SetValue, b: SetValue): boolean {
  if (a === b) return true;
  if (a instanceof SubsetSet && b instanceof SubsetSet) return setEquals(a.base, b.base);
  if (a instanceof FcnSet && b instanceof FcnSet) return fcnSetSubseteq(a, b) && fcnSetSubseteq(b, a);
  if (a instanceof IntervalSet && b instanceof IntervalSet) {
    const ea = a.lo > a.hi;
    const eb = b.lo > b.hi;
    return ea || eb ? ea && eb : a.lo === b.lo && a.hi === b.hi;
  }
  if (!a.isFinite() || !b.isFinite()) {
    if (a instanceof PrimitiveSet && a === b) return true;
    if (a.isFinite() !== b.isFinite()) {
      // A finite set never equals Nat, Int or STRING.
      if (b instanceof PrimitiveSet || a instanceof PrimitiveSet) return false;
    }
    throw evalError(`Cannot compare the sets ${a.show()} and ${b.show()}: at least one is not enumerable`);
  }
  const x = a.normalized();
  const y = b.normalized();
  const xe = x.elems;
  const ye = y.elems;
  if (xe.length !== ye.length) return false;
  if (x.hashed && y.hashed && (x.h1 !== y.h1 || x.h2 !== y.h2)) return false;
  for (let i = 0; i < xe.length; i++) if (!equals(xe[i]!, ye[i]!)) return false;
  return true;
}

function fcnEquals(a: FcnLike, b: FcnLike): boolean {
  if (a instanceof LazyFcn) a = a.materialize();
  if (b instanceof LazyFcn) b = b.materialize();
  if (a === b) return true;
  if (a.hashed && b.hashed && (a.h1 !== b.h1 || a.h2 !== b.h2)) return false;
  if (a instanceof TupleValue) {
    if (!(b instanceof TupleValue)) return false;
    const x = a.elems;
    const y = b.elems;
    if (x.length !== y.length) return false;
    for (let i = 0; i < x.length; i++) if (!equals(x[i]!, y[i]!)) return false;
    return true;
  }
  if (a instanceof RecordValue) {
    if (!(b instanceof RecordValue)) return false;
    const n = a.names.length;
    if (n !== b.names.length) return false;
    for (let i = 0; i < n; i++) if (a.names[i] !== b.names[i]) return false;
    for (let i = 0; i < n; i++) if (!equals(a.vals[i]!, b.vals[i]!)) return false;
    return true;
  }
  if (!(b instanceof FcnValue)) return false;
  const n = a.dom.length;
  if (n !== b.dom.length) return false;
  for (let i = 0; i < n; i++) if (!equals(a.dom[i]!, b.dom[i]!)) return false;
  for (let i = 0; i < n; i++) if (!equals(a.vals[i]!, b.vals[i]!)) return false;
  return true;
}

/**
 * TLC's total order within a kind: integers numerically, FALSE < TRUE, strings by content,
 * model values by creation, sets by size then elements, functions by domain size, then
 * domain elements, then values. Model values sort before any other kind; other mixed
 * kinds are an error as in TLC.
 */
export function compare(a: Value, b: Value): number {
  if (a === b) return 0;
  const ta = typeof a;
  if (ta === 'object' && a instanceof RecordValue && b instanceof RecordValue) return compareRecords(a, b);
  if (ta === 'number') {
    if (typeof b === 'number') return (a as number) < b ? -1 : 1;
  } else if (ta === 'string') {
    if (typeof b === 'string') return (a as string) < b ? -1 : (a as string) > b ? 1 : 0;
  } else if (ta === 'boolean') {
    if (typeof b === 'boolean') return a ? 1 : -1;
  } else if (a instanceof ModelValue) {
    if (b instanceof ModelValue) return a.index - b.index;
    return -1;
  } else if (a instanceof SetValue) {
    if (b instanceof SetValue) return compareSets(a, b);
  } else if (isFcn(b)) {
    return compareFcns(a as FcnLike, b);
  }
  if (b instanceof ModelValue) return 1;
  throw incomparable(a, b, 'compare');
}

function compareSets(a: SetValue, b: SetValue): number {
  const x = a.normalized().elems;
  const y = b.normalized().elems;
  if (x.length !== y.length) return x.length - y.length;
  for (let i = 0; i < x.length; i++) {
    const c = compare(x[i]!, y[i]!);
    if (c !== 0) return c;
  }
  return 0;
}

function compareRecords(a: RecordValue, b: RecordValue): number {
  const n = a.names.length;
  if (n !== b.names.length) return n - b.names.length;
  if (a.names !== b.names) {
    for (let i = 0; i < n; i++) {
      const x = a.names[i]!;
      const y = b.names[i]!;
      if (x !== y) return x < y ? -1 : 1;
    }
  }
  const av = a.vals;
  const bv = b.vals;
  for (let i = 0; i < n; i++) {
    const x = av[i]!;
    const y = bv[i]!;
    if (x === y) continue;
    const c = compare(x, y);
    if (c !== 0) return c;
  }
  return 0;
}

function compareFcns(a: FcnLike, b: FcnLike): number {
  if (a instanceof TupleValue && b instanceof TupleValue) {
    const x = a.elems;
    const y = b.elems;
    if (x.length !== y.length) return x.length - y.length;
    for (let i = 0; i < x.length; i++) {
      const c = compare(x[i]!, y[i]!);
      if (c !== 0) return c;
    }
    return 0;
  }
  if (a instanceof RecordValue && b instanceof RecordValue) return compareRecords(a, b);
  const ka = fcnKeys(a);
  const kb = fcnKeys(b);
  if (ka.length !== kb.length) return ka.length - kb.length;
  for (let i = 0; i < ka.length; i++) {
    const c = compare(ka[i]!, kb[i]!);
    if (c !== 0) return c;
  }
  const va = fcnVals(a);
  const vb = fcnVals(b);
  for (let i = 0; i < va.length; i++) {
    const c = compare(va[i]!, vb[i]!);
    if (c !== 0) return c;
  }
  return 0;
}

// ---------------------------------------------------------------------------------------
// Fingerprints: two 32-bit murmur3-style lanes, stable across runs, computed on the canonical
// form (so equal values have equal fingerprints whatever their construction).
//
// Sets and functions (tuples and records included) are hashed compositionally: each lane is
// the sum (mod 2^32) of one summand per element of a set, or per (key, value) pair of a
// function, finished with the kind's tag and the size. The order of the parts does not
// matter, so the hash of a value under a permutation of model values (SYMMETRY) follows from
// the permuted hashes of its parts, without building or sorting the permuted value
// (hashPermuted below); a part that contains no model value keeps its cached hash.
// Collisions: every summand is a full murmur3 finalisation of both lanes of its part (with a
// seed per lane), so summands behave as independent uniform 32-bit words: two different sets
// (no element is repeated, so nothing cancels) collide in one lane with probability about
// 2^-32 and in the 64-bit fingerprint about 2^-64, as with a sequential hash. Tuples and
// records hash as the functions they are (pairs i |-> e, name |-> v), so a function on 1..n
// and the equal tuple have one fingerprint.

function mix(h: number, k: number): number {
  k = Math.imul(k, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, 0x1b873593);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h;
}

function hashString(s: string, seed: number): number {
  let h = seed;
  for (let i = 0; i < s.length; i++) h = mix(h, s.charCodeAt(i));
  return fmix(h ^ s.length);
}

const SEED1 = 0x3c6ef372;
const SEED2 = 0x7f4a7c15;
const TAG_INT = 1;
const TAG_BOOL = 2;
const TAG_STR = 3;
const TAG_SET = 5;
const TAG_FCN = 6;
const ELEM1 = 0x2f6b3c1d;
const ELEM2 = 0x5a8e41b7;
const PAIR1 = 0x68e31da4;
const PAIR2 = 0x1b56c4e9;

/** Lane-1 summand of a set element with lanes (x, y). */
function elem1(x: number, y: number): number {
  return fmix(mix(mix(ELEM1, x), y));
}
/** Lane-2 summand of a set element with lanes (x, y). */
function elem2(x: number, y: number): number {
  return fmix(mix(mix(ELEM2, y), x));
}
/** Lane-1 summand of a function pair: key lanes (k1, k2), value lanes (v1, v2). */
function pair1(k1: number, k2: number, v1: number, v2: number): number {
  return fmix(mix(mix(mix(mix(PAIR1, k1), k2), v1), v2));
}
function pair2(k1: number, k2: number, v1: number, v2: number): number {
  return fmix(mix(mix(mix(mix(PAIR2, v2), v1), k2), k1));
}
function finishSet1(a: number, n: number): number {
  return fmix(mix(mix(SEED1 ^ TAG_SET, a), n));
}
function finishSet2(b: number, n: number): number {
  return fmix(mix(mix(SEED2 ^ TAG_SET, b), Math.imul(n, 0x27d4eb2f)));
}
function finishFcn1(a: number, n: number): number {
  return fmix(mix(mix(SEED1 ^ TAG_FCN, a), n));
}
function finishFcn2(b: number, n: number): number {
  return fmix(mix(mix(SEED2 ^ TAG_FCN, b), Math.imul(n, 0x165667b1)));
}

/** Both lanes of a string's hash, remembered (up to STR_CACHE_LIMIT strings). */
interface StrLanes {
  readonly a: number;
  readonly b: number;
}
const strCache = new Map<string, StrLanes>();
const STR_CACHE_LIMIT = 100_000;

function intLane1(v: number): number {
  return fmix(mix(mix(SEED1, TAG_INT), v | 0));
}
function intLane2(v: number): number {
  return fmix(mix(mix(SEED2, TAG_INT), Math.imul(v | 0, 0x9e3779b1)));
}
// The lanes of the small integers (tuple indexes, counters, pc values...), computed once.
const SMALL_INT_MIN = -256;
const SMALL_INT_MAX = 4095;
const smallInt1 = new Int32Array(SMALL_INT_MAX - SMALL_INT_MIN + 1);
const smallInt2 = new Int32Array(SMALL_INT_MAX - SMALL_INT_MIN + 1);
for (let i = SMALL_INT_MIN; i <= SMALL_INT_MAX; i++) {
  smallInt1[i - SMALL_INT_MIN] = intLane1(i);
  smallInt2[i - SMALL_INT_MIN] = intLane2(i);
}

// The result of hashValue: two lanes and whether a model value occurs, in module variables
// (no allocation).
let H1 = 0;
let H2 = 0;
let HMV = false;

function hashValue(v: Value): void {
  switch (typeof v) {
    case 'number':
      if ((v | 0) === v && v >= SMALL_INT_MIN && v <= SMALL_INT_MAX) {
        H1 = smallInt1[(v | 0) - SMALL_INT_MIN]!;
        H2 = smallInt2[(v | 0) - SMALL_INT_MIN]!;
      } else {
        H1 = intLane1(v);
        H2 = intLane2(v);
      }
      HMV = false;
      return;
    case 'boolean':
      H1 = fmix(mix(SEED1 ^ TAG_BOOL, v ? 1 : 0));
      H2 = fmix(mix(SEED2 ^ TAG_BOOL, v ? 7 : 3));
      HMV = false;
      return;
    case 'string': {
      const c = strCache.get(v);
      if (c !== undefined) {
        H1 = c.a;
        H2 = c.b;
      } else {
        H1 = hashString(v, SEED1 ^ TAG_STR);
        H2 = hashString(v, SEED2 ^ TAG_STR);
        if (strCache.size < STR_CACHE_LIMIT) strCache.set(v, { a: H1, b: H2 });
      }
      HMV = false;
      return;
    }
  }
  if (v instanceof ModelValue) {
    H1 = v.h1;
    H2 = v.h2;
    HMV = true;
    return;
  }
  if (v instanceof SetValue) {
    const s = v.normalized();
    if (!s.hashed) hashSetEnum(s);
    if (v !== s) {
      v.h1 = s.h1;
      v.h2 = s.h2;
      v.hasMv = s.hasMv;
      v.hashed = true;
    }
    H1 = s.h1;
    H2 = s.h2;
    HMV = s.hasMv;
    return;
  }
  let f = v as FcnLike;
  if (f instanceof LazyFcn) f = f.materialize();
  if (!f.hashed) hashFcn(f);
  H1 = f.h1;
  H2 = f.h2;
  HMV = f.hasMv;
}

function hashSetEnum(s: SetEnum): void {
  let a = 0;
  let b = 0;
  let mv = false;
  const es = s.elems;
  for (let i = 0; i < es.length; i++) {
    hashValue(es[i]!);
    a = (a + elem1(H1, H2)) | 0;
    b = (b + elem2(H1, H2)) | 0;
    if (HMV) mv = true;
  }
  s.h1 = finishSet1(a, es.length);
  s.h2 = finishSet2(b, es.length);
  s.hasMv = mv;
  s.hashed = true;
}

function hashFcn(f: TupleValue | RecordValue | FcnValue): void {
  let a = 0;
  let b = 0;
  let mv = false;
  let n: number;
  if (f instanceof TupleValue) {
    const es = f.elems;
    n = es.length;
    for (let i = 0; i < n; i++) {
      let k1: number;
      let k2: number;
      if (i < SMALL_INT_MAX) {
        k1 = smallInt1[i + 1 - SMALL_INT_MIN]!;
        k2 = smallInt2[i + 1 - SMALL_INT_MIN]!;
      } else {
        k1 = intLane1(i + 1);
        k2 = intLane2(i + 1);
      }
      hashValue(es[i]!);
      a = (a + pair1(k1, k2, H1, H2)) | 0;
      b = (b + pair2(k1, k2, H1, H2)) | 0;
      if (HMV) mv = true;
    }
  } else {
    const ks = f instanceof RecordValue ? f.names : f.dom;
    const vs = f.vals;
    n = ks.length;
    for (let i = 0; i < n; i++) {
      hashValue(ks[i]!);
      const k1 = H1;
      const k2 = H2;
      if (HMV) mv = true;
      hashValue(vs[i]!);
      a = (a + pair1(k1, k2, H1, H2)) | 0;
      b = (b + pair2(k1, k2, H1, H2)) | 0;
      if (HMV) mv = true;
    }
  }
  f.h1 = finishFcn1(a, n);
  f.h2 = finishFcn2(b, n);
  f.hasMv = mv;
  f.hashed = true;
}

let permGroupIds = 0;

/**
 * A set of permutations of model values (a SYMMETRY group) prepared for
 * leastPermutedFingerprintInto: the hash lanes of the image of every model value known when
 * the group is built, under each permutation (model values created later are left alone).
 */
export class PermGroup {
  readonly id: number;
  readonly size: number;
  /** Model values with an index below this have images. */
  readonly known: number;
  /** The block (see permAll) of the image of model value m at m.index * (4 * size + 1). */
  readonly images: Int32Array;
  constructor(readonly perms: readonly ReadonlyMap<ModelValue, ModelValue>[]) {
    this.id = ++permGroupIds;
    this.size = perms.length;
    this.known = modelValues.size;
    const w = 4 * perms.length + 1;
    this.images = new Int32Array(this.known * w);
    for (const mv of modelValues.values()) {
      const o = mv.index * w;
      this.images[o] = 1;
      for (let p = 0; p < perms.length; p++) {
        const to = perms[p]!.get(mv) ?? mv;
        const q = o + 1 + 4 * p;
        this.images[q] = to.h1;
        this.images[q + 1] = to.h2;
        this.images[q + 2] = elem1(to.h1, to.h2);
        this.images[q + 3] = elem2(to.h1, to.h2);
      }
    }
  }
}

// The permuted lanes of composites live in one arena, one block per composite: a flag (1
// when the set-element summands are filled in) then, for each permutation p, at 1 + 4p: the
// composite's two hash lanes and its two summands as an element of a set (elem1, elem2). A
// composite that contains a model value records its block's offset and the arena's epoch
// (pci, pce), so a sub-value shared by many states (a message in a set of messages) is
// hashed under the permutations once. When the arena passes ARENA_LIMIT lanes it is emptied
// between two states (the epoch changes, every recorded block becomes stale), which bounds
// the memory of the cache whatever the size of the model.
let ARENA_LIMIT = 1 << 22;

/** Sets the number of lanes the SYMMETRY cache keeps before it is emptied (tests use tiny ones). */
export function setPermCacheLimit(lanes: number): void {
  ARENA_LIMIT = lanes;
}
let arena = new Int32Array(0);
let arenaUsed = 0;
let arenaBase = 0;
let arenaEpoch = 1;
let arenaGroup: PermGroup | null = null;

/** Makes the arena g's (its model value images first), emptying it when full. */
function useGroup(g: PermGroup): void {
  if (arenaGroup === g) {
    if (arenaUsed > ARENA_LIMIT) {
      arenaEpoch++;
      arenaUsed = arenaBase;
    }
    return;
  }
  arenaGroup = g;
  arenaEpoch++;
  arena = new Int32Array(Math.max(1 << 16, 2 * g.images.length));
  arena.set(g.images);
  arenaBase = arenaUsed = g.images.length;
}

/** A zeroed block of k lanes; its offset stays valid until the arena is emptied. */
function allocLanes(k: number): number {
  if (arenaUsed + k > arena.length) {
    const bigger = new Int32Array(Math.max(2 * arena.length, arenaUsed + k));
    bigger.set(arena.subarray(0, arenaUsed));
    arena = bigger;
  }
  const o = arenaUsed;
  arenaUsed += k;
  arena.fill(0, o, o + k);
  return o;
}

/** Fills in the set-element summands of the block at o (w = 4 * size). */
function fillElemLanes(o: number, w: number): void {
  const A = arena;
  for (let q = o + 1; q < o + 1 + w; q += 4) {
    A[q + 2] = elem1(A[q]!, A[q + 1]!);
    A[q + 3] = elem2(A[q]!, A[q + 1]!);
  }
  A[o] = 1;
}

/**
 * The hash lanes of v under every permutation p of g (the arena's group), as the offset o of
 * its block: lanes at arena[o + 1 + 4p], arena[o + 2 + 4p], and when asElem its summands as a
 * set element at arena[o + 3 + 4p], arena[o + 4 + 4p]. -1 when v contains no model value
 * known to g: then H1/H2 hold its lanes, the same under every permutation.
 */
function permAll(v: Value, g: PermGroup, asElem: boolean): number {
  if (typeof v !== 'object') {
    hashValue(v);
    return -1;
  }
  const w = 4 * g.size;
  if (v instanceof ModelValue) {
    if (v.index < g.known) return v.index * (w + 1);
    H1 = v.h1;
    H2 = v.h2;
    return -1;
  }
  hashValue(v);
  if (!HMV) return -1;
  let c: SetValue | TupleValue | RecordValue | FcnValue = v instanceof LazyFcn ? v.materialize() : v;
  if (c instanceof SetValue) c = c.normalized();
  if (c.pce === arenaEpoch) {
    const o = c.pci;
    if (asElem && arena[o] === 0) fillElemLanes(o, w);
    return o;
  }
  const o = allocLanes(w + 1);
  let base1 = 0;
  let base2 = 0;
  let n: number;
  if (c instanceof SetEnum) {
    const es = c.elems;
    n = es.length;
    for (let i = 0; i < n; i++) {
      const r = permAll(es[i]!, g, true);
      if (r < 0) {
        base1 = (base1 + elem1(H1, H2)) | 0;
        base2 = (base2 + elem2(H1, H2)) | 0;
      } else {
        const A = arena;
        for (let q = 1; q <= w; q += 4) {
          A[o + q] = (A[o + q]! + A[r + q + 2]!) | 0;
          A[o + q + 1] = (A[o + q + 1]! + A[r + q + 3]!) | 0;
        }
      }
    }
    const A = arena;
    for (let q = o + 1; q <= o + w; q += 4) {
      A[q] = finishSet1((A[q]! + base1) | 0, n);
      A[q + 1] = finishSet2((A[q + 1]! + base2) | 0, n);
    }
  } else {
    const isTuple = c instanceof TupleValue;
    const ks: readonly Value[] | null = isTuple
      ? null
      : c instanceof RecordValue
        ? c.names
        : (c as FcnValue).dom;
    const vs = isTuple ? (c as TupleValue).elems : (c as RecordValue | FcnValue).vals;
    n = vs.length;
    for (let i = 0; i < n; i++) {
      const rk = permAll(ks === null ? i + 1 : ks[i]!, g, false);
      const k1 = H1;
      const k2 = H2;
      const rv = permAll(vs[i]!, g, false);
      const v1 = H1;
      const v2 = H2;
      if (rk < 0 && rv < 0) {
        base1 = (base1 + pair1(k1, k2, v1, v2)) | 0;
        base2 = (base2 + pair2(k1, k2, v1, v2)) | 0;
        continue;
      }
      const A = arena;
      for (let q = 1; q <= w; q += 4) {
        const a1 = rk < 0 ? k1 : A[rk + q]!;
        const a2 = rk < 0 ? k2 : A[rk + q + 1]!;
        const x = rv < 0 ? v1 : A[rv + q]!;
        const y = rv < 0 ? v2 : A[rv + q + 1]!;
        A[o + q] = (A[o + q]! + pair1(a1, a2, x, y)) | 0;
        A[o + q + 1] = (A[o + q + 1]! + pair2(a1, a2, x, y)) | 0;
      }
    }
    const A = arena;
    for (let q = o + 1; q <= o + w; q += 4) {
      A[q] = finishFcn1((A[q]! + base1) | 0, n);
      A[q + 1] = finishFcn2((A[q + 1]! + base2) | 0, n);
    }
  }
  if (asElem) fillElemLanes(o, w);
  c.pci = o;
  c.pce = arenaEpoch;
  return o;
}

const stateLanes: number[] = [];
const stateFixed1: number[] = [];
const stateFixed2: number[] = [];

/**
 * The least fingerprint of the state permuted by any permutation of g (as fingerprintStateInto
 * computes it on state.map((v) => permute(v, p))), written as two uint32 into out[0] (high)
 * and out[1] (low), without building any permuted value. An empty group writes the state's
 * own fingerprint.
 */
export function leastPermutedFingerprintInto(
  state: readonly Value[],
  g: PermGroup,
  out: Uint32Array | number[],
): void {
  const P = g.size;
  if (P === 0) {
    fingerprintStateInto(state, out);
    return;
  }
  useGroup(g);
  const nv = state.length;
  for (let i = 0; i < nv; i++) {
    stateLanes[i] = permAll(state[i]!, g, false);
    stateFixed1[i] = H1;
    stateFixed2[i] = H2;
  }
  const A = arena;
  let best1 = 0;
  let best2 = 0;
  for (let q = 1; q <= 4 * P; q += 4) {
    let a = SEED1 ^ 0x51a7e;
    let b = SEED2 ^ 0x51a7e;
    for (let i = 0; i < nv; i++) {
      const r = stateLanes[i]!;
      a = mix(a, r < 0 ? stateFixed1[i]! : A[r + q]!);
      b = mix(b, r < 0 ? stateFixed2[i]! : A[r + q + 1]!);
    }
    const h1 = fmix(a ^ nv) >>> 0;
    const h2 = fmix(b ^ Math.imul(nv, 0x2545f491)) >>> 0;
    if (q === 1 || h1 < best1 || (h1 === best1 && h2 < best2)) {
      best1 = h1;
      best2 = h2;
    }
  }
  out[0] = best1;
  out[1] = best2;
}

/**
 * The fingerprints of permute(v, p) for each permutation p of g, in g's order, computed
 * without building the permuted values.
 */
export function permutedFingerprints(v: Value, g: PermGroup): bigint[] {
  useGroup(g);
  const r = permAll(v, g, false);
  const out: bigint[] = [];
  for (let q = 1; q <= 4 * g.size; q += 4) {
    const h1 = r < 0 ? H1 : arena[r + q]!;
    const h2 = r < 0 ? H2 : arena[r + q + 1]!;
    out.push((BigInt(h1 >>> 0) << 32n) | BigInt(h2 >>> 0));
  }
  return out;
}

/** 64-bit fingerprint of a value as [hi, lo] unsigned 32-bit halves. */
export function fingerprintPair(v: Value): [number, number] {
  hashValue(v);
  return [H1 >>> 0, H2 >>> 0];
}

/** 64-bit fingerprint of a value. */
export function fingerprint(v: Value): bigint {
  hashValue(v);
  return (BigInt(H1 >>> 0) << 32n) | BigInt(H2 >>> 0);
}

/** A Map key for a value: a number-free string of its fingerprint (for memo tables). */
export function fingerprintKey(v: Value): string {
  hashValue(v);
  return `${H1 >>> 0}:${H2 >>> 0}`;
}

function hashState(state: readonly Value[]): void {
  let a = SEED1 ^ 0x51a7e;
  let b = SEED2 ^ 0x51a7e;
  for (let i = 0; i < state.length; i++) {
    hashValue(state[i]!);
    a = mix(a, H1);
    b = mix(b, H2);
  }
  H1 = fmix(a ^ state.length);
  H2 = fmix(b ^ Math.imul(state.length, 0x2545f491));
}

/** 64-bit fingerprint of a state (one value per variable). */
export function fingerprintState(state: readonly Value[]): bigint {
  hashState(state);
  return (BigInt(H1 >>> 0) << 32n) | BigInt(H2 >>> 0);
}

/** The same fingerprint as fingerprintState, written as two uint32 into out[0] (high) and out[1] (low); allocation-free. */
export function fingerprintStateInto(state: readonly Value[], out: Uint32Array | number[]): void {
  hashState(state);
  out[0] = H1 >>> 0;
  out[1] = H2 >>> 0;
}

// ---------------------------------------------------------------------------------------
// Printing (TLC's format)

export function quoteString(s: string): string {
  let out = '"';
  for (const ch of s) {
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\f') out += '\\f';
    else out += ch;
  }
  return out + '"';
}

function showInner(s: SetValue): string {
  const t =
    s instanceof SetEnum || s instanceof IntervalSet || s instanceof PrimitiveSet ? toTla(s) : s.show();
  return s instanceof SetEnum || s instanceof PrimitiveSet || s instanceof SeqSet ? t : `(${t})`;
}

/** The value in TLA+ syntax, as TLC prints it. */
export function toTla(v: Value): string {
  switch (typeof v) {
    case 'number':
      return String(v);
    case 'boolean':
      return v ? 'TRUE' : 'FALSE';
    case 'string':
      return quoteString(v);
  }
  if (v instanceof ModelValue) return v.name;
  if (v instanceof SetEnum) return `{${v.elems.map(toTla).join(', ')}}`;
  if (v instanceof IntervalSet) return v.show();
  if (v instanceof SetValue) {
    if (
      v.isFinite() &&
      !(v instanceof SubsetSet || v instanceof FcnSet || v instanceof RecordSet || v instanceof ProductSet)
    ) {
      return toTla(v.normalized());
    }
    return v.show();
  }
  if (v instanceof TupleValue) return `<<${v.elems.map(toTla).join(', ')}>>`;
  if (v instanceof RecordValue)
    return `[${v.names.map((n, i) => `${n} |-> ${toTla(v.vals[i]!)}`).join(', ')}]`;
  if (v instanceof LazyFcn) return toTla(v.materialize());
  const f = v as FcnValue;
  return `(${f.dom.map((d, i) => `${toTla(d)} :> ${toTla(f.vals[i]!)}`).join(' @@ ')})`;
}

// ---------------------------------------------------------------------------------------
// ITF (Informal Trace Format) encoding

export type ItfValue = boolean | string | ItfValue[] | { [k: string]: ItfValue };

export function toItf(v: Value): ItfValue {
  switch (typeof v) {
    case 'number':
      return { '#bigint': String(v) };
    case 'boolean':
    case 'string':
      return v;
  }
  if (v instanceof ModelValue) return { '#unserializable': v.name };
  if (v instanceof SetValue) return { '#set': v.normalized().elems.map(toItf) };
  if (v instanceof TupleValue) return { '#tup': v.elems.map(toItf) };
  if (v instanceof RecordValue) {
    const o: { [k: string]: ItfValue } = {};
    v.names.forEach((n, i) => (o[n] = toItf(v.vals[i]!)));
    return o;
  }
  if (v instanceof LazyFcn) return toItf(v.materialize());
  const f = v as FcnValue;
  return { '#map': f.dom.map((d, i) => [toItf(d), toItf(f.vals[i]!)]) };
}

/** Decodes an ITF value (inverse of toItf). */
export function fromItf(j: unknown): Value {
  if (typeof j === 'boolean' || typeof j === 'string') return j;
  if (typeof j === 'number' && Number.isInteger(j)) return j;
  if (Array.isArray(j) || j === null || typeof j !== 'object')
    throw new TlaError('io', `Not an ITF value: ${JSON.stringify(j)}`);
  const o = j as Record<string, unknown>;
  if ('#bigint' in o) {
    const n = Number(o['#bigint']);
    if (!Number.isSafeInteger(n))
      throw new TlaError('io', `ITF integer out of range: ${String(o['#bigint'])}`);
    return n;
  }
  if ('#set' in o) return setOf((o['#set'] as unknown[]).map(fromItf));
  if ('#tup' in o) return new TupleValue((o['#tup'] as unknown[]).map(fromItf));
  if ('#map' in o) {
    const pairs = o['#map'] as unknown[][];
    return fcnFromPairs(
      pairs.map((p) => fromItf(p[0])),
      pairs.map((p) => fromItf(p[1])),
    );
  }
  if ('#unserializable' in o) return modelValue(String(o['#unserializable']));
  return mkRecord(Object.entries(o).map(([k, v]) => [k, fromItf(v)] as const));
}

// ---------------------------------------------------------------------------------------
// Symmetry

/** The value with every model value m replaced by perm.get(m) (when present). */
export function permute(v: Value, perm: ReadonlyMap<ModelValue, ModelValue>): Value {
  if (typeof v !== 'object') return v;
  if (v instanceof ModelValue) return perm.get(v) ?? v;
  return permuteComposite(v, perm);
}

function permuteComposite(v: SetValue | FcnLike, perm: ReadonlyMap<ModelValue, ModelValue>): Value {
  if (v instanceof SetValue) {
    const es = v.normalized().elems;
    let changed = false;
    let allMv = true;
    const out: Value[] = new Array(es.length);
    for (let i = 0; i < es.length; i++) {
      const e = es[i]!;
      const p = permute(e, perm);
      if (p !== e) changed = true;
      if (!(p instanceof ModelValue)) allMv = false;
      out[i] = p;
    }
    if (!changed) return v;
    if (allMv) return new SetEnum(out.sort((a, b) => (a as ModelValue).index - (b as ModelValue).index));
    return setOf(out);
  }
  if (v instanceof TupleValue) {
    let changed = false;
    const out = v.elems.map((e) => {
      const p = permute(e, perm);
      if (p !== e) changed = true;
      return p;
    });
    return changed ? new TupleValue(out) : v;
  }
  if (v instanceof RecordValue) {
    let changed = false;
    const out = v.vals.map((e) => {
      const p = permute(e, perm);
      if (p !== e) changed = true;
      return p;
    });
    return changed ? new RecordValue(v.names, out) : v;
  }
  const f = v instanceof LazyFcn ? v.materialize() : v;
  if (!(f instanceof FcnValue)) return permute(f, perm);
  let changed = false;
  let allMv = true;
  const n = f.dom.length;
  const ks: Value[] = new Array(n);
  const vs: Value[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const k = permute(f.dom[i]!, perm);
    const x = permute(f.vals[i]!, perm);
    if (k !== f.dom[i] || x !== f.vals[i]) changed = true;
    if (!(k instanceof ModelValue)) allMv = false;
    ks[i] = k;
    vs[i] = x;
  }
  if (!changed) return f;
  if (allMv) {
    // A function on model values (the usual symmetric case): sort by model value index.
    const order = ks
      .map((_, i) => i)
      .sort((a, b) => (ks[a] as ModelValue).index - (ks[b] as ModelValue).index);
    return new FcnValue(
      order.map((i) => ks[i]!),
      order.map((i) => vs[i]!),
    );
  }
  return fcnFromPairs(ks, vs);
}

// ---------------------------------------------------------------------------------------
// Constructors (for the .cfg reader and tests)

export function int(n: number): number {
  if (!Number.isInteger(n)) throw evalError(`${n} is not an integer`);
  return checkInt(n, n, '+', 0);
}
export function str(s: string): string {
  return s;
}
export function bool(b: boolean): boolean {
  return b;
}
export function setOfValues(vs: readonly Value[]): SetEnum {
  return setOf([...vs]);
}
export function tuple(vs: readonly Value[]): TupleValue {
  return vs.length === 0 ? EMPTY_TUPLE : new TupleValue([...vs]);
}
export function record(fields: Readonly<Record<string, Value>>): Value {
  return mkRecord(Object.entries(fields));
}
