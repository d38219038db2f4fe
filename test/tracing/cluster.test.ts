// Tracing on live engines: word count (and a forking app) on three workers whose batches cross
// the wire format, sampling 1 in 10; every sampled traversal checks against the flow, and a
// worker that misroutes messages is caught.
import { afterEach, describe, expect, it } from 'vitest';
import wordCount, { splitWords } from '../../examples/word-count.ts';
import { defineApp } from '../../runtime/api/app.ts';
import type { Application } from '../../runtime/api/app.ts';
import { stringCodec } from '../../runtime/api/codec.ts';
import { clearMemoryConnectors, setMemorySource } from '../../runtime/connectors/index.ts';
import { MemoryDeadLetterSink } from '../../runtime/engine/dead-letters.ts';
import { partitionOfKey, roundRobinTable } from '../../runtime/engine/partition.ts';
import { decodeRemoteBatch, encodeRemoteBatch } from '../../runtime/engine/remote-batch.ts';
import { createWorkerEngine } from '../../runtime/engine/worker.ts';
import { parseFlow } from '../../runtime/flow/parse.ts';
import { topologyFlow } from '../../runtime/flow/topology.ts';
import { TraceReceiver } from '../../runtime/tracing/receiver.ts';
import type { TraceReport } from '../../runtime/tracing/report.ts';
import type { Sampling } from '../../runtime/tracing/sampling.ts';
import { sampler } from '../../runtime/tracing/sampling.ts';
import { createSystemClock } from '../../runtime/system.ts';
import type { Logger, RemoteBatch } from '../../runtime/types.ts';

const clock = createSystemClock();
const silent: Logger = { info: () => undefined, warn: () => undefined, error: () => undefined };
afterEach(() => clearMemoryConnectors());

const LINES = Array.from({ length: 400 }, (_, i) =>
  i % 37 === 0 ? '' : `the quick brown fox ${i % 11} jumps over ${i % 7} lazy dogs line ${i}`,
);

async function runCluster(
  app: Application,
  sampling: Sampling,
  sink: { report(r: TraceReport): void },
  rewrite: (from: string, b: RemoteBatch) => RemoteBatch = (_f, b) => b,
  misroute?: (worker: string, b: RemoteBatch) => { worker: string; batch: RemoteBatch }[],
): Promise<void> {
  const names = ['w1', 'w2', 'w3'];
  const table = roundRobinTable(names, app.partitionCount);
  const engines = new Map<string, ReturnType<typeof createWorkerEngine>>();
  for (const name of names) {
    engines.set(
      name,
      createWorkerEngine({
        app,
        workerName: name,
        partitions: table,
        clock,
        log: silent,
        deadLetters: new MemoryDeadLetterSink(),
        runSources: name === 'w1',
        tracing: { sampling, sink },
        remote: {
          send: (worker: string, b: RemoteBatch) => {
            const sends = misroute ? misroute(worker, b) : [{ worker, batch: b }];
            return Promise.all(
              sends.map((x) =>
                engines
                  .get(x.worker)!
                  .deliverRemote(decodeRemoteBatch(encodeRemoteBatch(rewrite(x.batch.fromWorker, x.batch)))),
              ),
            ).then(() => undefined);
          },
        },
      }),
    );
  }
  for (const e of engines.values()) await e.start();
  await engines.get('w1')!.sourcesDone();
  for (const e of engines.values()) await e.stop();
}

/** Lines, then the words fork into counts and a second state step that tallies word lengths. */
function forkingApp(): Application {
  const app = defineApp('forking', { partitions: 12 });
  const words = app
    .source('lines', { uri: 'memory:fk-in', decode: stringCodec })
    .flatMap('split', splitWords);
  words
    .state('counts', {
      key: (w: string) => w,
      init: () => 0,
      update: (n: number, w: string, emit: (s: string) => void) => (emit(`${w} ${n + 1}`), n + 1),
      codec: stringCodec,
    })
    .sink('updates', { uri: 'count:', encode: stringCodec });
  words
    .state('tally', {
      key: (w: string) => String(w).length,
      init: () => 0,
      update: (n: number, _w: string, emit: (s: string) => void) => (emit(String(n + 1)), n + 1),
      codec: stringCodec,
    })
    .sink('totals', { uri: 'count:', encode: stringCodec });
  return app.build();
}

describe('tracing live workers', () => {
  it('word count on 3 workers, 1 in 10: every sampled traversal checks against the flow', async () => {
    setMemorySource('wc-in', LINES, 16);
    const app = wordCount({ source: 'memory:wc-in', sink: 'count:', params: { top: '0', partitions: '12' } });
    const receiver = new TraceReceiver({ flow: parseFlow('lines;split;counts;updates') });
    await runCluster(app, { mode: 'oneIn', n: 10 }, receiver);
    const pick = sampler({ mode: 'oneIn', n: 10 })!;
    const sampledLines = LINES.map((l, i) => [l, i] as const).filter(([, i]) => pick(0, i));
    expect(sampledLines.length).toBeGreaterThan(20);
    expect(sampledLines.length).toBeLessThan(80);
    expect(receiver.messageIds().sort()).toEqual(sampledLines.map(([, i]) => `0:${i}`).sort());
    expect(receiver.checkAll()).toEqual([]);
    const stats = receiver.stats();
    // One traversal per word of a sampled line; an empty line ends at split.
    const words = sampledLines.reduce((a, [l]) => a + splitWords(l).length, 0);
    const empty = sampledLines.filter(([l]) => splitWords(l).length === 0).length;
    expect(stats.paths).toEqual(
      [
        { path: 'lines;split;counts;updates', count: words, allowed: true },
        ...(empty > 0 ? [{ path: 'lines;split!', count: empty, allowed: true }] : []),
      ].sort((a, b) => b.count - a.count),
    );
    // The visits were spread over the workers (counts partitions live on all three).
    const instances = new Set<string>();
    for (const id of receiver.messageIds())
      for (const t of receiver.checkMessage(id)!.traversals) for (const w of t.instanceIds) instances.add(w);
    expect([...instances].sort()).toEqual(['w1', 'w2', 'w3']);
  });

  it('a forking app: the same id forks into two state steps on different workers, joined in one traversal', async () => {
    setMemorySource('fk-in', LINES.slice(0, 120), 10);
    const app = forkingApp();
    const receiver = new TraceReceiver({ flow: topologyFlow(app) });
    await runCluster(app, { mode: 'oneIn', n: 10 }, receiver);
    expect(receiver.messageIds().length).toBeGreaterThan(3);
    expect(receiver.checkAll()).toEqual([]);
    expect(receiver.stats().paths[0]!.path).toBe('lines;split;[counts;updates||tally;totals]');
    const spread = receiver
      .messageIds()
      .flatMap((id) => receiver.checkMessage(id)!.traversals)
      .filter((t) => new Set(t.instanceIds).size > 1);
    expect(spread.length).toBeGreaterThan(0);
  });

  it('a worker that misroutes messages to the wrong step is caught, with the message id and path', async () => {
    setMemorySource('fk-in', LINES.slice(0, 120), 10);
    const app = forkingApp();
    const receiver = new TraceReceiver({ flow: topologyFlow(app) });
    // w1 sends what it should send to counts to tally instead (to the partitions and workers
    // that own the tally keys, so the receiving engines see nothing wrong).
    const table = roundRobinTable(['w1', 'w2', 'w3'], app.partitionCount);
    const tallyPartition = (p: unknown): number => partitionOfKey(String(p).length, app.partitionCount);
    await runCluster(app, { mode: 'all' }, receiver, undefined, (worker, b) => {
      if (b.step !== 'counts') return [{ worker, batch: b }];
      const byOwner = new Map<string, number[]>();
      b.payloads.forEach((pl, i) => {
        const owner = table.owners[tallyPartition(pl)]!;
        byOwner.set(owner, [...(byOwner.get(owner) ?? []), i]);
      });
      return [...byOwner].map(([owner, idx]) => ({
        worker: owner,
        batch: {
          step: 'tally',
          fromWorker: b.fromWorker,
          source: idx.map((i) => b.source[i]!),
          offset: idx.map((i) => b.offset[i]!),
          sub: idx.map((i) => b.sub[i]!),
          bornMs: idx.map((i) => b.bornMs[i]!),
          partition: idx.map((i) => tallyPartition(b.payloads[i])),
          payloads: idx.map((i) => b.payloads[i]!),
          ...(b.trace ? { trace: idx.map((i) => b.trace![i]!) } : {}),
        },
      }));
    });
    const v = receiver.checkAll();
    expect(v.length).toBeGreaterThan(0);
    expect(v[0]!.messageId).toMatch(/^0:\d+$/);
    // The misrouted words went to tally twice (the fork's own branch and the misroute).
    expect(v[0]!.path).toBe('lines;split;[tally;totals||tally;totals]');
    expect(v.every((x) => x.reason === 'the flow allows no such traversal')).toBe(true);
  });

  it('with sampling off the engine sends no report and batches carry no trace column', async () => {
    setMemorySource('wc-in', LINES, 16);
    const app = wordCount({ source: 'memory:wc-in', sink: 'count:', params: { top: '0', partitions: '12' } });
    const reports: TraceReport[] = [];
    let traced = 0;
    await runCluster(app, { mode: 'off' }, { report: (r) => reports.push(r) }, (_f, b) => {
      if (b.trace !== undefined) traced++;
      return b;
    });
    expect(reports).toEqual([]);
    expect(traced).toBe(0);
  });
});
