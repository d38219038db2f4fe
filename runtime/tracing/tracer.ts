// The engine's side of tracing: decides which messages are traced and turns visits into
// reports. The engine holds a Tracer only when sampling is on; with sampling off it holds none
// and checks one null per batch.
import { formatMessageId } from '../engine/ids.ts';
import { traceHash } from './hash.ts';
import type { TraceReport, TraceSink } from './report.ts';
import type { Sampler, Sampling } from './sampling.ts';
import { samplerOf } from './sampling.ts';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

export interface TracingOptions {
  readonly sampling: Sampling;
  readonly sink: TraceSink;
  /** Add an excerpt of a state step's state after each traced visit (`underivedState`). */
  readonly withState?: boolean;
}

export class Tracer {
  /** Is the message with this root traced? */
  readonly sampled: (source: number, offset: number) => boolean;
  /** The traced messages of a run of consecutive offsets (runtime/tracing/sampling.ts). */
  readonly sampledRun: (source: number, first: number, count: number) => number[] | null;
  readonly withState: boolean;
  reports = 0;

  constructor(
    private readonly instanceId: string,
    private readonly sink: TraceSink,
    sampler: Sampler,
    withState: boolean,
  ) {
    this.sampled = sampler.one;
    this.sampledRun = sampler.run;
    this.withState = withState;
  }

  /** Reports one visit and returns its hash (to forward with the message's outputs). */
  visit(
    workerType: string,
    source: number,
    offset: number,
    sub: number,
    stateIndex: number,
    predecessor: number,
    ended: boolean,
    state?: string,
  ): number {
    const messageId = formatMessageId(source, offset, sub);
    const preds = predecessor === 0 ? [] : [predecessor];
    const hash = traceHash(messageId, workerType, this.instanceId, stateIndex, preds);
    this.reports++;
    const r: Mutable<TraceReport> = {
      messageId,
      workerType,
      instanceId: this.instanceId,
      stateIndex,
      hash,
      predecessorHashes: preds,
    };
    if (ended) r.ended = true;
    if (state !== undefined) r.underivedState = state;
    this.sink.report(r);
    return hash;
  }
}

/** The tracer of an engine, or null when sampling is off. */
export function createTracer(instanceId: string, opts: TracingOptions | undefined): Tracer | null {
  if (!opts) return null;
  const s = samplerOf(opts.sampling);
  if (s === null) return null;
  return new Tracer(instanceId, opts.sink, s, opts.withState === true);
}
