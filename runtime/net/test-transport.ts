// An in-memory, deterministic transport for channel tests: every byte written goes into a
// per-direction FIFO; the test (or a seeded generator) decides when which direction moves
// and where the byte stream is cut. No timers, no sockets: a run is a function of its seed.

import { ChannelEndpoint } from './endpoint.ts';
import type { ByteTransport, EndpointHandlers, EndpointOptions } from './endpoint.ts';

/** A small seeded generator (xorshift32); deterministic across runs and platforms. */
export class SeededRandom {
  private s: number;
  constructor(seed: number) {
    this.s = (seed | 0) === 0 ? 0x9e3779b9 : seed | 0;
  }
  nextU32(): number {
    let x = this.s;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.s = x;
    return x >>> 0;
  }
  /** Integer in [0, n). */
  below(n: number): number {
    return this.nextU32() % n;
  }
}

class Direction implements ByteTransport {
  readonly chunks: Uint8Array[] = [];
  closing = false;
  delivered = 0;
  constructor(readonly name: string) {}
  target: ChannelEndpoint | null = null;
  source: ChannelEndpoint | null = null;
  write(chunks: readonly Uint8Array[]): void {
    if (this.closing) return;
    // Copy: a real socket would have serialised the bytes at write time.
    for (const c of chunks) if (c.length > 0) this.chunks.push(Uint8Array.from(c));
  }
  close(): void {
    this.closing = true;
  }
  get pendingBytes(): number {
    let n = 0;
    for (const c of this.chunks) n += c.length;
    return n;
  }
}

export interface TestLink {
  readonly a: ChannelEndpoint;
  readonly b: ChannelEndpoint;
}

export interface TestNetworkOptions {
  readonly seed: number;
  /** Cut chunks at random points to exercise frame reassembly (default true). */
  readonly splitChunks?: boolean;
}

export class TestNetwork {
  private readonly rng: SeededRandom;
  private directions: Direction[] = [];
  private readonly split: boolean;
  private readonly links = new Map<TestLink, { ab: Direction; ba: Direction; names: [string, string] }>();

  constructor(options: TestNetworkOptions) {
    this.rng = new SeededRandom(options.seed);
    this.split = options.splitChunks ?? true;
  }

  /** Two endpoints joined by an in-memory link; both send HELLO at once. */
  link(
    a: EndpointOptions,
    b: EndpointOptions,
    handlersA: EndpointHandlers = {},
    handlersB: EndpointHandlers = {},
  ): TestLink {
    const ea = new ChannelEndpoint(a, handlersA);
    const eb = new ChannelEndpoint(b, handlersB);
    const link: TestLink = { a: ea, b: eb };
    this.connect(link, [a.local.worker, b.local.worker]);
    return link;
  }

  private connect(link: TestLink, names: [string, string]): void {
    const ab = new Direction(`${names[0]} -> ${names[1]}`);
    const ba = new Direction(`${names[1]} -> ${names[0]}`);
    ab.source = link.a;
    ab.target = link.b;
    ba.source = link.b;
    ba.target = link.a;
    this.directions.push(ab, ba);
    this.links.set(link, { ab, ba, names });
    link.a.attach(ab);
    link.b.attach(ba);
  }

  /**
   * Breaks the link's connection: what is in flight is lost and both ends see it end at once
   * (as when a cable is cut or a process dies). Endpoints with the `reconnect` option wait for
   * `reconnect(link)`; others close.
   */
  cut(link: TestLink, reason = 'connection cut'): void {
    const l = this.links.get(link);
    if (!l) throw new Error('cut: not a link of this network');
    this.directions = this.directions.filter((d) => d !== l.ab && d !== l.ba);
    for (const d of [l.ab, l.ba]) {
      d.chunks.length = 0;
      d.closing = true;
      const t = d.target;
      d.target = null;
      t?.transportClosed(`link ${d.name}: ${reason}`);
    }
  }

  /**
   * The process on one side of the link restarts: the connection is cut (in flight is lost),
   * that side's endpoint is thrown away, and a new endpoint (`options`: a new incarnation in
   * `local`, as a restarted process has) connects to the other side's endpoint, which keeps its
   * state. Returns the link that replaces `link` (the old one is no longer this network's).
   */
  restart(
    link: TestLink,
    side: 'a' | 'b',
    options: EndpointOptions,
    handlers: EndpointHandlers = {},
    reason = 'process restarted',
  ): TestLink {
    const l = this.links.get(link);
    if (!l) throw new Error('restart: not a link of this network');
    if (this.directions.includes(l.ab)) this.cut(link, reason);
    this.links.delete(link);
    const fresh = new ChannelEndpoint(options, handlers);
    const next: TestLink = side === 'a' ? { a: fresh, b: link.b } : { a: link.a, b: fresh };
    this.connect(next, l.names);
    return next;
  }

  /** A new connection for a cut link: both ends attach a fresh transport and say HELLO. */
  reconnect(link: TestLink): void {
    const l = this.links.get(link);
    if (!l) throw new Error('reconnect: not a link of this network');
    this.connect(link, l.names);
  }

  /** Bytes written and not yet delivered, over all links. */
  get pendingBytes(): number {
    let n = 0;
    for (const d of this.directions) n += d.pendingBytes;
    return n;
  }

  /** Moves one piece of data (or one close) chosen by the seed; false when nothing can move. */
  step(): boolean {
    const live = this.directions.filter((d) => d.chunks.length > 0 || (d.closing && d.target !== null));
    if (live.length === 0) return false;
    const d = live[this.rng.below(live.length)]!;
    if (d.chunks.length === 0) {
      // Closed and drained: the peer sees the connection end.
      const t = d.target!;
      d.target = null;
      t.transportClosed(`link ${d.name} closed`);
      return true;
    }
    const head = d.chunks[0]!;
    let piece = head;
    if (this.split && head.length > 1 && this.rng.below(2) === 0) {
      const cut = 1 + this.rng.below(head.length - 1);
      piece = head.subarray(0, cut);
      d.chunks[0] = head.subarray(cut);
    } else {
      d.chunks.shift();
    }
    d.delivered += piece.length;
    d.target?.receiveBytes(piece);
    return true;
  }

  /** Steps until quiet or `maxSteps`; returns the number of steps taken. */
  run(maxSteps = 1_000_000): number {
    let n = 0;
    while (n < maxSteps && this.step()) n++;
    return n;
  }
}
