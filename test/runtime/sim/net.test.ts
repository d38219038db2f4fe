// The simulated network (runtime/sim/net.ts) under the real channel endpoints: whatever the
// resets (drop, dup) and partitions, the delivery protocol hands the receiver every batch once,
// in order; `dup` does make the receiver see (and drop) duplicates; a partition blocks the link
// until it heals; a run is a function of its seed.
import { describe, expect, it } from 'vitest';
import { ChannelEndpoint } from '../../../runtime/net/endpoint.ts';
import type { EndpointOptions } from '../../../runtime/net/endpoint.ts';
import { SimNet } from '../../../runtime/sim/net.ts';
import type { NetFault } from '../../../runtime/sim/net.ts';
import { SimScheduler } from '../../../runtime/sim/scheduler.ts';
import { createSeededRandom } from '../../../runtime/system.ts';

const opts = (me: string, peer: string): EndpointOptions => ({
  local: { cluster: 't', app: 't', worker: me },
  expectedPeer: peer,
  windowBytes: 256,
  windowFrames: 4,
  maxQueuedBytes: 256,
  reconnect: true,
});

const macrotask = (): Promise<void> => new Promise((r) => setImmediate(r));

interface Run {
  got: string[];
  log: string[];
  duplicatesDropped: number;
  resent: number;
}

/** Sends `n` batches a -> b while `faults` strike at seeded times; runs until all arrived. */
async function run(
  seed: number,
  n: number,
  faults: Array<'drop' | 'dup'>,
  netFaults: NetFault[] = [],
): Promise<Run> {
  const sched = new SimScheduler();
  const log: string[] = [];
  const net = new SimNet({
    random: createSeededRandom(seed),
    sched,
    faults: netFaults,
    log: (l) => log.push(l),
  });
  const got: string[] = [];
  const a = new ChannelEndpoint(opts('a', 'b'), { log: () => {} });
  const b = new ChannelEndpoint(opts('b', 'a'), {
    onBatch: (batch) => void got.push(Buffer.from(batch.body).toString()),
    log: () => {},
  });
  const wire = net.link(a, b, 'a', 'b');
  const r = createSeededRandom(seed + 1);
  for (const f of faults) sched.setTimer(r.next() * n * 0.5, () => wire.reset(f));
  let sent = 0;
  const sendNext = (): void => {
    if (sent >= n) return;
    const wait = a.send(Buffer.from(`m${sent++}`), 1);
    if (wait) void wait.then(() => sched.setTimer(0.3, sendNext));
    else sched.setTimer(0.3, sendNext);
  };
  sendNext();
  for (let guard = 0; got.length < n && guard < 200_000; guard++) {
    await macrotask();
    if (!sched.runNext()) break;
  }
  return { got, log, duplicatesDropped: b.core.stats.droppedFrames, resent: a.core.stats.resentFrames };
}

describe('SimNet', () => {
  it('delivers every batch once and in order through drops and dups, and dups do arrive twice', async () => {
    let dups = 0;
    let resent = 0;
    for (let seed = 1; seed <= 12; seed++) {
      const r = await run(seed, 60, ['drop', 'dup', 'dup', 'drop', 'dup'], ['reorder']);
      expect(r.got, `seed ${seed}`).toEqual(Array.from({ length: 60 }, (_, i) => `m${i}`));
      dups += r.duplicatesDropped;
      resent += r.resent;
    }
    expect(resent).toBeGreaterThan(0);
    expect(dups, 'the dup fault must make the receiver see frames it had').toBeGreaterThan(0);
  });

  it('is a function of its seed', async () => {
    const x = await run(7, 40, ['dup', 'drop'], ['reorder']);
    const y = await run(7, 40, ['dup', 'drop'], ['reorder']);
    expect(x.log).toEqual(y.log);
    expect(x.log.some((l) => l.startsWith('fault dup'))).toBe(true);
  });

  it('a partition cuts the link and no dial gets through until it heals', async () => {
    const sched = new SimScheduler();
    const log: string[] = [];
    const net = new SimNet({ random: createSeededRandom(3), sched, log: (l) => log.push(l) });
    const a = new ChannelEndpoint(opts('a', 'b'), { log: () => {} });
    const b = new ChannelEndpoint(opts('b', 'a'), { log: () => {} });
    const wire = net.link(a, b, 'a', 'b');
    expect(wire.connected).toBe(true);
    await macrotask();
    net.partition(['a'], ['b']);
    expect(wire.connected).toBe(false);
    sched.advance(1000);
    await macrotask();
    expect(wire.connected).toBe(false);
    net.heal();
    sched.advance(100);
    await macrotask();
    expect(wire.connected).toBe(true);
    expect(log.filter((l) => l.startsWith('connect')).length).toBe(2);
  });
});
