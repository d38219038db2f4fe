// Per-step counters and latency histograms of one worker, fed by the engine's StepObserver
// (runtime/engine/types.ts): one call per batch entering a step, never one per message.
//
// - messages in: the batch sizes entering the step (from upstream steps on this worker, or for a
//   state step from peer workers); messages out: the batch sizes the step hands to its first
//   successor (every successor receives the same batch). A source's messages in are its
//   messages out plus the ones whose decoding failed (its dead letters).
// - latency from source: at each step, now minus the message's birth time (wall clock; births
//   of one source batch are equal, so a batch is usually one record with its count).
// - latency to sink: when a batch reaches a sink, for every step on the path that led there
//   synchronously on this worker, the time since the batch entered that step. A message that
//   hops to a peer's state step is measured there from that step on.
// Histograms are HdrHistograms (microseconds, 3 significant digits): they merge exactly across
// workers (`encodeHistogram` / `mergeHistograms`).
import * as hdr from 'hdr-histogram-js';
import type { AppNode, Application } from '../api/app.ts';
import type { StepObserver } from '../engine/types.ts';
import type { Clock } from '../types.ts';

export type StepKind = AppNode['kind'];

export interface StepStats {
  readonly id: number;
  readonly name: string;
  readonly kind: StepKind;
  messagesIn: number;
  messagesOut: number;
  /** Batches that entered the step (calls of `enter`). */
  batchesIn: number;
  /** Microseconds from a message's birth at its source to its arrival at this step. */
  readonly fromSource: hdr.Histogram;
  /** Microseconds from a batch's arrival at this step to its arrival at a sink (this worker). */
  readonly toSink: hdr.Histogram;
}

/** Microseconds, 1 us to 1 h (larger values grow the histogram), 3 significant digits. */
export function newLatencyHistogram(): hdr.Histogram {
  return hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 3_600_000_000,
    numberOfSignificantValueDigits: 3,
    autoResize: true,
  });
}

function record(h: hdr.Histogram, us: number, count: number): void {
  h.recordValueWithCount(us >= 1 ? Math.round(us) : 1, count);
}

export class StepMeter implements StepObserver {
  readonly steps: readonly StepStats[];
  /** Per node id: the id of its first successor (-1: none). */
  private readonly firstNext: Int32Array;
  private readonly isSink: Uint8Array;
  /** The steps the batch being processed passed through on this worker, and when. */
  private readonly path: number[] = [];
  private readonly pathMs: number[] = [];

  constructor(
    readonly app: Application,
    private readonly clock: Clock,
  ) {
    this.steps = app.nodes.map((n) => ({
      id: n.id,
      name: n.name,
      kind: n.kind,
      messagesIn: 0,
      messagesOut: 0,
      batchesIn: 0,
      fromSource: newLatencyHistogram(),
      toSink: newLatencyHistogram(),
    }));
    this.firstNext = new Int32Array(app.nodes.length).fill(-1);
    this.isSink = new Uint8Array(app.nodes.length);
    for (const n of app.nodes) {
      if (n.next.length > 0) this.firstNext[n.id] = n.next[0]!;
      if (n.kind === 'sink') this.isSink[n.id] = 1;
    }
  }

  enter(from: number, to: number, count: number, born: readonly number[]): void {
    const now = this.clock.nowMs();
    const path = this.path;
    const pathMs = this.pathMs;
    path.push(to);
    pathMs.push(now);
    const st = this.steps[to]!;
    st.messagesIn += count;
    st.batchesIn++;
    if (from >= 0 && this.firstNext[from] === to) this.steps[from]!.messagesOut += count;
    if (count === 0) return;
    const h = st.fromSource;
    if (born[0] === born[count - 1]) record(h, (now - born[0]!) * 1000, count);
    else {
      for (let i = 0; i < count;) {
        const t = born[i]!;
        let j = i + 1;
        while (j < count && born[j] === t) j++;
        record(h, (now - t) * 1000, j - i);
        i = j;
      }
    }
    if (this.isSink[to] === 1) {
      for (let k = 0; k < path.length - 1; k++)
        record(this.steps[path[k]!]!.toSink, (now - pathMs[k]!) * 1000, count);
    }
  }

  exit(to: number): void {
    const path = this.path;
    // Always the innermost entry: the engine's pushes nest.
    if (path.length > 0 && path[path.length - 1] === to) {
      path.pop();
      this.pathMs.pop();
    }
  }
}

/** The percentiles every latency metric reports. */
export const PERCENTILES = [50, 95, 99, 99.9, 99.99] as const;
/** The Prometheus `quantile` label of each of PERCENTILES. */
export const QUANTILE_LABELS: Readonly<Record<(typeof PERCENTILES)[number], string>> = {
  50: '0.5',
  95: '0.95',
  99: '0.99',
  99.9: '0.999',
  99.99: '0.9999',
};

export function encodeHistogram(h: hdr.Histogram): string {
  return hdr.encodeIntoCompressedBase64(h);
}

/** Merges encoded histograms (from several workers) into one. */
export function mergeHistograms(encoded: readonly string[]): hdr.Histogram {
  const total = newLatencyHistogram();
  for (const e of encoded) total.add(hdr.decodeFromCompressedBase64(e));
  return total;
}
