// A small log-bucketed latency histogram (about 1% relative precision) whose buckets travel
// as plain data, so the initializer can merge the workers' histograms exactly.
import { countOf } from './text.ts';

const GROWTH = 1.01;
const LOG_GROWTH = Math.log(GROWTH);
/** Values below 1 us share bucket 0. */
const MAX_BUCKET = 4096;

export interface LatencySummary {
  readonly count: number;
  readonly p50Us: number;
  readonly p90Us: number;
  readonly p99Us: number;
  readonly p999Us: number;
  readonly maxUs: number;
}

export class LatencyHistogram {
  private readonly counts = new Float64Array(MAX_BUCKET + 1);
  private total = 0;
  private max = 0;

  recordUs(latencyUs: number): void {
    this.recordUsWithCount(latencyUs, 1);
  }

  recordUsWithCount(latencyUs: number, count: number): void {
    const v = latencyUs > 0 ? latencyUs : 0;
    const b = v < 1 ? 0 : Math.min(MAX_BUCKET, 1 + Math.floor(Math.log(v) / LOG_GROWTH));
    this.counts[b]! += count;
    this.total += count;
    if (v > this.max) this.max = v;
  }

  get count(): number {
    return this.total;
  }

  /** Upper bound of the bucket holding quantile q (0..1). */
  quantileUs(q: number): number {
    if (this.total === 0) return 0;
    const rank = Math.max(1, Math.ceil(q * this.total));
    let seen = 0;
    for (let b = 0; b <= MAX_BUCKET; b++) {
      seen += this.counts[b]!;
      if (seen >= rank) return Math.min(this.max, b === 0 ? 1 : Math.pow(GROWTH, b));
    }
    return this.max;
  }

  summary(): LatencySummary {
    return {
      count: this.total,
      p50Us: this.quantileUs(0.5),
      p90Us: this.quantileUs(0.9),
      p99Us: this.quantileUs(0.99),
      p999Us: this.quantileUs(0.999),
      maxUs: this.max,
    };
  }

  /** Non-empty buckets as [bucket, count] pairs, plus the maximum. */
  toJSON(): { buckets: Array<[number, number]>; maxUs: number } {
    const buckets: Array<[number, number]> = [];
    for (let b = 0; b <= MAX_BUCKET; b++) if (this.counts[b]! > 0) buckets.push([b, this.counts[b]!]);
    return { buckets, maxUs: this.max };
  }

  /** Adds another histogram's buckets (from toJSON). */
  merge(data: { buckets: ReadonlyArray<readonly [number, number]>; maxUs: number }): void {
    for (const [b, c] of data.buckets) {
      if (!Number.isInteger(b) || b < 0 || b > MAX_BUCKET || !(c >= 0))
        throw new Error(`latency histogram: bad bucket [${b}, ${c}]`);
      this.counts[b]! += c;
      this.total += c;
    }
    if (data.maxUs > this.max) this.max = data.maxUs;
  }
}

export function formatLatency(s: LatencySummary): string {
  const f = (us: number) => (us >= 1000 ? `${(us / 1000).toFixed(2)} ms` : `${Math.round(us)} us`);
  return `p50 ${f(s.p50Us)}, p90 ${f(s.p90Us)}, p99 ${f(s.p99Us)}, p99.9 ${f(s.p999Us)}, max ${f(s.maxUs)} (${countOf(s.count, 'message')})`;
}

/**
 * A recorder that passes latencies on to `into` only once `warmupMs` have passed since the
 * first one it was given (JIT compilation and heap growth make a worker's first seconds slower
 * than its steady state); `skipped` counts the messages left out.
 */
export class WarmedUpRecorder {
  private firstMs = -1;
  /** Past the warm-up: the clock is no longer read (recordUs runs once per message). */
  private warmed = false;
  skipped = 0;
  constructor(
    private readonly into: LatencyHistogram,
    private readonly monotonicMs: () => number,
    private readonly warmupMs: number,
  ) {}

  private warm(count: number): boolean {
    if (this.warmed) return true;
    const now = this.monotonicMs();
    if (this.firstMs < 0) this.firstMs = now;
    if (now - this.firstMs >= this.warmupMs) return (this.warmed = true);
    this.skipped += count;
    return false;
  }

  recordUs(latencyUs: number): void {
    if (this.warm(1)) this.into.recordUs(latencyUs);
  }

  recordUsWithCount(latencyUs: number, count: number): void {
    if (this.warm(count)) this.into.recordUsWithCount(latencyUs, count);
  }
}
