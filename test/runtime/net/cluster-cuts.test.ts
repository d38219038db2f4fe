// Three word-count engines in one process, joined by DataPlanes (runtime/cluster/node.ts) over
// the in-memory TestNetwork with the channels' `reconnect` option, while the connections
// between them are cut at seeded random moments (what is in flight is lost) and re-established.
// The handshake says where to resume and the senders resend: the counts must be exactly those
// of a single-process run, every time.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { fileURLToPath } from 'node:url';
import { DataPlane } from '../../../runtime/cluster/data-plane.ts';
import { SeededRandom, TestNetwork, type TestLink } from '../../../runtime/net/test-transport.ts';
import { loadApp } from '../../../runtime/api/load.ts';
import { createWorkerEngine } from '../../../runtime/engine/worker.ts';
import { roundRobinTable } from '../../../runtime/engine/partition.ts';
import { MemoryDeadLetterSink } from '../../../runtime/engine/dead-letters.ts';
import { runEmbedded } from '../../../runtime/engine/embedded.ts';
import { memorySinkPayloads, setMemorySource } from '../../../runtime/connectors/index.ts';
import { createSystemClock } from '../../../runtime/system.ts';
import type { Logger } from '../../../runtime/types.ts';

const APP = fileURLToPath(new URL('../../../examples/word-count.ts', import.meta.url));
const VOCAB = ['the', 'of', 'and', 'to', 'a', 'river', 'stone', 'ünï', 'x1', 'zebra'];
const errors: string[] = [];
const quiet: Logger = { info: () => {}, warn: () => {}, error: (m) => errors.push(m) };
const tick = () => new Promise<void>((r) => setImmediate(r));

function finalCounts(updates: readonly unknown[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const u of updates) {
    const s = typeof u === 'string' ? u : Buffer.from(u as Uint8Array).toString();
    const sp = s.lastIndexOf(' ');
    const w = s.slice(0, sp);
    out.set(w, Math.max(out.get(w) ?? 0, Number(s.slice(sp + 1))));
  }
  return out;
}

async function simulateWithCuts(
  lines: string[],
  seed: number,
  run: number,
): Promise<{ counts: Map<string, number>; updates: number; cuts: number; resent: number }> {
  const names = ['w1', 'w2', 'w3'];
  setMemorySource(`cuts-${run}`, lines, 4);
  const app = await loadApp(APP, {
    source: `memory:cuts-${run}`,
    sink: `memory:cuts-out-${run}`,
    params: { top: '0', partitions: '16' },
  });
  const partitions = roundRobinTable(names, app.partitionCount);
  const net = new TestNetwork({ seed });
  const rng = new SeededRandom(seed ^ 0x2545f491);
  const windowBytes = 512;
  const planes = names.map((n) => new DataPlane(n, quiet, windowBytes / 2, 8));
  const engines = names.map((n, i) =>
    createWorkerEngine({
      app,
      workerName: n,
      partitions,
      clock: createSystemClock(),
      log: quiet,
      deadLetters: new MemoryDeadLetterSink(),
      remote: planes[i]!,
      runSources: n === 'w1',
    }),
  );
  planes.forEach((p, i) => (p.engine = engines[i]!));
  const links: TestLink[] = [];
  for (let i = 0; i < names.length; i++) {
    for (let j = i + 1; j < names.length; j++) {
      const opts = (k: number, peer: number) => ({
        local: { cluster: 'sim', app: app.name, worker: names[k]! },
        expectedPeer: names[peer]!,
        windowBytes,
        windowFrames: 4,
        maxQueuedBytes: windowBytes,
        reconnect: true,
      });
      // A lost connection is logged by the endpoint; here that is expected, not an error.
      const link = net.link(
        opts(i, j),
        opts(j, i),
        { onBatch: (b, from, ep) => planes[i]!.onBatch(ep, b, from), log: () => {} },
        { onBatch: (b, from, ep) => planes[j]!.onBatch(ep, b, from), log: () => {} },
      );
      planes[i]!.addChannel(names[j]!, link.a);
      planes[j]!.addChannel(names[i]!, link.b);
      links.push(link);
    }
  }
  net.run();
  for (let i = 0; i < names.length; i++) {
    await engines[i]!.start();
    planes[i]!.setStarted();
  }
  let sourcesDone = false;
  let failure: unknown = null;
  engines[0]!.sourcesDone().then(
    () => (sourcesDone = true),
    (err: unknown) => (failure = err),
  );
  const down = new Set<TestLink>();
  let cuts = 0;
  for (let guard = 0; ; guard++) {
    if (guard > 300_000) throw new Error('simulation did not finish');
    if (failure) throw failure;
    const r = rng.below(1000);
    if (r < 40 && cuts < 12) {
      const l = links[rng.below(links.length)]!;
      if (!down.has(l)) {
        net.cut(l, 'seeded cut');
        down.add(l);
        cuts++;
      }
    } else if (r < 120 && down.size > 0) {
      const l = [...down][rng.below(down.size)]!;
      down.delete(l);
      net.reconnect(l);
    }
    const moved = net.step() || net.step();
    await tick();
    const sent = planes.reduce((n, p) => n + p.sentBatches, 0);
    const processed = planes.reduce((n, p) => n + p.processedBatches, 0);
    const unacked = planes.some((p) => [...p.channels.values()].some((c) => c.core.stats.unackedFrames > 0));
    if (!moved && down.size > 0) {
      for (const l of down) net.reconnect(l);
      down.clear();
      continue;
    }
    if (
      !moved &&
      sourcesDone &&
      sent === processed &&
      !unacked &&
      planes.every((p) => !p.busy) &&
      net.pendingBytes === 0
    )
      break;
  }
  for (const e of engines) await e.stop();
  const out = memorySinkPayloads(`cuts-out-${run}`);
  const resent = planes.reduce(
    (n, p) => n + [...p.channels.values()].reduce((m, c) => m + c.core.stats.resentFrames, 0),
    0,
  );
  return { counts: finalCounts(out), updates: out.length, cuts, resent };
}

describe('3-worker word count over the test transport with seeded connection cuts', () => {
  it('keeps exact counts: nothing lost, nothing counted twice', async () => {
    let run = 0;
    let cuts = 0;
    let resent = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.array(fc.constantFrom(...VOCAB), { maxLength: 12 }).map((ws) => ws.join(' ')),
          { minLength: 20, maxLength: 120 },
        ),
        fc.integer({ min: 1, max: 1 << 30 }),
        async (lines, seed) => {
          run++;
          errors.length = 0;
          setMemorySource(`cuts-ref-${run}`, lines, 16);
          const refApp = await loadApp(APP, {
            source: `memory:cuts-ref-${run}`,
            sink: `memory:cuts-ref-out-${run}`,
            params: { top: '0', partitions: '16' },
          });
          await runEmbedded(refApp, {
            clock: createSystemClock(),
            log: quiet,
            deadLetters: new MemoryDeadLetterSink(),
          });
          const ref = memorySinkPayloads(`cuts-ref-out-${run}`);
          const got = await simulateWithCuts(lines, seed, run);
          expect(errors).toEqual([]);
          expect(got.updates).toBe(ref.length);
          expect(got.counts).toEqual(finalCounts(ref));
          cuts += got.cuts;
          resent += got.resent;
        },
      ),
      { numRuns: 20 },
    );
    // Connections were cut, and frames lost with them were sent again.
    expect(cuts).toBeGreaterThan(20);
    expect(resent).toBeGreaterThan(0);
  }, 120_000);
});
