import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  DeliveryChannelCore,
  CloseCode,
  FrameType,
  decodeHello,
  encodeHello,
  PROTOCOL_VERSION,
} from '../../../runtime/net/channel.ts';
import type { DataBatch } from '../../../runtime/net/channel.ts';
import { TestNetwork } from '../../../runtime/net/test-transport.ts';
import type { EndpointOptions } from '../../../runtime/net/endpoint.ts';
import { FrameDecoder } from '../../../runtime/net/framing.ts';

function opts(worker: string, extra: Partial<EndpointOptions> = {}): EndpointOptions {
  return { local: { cluster: 'c1', app: 'wc', worker }, connection: `test ${worker}`, ...extra };
}

function body(seqNo: number, size: number): Uint8Array {
  const b = new Uint8Array(Math.max(4, size));
  new DataView(b.buffer).setUint32(0, seqNo);
  return b;
}

/** Parses a core's writes into frame payloads. */
function framesOf(writes: Uint8Array[]): Uint8Array[] {
  const d = new FrameDecoder({ connection: 'inspect' });
  const out: Uint8Array[] = [];
  for (const w of writes) d.push(w, (p) => out.push(Uint8Array.from(p)));
  return out;
}

describe('hello', () => {
  it('round-trips', () => {
    fc.assert(
      fc.property(
        fc.string(),
        fc.string(),
        fc.string(),
        fc.nat({ max: Number.MAX_SAFE_INTEGER }),
        fc.nat({ max: Number.MAX_SAFE_INTEGER }),
        (cluster, app, worker, incarnation, peerIncarnation) => {
          const h = { protocolVersion: PROTOCOL_VERSION, cluster, app, worker, incarnation };
          const handshake = { ack: 3, limit: 2 ** 40, limitBytes: 2 ** 53 - 1 };
          expect(decodeHello(encodeHello(h, handshake, peerIncarnation))).toEqual({
            hello: h,
            handshake,
            peerIncarnation,
          });
        },
      ),
    );
  });

  it('without an incarnation says 0', () => {
    const h = { protocolVersion: PROTOCOL_VERSION, cluster: 'c', app: 'a', worker: 'w' };
    expect(decodeHello(encodeHello(h))).toEqual({
      hello: { ...h, incarnation: 0 },
      handshake: { ack: 0, limit: 0, limitBytes: 0 },
      peerIncarnation: 0,
    });
  });

  it('opens when cluster and app match', () => {
    const net = new TestNetwork({ seed: 1 });
    const { a, b } = net.link(opts('w1'), opts('w2', { expectedPeer: 'w1' }));
    net.run();
    expect(a.core.state).toBe('open');
    expect(b.core.state).toBe('open');
    expect(a.peer?.worker).toBe('w2');
    expect(b.peer?.worker).toBe('w1');
  });

  for (const [field, other] of [
    ['cluster', { local: { cluster: 'other', app: 'wc', worker: 'w2' } }],
    ['application', { local: { cluster: 'c1', app: 'other-app', worker: 'w2' } }],
  ] as const) {
    it(`rejects a wrong ${field} name and logs on both sides`, async () => {
      const logsA: string[] = [];
      const logsB: string[] = [];
      const net = new TestNetwork({ seed: 7 });
      const { a, b } = net.link(
        opts('w1'),
        { ...opts('w2'), ...other },
        { log: (m) => logsA.push(m) },
        { log: (m) => logsB.push(m) },
      );
      const openA = a.opened();
      net.run();
      expect(a.core.state).toBe('closed');
      expect(b.core.state).toBe('closed');
      expect(a.closed?.code).toBe(CloseCode.Rejected);
      expect(logsA.join('\n')).toContain(
        field === 'cluster' ? "cluster 'other' is not this worker's cluster 'c1'" : "application 'other-app'",
      );
      expect(logsB.length).toBeGreaterThan(0);
      expect(logsB.join('\n')).toMatch(/rejected/);
      await expect(openA).rejects.toThrow(/rejected/);
      expect(() => a.send(body(1, 8), 1)).toThrow(/closed channel/);
    });
  }

  it('rejects an unexpected peer worker name', () => {
    const logs: string[] = [];
    const net = new TestNetwork({ seed: 3 });
    const peerLogs: string[] = [];
    const { a } = net.link(
      opts('w1', { expectedPeer: 'w3' }),
      opts('w2'),
      { log: (m) => logs.push(m) },
      { log: (m) => peerLogs.push(m) },
    );
    net.run();
    expect(a.closed?.code).toBe(CloseCode.Rejected);
    expect(logs[0]).toContain("expected worker 'w3', got 'w2'");
    expect(peerLogs[0]).toContain("worker 'w1' rejected this connection");
  });

  it('treats data before hello as a protocol error', () => {
    const core = new DeliveryChannelCore(opts('w1'));
    core.step({ type: 'start' });
    core.ready();
    const data = new Uint8Array(13 + 4);
    data[0] = FrameType.Data;
    core.step({ type: 'frame', payload: data });
    const r = core.ready();
    expect(r.closed?.code).toBe(CloseCode.ProtocolError);
    expect(r.closed?.reason).toContain('before HELLO');
    const sent = framesOf(r.writes);
    expect(sent[0]![0]).toBe(FrameType.Close);
  });
});

interface Scenario {
  seed: number;
  batches: Array<{ messages: number; bytes: number }>;
  windowFrames: number;
  windowBytes: number;
  /** Consumer releases a delivered batch only every `slowEvery` steps. */
  slowEvery: number;
}

const scenario: fc.Arbitrary<Scenario> = fc.record({
  seed: fc.integer({ min: 1, max: 1 << 30 }),
  windowFrames: fc.integer({ min: 1, max: 16 }),
  windowBytes: fc.integer({ min: 256, max: 4096 }),
  batches: fc.array(
    fc.record({ messages: fc.integer({ min: 1, max: 8 }), bytes: fc.integer({ min: 4, max: 256 }) }),
    {
      minLength: 1,
      maxLength: 60,
    },
  ),
  slowEvery: fc.integer({ min: 1, max: 5 }),
});

describe('credit flow control on the test transport', () => {
  it('never exceeds credit, delivers in order, bounds memory with a slow consumer', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async (s) => {
        const maxQueuedBytes = 512;
        const net = new TestNetwork({ seed: s.seed });
        const delivered: DataBatch[] = [];
        const pendingRelease: Array<() => void> = [];
        const { a, b } = net.link(
          opts('sender', { windowFrames: s.windowFrames, windowBytes: s.windowBytes, maxQueuedBytes }),
          opts('receiver', { windowFrames: s.windowFrames, windowBytes: s.windowBytes }),
          {},
          {
            onBatch: (batch) => {
              delivered.push({ ...batch, body: Uint8Array.from(batch.body) });
              return new Promise<void>((resolve) => pendingRelease.push(resolve));
            },
          },
        );
        let next = 0;
        let waiting: Promise<void> | undefined;
        let maxSenderQueue = 0;
        let steps = 0;
        for (let guard = 0; guard < 100_000; guard++) {
          // Producer: respects backpressure.
          if (next < s.batches.length && waiting === undefined) {
            const bt = s.batches[next]!;
            const p = a.send(body(next, bt.bytes), bt.messages);
            next++;
            if (p) {
              waiting = p;
              void p.then(() => (waiting = undefined));
            }
          }
          maxSenderQueue = Math.max(maxSenderQueue, a.core.stats.queuedBytes);
          // Delivery.tla CreditRespected and BufferExact: the receiver never holds more than its
          // window unconsumed, the sender never keeps more than its window unacknowledged, and
          // what the sender may send never goes past what the receiver has room for.
          const rs = b.core.stats;
          const ss = a.core.stats;
          expect(rs.unconsumedFrames).toBeLessThanOrEqual(s.windowFrames);
          expect(rs.unconsumedBytes).toBeLessThanOrEqual(s.windowBytes);
          expect(ss.unackedFrames).toBeLessThanOrEqual(s.windowFrames);
          const recv = (b.core as DeliveryChannelCore).receiverState;
          expect(ss.sendLimit).toBeLessThanOrEqual(recv.consumed + s.windowFrames);
          expect(ss.ackedFrames).toBeLessThanOrEqual(recv.delivered);
          // Bytes on the wire + held by the receiver stay within the window + frame overhead.
          expect(net.pendingBytes).toBeLessThanOrEqual(s.windowBytes + 17 * s.windowFrames + 4096);
          const moved = net.step();
          steps++;
          if (steps % s.slowEvery === 0 && pendingRelease.length > 0) pendingRelease.shift()!();
          await Promise.resolve();
          await Promise.resolve();
          if (
            !moved &&
            pendingRelease.length === 0 &&
            next === s.batches.length &&
            a.core.stats.queuedBatches === 0 &&
            waiting === undefined
          )
            break;
        }
        expect(a.core.state).toBe('open');
        expect(delivered.map((d) => d.seq)).toEqual(s.batches.map((_, i) => i + 1));
        expect(delivered.map((d) => new DataView(d.body.buffer).getUint32(0))).toEqual(
          s.batches.map((_, i) => i),
        );
        expect(delivered.map((d) => d.messages)).toEqual(s.batches.map((bt) => bt.messages));
        // The producer waited when the queue was full: it never held more than the bound plus one batch.
        expect(maxSenderQueue).toBeLessThan(maxQueuedBytes + 256 + 1);
        expect(a.core.stats.sentMessages).toBe(s.batches.reduce((n, bt) => n + bt.messages, 0));
      }),
      { numRuns: 60 },
    );
  });

  it('a core never sends beyond the credit it was granted (direct core check)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 40 }),
        fc.integer({ min: 1, max: 20 }),
        (sizes, window) => {
          const sender = new DeliveryChannelCore({ local: { cluster: 'c', app: 'a', worker: 's' } });
          const receiver = new DeliveryChannelCore({
            local: { cluster: 'c', app: 'a', worker: 'r' },
            windowFrames: window,
          });
          sender.step({ type: 'start' });
          receiver.step({ type: 'start' });
          const pipe = (from: DeliveryChannelCore, to: DeliveryChannelCore) => {
            const r = from.ready();
            for (const f of framesOf(r.writes)) to.step({ type: 'frame', payload: f });
            return r;
          };
          pipe(sender, receiver);
          pipe(receiver, sender);
          for (const m of sizes) sender.step({ type: 'send', body: new Uint8Array(m), messages: m });
          // Without any consumption, the receiver must get at most `window` batches.
          let received = 0;
          for (let i = 0; i < 5; i++) {
            pipe(sender, receiver);
            received += receiver.ready().deliveries.length;
            pipe(receiver, sender);
          }
          expect(received).toBe(Math.min(window, sizes.length));
          expect(received).toBe(receiver.stats.unconsumedFrames);
          expect(sender.stats.queuedBatches).toBe(sizes.length - received);
        },
      ),
    );
  });

  it('rejects a batch above the window with an error that says to split it', () => {
    const core = new DeliveryChannelCore({
      local: { cluster: 'c', app: 'a', worker: 's' },
      windowBytes: 100,
      connection: 'ch s->r',
    });
    core.step({ type: 'start' });
    expect(() => core.step({ type: 'send', body: new Uint8Array(101), messages: 1 })).toThrow(
      /ch s->r: batch of 1 messages \/ 101 bytes exceeds the channel window \(100 bytes\); split it/,
    );
  });

  it('closes gracefully after sending queued batches', () => {
    const net = new TestNetwork({ seed: 11 });
    const got: number[] = [];
    const { a, b } = net.link(opts('s'), opts('r'), {}, { onBatch: (bt) => void got.push(bt.seq) });
    a.send(body(0, 10), 1);
    a.send(body(1, 10), 1);
    a.close('done');
    net.run();
    expect(got).toEqual([1, 2]);
    expect(a.closed?.error).toBe(false);
    expect(b.closed?.error).toBe(false);
    expect(b.closed?.reason).toContain('done');
  });

  it('a lost connection is an error on the other side', () => {
    const logs: string[] = [];
    const net = new TestNetwork({ seed: 5 });
    const { a, b } = net.link(opts('s'), opts('r'), { log: () => {} }, { log: (m) => logs.push(m) });
    net.run();
    a.transportClosed('simulated crash');
    b.transportClosed('peer vanished');
    expect(b.closed?.error).toBe(true);
    expect(logs[0]).toContain('connection lost: peer vanished');
  });
});
