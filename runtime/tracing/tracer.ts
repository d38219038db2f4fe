// The engine's side of tracing: decides which messages are traced and turns visits into
// reports. The engine holds a Tracer only when sampling is on; with sampling off it holds none
// and checks one null per batch.
import { formatMessageId } from '../engine/ids.ts';
import { traceHash } from './hash.ts';
import type { TraceSink } from './report.ts';
import type { Sampling } from './sampling.ts';
import { sampler } from './sampling.ts';

export interface TracingOptions {
  readonly sampling: Sampling;
  readonly sink: TraceSink;
  /** Add an excerpt of a state step's state after each traced visit (`underivedState`). */
  readonly withState?: boolean;
}

export class Tracer {
  readonly sampled: (source: number, offset: number) => boolean;
  readonly withState: boolean;
  reports = 0;

  constructor(
    private readonly instanceId: string,
    private readonly sink: TraceSink,
    sampledFn: (source: number, offset: number) => boolean,
    withState: boolean,
  ) {
    this.sampled = sampledFn;
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
    this.sink.report({
      messageId,
      workerType,
      instanceId: this.instanceId,
      stateIndex,
      hash,
      predecessorHashes: preds,
      ...(ended ? { ended: true } : {}),
      ...(state !== undefined ? { underivedState: state } : {}),
    });
    return hash;
  }
}

/** The tracer of an engine, or null when sampling is off. */
export function createTracer(instanceId: string, opts: TracingOptions | undefined): Tracer | null {
  if (!opts) return null;
  const s = sampler(opts.sampling);
  if (s === null) return null;
  return new Tracer(instanceId, opts.sink, s, opts.withState === true);
}
