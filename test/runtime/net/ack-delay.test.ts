// The receiver's delayed ACK (EndpointOptions.ackDelayMs, the core's `deferAck`), on an injected
// manual clock: the batches consumed within the delay are answered by one ACK when the timer
// fires; half the window consumed is acknowledged at once, so the sender never waits for credit
// because of the delay; without the option every batch consumed with nothing left to consume is
// acknowledged at once (as before). A seeded property checks, over random schedules of sends,
// consumptions, deliveries and clock steps, that everything is delivered once and in order,
// that the sender's credit stays at least half a window ahead of what the receiver consumed,
// and that everything ends acknowledged once the delay has passed.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ChannelEndpoint, type ByteTransport, type EndpointClock } from '../../../runtime/net/endpoint.ts';
import { FrameType } from '../../../runtime/net/channel.ts';
import { FrameDecoder } from '../../../runtime/net/framing.ts';

class ManualClock implements EndpointClock {
  private now = 0;
  private seq = 0;
  private timers = new Map<number, { at: number; fn: () => void }>();
  monotonicMs(): number {
    return this.now;
  }
  setTimer(delayMs: number, fn: () => void): number {
    const id = ++this.seq;
    this.timers.set(id, { at: this.now + delayMs, fn });
    return id;
  }
  clearTimer(handle: number): void {
    this.timers.delete(handle);
  }
  get pending(): number {
    return this.timers.size;
  }
  /** Moves time forward, running due timers in time order (`between` after each). */
  advance(ms: number, between: () => void = () => undefined): void {
    const end = this.now + ms;
    for (;;) {
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const e of this.timers) if (e[1].at <= end && (!next || e[1].at < next[1].at)) next = e;
      if (!next) break;
      this.timers.delete(next[0]);
      this.now = next[1].at;
      next[1].fn();
      between();
    }
    this.now = end;
  }
}

/** One direction of a link: bytes wait until flushed; counts the ACK frames that went through. */
class Pipe implements ByteTransport {
  readonly queue: Uint8Array[] = [];
  acks = 0;
  private readonly decoder = new FrameDecoder({ connection: 'ack-delay test pipe' });
  constructor(private readonly to: () => ChannelEndpoint) {}
  write(chunks: readonly Uint8Array[]): void {
    for (const c of chunks) this.queue.push(Uint8Array.from(c));
  }
  close(): void {}
  flush(): void {
    while (this.queue.length > 0) {
      const chunk = this.queue.shift()!;
      this.decoder.push(chunk, (p) => {
        if (p[0] === FrameType.Ack) this.acks++;
      });
      this.to().receiveBytes(chunk);
    }
  }
}

const local = (worker: string) => ({ cluster: 'c1', app: 'wc', worker });

interface Pair {
  readonly clock: ManualClock;
  readonly a: ChannelEndpoint;
  readonly b: ChannelEndpoint;
  readonly ab: Pipe;
  readonly ba: Pipe;
  /** Bodies b delivered, in order (the first byte of each says its number). */
  readonly got: number[];
  /** b's batches handed out and not yet consumed (settle one with `consumeOne`). */
  readonly held: Array<() => void>;
  flush(): void;
}

/** a sends to b; b acknowledges with `ackDelayMs` (when given); `hold`: b consumes only on `consumeOne`. */
function pair(o: { ackDelayMs?: number; windowFrames?: number; hold?: boolean }): Pair {
  const clock = new ManualClock();
  const got: number[] = [];
  const held: Array<() => void> = [];
  const opts = (w: string) => ({
    local: local(w),
    connection: `data channel ${w}`,
    clock,
    ...(o.windowFrames !== undefined ? { windowFrames: o.windowFrames } : {}),
  });
  const a = new ChannelEndpoint(opts('w1'));
  const b = new ChannelEndpoint(
    { ...opts('w2'), ...(o.ackDelayMs !== undefined ? { ackDelayMs: o.ackDelayMs } : {}) },
    {
      onBatch: (batch) => {
        got.push(batch.body[0]!);
        if (!o.hold) return undefined;
        return new Promise<void>((resolve) => held.push(resolve));
      },
    },
  );
  const ab = new Pipe(() => b);
  const ba = new Pipe(() => a);
  const flush = () => {
    for (let i = 0; i < 10; i++) {
      a.flush();
      ab.flush();
      ba.flush();
    }
  };
  a.attach(ab);
  b.attach(ba);
  flush();
  return { clock, a, b, ab, ba, got, held, flush };
}

const body = (n: number) => Uint8Array.of(n & 0xff, 1, 2, 3);

/** Lets the promise callbacks of settled batches run (they report `consumed`). */
const settle = async () => {
  for (let i = 0; i < 5; i++) await Promise.resolve();
};

describe('delayed ACKs (ackDelayMs on an injected clock)', () => {
  it('answers the batches consumed within the delay with one ACK when the timer fires', () => {
    const p = pair({ ackDelayMs: 5 });
    expect(p.a.core.state).toBe('open');
    const acksAfterHandshake = p.ba.acks;
    for (let i = 1; i <= 3; i++) {
      p.a.send(body(i), 1);
      p.flush();
    }
    expect(p.got).toEqual([1, 2, 3]);
    // Consumed, not yet acknowledged: the sender still keeps the three.
    expect(p.b.core.stats.owedFrames).toBe(3);
    expect(p.a.core.stats.unackedFrames).toBe(3);
    expect(p.ba.acks).toBe(acksAfterHandshake);
    p.clock.advance(4, p.flush);
    expect(p.a.core.stats.unackedFrames).toBe(3);
    p.clock.advance(1, p.flush);
    expect(p.ba.acks).toBe(acksAfterHandshake + 1);
    expect(p.a.core.stats.unackedFrames).toBe(0);
    expect(p.a.core.stats.ackedFrames).toBe(3);
    expect(p.b.core.stats.owedFrames).toBe(0);
    // Nothing owed: no timer left behind, no further ACK.
    expect(p.clock.pending).toBe(0);
    p.clock.advance(100, p.flush);
    expect(p.ba.acks).toBe(acksAfterHandshake + 1);
  });

  it('acknowledges each batch at once without the option (one ACK per batch)', () => {
    const p = pair({});
    const acksAfterHandshake = p.ba.acks;
    for (let i = 1; i <= 3; i++) {
      p.a.send(body(i), 1);
      p.flush();
      expect(p.a.core.stats.unackedFrames).toBe(0);
    }
    expect(p.ba.acks).toBe(acksAfterHandshake + 3);
    expect(p.clock.pending).toBe(0);
  });

  it('acknowledges half the window consumed at once, without waiting for the timer', () => {
    const p = pair({ ackDelayMs: 50, windowFrames: 8 });
    const acksAfterHandshake = p.ba.acks;
    for (let i = 1; i <= 3; i++) {
      p.a.send(body(i), 1);
      p.flush();
    }
    expect(p.a.core.stats.unackedFrames).toBe(3);
    p.a.send(body(4), 1);
    p.flush();
    // Four of a window of eight consumed: the ACK went out with no time passing.
    expect(p.ba.acks).toBe(acksAfterHandshake + 1);
    expect(p.a.core.stats.unackedFrames).toBe(0);
    expect(p.a.core.stats.sendLimit).toBe(4 + 8);
  });

  it('arms the timer when an asynchronous consumption settles, not before', async () => {
    const p = pair({ ackDelayMs: 5, hold: true });
    p.a.send(body(1), 1);
    p.a.send(body(2), 1);
    p.flush();
    expect(p.got).toEqual([1, 2]);
    expect(p.clock.pending).toBe(0);
    p.clock.advance(20, p.flush);
    expect(p.a.core.stats.unackedFrames).toBe(2);
    const limit = p.a.core.stats.sendLimit;
    p.held.shift()!();
    await settle();
    expect(p.clock.pending).toBe(1);
    p.clock.advance(4, p.flush);
    expect(p.a.core.stats.unackedFrames).toBe(2);
    // The ACK says both were received and the one consumed: one more frame of credit.
    p.clock.advance(1, p.flush);
    expect(p.a.core.stats.ackedFrames).toBe(2);
    expect(p.a.core.stats.sendLimit).toBe(limit + 1);
    p.held.shift()!();
    await settle();
    p.clock.advance(5, p.flush);
    expect(p.a.core.stats.sendLimit).toBe(limit + 2);
    expect(p.a.core.stats.unackedFrames).toBe(0);
    expect(p.clock.pending).toBe(0);
  });

  it('never lets the delay cost the sender credit, and ends with everything acknowledged (seeded schedules)', async () => {
    const op = fc.oneof(
      fc.record({ t: fc.constant('send' as const), n: fc.integer({ min: 1, max: 5 }) }),
      fc.record({ t: fc.constant('consume' as const), n: fc.integer({ min: 1, max: 5 }) }),
      fc.record({ t: fc.constant('flush' as const) }),
      fc.record({ t: fc.constant('advance' as const), ms: fc.integer({ min: 1, max: 8 }) }),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 2, max: 16 }),
        fc.integer({ min: 1, max: 10 }),
        fc.array(op, { maxLength: 60 }),
        async (window, delay, ops) => {
          const p = pair({ ackDelayMs: delay, windowFrames: window, hold: true });
          let sent = 0;
          const check = () => {
            // Once b's ACKs reached a: its credit runs at least half a window past b's consumption.
            const r = p.b.core.stats;
            const consumed = r.receivedFrames - r.unconsumedFrames;
            if (p.ba.queue.length === 0)
              expect(p.a.core.stats.sendLimit).toBeGreaterThanOrEqual(consumed + Math.ceil(window / 2));
          };
          for (const o of ops) {
            if (o.t === 'send') {
              for (let i = 0; i < o.n; i++) {
                sent++;
                p.a.send(body(sent), 1);
              }
            } else if (o.t === 'consume') {
              for (let i = 0; i < o.n && p.held.length > 0; i++) p.held.shift()!();
              await settle();
            } else if (o.t === 'flush') {
              p.flush();
            } else {
              p.clock.advance(o.ms, p.flush);
            }
            check();
          }
          // Drain: consume and deliver everything, then let the delay pass.
          for (let round = 0; round < 4 * (sent + 1); round++) {
            p.flush();
            while (p.held.length > 0) p.held.shift()!();
            await settle();
            p.clock.advance(delay, p.flush);
            check();
            if (p.got.length === sent && p.a.core.stats.unackedFrames === 0) break;
          }
          expect(p.got).toEqual(Array.from({ length: sent }, (_, i) => (i + 1) & 0xff));
          expect(p.a.core.stats.unackedFrames).toBe(0);
          expect(p.a.core.stats.ackedFrames).toBe(sent);
          expect(p.b.core.stats.owedFrames).toBe(0);
          expect(p.clock.pending).toBe(0);
        },
      ),
      { seed: 6, numRuns: 150 },
    );
  });
});
