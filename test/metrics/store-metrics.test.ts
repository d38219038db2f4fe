// Exactly-once's metrics on embedded runs with an LMDB store (as `buffy run --state DIR
// --metrics`): commits counted once per commit (as many as the shell made, far fewer than the
// messages), their latency histogram and bytes, the outbox, and a recovery counted, with what it
// loaded, when a second run opens the same store.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { defineApp } from '../../runtime/api/app.ts';
import type { Application } from '../../runtime/api/app.ts';
import { stringCodec } from '../../runtime/api/codec.ts';
import { MemoryDeadLetterSink } from '../../runtime/engine/dead-letters.ts';
import { startEmbedded } from '../../runtime/engine/embedded.ts';
import { createWorkerMetering } from '../../runtime/metrics/index.ts';
import { openLmdbStore } from '../../runtime/store/lmdb-store.ts';
import { createSystemClock } from '../../runtime/system.ts';
import type { Logger } from '../../runtime/types.ts';
import { parsePrometheusText, sum } from './cluster.ts';

const clock = createSystemClock();
const silent: Logger = { info: () => undefined, warn: () => undefined, error: () => undefined };
let dir = '';
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'buffy-store-metrics-'));
  mkdirSync(path.join(dir, 'state'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function countApp(input: string, output: string): Application {
  const app = defineApp('store-metrics', { partitions: 8 });
  app
    .source('lines', { uri: `file:${input}`, decode: stringCodec })
    .flatMap('split', (l: string) => l.split(' ').filter((w) => w !== ''))
    .state('count', {
      key: (w: string) => w,
      init: () => 0,
      update: (n: number, w: string, emit: (o: string) => void) => {
        emit(`${w} ${n + 1}`);
        return n + 1;
      },
      codec: stringCodec,
    })
    .sink('out', { uri: `file:${output}`, encode: stringCodec });
  return app.build();
}

const lines = (n: number, from: number): string =>
  Array.from({ length: n }, (_, i) => `w${(from + i) % 11} v${(from + i) % 5}\n`).join('');

/** One embedded run on the store in `dir`, metered; returns the scrape after it and the shell's
 * own numbers. */
async function meteredRun(input: string, output: string) {
  const app = countApp(input, output);
  const store = await openLmdbStore({
    dir: path.join(dir, 'state'),
    app: app.name,
    version: '1',
    partitions: app.partitionCount,
    durability: 'batch',
    owner: 'worker "embedded"',
  });
  try {
    const metering = createWorkerMetering({ app, worker: 'embedded', clock, processMetrics: false });
    const run = startEmbedded(app, {
      clock,
      log: silent,
      deadLetters: metering.deadLetters(new MemoryDeadLetterSink(silent)),
      observer: metering.observer,
      exactlyOnce: { store: metering.store(store), durability: 'batch', commitIntervalMs: 1 },
    });
    metering.attach(run.engine);
    const summary = await run.done;
    const samples = parsePrometheusText(await metering.metrics.text());
    return {
      samples,
      eo: run.engine.exactlyOnceSnapshot()!,
      json: metering.metrics.snapshot(clock.nowMs()),
      ingested: summary.metrics.ingested,
    };
  } finally {
    await store.close();
  }
}

describe('store and recovery metrics (exactly-once, embedded, LMDB)', () => {
  it('counts commits per commit, times and sizes them, and counts a recovery on the same store', async () => {
    const input = path.join(dir, 'in.txt');
    const output = path.join(dir, 'out.txt');
    writeFileSync(input, lines(20_000, 0));
    const first = await meteredRun(input, output);
    const s1 = first.samples;
    const commits1 = sum(s1, 'buffy_store_commits_total');
    expect(commits1).toBeGreaterThan(0);
    expect(commits1).toBe(first.eo.commits);
    expect(commits1).toBeLessThan(first.ingested);
    expect(sum(s1, 'buffy_store_commit_seconds_count')).toBe(commits1);
    expect(sum(s1, 'buffy_store_commit_seconds_sum')).toBeGreaterThan(0);
    expect(sum(s1, 'buffy_store_commit_seconds_bucket', { le: '+Inf' })).toBe(commits1);
    // The file sink's outputs skip the store (written at once, the file's length committed):
    // the store wrote states, marks and lengths, less than the output file holds.
    const outBytes = readFileSync(output).byteLength;
    expect(sum(s1, 'buffy_store_written_bytes_total')).toBeGreaterThan(0);
    expect(sum(s1, 'buffy_store_written_bytes_total')).toBeLessThan(outBytes);
    expect(sum(s1, 'buffy_outbox_messages')).toBe(0);
    expect(sum(s1, 'buffy_recoveries_total')).toBe(0);
    expect(s1.some((s) => s.name === 'buffy_recoveries_total')).toBe(true);
    expect(first.json.store?.commits).toBe(commits1);
    expect(first.json.store?.lastRecovery).toBeNull();

    appendFileSync(input, lines(5_000, 20_000));
    const second = await meteredRun(input, output);
    const s2 = second.samples;
    expect(sum(s2, 'buffy_recoveries_total')).toBe(1);
    const words = new Set(readFileSync(input, 'utf8').slice(0, lines(20_000, 0).length).split(/\s+/));
    words.delete('');
    expect(sum(s2, 'buffy_last_recovery_states')).toBe(words.size);
    expect(sum(s2, 'buffy_last_recovery_outbox_entries')).toBe(0);
    expect(sum(s2, 'buffy_last_recovery_seconds')).toBeGreaterThan(0);
    // The second run read only the appended lines, and committed them.
    expect(second.ingested).toBe(5_000);
    expect(sum(s2, 'buffy_store_commits_total')).toBe(second.eo.commits);
    expect(sum(s2, 'buffy_store_commits_total')).toBeGreaterThan(0);
    expect(second.json.store?.recoveries).toBe(1);
    expect(second.json.store?.lastRecovery?.states).toBe(words.size);
  });
});
