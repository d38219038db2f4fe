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
  opts: { cluster?: string; app?: string; workers?: number } = {},
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
  });
  const next = async (...types: Array<ControlMessage['t']>): Promise<ControlMessage> => {
    for (;;) {
      const i = got.findIndex((m) => types.includes(m.t));
      if (i >= 0) return got.splice(i, 1)[0]!;
      await new Promise<void>((r) => waiters.push(r));
    }
  };
  return { c, got, next };
}

function coordinator(log: Logger, workers = 2): Coordinator {
  return new Coordinator({
    cluster: 'c',
    app: 'app',
    workers,
    partitionCount: 8,
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
    const a1 = (await w1.next('assign')) as Extract<ControlMessage, { t: 'assign' }>;
    const a2 = (await w2.next('assign')) as Extract<ControlMessage, { t: 'assign' }>;
    expect(a1.partitions.owners).toEqual(['w1', 'w2', 'w1', 'w2', 'w1', 'w2', 'w1', 'w2']);
    expect(a2).toEqual(a1);
    expect(a1.peers.map((p) => p.name)).toEqual(['w1', 'w2']);
    expect(a1.runSources).toEqual(['w1']);
    w1.c.send({ t: 'ready' });
    w2.c.send({ t: 'ready' });
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
  });

  it('a worker that reports a failure stops the cluster at once, and the run exits 1', async () => {
    const log = logger();
    const coord = coordinator(log);
    await coord.listen();
    const w1 = await fakeWorker(coord, 'w1');
    const w2 = await fakeWorker(coord, 'w2');
    await w1.next('assign');
    await w2.next('assign');
    w1.c.send({ t: 'ready' });
    w2.c.send({ t: 'ready' });
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
});
