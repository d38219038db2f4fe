// Handshake and idle timeouts of a data channel endpoint, on an injected manual clock: a peer
// that never says HELLO is dropped after the handshake timeout; a quiet but live connection
// stays open (each side sends its ACK as a keepalive); a connection on which nothing arrives any
// more is dropped after the idle timeout, and with `reconnect` the channel waits for a new one.
import { describe, expect, it } from 'vitest';
import { ChannelEndpoint, type ByteTransport, type EndpointClock } from '../../../runtime/net/endpoint.ts';

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
  /** Moves time forward, running due timers in time order. */
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

/** A link between two endpoints whose directions can be blocked (bytes written are then lost). */
class Pipe implements ByteTransport {
  readonly queue: Uint8Array[] = [];
  blocked = false;
  constructor(private readonly to: () => ChannelEndpoint) {}
  write(chunks: readonly Uint8Array[]): void {
    if (!this.blocked) for (const c of chunks) this.queue.push(Uint8Array.from(c));
  }
  close(): void {
    this.blocked = true;
  }
  flush(): void {
    while (this.queue.length > 0) this.to().receiveBytes(this.queue.shift()!);
  }
}

const local = (worker: string) => ({ cluster: 'c1', app: 'wc', worker });

describe('data channel timeouts (injected clock)', () => {
  it('drops a connection whose peer never says HELLO, naming the timeout', () => {
    for (const reconnect of [false, true]) {
      const clock = new ManualClock();
      const logs: string[] = [];
      const ep = new ChannelEndpoint(
        {
          local: local('w1'),
          connection: 'data channel w1 -> w2',
          clock,
          handshakeTimeoutMs: 500,
          reconnect,
        },
        { log: (m) => logs.push(m) },
      );
      ep.attach({ write: () => undefined, close: () => undefined });
      clock.advance(499);
      expect(ep.core.state).toBe('handshake');
      clock.advance(1);
      expect(logs.join('\n')).toContain(
        'data channel w1 -> w2: connection lost: no HELLO from the peer within 500 ms (handshake timeout)',
      );
      expect(ep.core.state).toBe(reconnect ? 'disconnected' : 'closed');
      expect(clock.pending).toBe(0);
    }
  });

  it('keeps a quiet live connection open with keepalive ACKs, and drops one on which nothing arrives', () => {
    const clock = new ManualClock();
    const logs: string[] = [];
    const opts = (w: string) => ({
      local: local(w),
      connection: `data channel ${w}`,
      clock,
      idleTimeoutMs: 300,
      handshakeTimeoutMs: 100,
      reconnect: true,
    });
    const a = new ChannelEndpoint(opts('w1'), { log: (m) => logs.push(m) });
    const b = new ChannelEndpoint(opts('w2'), { log: (m) => logs.push(m) });
    const ab = new Pipe(() => b);
    const ba = new Pipe(() => a);
    const flush = () => {
      for (let i = 0; i < 10; i++) {
        ab.flush();
        ba.flush();
      }
    };
    a.attach(ab);
    b.attach(ba);
    flush();
    expect(a.core.state).toBe('open');
    expect(b.core.state).toBe('open');
    // Ten idle timeouts of quiet: the keepalives keep both sides open.
    clock.advance(3000, flush);
    expect(a.core.state).toBe('open');
    expect(b.core.state).toBe('open');
    expect(logs).toEqual([]);
    // From now on nothing from w2 reaches w1: w1 gives up after the idle timeout.
    ba.blocked = true;
    clock.advance(400, flush);
    expect(a.core.state).toBe('disconnected');
    expect(logs.join('\n')).toMatch(
      /data channel w1: connection lost: nothing received for \d+ ms \(idle timeout 300 ms\); waiting for a new connection/,
    );
  });
});
