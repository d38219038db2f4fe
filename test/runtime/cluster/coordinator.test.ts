// The initializer's coordinator, driven by fake workers over real control connections.
import { afterEach, describe, expect, it } from 'vitest';
import net from 'node:net';
import { Coordinator } from '../../../runtime/cluster/coordinator.ts';
import {
  CONTROL_PROTOCOL_VERSION,
  connectControl,
  requestShutdown,
} from '../../../runtime/cluster/control.ts';
import type { ControlConnection, ControlMessage } from '../../../runtime/cluster/control.ts';
import { encodeFrame } from '../../../runtime/net/framing.ts';
import type { Logger } from '../../../runtime/types.ts';

const conns: ControlConnection[] = [];
afterEach(() => {
  for (const c of conns.splice(0)) c.destroy('test over');
});

function logger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    info: (m) => lines.push(m),
    warn: (m) => lines.push(`warning: ${m}`),
    error: (m) => lines.push(`error: ${m}`),
  };
}

/** A fake worker: records messages, answers through `reply`. */
async function fakeWorker(
  coord: Coordinator,
  name: string,
  opts: {
    cluster?: string;
    app?: string;
    workers?: number;
    incarnation?: string;
    exactlyOnce?: boolean;
    durable?: Record<string, number>;
  } = {},
) {
  const got: ControlMessage[] = [];
  const c = await connectControl(coord.address!, name, () => {});
  conns.push(c);
  let waiters: Array<() => void> = [];
  c.onMessage((m) => {
    got.push(m);
    const w = waiters;
    waiters = [];
    for (const f of w) f();
  });
  c.send({
    t: 'register',
    protocolVersion: CONTROL_PROTOCOL_VERSION,
    cluster: opts.cluster ?? 'c',
    app: opts.app ?? 'app',
    worker: name,
    data: `127.0.0.1:${4000 + got.length}`,
    workers: opts.workers ?? 2,
    ...(opts.incarnation ? { incarnation: opts.incarnation } : {}),
    ...(opts.exactlyOnce || opts.durable ? { exactlyOnce: true } : {}),
    ...(opts.durable ? { durable: opts.durable } : {}),
  });
  const next = async (...types: Array<ControlMessage['t']>): Promise<ControlMessage> => {
    for (;;) {
      const i = got.findIndex((m) => types.includes(m.t));
      if (i >= 0) return got.splice(i, 1)[0]!;
      await new Promise<void>((r) => waiters.push(r));
    }
  };
  /** Answers a membership round: assign -> assigned, connect -> ready; returns the assign. */
  const join = async (): Promise<Extract<ControlMessage, { t: 'assign' }>> => {
    const a = (await next('assign')) as Extract<ControlMessage, { t: 'assign' }>;
    c.send({ t: 'assigned', epoch: a.epoch ?? 0 });
    const k = (await next('connect')) as Extract<ControlMessage, { t: 'connect' }>;
    expect(k.epoch).toBe(a.epoch);
    c.send({ t: 'ready', epoch: k.epoch });
    return a;
  };
  return { c, got, next, join };
}

function coordinator(
  log: Logger,
  workers = 2,
  sources = 1,
  nowMs?: () => number,
  partitionCount = 8,
): Coordinator {
  return new Coordinator({
    sources,
    ...(nowMs ? { nowMs } : {}),
    cluster: 'c',
    app: 'app',
    workers,
    partitionCount,
    control: { host: '127.0.0.1', port: 0 },
    initializer: 'w1',
    log,
    pollIntervalMs: 1,
  });
}

describe('coordinator', () => {
  it('assigns partitions round-robin, starts, drains and stops on shutdown', async () => {
    const log = logger();
    const coord = coordinator(log);
    await coord.listen();
    const w2 = await fakeWorker(coord, 'w2');
    const w1 = await fakeWorker(coord, 'w1');
    const [a1, a2] = await Promise.all([w1.join(), w2.join()]);
    expect(a1.partitions.owners).toEqual(['w1', 'w2', 'w1', 'w2', 'w1', 'w2', 'w1', 'w2']);
    expect(a2).toEqual(a1);
    expect(a1.peers.map((p) => p.name)).toEqual(['w1', 'w2']);
    expect(a1.runSources).toEqual(['w1']);
    await w1.next('start');
    await w2.next('start');

    const shutdown = requestShutdown(coord.address!, 10_000, () => {});
    await w1.next('stopSources');
    expect(w2.got.some((m) => m.t === 'stopSources')).toBe(false);
    w1.c.send({ t: 'sourcesStopped' });
    // w2 lags: 5 batches sent by w1, w2 processes them over a few polls.
    let processed = 0;
    const answer = async (w: typeof w1, sent: () => number, done: () => number) => {
      for (;;) {
        const m = await w.next('poll', 'stop');
        if (m.t === 'stop') return;
        w.c.send({
          t: 'counters',
          round: (m as { round: number }).round,
          sentBatches: sent(),
          processedBatches: done(),
          busy: false,
        });
      }
    };
    let polls = 0;
    const a = answer(
      w1,
      () => 5,
      () => 0,
    );
    const b = answer(
      w2,
      () => 0,
      () => {
        polls++;
        processed = Math.min(5, processed + 1);
        return processed;
      },
    );
    await Promise.all([a, b]);
    // It only stopped after w2 had processed all 5, and saw the same totals twice.
    expect(processed).toBe(5);
    expect(polls).toBeGreaterThanOrEqual(6);
    const metrics = { ingested: 1, sunk: 1, deadLetters: 0, remoteSent: 0, remoteReceived: 0 };
    w1.c.send({ t: 'stopped', metrics });
    w2.c.send({ t: 'stopped', metrics, latency: { buckets: [[100, 3]], maxUs: 2.5 } });
    expect(await shutdown).toEqual(['w1', 'w2']);
    const r = await coord.done;
    expect(r.exitCode).toBe(0);
    expect(r.latency?.count).toBe(3);
    expect(log.lines.join('\n')).toMatch(/cluster drained \(5 remote batches sent and processed\)/);
  });

  it('rejects workers of another cluster or application, or a duplicate name, and keeps waiting', async () => {
    const log = logger();
    const coord = coordinator(log);
    await coord.listen();
    const bad = await fakeWorker(coord, 'w9', { cluster: 'other' });
    expect(await bad.next('rejected')).toEqual({
      t: 'rejected',
      reason: "cluster 'other' is not this cluster 'c'",
    });
    const badApp = await fakeWorker(coord, 'w8', { app: 'nope' });
    expect((await badApp.next('rejected')) as { reason: string }).toMatchObject({
      reason: "application 'nope' is not this cluster's application 'app'",
    });
    const size = await fakeWorker(coord, 'w7', { workers: 3 });
    expect((await size.next('rejected')) as { reason: string }).toMatchObject({
      reason: 'this worker was started with --workers 3, the initializer with --workers 2',
    });
    await fakeWorker(coord, 'w1');
    const dup = await fakeWorker(coord, 'w1');
    expect((await dup.next('rejected')) as { reason: string }).toMatchObject({
      reason: "a worker named 'w1' is already registered",
    });
    expect(log.lines.filter((l) => l.startsWith('error: rejected worker'))).toHaveLength(4);
    const w2 = await fakeWorker(coord, 'w2');
    await w2.next('assign');
    coord.beginShutdown('test');
    await w2.next('stop');
    // A third worker once the cluster is complete is turned away.
    const extra = await fakeWorker(coord, 'w3');
    expect((await extra.next('rejected')) as { reason: string }).toMatchObject({
      reason: 'the cluster is already complete (2 workers)',
    });
  });

  it('a worker that reports a failure stops the cluster at once, and the run exits 1', async () => {
    const log = logger();
    const coord = coordinator(log);
    await coord.listen();
    const w1 = await fakeWorker(coord, 'w1');
    const w2 = await fakeWorker(coord, 'w2');
    await Promise.all([w1.join(), w2.join()]);
    await w1.next('start');
    await w2.next('start');
    w2.c.send({ t: 'error', reason: "worker 'w2' failed: sink tcp:127.0.0.1:9 closed the connection" });
    // No drain: both are told to stop now.
    await w1.next('stop');
    await w2.next('stop');
    const metrics = { ingested: 0, sunk: 0, deadLetters: 0, remoteSent: 0, remoteReceived: 0 };
    w1.c.send({ t: 'stopped', metrics });
    w2.c.send({ t: 'stopped', metrics, error: 'sink tcp:127.0.0.1:9 closed the connection' });
    expect((await coord.done).exitCode).toBe(1);
    const text = log.lines.join('\n');
    // Said once, naming the worker once: the stop's error is the failure reported before.
    expect(text).toContain(
      "worker 'w2' failed: sink tcp:127.0.0.1:9 closed the connection; stopping the cluster",
    );
    expect(text).not.toContain("worker 'w2': worker 'w2'");
    expect(text).not.toContain('stopped with an error');
  });

  it('a worker whose stop failed makes the run exit 1', async () => {
    const log = logger();
    const coord = coordinator(log);
    await coord.listen();
    const w1 = await fakeWorker(coord, 'w1');
    const w2 = await fakeWorker(coord, 'w2');
    await w1.next('assign');
    await w2.next('assign');
    coord.beginShutdown('test');
    await w1.next('stop');
    await w2.next('stop');
    const metrics = { ingested: 0, sunk: 0, deadLetters: 0, remoteSent: 0, remoteReceived: 0 };
    w1.c.send({ t: 'stopped', metrics });
    w2.c.send({ t: 'stopped', metrics, error: 'flushing sink file:/full: ENOSPC' });
    expect((await coord.done).exitCode).toBe(1);
  });

  it('drops a connection that sends something that is not a control message', async () => {
    const log = logger();
    const coord = coordinator(log);
    await coord.listen();
    const s = net.connect(coord.address!.port, '127.0.0.1');
    await new Promise((r) => s.once('connect', r));
    s.write(encodeFrame(Buffer.from(JSON.stringify({ t: 'register', worker: 'x' }))));
    await new Promise((r) => s.once('close', r));
    expect(log.lines.join('\n')).toMatch(/invalid message \((protocolVersion|cluster)/);
    const s2 = net.connect(coord.address!.port, '127.0.0.1');
    await new Promise((r) => s2.once('connect', r));
    s2.write(encodeFrame(Buffer.from('not json')));
    await new Promise((r) => s2.once('close', r));
    expect(log.lines.join('\n')).toMatch(/a frame is not JSON; dropping the connection/);
    coord.beginShutdown('test');
    expect((await coord.done).exitCode).toBe(0);
  });

  it('a worker that goes down is waited for; registering again gives it a round of its own, the others keep running', async () => {
    const log = logger();
    const coord = coordinator(log, 3);
    await coord.listen();
    const w1 = await fakeWorker(coord, 'w1', { workers: 3, incarnation: 'a1' });
    const w2 = await fakeWorker(coord, 'w2', { workers: 3, incarnation: 'a2' });
    let w3 = await fakeWorker(coord, 'w3', { workers: 3, incarnation: 'a3' });
    await Promise.all([w1.join(), w2.join(), w3.join()]);
    await Promise.all([w1.next('start'), w2.next('start'), w3.next('start')]);
    w3.c.destroy('killed');
    await waitFor(() => log.lines.some((l) => /worker 'w3' is down .*the others keep running/.test(l)));
    // Nobody was told to stop.
    expect([...w1.got, ...w2.got].some((m) => m.t === 'stop')).toBe(false);
    w3 = await fakeWorker(coord, 'w3', { workers: 3, incarnation: 'b3' });
    // Every worker that is up gets the new round: the same table, w3's new incarnation.
    const [b1, b2, b3] = await Promise.all([w1.join(), w2.join(), w3.join()]);
    expect(b1.epoch).toBe(2);
    expect(b1.partitions).toEqual(b3.partitions);
    expect(b2.peers.find((p) => p.name === 'w3')).toMatchObject({ incarnation: 'b3', up: true });
    await w3.next('start');
    // Only the restarted worker is told to start; the others were running.
    await waitFor(() => log.lines.some((l) => /running again with 'w3' back/.test(l)));
    expect(w1.got.some((m) => m.t === 'start')).toBe(false);
    expect(log.lines.join('\n')).toMatch(/worker 'w3' registered again \(a restarted process/);
    // Exactly-once is off (nobody reported a store): no rewind.
    expect(w1.got.some((m) => m.t === 'rewind')).toBe(false);
    coord.beginShutdown('test');
    await w1.next('stopSources');
    w1.c.send({ t: 'sourcesStopped' });
    // Drained per pair: w1 sent 4 to w3's old process (lost with it) and 2 on the new channel.
    const reply = async (
      w: typeof w1,
      sentTo: Record<string, number>,
      processedFrom: Record<string, number>,
    ) => {
      for (;;) {
        const m = await w.next('poll', 'stop');
        if (m.t === 'stop') return;
        w.c.send({
          t: 'counters',
          round: (m as { round: number }).round,
          sentBatches: Object.values(sentTo).reduce((a, b) => a + b, 0) + (w === w1 ? 4 : 0),
          processedBatches: Object.values(processedFrom).reduce((a, b) => a + b, 0),
          busy: false,
          sentTo,
          processedFrom,
        });
      }
    };
    await Promise.all([
      reply(w1, { w2: 3, w3: 2 }, { w2: 0, w3: 0 }),
      reply(w2, { w1: 0, w3: 0 }, { w1: 3, w3: 0 }),
      reply(w3, { w1: 0, w2: 0 }, { w1: 2, w2: 0 }),
    ]);
    const metrics = { ingested: 0, sunk: 0, deadLetters: 0, remoteSent: 0, remoteReceived: 0 };
    for (const w of [w1, w2, w3]) w.c.send({ t: 'stopped', metrics });
    const r = await coord.done;
    expect(r.exitCode).toBe(0);
    expect(r.workers.find((w) => w.name === 'w3')!.rejoins).toBe(1);
  });

  it('draining waits for a worker that is down, and does not stop with a channel unbalanced', async () => {
    const log = logger();
    const coord = coordinator(log, 2);
    await coord.listen();
    const w1 = await fakeWorker(coord, 'w1', { incarnation: 'a1' });
    let w2 = await fakeWorker(coord, 'w2', { incarnation: 'a2' });
    await Promise.all([w1.join(), w2.join()]);
    await Promise.all([w1.next('start'), w2.next('start')]);
    coord.beginShutdown('test');
    await w1.next('stopSources');
    w2.c.destroy('killed');
    w1.c.send({ t: 'sourcesStopped' });
    await waitFor(() => log.lines.some((l) => /draining waits for worker w2 to come back/.test(l)));
    expect(w1.got.some((m) => m.t === 'poll')).toBe(false);
    w2 = await fakeWorker(coord, 'w2', { incarnation: 'b2' });
    await Promise.all([w1.join(), w2.join()]);
    // w2's new channel has processed 1 of the 2 batches w1 sent on it, then both.
    let processed = 0;
    const answer = async (
      w: typeof w1,
      counters: () => { sentTo: Record<string, number>; processedFrom: Record<string, number> },
    ) => {
      for (;;) {
        const m = await w.next('poll', 'stop');
        if (m.t === 'stop') return;
        const c = counters();
        w.c.send({
          t: 'counters',
          round: (m as { round: number }).round,
          sentBatches: 0,
          processedBatches: 0,
          busy: false,
          ...c,
        });
      }
    };
    let polls = 0;
    await Promise.all([
      answer(w1, () => ({ sentTo: { w2: 2 }, processedFrom: { w2: 0 } })),
      answer(w2, () => {
        polls++;
        processed = Math.min(2, polls > 3 ? 2 : 1);
        return { sentTo: { w1: 0 }, processedFrom: { w1: processed } };
      }),
    ]);
    expect(polls).toBeGreaterThanOrEqual(5);
    const metrics = { ingested: 0, sunk: 0, deadLetters: 0, remoteSent: 0, remoteReceived: 0 };
    w1.c.send({ t: 'stopped', metrics });
    w2.c.send({ t: 'stopped', metrics });
    expect((await coord.done).exitCode).toBe(0);
  });

  it('exactly-once: commits the least durable watermark to the source worker, rewinds it for a restarted worker and on a gap', async () => {
    const log = logger();
    let now = 1000;
    const coord = coordinator(log, 2, 2, () => now);
    await coord.listen();
    // Fresh workers: exactly-once, nothing durable reported yet.
    const w1 = await fakeWorker(coord, 'w1', { incarnation: 'a1', exactlyOnce: true });
    let w2 = await fakeWorker(coord, 'w2', { incarnation: 'a2', exactlyOnce: true });
    await Promise.all([w1.join(), w2.join()]);
    w1.c.send({ t: 'progress', durable: { '0': 10, '1': 4 } });
    w2.c.send({ t: 'progress', durable: { '0': 7, '1': 5 } });
    expect(await w1.next('commit')).toEqual({ t: 'commit', committed: { '0': 7, '1': 4 } });
    // The commit never goes down, and nothing is sent while it does not move.
    w2.c.send({ t: 'progress', durable: { '0': 8, '1': 5 } });
    expect(await w1.next('commit')).toEqual({ t: 'commit', committed: { '0': 8, '1': 4 } });
    expect(w2.got.some((m) => m.t === 'commit')).toBe(false);
    // w2 restarts and recovers watermarks from its store.
    w2.c.destroy('killed');
    await waitFor(() => log.lines.some((l) => /worker 'w2' is down/.test(l)));
    w2 = await fakeWorker(coord, 'w2', { incarnation: 'b2', durable: { '0': 8, '1': 5 } });
    await Promise.all([w1.join(), w2.join()]);
    expect(await w1.next('rewind')).toEqual({ t: 'rewind', to: { '0': 9, '1': 5 } });
    // After the round the source worker hears the committed offsets again (unchanged here): a
    // source worker that restarted after the last advance would not hear them otherwise.
    expect(await w1.next('commit')).toEqual({ t: 'commit', committed: { '0': 8, '1': 4 } });
    expect(log.lines.join('\n')).toMatch(
      /rewind \(worker 'w2' restarted\): source 0 from offset 9, source 1 from offset 5/,
    );
    // Gaps right after the rewind are covered by it (batches sent before it still arrive).
    w2.c.send({ t: 'gap', source: 0, offset: 9 });
    w2.c.send({ t: 'gap', source: 1, offset: 6 });
    w2.c.send({ t: 'progress', durable: { '0': 12, '1': 6 } });
    // Messages are handled in order: the commit shows the gaps were handled (and ignored).
    expect(await w1.next('rewind', 'commit')).toEqual({ t: 'commit', committed: { '0': 10, '1': 4 } });
    // A gap a while later: the replay did not bring it; another rewind of that source.
    now += 5000;
    w2.c.send({ t: 'gap', source: 1, offset: 6 });
    expect(await w1.next('rewind', 'commit')).toEqual({ t: 'rewind', to: { '1': 5 } });
    coord.beginShutdown('test');
    await w1.next('stopSources');
  });
});

it('exactly-once: a worker whose store is behind the committed offset stops the cluster, saying why', async () => {
  const log = logger();
  const coord = coordinator(log, 2, 1);
  await coord.listen();
  const w1 = await fakeWorker(coord, 'w1', { incarnation: 'a1', exactlyOnce: true });
  const w2 = await fakeWorker(coord, 'w2', { incarnation: 'a2', exactlyOnce: true });
  await Promise.all([w1.join(), w2.join()]);
  w1.c.send({ t: 'progress', durable: { '0': 10 } });
  w2.c.send({ t: 'progress', durable: { '0': 7 } });
  expect(await w1.next('commit')).toEqual({ t: 'commit', committed: { '0': 7 } });
  w2.c.destroy('killed');
  await waitFor(() => log.lines.some((l) => /worker 'w2' is down/.test(l)));
  // Its store lost what it had acknowledged (a power loss under durability batch).
  await fakeWorker(coord, 'w2', { incarnation: 'b2', durable: { '0': 3 } });
  expect(await w1.next('stop')).toEqual({ t: 'stop' });
  expect(log.lines.join('\n')).toMatch(
    /worker 'w2' registered with a store behind what the cluster committed \(source 0: store 3, committed 7\): acknowledged data is lost/,
  );
});

describe('coordinator, input that ends (stopWhenSourcesDone)', () => {
  it('the sources are not stopped (they ended); a worker restarted while draining gets a rewind, then the drain ends', async () => {
    const log = logger();
    const coord = new Coordinator({
      cluster: 'c',
      app: 'app',
      workers: 2,
      partitionCount: 8,
      control: { host: '127.0.0.1', port: 0 },
      initializer: 'w1',
      log,
      pollIntervalMs: 1,
      stopWhenSourcesDone: true,
    });
    await coord.listen();
    const w1 = await fakeWorker(coord, 'w1', { incarnation: 'a1', exactlyOnce: true });
    let w2 = await fakeWorker(coord, 'w2', { incarnation: 'a2', exactlyOnce: true });
    await Promise.all([w1.join(), w2.join()]);
    await Promise.all([w1.next('start'), w2.next('start')]);
    w1.c.send({ t: 'progress', durable: { '0': 99 } });
    w2.c.send({ t: 'progress', durable: { '0': 40 } });
    expect(await w1.next('commit')).toEqual({ t: 'commit', committed: { '0': 40 } });
    w1.c.send({ t: 'sourcesDone' });
    await w1.next('poll');
    w2.c.destroy('killed');
    await waitFor(() => log.lines.some((l) => /draining waits for worker w2/.test(l)));
    w2 = await fakeWorker(coord, 'w2', { incarnation: 'b2', exactlyOnce: true });
    await Promise.all([w1.join(), w2.join()]);
    expect(await w1.next('rewind')).toEqual({ t: 'rewind', to: { '0': 41 } });
    const answer = async (w: typeof w1, durable: () => Record<string, number>) => {
      for (;;) {
        const m = await w.next('poll', 'stop');
        if (m.t === 'stop') return;
        w.c.send({
          t: 'counters',
          round: (m as { round: number }).round,
          sentBatches: 0,
          processedBatches: 0,
          busy: false,
          sentTo: {},
          processedFrom: {},
          durable: durable(),
        });
      }
    };
    // The replay brings w2 from 40 to 99 over a few polls; only then does the drain end.
    let polls = 0;
    await Promise.all([
      answer(w1, () => ({ '0': 99 })),
      answer(w2, () => ({ '0': ++polls > 4 ? 99 : 40 + polls })),
    ]);
    expect(polls).toBeGreaterThanOrEqual(6);
    expect(w1.got.some((m) => m.t === 'stopSources')).toBe(false);
    const metrics = { ingested: 0, sunk: 0, deadLetters: 0, remoteSent: 0, remoteReceived: 0 };
    w1.c.send({ t: 'stopped', metrics });
    w2.c.send({ t: 'stopped', metrics });
    expect((await coord.done).exitCode).toBe(0);
    expect(log.lines.join('\n')).toMatch(/durable watermarks \[\["0",99\]\] on every worker/);
  });
});

describe('coordinator, more workers than partitions', () => {
  it('a worker that owns no partition takes part in no source: the commit advances without it', async () => {
    const log = logger();
    const coord = coordinator(log, 3, 1, undefined, 2);
    await coord.listen();
    const ws = await Promise.all(
      ['w1', 'w2', 'w3'].map((n) =>
        fakeWorker(coord, n, { workers: 3, incarnation: `a-${n}`, exactlyOnce: true }),
      ),
    );
    const [a1] = await Promise.all(ws.map((w) => w.join()));
    expect(a1.partitions.owners).toEqual(['w1', 'w2']);
    ws[0]!.c.send({ t: 'progress', durable: { '0': 9 } });
    ws[1]!.c.send({ t: 'progress', durable: { '0': 6 } });
    // w3 reports nothing (the engine leaves out what it takes no part in).
    expect(await ws[0]!.next('commit')).toEqual({ t: 'commit', committed: { '0': 6 } });
    coord.beginShutdown('test');
    await ws[0]!.next('stopSources');
  });
});

async function waitFor(cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}
