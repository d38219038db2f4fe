// Exactly-once's store commits and recoveries as metrics. `MeteredStore` wraps a worker's
// store: each writeBatch is one commit (the exactly-once shell writes one batch per commit and
// nothing else writes), timed and sized once per commit, never per message. The outbox and the
// last recovery are read from the engine's exactly-once snapshot at scrape time.
//
// Names (labels pipeline, worker):
//   buffy_store_commits_total, buffy_store_commit_seconds (histogram),
//   buffy_store_written_bytes_total, buffy_store_written_keys_total
//   buffy_outbox_entries, buffy_outbox_messages (gauges)
//   buffy_recoveries_total, buffy_last_recovery_seconds, buffy_last_recovery_states,
//   buffy_last_recovery_outbox_entries, buffy_last_recovery_outbox_messages (gauges)
import { Counter, Gauge, Histogram } from 'prom-client';
import type { Registry } from 'prom-client';
import type { Clock, Store, StoreOp } from '../types.ts';

/** Store commits take about 1-6 ms with LMDB (runtime/store/README.md); up to seconds on a
 * slow disk with `sync`. */
export const COMMIT_SECONDS_BUCKETS = [
  0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10,
];

/** The exactly-once numbers the metrics read (WorkerEngineImpl.exactlyOnceSnapshot()). */
export interface ExactlyOnceView {
  readonly outboxEntries: number;
  readonly outboxMessages: number;
  readonly recovery: {
    readonly seconds: number;
    readonly states: number;
    readonly outboxEntries: number;
    readonly outboxMessages: number;
    readonly resumed: boolean;
  } | null;
}

/** The JSON view of the store's figures in a WorkerSnapshot. */
export interface StoreSnapshot {
  readonly commits: number;
  readonly commitSecondsTotal: number;
  readonly writtenBytes: number;
  readonly outboxEntries: number;
  readonly outboxMessages: number;
  readonly recoveries: number;
  readonly lastRecovery: ExactlyOnceView['recovery'];
}

const utf8Length = (s: string): number => Buffer.byteLength(s, 'utf8');

/** A Store that counts and times its commits (writeBatch); reads pass through untouched. */
export class MeteredStore implements Store {
  commits = 0;
  commitSecondsTotal = 0;
  writtenBytes = 0;
  writtenKeys = 0;
  /** Per commit: its seconds (the histogram's observe). */
  onCommit: ((seconds: number) => void) | null = null;

  constructor(
    private readonly inner: Store,
    private readonly clock: Clock,
  ) {}

  get(key: string): Promise<Uint8Array | undefined> {
    return this.inner.get(key);
  }

  scan(prefix: string): AsyncIterable<readonly [string, Uint8Array]> {
    return this.inner.scan(prefix);
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  async writeBatch(ops: readonly StoreOp[]): Promise<void> {
    let bytes = 0;
    for (const op of ops) bytes += utf8Length(op.key) + (op.value === null ? 0 : op.value.byteLength);
    const t0 = this.clock.monotonicMs();
    await this.inner.writeBatch(ops);
    const seconds = (this.clock.monotonicMs() - t0) / 1000;
    this.commits++;
    this.commitSecondsTotal += seconds;
    this.writtenBytes += bytes;
    this.writtenKeys += ops.length;
    this.onCommit?.(seconds);
  }
}

/** Registers the store and recovery metrics; `store()` and `eo()` are read at scrape time.
 * Returns the histogram's observer, for MeteredStore.onCommit. */
export function registerStoreMetrics(
  registry: Registry,
  store: () => MeteredStore | null,
  eo: () => ExactlyOnceView | null,
): (seconds: number) => void {
  const reg = [registry];
  const counter = (name: string, help: string, value: (s: MeteredStore) => number): void => {
    new Counter({
      name,
      help,
      registers: reg,
      collect() {
        this.reset();
        const s = store();
        if (s) this.inc(value(s));
      },
    });
  };
  counter('buffy_store_commits_total', 'Exactly-once commits written to the store.', (s) => s.commits);
  counter(
    'buffy_store_written_bytes_total',
    'Bytes of keys and values written to the store by the commits.',
    (s) => s.writtenBytes,
  );
  counter('buffy_store_written_keys_total', 'Keys written or deleted by the commits.', (s) => s.writtenKeys);
  const histogram = new Histogram({
    name: 'buffy_store_commit_seconds',
    help: 'Time of one commit (Store.writeBatch) from its start to its durability.',
    buckets: COMMIT_SECONDS_BUCKETS,
    registers: reg,
  });
  const gauge = (name: string, help: string, value: (v: ExactlyOnceView) => number | undefined): void => {
    new Gauge({
      name,
      help,
      registers: reg,
      collect() {
        this.reset();
        const v = eo();
        const n = v ? value(v) : undefined;
        if (n !== undefined) this.set(n);
      },
    });
  };
  gauge(
    'buffy_outbox_entries',
    'Outbox entries: committed outputs not yet acknowledged by their sinks.',
    (v) => v.outboxEntries,
  );
  gauge(
    'buffy_outbox_messages',
    'Committed outputs not yet written and acknowledged by their sinks (acks outstanding).',
    (v) => v.outboxMessages,
  );
  new Counter({
    name: 'buffy_recoveries_total',
    help: 'Starts of this worker that recovered from a store holding earlier work.',
    registers: reg,
    collect() {
      this.reset();
      const r = eo()?.recovery;
      this.inc(r?.resumed ? 1 : 0);
    },
  });
  const last = (
    name: string,
    help: string,
    value: (r: NonNullable<ExactlyOnceView['recovery']>) => number,
  ): void => gauge(name, help, (v) => (v.recovery?.resumed ? value(v.recovery) : undefined));
  last('buffy_last_recovery_seconds', 'Duration of the last recovery from the store.', (r) => r.seconds);
  last('buffy_last_recovery_states', 'Keyed states the last recovery loaded.', (r) => r.states);
  last(
    'buffy_last_recovery_outbox_entries',
    'Outbox entries the last recovery loaded (written to the sinks again).',
    (r) => r.outboxEntries,
  );
  last(
    'buffy_last_recovery_outbox_messages',
    'Outputs in the outbox entries the last recovery loaded.',
    (r) => r.outboxMessages,
  );
  return (seconds) => histogram.observe(seconds);
}

export function storeSnapshot(store: MeteredStore | null, eo: ExactlyOnceView | null): StoreSnapshot {
  const r = eo?.recovery ?? null;
  return {
    commits: store?.commits ?? 0,
    commitSecondsTotal: store?.commitSecondsTotal ?? 0,
    writtenBytes: store?.writtenBytes ?? 0,
    outboxEntries: eo?.outboxEntries ?? 0,
    outboxMessages: eo?.outboxMessages ?? 0,
    recoveries: r?.resumed ? 1 : 0,
    lastRecovery: r?.resumed ? r : null,
  };
}
