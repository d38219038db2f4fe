// Channel incarnations over the in-memory transport: a worker that restarts (a new endpoint
// with a new incarnation in its HELLO) gets a fresh channel in both directions, never the
// frames its previous incarnation was sent; the side that stayed up drops what it kept for the
// old incarnation, logs how much and reports it (onPeerRestarted). A reconnect of the same
// incarnation resumes as before. A peer of another protocol version is refused with a message
// that says so.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { SeededRandom, TestNetwork, type TestLink } from '../../../runtime/net/test-transport.ts';
import {
  ChannelEndpoint,
  type EndpointHandlers,
  type EndpointOptions,
} from '../../../runtime/net/endpoint.ts';
import {
  CloseCode,
  newIncarnation,
  PROTOCOL_VERSION,
  type PeerRestart,
} from '../../../runtime/net/channel.ts';
import { encodeFrame } from '../../../runtime/net/framing.ts';
import { createSeededRandom } from '../../../runtime/system.ts';

function opts(worker: string, incarnation: number, extra: Partial<EndpointOptions> = {}): EndpointOptions {
  return {
    local: { cluster: 'c1', app: 'wc', worker, incarnation },
    connection: `test ${worker}`,
    reconnect: true,
    ...extra,
  };
}

/** A body naming the sending endpoint instance and the batch number. */
function body(instance: number, n: number): Uint8Array {
  const b = new Uint8Array(8);
  const v = new DataView(b.buffer);
  v.setUint32(0, instance);
  v.setUint32(4, n);
  return b;
}

function parse(b: Uint8Array): { instance: number; n: number } {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return { instance: v.getUint32(0), n: v.getUint32(4) };
}

/** Lets the endpoints' send pumps (microtasks) run, then moves everything in flight. */
async function settle(net: TestNetwork): Promise<void> {
  do {
    for (let i = 0; i < 4; i++) await Promise.resolve();
  } while (net.run() > 0);
}

describe('channel incarnations', () => {
  it('gives a restarted peer fresh channels in both directions and reports what it dropped', async () => {
    const net = new TestNetwork({ seed: 3 });
    const logsA: string[] = [];
    const restarts: PeerRestart[] = [];
    const gotA: Array<{ seq: number; instance: number; n: number }> = [];
    const gotB: Array<{ seq: number; instance: number; n: number }> = [];
    const gotB2: Array<{ seq: number; instance: number; n: number }> = [];
    const heldByA: Array<() => void> = [];
    const heldByB: Array<() => void> = [];
    const handlersA: EndpointHandlers = {
      log: (m) => logsA.push(m),
      onPeerRestarted: (r) => restarts.push(r),
      onBatch: (b) => {
        gotA.push({ seq: b.seq, ...parse(b.body) });
        // A still handles the old B's first two batches when B restarts.
        if (gotA.length <= 2) return new Promise<void>((resolve) => heldByA.push(resolve));
      },
    };
    const link = net.link(opts('A', 11), opts('B', 22), handlersA, {
      log: () => {},
      // B holds every batch: nothing it gets is acknowledged, A keeps all of it.
      onBatch: (b) => {
        gotB.push({ seq: b.seq, ...parse(b.body) });
        return new Promise<void>((resolve) => heldByB.push(resolve));
      },
    });
    await settle(net);
    for (let n = 0; n < 5; n++) void link.a.send(body(1, n), 1 + n);
    for (let n = 0; n < 3; n++) void link.b.send(body(2, n), 1);
    await settle(net);
    expect(gotB.map((g) => g.n)).toEqual([0, 1, 2, 3, 4]);
    expect(gotA.map((g) => g.n)).toEqual([0, 1, 2]);
    expect(link.a.core.stats.unackedFrames).toBe(5);
    // B dies; A sends two more batches while it is down (queued for the old incarnation).
    net.cut(link, 'B killed');
    await settle(net);
    void link.a.send(body(1, 5), 1);
    void link.a.send(body(1, 6), 1);
    await settle(net);
    const logsB2: string[] = [];
    const restartsB2: PeerRestart[] = [];
    const next = net.restart(link, 'b', opts('B', 33), {
      log: (m) => logsB2.push(m),
      onPeerRestarted: (r) => restartsB2.push(r),
      onBatch: (b) => void gotB2.push({ seq: b.seq, ...parse(b.body) }),
    });
    await settle(net);
    expect(restarts).toEqual([
      {
        worker: 'B',
        previousIncarnation: 22,
        incarnation: 33,
        droppedFrames: 7,
        droppedMessages: 1 + 2 + 3 + 4 + 5 + 1 + 1,
        droppedBytes: 7 * 8,
        abandonedFrames: 2,
      },
    ]);
    expect(logsA.join('\n')).toMatch(
      /worker 'B' restarted \(incarnation 22 -> 33\): the channel starts fresh in both directions; dropped 7 batches \(17 messages, 56 bytes\).*; 2 batches it sent are still being handled/,
    );
    // Nothing meant for the old incarnation reaches the new one, and the restarted side saw
    // nothing to report (it has no earlier state).
    expect(gotB2).toEqual([]);
    expect(restartsB2).toEqual([]);
    expect(logsB2).toEqual([]);
    expect(next.a.core.state).toBe('open');
    expect(next.b.core.state).toBe('open');
    expect(next.a.core.stats.unackedFrames).toBe(0);
    // A's late consumption of the old incarnation's batches changes nothing.
    for (const r of heldByA) r();
    for (const r of heldByB) r();
    // Fresh in both directions: sequence numbers start at 1 again.
    void next.a.send(body(1, 7), 1);
    void next.b.send(body(3, 0), 1);
    void next.b.send(body(3, 1), 1);
    await settle(net);
    expect(gotB2).toEqual([{ seq: 1, instance: 1, n: 7 }]);
    expect(gotA.slice(3)).toEqual([
      { seq: 1, instance: 3, n: 0 },
      { seq: 2, instance: 3, n: 1 },
    ]);
    expect(next.a.core.stats.unackedFrames).toBe(0);
    expect(next.b.core.stats.unackedFrames).toBe(0);
    expect(next.a.core.stats.unconsumedFrames).toBe(0);
    expect(next.a.core.epoch).toBe(1);
    expect(logsA.join('\n')).not.toMatch(/protocol error/);
  });

  it('resumes, without a restart, when the same incarnation reconnects', async () => {
    const net = new TestNetwork({ seed: 9 });
    const restarts: PeerRestart[] = [];
    const got: number[] = [];
    const link = net.link(
      opts('A', 5),
      opts('B', 6),
      { log: () => {}, onPeerRestarted: (r) => restarts.push(r) },
      {
        log: () => {},
        onPeerRestarted: (r) => restarts.push(r),
        onBatch: (b) => void got.push(parse(b.body).n),
      },
    );
    await settle(net);
    for (let n = 0; n < 4; n++) void link.a.send(body(1, n), 1);
    for (let i = 0; i < 4; i++) await Promise.resolve();
    net.cut(link); // before anything moved: all four are lost in flight
    net.reconnect(link);
    await settle(net);
    expect(got).toEqual([0, 1, 2, 3]);
    expect(restarts).toEqual([]);
    expect(link.a.core.stats.resentFrames).toBeGreaterThan(0);
  });

  it('refuses a peer of an older protocol version, naming both versions', () => {
    const logs: string[] = [];
    const written: Uint8Array[] = [];
    const ep = new ChannelEndpoint(opts('w1', 7), { log: (m) => logs.push(m) });
    ep.attach({ write: (c) => void written.push(...c), close: () => {} });
    // A version 2 HELLO: the names, then the handshake, no incarnations.
    const names = ['c1', 'wc', 'w2'].map((s) => Buffer.from(s));
    const v2 = Buffer.concat([
      Buffer.from([1, 0, 2]),
      ...names.flatMap((n) => [Buffer.from([0, n.length]), n]),
      Buffer.alloc(24),
    ]);
    ep.receiveBytes(encodeFrame(v2));
    expect(ep.closed?.code).toBe(CloseCode.Rejected);
    expect(logs.join('\n')).toContain(
      `rejected hello from worker 'w2': it speaks data channel protocol version 2, this worker speaks ${PROTOCOL_VERSION}`,
    );
  });

  it('draws incarnations above 0 from the injected Random', () => {
    const r = createSeededRandom(1);
    const seen = new Set<number>();
    for (let i = 0; i < 1000; i++) {
      const v = newIncarnation(r);
      expect(Number.isSafeInteger(v) && v > 0).toBe(true);
      seen.add(v);
    }
    expect(seen.size).toBe(1000);
    // Deterministic for a seed.
    expect(newIncarnation(createSeededRandom(5))).toBe(newIncarnation(createSeededRandom(5)));
  });

  it('never hands an incarnation frames meant for an earlier one, under seeded cuts and restarts', async () => {
    let restartsSeen = 0;
    let framesDropped = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          seed: fc.integer({ min: 1, max: 1 << 30 }),
          steps: fc.integer({ min: 50, max: 2000 }),
          windowFrames: fc.integer({ min: 1, max: 6 }),
          slow: fc.boolean(),
        }),
        async (s) => {
          const rng = new SeededRandom(s.seed ^ 0x1b873593);
          const random = createSeededRandom(s.seed);
          const net = new TestNetwork({ seed: s.seed });
          const logs: string[] = [];
          let instances = 0;
          /** Per endpoint instance: its incarnation, next batch number, and what it got per sender. */
          interface Side {
            readonly id: number;
            readonly incarnation: number;
            nextN: number;
            readonly got: Map<number, number[]>;
            /** The sender's next batch number when it saw each peer incarnation restart. */
            readonly resetAt: Map<number, number>;
          }
          const held: Array<() => void> = [];
          const make = (
            worker: string,
          ): { side: Side; options: EndpointOptions; handlers: EndpointHandlers } => {
            const side: Side = {
              id: ++instances,
              incarnation: newIncarnation(random),
              nextN: 0,
              got: new Map(),
              resetAt: new Map(),
            };
            return {
              side,
              options: opts(worker, side.incarnation, { windowFrames: s.windowFrames, maxQueuedBytes: 64 }),
              handlers: {
                log: (m) => logs.push(m),
                onPeerRestarted: (r) => {
                  side.resetAt.set(r.incarnation, side.nextN);
                  restartsSeen++;
                  framesDropped += r.droppedFrames;
                },
                onBatch: (b) => {
                  const { instance, n } = parse(b.body);
                  const list = side.got.get(instance) ?? [];
                  list.push(n);
                  side.got.set(instance, list);
                  if (s.slow && rng.below(2) === 0) return new Promise<void>((resolve) => held.push(resolve));
                },
              },
            };
          };
          const all: Side[] = [];
          const sa = make('A');
          const sb = make('B');
          all.push(sa.side, sb.side);
          let sides = { a: sa.side, b: sb.side };
          let link: TestLink = net.link(sa.options, sb.options, sa.handlers, sb.handlers);
          let down = false;
          for (let i = 0; i < s.steps; i++) {
            const r = rng.below(100);
            if (r < 20) {
              const from = rng.below(2) === 0 ? 'a' : 'b';
              const ep = link[from];
              if (ep.core.canSend && !ep.closed) {
                const side = sides[from];
                void ep.send(body(side.id, side.nextN++), 1);
              }
            } else if (r < 23 && !down) {
              net.cut(link, 'seeded cut');
              down = true;
            } else if (r < 30 && down) {
              net.reconnect(link);
              down = false;
            } else if (r < 32) {
              const which = rng.below(2) === 0 ? 'a' : 'b';
              const m = make(which === 'a' ? 'A' : 'B');
              all.push(m.side);
              link = net.restart(link, which, m.options, m.handlers);
              sides = { ...sides, [which]: m.side };
              down = false;
            } else if (r < 40 && held.length > 0) {
              held.shift()!();
            } else {
              net.step();
            }
            await Promise.resolve();
          }
          if (down) net.reconnect(link);
          do {
            while (held.length > 0) held.shift()!();
            await settle(net);
          } while (held.length > 0);
          expect(logs.filter((l) => /protocol error|rejected/.test(l))).toEqual([]);
          const byId = new Map(all.map((x) => [x.id, x]));
          for (const receiver of all) {
            for (const [senderId, ns] of receiver.got) {
              // From each sender instance: consecutive batches, none twice, none skipped.
              for (let k = 1; k < ns.length; k++) expect(ns[k]).toBe(ns[k - 1]! + 1);
              // Nothing the sender had sent before it saw this incarnation restart.
              const sender = byId.get(senderId)!;
              const reset = sender.resetAt.get(receiver.incarnation);
              if (reset !== undefined) expect(ns[0]).toBeGreaterThanOrEqual(reset);
            }
          }
          // The survivors of the last restarts deliver everything sent since, both ways.
          for (const [to, from] of [
            [sides.b, sides.a],
            [sides.a, sides.b],
          ] as const) {
            const since = from.resetAt.get(to.incarnation) ?? 0;
            const all = Array.from({ length: from.nextN - since }, (_, k) => since + k);
            expect(to.got.get(from.id) ?? []).toEqual(all);
          }
          expect(link.a.core.stats.unackedFrames).toBe(0);
          expect(link.b.core.stats.unackedFrames).toBe(0);
        },
      ),
      { numRuns: 150 },
    );
    // Peers did restart, and frames kept for their old incarnations were dropped.
    expect(restartsSeen).toBeGreaterThan(50);
    expect(framesDropped).toBeGreaterThan(0);
  });
});
