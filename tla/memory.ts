// The checker's heap budget. A model too large for memory must stop with an error that says
// what did not fit, never with V8's "heap out of memory" abort. Two guards share one budget:
//  - before a large set is enumerated, its size times an estimate of the bytes per element is
//    compared with the room left (values.ts calls `reserveEnumeration`);
//  - during a search, heap use is sampled every few thousand generated states (`HeapWatch`).
// The budget is a fraction of V8's heap limit (raised with NODE_OPTIONS=--max-old-space-size),
// or lower when set (`setHeapBudget`, the CLI's --max-heap), which keeps tests cheap.
import os from 'node:os';
import v8 from 'node:v8';
import vm from 'node:vm';
import { TlaError } from './errors.ts';

/** The share of V8's heap limit the checker lets itself use (the rest is for reporting, GC slack). */
export const HEAP_LIMIT_SHARE = 0.85;

let configured: number | null = null;

/** Sets the budget in bytes (capped by the share of V8's limit); null restores the default. */
export function setHeapBudget(bytes: number | null): void {
  if (bytes !== null && !(bytes > 0)) throw new RangeError(`heap budget must be positive, got ${bytes}`);
  configured = bytes;
}

/** The budget set by setHeapBudget, or null when it is the default. */
export function configuredHeapBudget(): number | null {
  return configured;
}

/** V8's heap limit in bytes. */
export function v8HeapLimit(): number {
  return v8.getHeapStatistics().heap_size_limit;
}

/**
 * The young generation's part of V8's heap limit (three 16 MB semi-spaces on 64-bit node):
 * V8 gives up when the old generation alone reaches the rest.
 */
const YOUNG_GENERATION = 48 * 2 ** 20;

/** The largest budget: a share of the old generation's limit. */
function maxBudget(): number {
  return Math.floor(Math.max(0, v8HeapLimit() - YOUNG_GENERATION) * HEAP_LIMIT_SHARE);
}

/** Bytes of heap the checker may fill. */
export function heapBudget(): number {
  const share = maxBudget();
  return configured === null ? share : Math.min(configured, share);
}

/** Bytes of heap in use now (live data and garbage not yet collected). */
export function heapUsed(): number {
  return v8.getHeapStatistics().used_heap_size;
}

let gcFn: (() => void) | null | undefined;

/**
 * A full garbage collection, so that heap use near the budget is measured as live data and
 * not as garbage. Only called when use is already over the budget (rare). Uses the global
 * `gc` when node runs with --expose-gc, else obtains one the way test runners do.
 */
function collectGarbage(): boolean {
  if (gcFn === undefined) {
    const g = (globalThis as { gc?: () => void }).gc;
    if (typeof g === 'function') gcFn = g;
    else {
      try {
        v8.setFlagsFromString('--expose-gc');
        const f: unknown = vm.runInNewContext('gc');
        gcFn = typeof f === 'function' ? (f as () => void) : null;
      } catch {
        gcFn = null;
      }
    }
  }
  if (!gcFn) return false;
  gcFn();
  return true;
}

/** Whether `extra` more bytes fit in the budget; collects garbage before saying no. */
function fits(extra: number, budget: number): boolean {
  if (heapUsed() + extra <= budget) return true;
  if (!collectGarbage()) return false;
  return heapUsed() + extra <= budget;
}

const MB = 2 ** 20;
const GB = 2 ** 30;

/** "1.2 GB", "340 MB", "12 kB" (binary units, as node's --max-old-space-size counts MB). */
export function formatBytes(n: number): string {
  if (n >= GB) return `${(n / GB).toFixed(1)} GB`;
  if (n >= MB) return `${Math.round(n / MB)} MB`;
  return `${Math.max(1, Math.round(n / 1024))} kB`;
}

/**
 * What to do about a budget that is too small, for error messages; `wanted` is the heap the
 * model was about to fill (when known), to suggest a limit that would hold it.
 */
export function raiseAdvice(wanted?: number): string {
  const limitMb = Math.round((v8HeapLimit() - YOUNG_GENERATION) / MB);
  const share = maxBudget();
  if (configured !== null && configured < share)
    return (
      `make the model smaller, or raise --max-heap (now ${Math.round(configured / MB)} MB; node's heap limit ` +
      `of ${limitMb} MB allows up to ${Math.round(share / MB)} MB, more with NODE_OPTIONS=--max-old-space-size=MB)`
    );
  const suggestMb = Math.max(
    limitMb * 2,
    wanted !== undefined ? Math.ceil(wanted / HEAP_LIMIT_SHARE / MB / 1024) * 1024 : 0,
  );
  const ram = os.totalmem();
  const ramNote = suggestMb * MB > ram ? ` (this machine has ${formatBytes(ram)} of memory)` : '';
  return (
    `make the model smaller, or raise node's heap limit (now ${limitMb} MB; the checker uses ` +
    `${Math.round(HEAP_LIMIT_SHARE * 100)}% of it) with NODE_OPTIONS=--max-old-space-size=${suggestMb}${ramNote}`
  );
}

/** A set as it is named in messages (a SetValue; no allocation on the hot path). */
export interface Shown {
  show(): string;
}

/** Elements below this count are enumerated without looking at the heap. */
const SMALL_ENUMERATION = 1 << 16;

/**
 * Called before enumerating `count` elements of about `bytesPerElement` bytes each; throws an
 * evaluation error naming the set (its `show()`), its size and the room left when they would not
 * fit (the evaluator adds the place of the expression being evaluated).
 */
export function reserveEnumeration(count: number, bytesPerElement: number, set: Shown): void {
  if (count < SMALL_ENUMERATION) return;
  const need = count * bytesPerElement;
  const budget = heapBudget();
  if (fits(need, budget)) return;
  const left = Math.max(0, budget - heapUsed());
  throw new TlaError(
    'eval',
    `Refusing to enumerate ${set.show()}: its ${count} elements need about ${formatBytes(need)} of heap, ` +
      `more than the ${formatBytes(left)} left of the checker's ${formatBytes(budget)} budget; ${raiseAdvice(heapUsed() + need)}`,
  );
}

/** The search stopped because the heap passed the checker's budget. */
export class HeapBudgetExceeded extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HeapBudgetExceeded';
  }
}

/** Enumerations look at the heap once per this many elements plus one (2^16). */
export const ENUMERATION_WATCH_MASK = 0xffff;

/**
 * Called every ENUMERATION_WATCH_MASK + 1 elements of an enumeration of `count` elements (the
 * estimate of reserveEnumeration may be low): an evaluation error when the heap is over budget.
 */
export function watchEnumeration(done: number, count: number, set: Shown): void {
  const budget = heapBudget();
  if (heapUsed() <= budget || fits(0, budget)) return;
  throw new TlaError(
    'eval',
    `Stopped enumerating ${set.show()} after ${done} of its ${count} elements: the heap holds ` +
      `${formatBytes(heapUsed())}, over the checker's budget of ${formatBytes(budget)}; ${raiseAdvice()}`,
  );
}

/** Sampled heap use during a search: `over()` is cheap, and true once use passes the budget. */
export class HeapWatch {
  readonly budget: number;
  /** Heap in use when over() last answered true. */
  lastUsed = 0;

  constructor(budget = heapBudget()) {
    this.budget = budget;
  }

  over(): boolean {
    const used = heapUsed();
    if (used <= this.budget) return false;
    // Possibly garbage: measure live data before giving up.
    if (collectGarbage()) {
      const live = heapUsed();
      if (live <= this.budget) return false;
      this.lastUsed = live;
    } else this.lastUsed = used;
    return true;
  }

  /** "the heap holds 3.5 GB, over the checker's budget of 3.4 GB" and what to do. */
  describe(): string {
    return `the heap holds ${formatBytes(this.lastUsed)}, over the checker's budget of ${formatBytes(this.budget)}; ${raiseAdvice()}`;
  }
}
