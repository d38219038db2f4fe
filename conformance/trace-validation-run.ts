// One run's records validated against every spec they record steps of, as `buffy sim
// --validate`, `buffy validate-log` and `npm run chaos` do: the channels against
// specs/Delivery.tla (trace-validation.ts), the commit tracker against specs/Ack.tla
// (trace-validation-ack.ts), the workers' exactly-once cores against specs/Recovery.tla
// (trace-validation-recovery.ts).
import type { ProtocolRecord } from '../runtime/sim/record.ts';
import {
  formatValidationSummary,
  validateRecords,
  type TraceValidationReport,
  type TraceViolation,
} from './trace-validation.ts';
import { formatAckSummary, validateAckRecords, type AckValidation } from './trace-validation-ack.ts';
import {
  formatRecoverySummary,
  validateRecovery,
  type RecoveryValidation,
} from './trace-validation-recovery.ts';

export interface RunValidation {
  readonly delivery: TraceValidationReport;
  readonly ack: AckValidation;
  readonly recovery: RecoveryValidation;
  /** Every protocol's, Delivery's first. */
  readonly violations: readonly TraceViolation[];
  /** The three validations' time together. */
  readonly elapsedMs: number;
}

export async function validateRun(records: readonly ProtocolRecord[]): Promise<RunValidation> {
  const delivery = await validateRecords(records);
  const ack = await validateAckRecords(records);
  const recovery = await validateRecovery(records);
  return {
    delivery,
    ack,
    recovery,
    violations: [...delivery.violations, ...ack.violations, ...recovery.violations],
    elapsedMs: delivery.elapsedMs + ack.elapsedMs + recovery.elapsedMs,
  };
}

/** A summary line per protocol: Delivery's always, Ack's and Recovery's when the run recorded them. */
export function formatRunSummaries(v: RunValidation): string[] {
  const out = [formatValidationSummary(v.delivery)];
  if (v.ack.instances.length + v.ack.notValidated.length > 0) out.push(formatAckSummary(v.ack));
  if (v.recovery.instances.length + v.recovery.unchecked.length > 0)
    out.push(formatRecoverySummary(v.recovery));
  return out;
}
