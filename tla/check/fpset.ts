// A compact set of 64-bit state fingerprints that numbers the states it has seen (0, 1, 2...)
// and remembers, for each, the number of the state it was first reached from. The checker
// keeps no full state per seen state: counterexamples are rebuilt by replaying successors along
// the parent chain. About 20 bytes per state: an open-addressing table of state numbers
// (load <= 0.5) and per-state arrays for the fingerprint halves and the parent.

const EMPTY = -1;
/** Largest number of states the set can number (the state number is an int32). */
export const MAX_FP_STATES = 0x7fff_fff0;

export class FingerprintSet {
  private table: Int32Array;
  private mask: number;
  private fpHi: Uint32Array;
  private fpLo: Uint32Array;
  private parents: Int32Array;
  private count = 0;

  constructor(initialCapacity = 1 << 12) {
    let cap = 16;
    while (cap < initialCapacity * 2) cap *= 2;
    this.table = new Int32Array(cap).fill(EMPTY);
    this.mask = cap - 1;
    this.fpHi = new Uint32Array(initialCapacity);
    this.fpLo = new Uint32Array(initialCapacity);
    this.parents = new Int32Array(initialCapacity);
  }

  get size(): number {
    return this.count;
  }

  /** Bytes held by the set's arrays. */
  get bytes(): number {
    return this.table.byteLength + this.fpHi.byteLength + this.fpLo.byteLength + this.parents.byteLength;
  }

  /** The state number of the fingerprint, or -1 when it was never added. */
  find(hi: number, lo: number): number {
    let slot = mix(hi, lo) & this.mask;
    for (;;) {
      const idx = this.table[slot]!;
      if (idx === EMPTY) return -1;
      if (this.fpLo[idx] === lo && this.fpHi[idx] === hi) return idx;
      slot = (slot + 1) & this.mask;
    }
  }

  /**
   * Adds the fingerprint if it is new and returns its new state number; returns -(n + 1) when it
   * was already present as state n.
   */
  add(hi: number, lo: number, parent: number): number {
    hi >>>= 0;
    lo >>>= 0;
    let slot = mix(hi, lo) & this.mask;
    for (;;) {
      const idx = this.table[slot]!;
      if (idx === EMPTY) break;
      if (this.fpLo[idx] === lo && this.fpHi[idx] === hi) return -(idx + 1);
      slot = (slot + 1) & this.mask;
    }
    if (this.count >= MAX_FP_STATES) {
      throw new Error(`the fingerprint set is full (${MAX_FP_STATES} states)`);
    }
    const idx = this.count++;
    if (idx >= this.fpHi.length) this.growArrays();
    this.fpHi[idx] = hi;
    this.fpLo[idx] = lo;
    this.parents[idx] = parent;
    this.table[slot] = idx;
    if (this.count * 2 > this.table.length) this.rehash();
    return idx;
  }

  parent(idx: number): number {
    return this.parents[idx]!;
  }

  hi(idx: number): number {
    return this.fpHi[idx]!;
  }

  lo(idx: number): number {
    return this.fpLo[idx]!;
  }

  private growArrays(): void {
    const n = this.fpHi.length * 2;
    const hi = new Uint32Array(n);
    hi.set(this.fpHi);
    const lo = new Uint32Array(n);
    lo.set(this.fpLo);
    const par = new Int32Array(n);
    par.set(this.parents);
    this.fpHi = hi;
    this.fpLo = lo;
    this.parents = par;
  }

  private rehash(): void {
    const cap = this.table.length * 2;
    const table = new Int32Array(cap).fill(EMPTY);
    const mask = cap - 1;
    for (let idx = 0; idx < this.count; idx++) {
      let slot = mix(this.fpHi[idx]!, this.fpLo[idx]!) & mask;
      while (table[slot] !== EMPTY) slot = (slot + 1) & mask;
      table[slot] = idx;
    }
    this.table = table;
    this.mask = mask;
  }
}

/** Spreads the two halves over the table index bits (fingerprints are already well mixed). */
function mix(hi: number, lo: number): number {
  let h = (lo ^ Math.imul(hi, 0x9e3779b1)) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return h >>> 0;
}

/** Splits a 64-bit fingerprint into [hi, lo] uint32 halves. */
export function splitFingerprint(fp: bigint): [number, number] {
  return [Number((fp >> 32n) & 0xffff_ffffn), Number(fp & 0xffff_ffffn)];
}

/**
 * A bounded map from 64-bit fingerprints to 64-bit fingerprints (open addressing); when full it
 * starts again empty, so it is a cache, never a store.
 */
export class FingerprintMap {
  private keys: Uint32Array;
  private vals: Uint32Array;
  private used: Uint8Array;
  private count = 0;
  private readonly mask: number;

  constructor(capacityLog2 = 20) {
    const cap = 1 << capacityLog2;
    this.mask = cap - 1;
    this.keys = new Uint32Array(cap * 2);
    this.vals = new Uint32Array(cap * 2);
    this.used = new Uint8Array(cap);
  }

  get(hi: number, lo: number, out: Uint32Array): boolean {
    let slot = mix(hi, lo) & this.mask;
    while (this.used[slot]) {
      if (this.keys[2 * slot] === hi && this.keys[2 * slot + 1] === lo) {
        out[0] = this.vals[2 * slot]!;
        out[1] = this.vals[2 * slot + 1]!;
        return true;
      }
      slot = (slot + 1) & this.mask;
    }
    return false;
  }

  set(hi: number, lo: number, vhi: number, vlo: number): void {
    if (this.count * 2 >= this.used.length) {
      this.used.fill(0);
      this.count = 0;
    }
    let slot = mix(hi, lo) & this.mask;
    while (this.used[slot]) {
      if (this.keys[2 * slot] === hi && this.keys[2 * slot + 1] === lo) break;
      slot = (slot + 1) & this.mask;
    }
    if (!this.used[slot]) this.count++;
    this.used[slot] = 1;
    this.keys[2 * slot] = hi;
    this.keys[2 * slot + 1] = lo;
    this.vals[2 * slot] = vhi;
    this.vals[2 * slot + 1] = vlo;
  }
}
