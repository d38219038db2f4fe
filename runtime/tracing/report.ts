// A trace report: one visit of a logical message at one worker.
import { z } from 'zod';

export interface TraceReport {
  /** The id of the message the worker received (runtime/engine/ids.ts formatMessageId). */
  readonly messageId: string;
  /** The step (worker type) visited. */
  readonly workerType: string;
  /** The worker process (instance) that ran the visit. */
  readonly instanceId: string;
  /** For a state step, its partition's state index after the visit; 0 for other steps. */
  readonly stateIndex: number;
  /** For a state step traced with `withState`, an excerpt of the key's state after the visit. */
  readonly underivedState?: string;
  /** This visit's hash (runtime/tracing/hash.ts), forwarded downstream with the message. */
  readonly hash: number;
  /** The hashes of the visits that handed the message here (none at a source). */
  readonly predecessorHashes: readonly number[];
  /** The message ended here without reaching a sink: filtered out, no outputs, or failed. */
  readonly ended?: boolean;
}

const u53 = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

export const traceReportSchema = z.object({
  messageId: z.string().min(1).max(200),
  workerType: z.string().min(1).max(100),
  instanceId: z.string().min(1).max(200),
  stateIndex: u53,
  underivedState: z.string().max(1000).optional(),
  hash: u53.min(1),
  predecessorHashes: z.array(u53.min(1)).max(64),
  ended: z.boolean().optional(),
});

/** The root of a message id: `source:offset` (the part every descendant shares). */
export function rootOf(messageId: string): string {
  const cut = messageId.search(/[/#]/);
  return cut < 0 ? messageId : messageId.slice(0, cut);
}

/** Where a tracer sends its reports (in memory, to a receiver over the network, ...). */
export interface TraceSink {
  report(r: TraceReport): void;
}
