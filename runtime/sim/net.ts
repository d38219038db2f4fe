// The simulator's network (issue 8): byte-stream connections between ChannelEndpoints, in
// simulated time, every choice from the simulation's seeded Random. It models what TCP gives
// and how it fails, below the delivery protocol (which resends and drops duplicates):
//
// - While connected, a direction is a FIFO byte stream: bytes arrive in order after a latency,
//   cut into pieces at seeded points (`reorder` adds jitter, so that the interleaving of
//   different links, and of the two directions of one, varies from seed to seed).
// - `drop`: a connection is reset; what was in flight both ways is lost; both ends see it end.
// - `dup`: for a while, whole DATA frames on one direction of a link arrive twice (what a
//   lossy channel may do; the receiver must drop the copy), and then the connection is reset
//   after the bytes one way arrived and those the other way (the acknowledgements) were lost,
//   so that the sender resends from the resume point the handshake gives.
// - `partition`: the links between two groups of workers are reset and every dial between them
//   fails until the partition heals.
// - A crashed process's connections end at once (its peers see the reset); its endpoints get
//   nothing more.
// After a reset, the link dials again after a seeded backoff (as the TCP shell does), while
// both endpoints are open and not partitioned.
import type { ChannelEndpoint, ByteTransport } from '../net/endpoint.ts';
import type { Random } from '../types.ts';
import type { SimScheduler } from './scheduler.ts';

export const NET_FAULTS = ['drop', 'dup', 'reorder', 'partition'] as const;
export type NetFault = (typeof NET_FAULTS)[number];

export interface SimNetOptions {
  readonly random: Random;
  readonly sched: SimScheduler;
  readonly faults?: readonly NetFault[];
  /** One-way latency, simulated ms (default 0.2). */
  readonly latencyMs?: number;
  /** Appends a line to the simulation's event log. */
  readonly log: (event: string) => void;
}

interface Connection {
  readonly id: number;
  ended: boolean;
  /** Per direction (0: a -> b, 1: b -> a): when the last piece is due (FIFO). */
  readonly lastDue: [number, number];
  /** Per direction: bytes in flight. */
  readonly inFlight: [number, number];
  /** Per direction: pieces dropped from here on (a fault lost them). */
  readonly lost: [boolean, boolean];
  /** Per direction: where the byte stream is in its frames (4-byte length, then payload). */
  readonly scan: [FrameScan, FrameScan];
  /** Per direction: until when (simulated ms) DATA frames may arrive twice. */
  readonly dupUntil: [number, number];
}

interface FrameScan {
  header: number[];
  /** Payload bytes of the current frame still to come (-1: in the header). */
  remaining: number;
  /** The current frame's bytes, when it may be duplicated. */
  parts: Uint8Array[] | null;
}

const DATA_FRAME_TYPE = 2; // runtime/net/frames.ts FrameType.Data
const FRAME_LENGTH_BYTES = 4; // runtime/net/framing.ts FRAME_HEADER_BYTES

/** A link between two endpoints (one pair of workers' channel), over successive connections. */
export class SimWire {
  private conn: Connection | null = null;
  retired = false;
  private redialing = false;
  resets = 0;

  constructor(
    private readonly net: SimNet,
    readonly a: ChannelEndpoint,
    readonly b: ChannelEndpoint,
    readonly nameA: string,
    readonly nameB: string,
  ) {}

  get label(): string {
    return `${this.nameA}<->${this.nameB}`;
  }

  get connected(): boolean {
    return this.conn !== null && !this.conn.ended;
  }

  get bytesInFlight(): number {
    return this.conn && !this.conn.ended ? this.conn.inFlight[0] + this.conn.inFlight[1] : 0;
  }

  /** Opens a connection: both ends attach a transport and say HELLO. */
  dial(): void {
    if (this.retired || this.connected) return;
    if (this.a.closed || this.b.closed) return;
    if (this.a.currentTransport || this.b.currentTransport) return;
    if (this.net.blocked(this.nameA, this.nameB)) {
      this.scheduleRedial();
      return;
    }
    const conn: Connection = {
      id: this.net.nextConnectionId++,
      ended: false,
      lastDue: [0, 0],
      inFlight: [0, 0],
      lost: [false, false],
      scan: [
        { header: [], remaining: -1, parts: null },
        { header: [], remaining: -1, parts: null },
      ],
      dupUntil: [0, 0],
    };
    this.conn = conn;
    this.net.log(`connect ${this.label} #${conn.id}`);
    this.a.attach(this.transport(conn, 0));
    this.b.attach(this.transport(conn, 1));
  }

  private transport(conn: Connection, dir: 0 | 1): ByteTransport {
    return {
      write: (chunks) => {
        if (conn.ended || this.conn !== conn) return;
        // One write is one run of bytes, as a corked TCP write is (send() cuts it at seeded
        // points): its frames may arrive together, as they do over TCP. One copy of it all (the
        // writer may reuse its buffers; a Buffer's slice() would be a view). Each chunk went
        // alone before, a timer and a step each, and a frame's header never came with its body.
        let total = 0;
        for (const c of chunks) total += c.length;
        if (total === 0) return;
        const bytes = new Uint8Array(total);
        let at = 0;
        for (const c of chunks) {
          bytes.set(c, at);
          at += c.length;
        }
        this.write(conn, dir, bytes);
      },
      close: () => {
        if (conn.ended || this.conn !== conn) return;
        // A FIN after the bytes written so far: the peer sees the end once they arrived.
        const due = Math.max(conn.lastDue[dir], this.net.sched.monotonicMs());
        this.net.sched.schedule(
          due - this.net.sched.monotonicMs(),
          () => {
            if (conn.ended || this.conn !== conn) return;
            this.end(conn, `the peer closed the connection`, dir === 0 ? 'b' : 'a');
          },
          null,
        );
      },
    };
  }

  /** Bytes written one way: sent on, and while `dup` lasts a whole DATA frame may follow
   * itself (the frame boundaries are tracked on every connection). */
  private write(conn: Connection, dir: 0 | 1, bytes: Uint8Array): void {
    this.send(conn, dir, bytes);
    const sc = conn.scan[dir];
    const dupOn = conn.dupUntil[dir] > this.net.sched.monotonicMs();
    let at = 0;
    while (at < bytes.length) {
      if (sc.remaining < 0) {
        if (sc.header.length === 0) sc.parts = dupOn ? [] : null;
        const take = Math.min(FRAME_LENGTH_BYTES - sc.header.length, bytes.length - at);
        for (let i = 0; i < take; i++) sc.header.push(bytes[at + i]!);
        sc.parts?.push(bytes.subarray(at, at + take));
        at += take;
        if (sc.header.length === FRAME_LENGTH_BYTES) {
          const h = sc.header;
          sc.remaining = ((h[0]! << 24) | (h[1]! << 16) | (h[2]! << 8) | h[3]!) >>> 0;
          sc.header = [];
        }
      }
      if (sc.remaining >= 0) {
        const take = Math.min(sc.remaining, bytes.length - at);
        sc.parts?.push(bytes.subarray(at, at + take));
        at += take;
        sc.remaining -= take;
        if (sc.remaining === 0) {
          sc.remaining = -1;
          const parts = sc.parts;
          sc.parts = null;
          if (
            parts &&
            parts.length > 1 &&
            parts[1]![0] === DATA_FRAME_TYPE &&
            this.net.random.nextInt(2) === 0
          ) {
            const copy = Buffer.concat(parts);
            this.net.duplicatedFrames++;
            this.send(conn, dir, copy);
          }
        }
      }
    }
  }

  private send(conn: Connection, dir: 0 | 1, bytes: Uint8Array): void {
    const net = this.net;
    const now = net.sched.monotonicMs();
    let at = 0;
    while (at < bytes.length) {
      // Cut the stream at seeded points (frame reassembly is exercised on every run).
      const rest = bytes.length - at;
      const n = rest > 1 && net.random.nextInt(4) === 0 ? 1 + net.random.nextInt(rest - 1) : rest;
      const piece = bytes.subarray(at, at + n);
      at += n;
      const jitter = net.reorder ? net.random.next() * net.latencyMs * 4 : 0;
      const due = Math.max(conn.lastDue[dir], now + net.latencyMs + jitter);
      conn.lastDue[dir] = due;
      conn.inFlight[dir] += piece.length;
      net.sched.schedule(
        due - now,
        () => {
          conn.inFlight[dir] -= piece.length;
          if (conn.ended || conn.lost[dir] || this.conn !== conn) return;
          net.deliveredBytes += piece.length;
          (dir === 0 ? this.b : this.a).receiveBytes(piece);
        },
        null,
      );
    }
  }

  /** The connection ends: `notify` says which ends see it (a dead process sees nothing). */
  private end(conn: Connection, reason: string, notify: 'a' | 'b' | 'both' | 'none'): void {
    conn.ended = true;
    conn.inFlight[0] = conn.inFlight[1] = 0;
    if (notify === 'a' || notify === 'both') this.a.transportClosed(`${this.label}: ${reason}`);
    if (notify === 'b' || notify === 'both') this.b.transportClosed(`${this.label}: ${reason}`);
    this.scheduleRedial();
  }

  private scheduleRedial(): void {
    if (this.retired || this.redialing) return;
    this.redialing = true;
    this.net.sched.schedule(
      1 + this.net.random.nextInt(50),
      () => {
        this.redialing = false;
        this.dial();
      },
      null,
    );
  }

  /** A fault: the connection is reset. `how`: `drop` loses what is in flight both ways; `dup`
   * lets one direction arrive and loses the other (its acknowledgements), then resets. */
  reset(how: 'drop' | 'dup' | 'partition'): boolean {
    const conn = this.conn;
    if (!conn || conn.ended) return false;
    this.resets++;
    if (how === 'dup') {
      const keep: 0 | 1 = this.net.random.nextInt(2) === 0 ? 0 : 1;
      const forMs = 5 + this.net.random.nextInt(46);
      const sched = this.net.sched;
      // For `forMs`, DATA frames the kept direction carries may arrive twice; then the other
      // direction (its acknowledgements) is lost and the connection resets once the kept
      // direction's bytes arrived.
      conn.dupUntil[keep] = sched.monotonicMs() + forMs;
      this.net.log(
        `fault dup ${this.label} #${conn.id}: frames to ${keep === 0 ? this.nameB : this.nameA} doubled for ${forMs} ms, then its acks lost`,
      );
      sched.schedule(
        forMs,
        () => {
          if (conn.ended || this.conn !== conn) return;
          conn.lost[keep === 0 ? 1 : 0] = true;
          const due = Math.max(conn.lastDue[keep], sched.monotonicMs());
          sched.schedule(
            due - sched.monotonicMs(),
            () => {
              if (!conn.ended && this.conn === conn) this.end(conn, 'connection reset (acks lost)', 'both');
            },
            null,
          );
        },
        null,
      );
      return true;
    }
    this.net.log(`fault ${how} ${this.label} #${conn.id}: ${conn.inFlight[0] + conn.inFlight[1]} bytes lost`);
    conn.lost[0] = conn.lost[1] = true;
    this.end(conn, how === 'partition' ? 'network partition' : 'connection reset', 'both');
    return true;
  }

  /** A process at one end died: the connection ends, the peer sees it; no more dials. */
  retire(deadSide: 'a' | 'b' | null): void {
    this.retired = true;
    const conn = this.conn;
    if (!conn || conn.ended) return;
    conn.lost[0] = conn.lost[1] = true;
    this.end(conn, 'the peer process died', deadSide === 'a' ? 'b' : deadSide === 'b' ? 'a' : 'none');
  }
}

/** The simulated network of one simulation. */
export class SimNet {
  readonly random: Random;
  readonly sched: SimScheduler;
  readonly latencyMs: number;
  readonly log: (event: string) => void;
  private readonly faults: ReadonlySet<NetFault>;
  /** `reorder` is on (read for every piece sent). */
  readonly reorder: boolean;
  readonly wires = new Set<SimWire>();
  nextConnectionId = 1;
  deliveredBytes = 0;
  /** DATA frames sent twice by the `dup` fault. */
  duplicatedFrames = 0;
  /** Partitioned pairs ("a|b", names sorted). */
  private readonly cut = new Set<string>();

  constructor(o: SimNetOptions) {
    this.random = o.random;
    this.sched = o.sched;
    this.latencyMs = o.latencyMs ?? 0.2;
    this.faults = new Set(o.faults ?? []);
    this.reorder = this.faults.has('reorder');
    this.log = o.log;
  }

  has(f: NetFault): boolean {
    return this.faults.has(f);
  }

  /** Joins two endpoints and dials at once. */
  link(a: ChannelEndpoint, b: ChannelEndpoint, nameA: string, nameB: string): SimWire {
    const w = new SimWire(this, a, b, nameA, nameB);
    this.wires.add(w);
    w.dial();
    return w;
  }

  blocked(x: string, y: string): boolean {
    return this.cut.has(pairKey(x, y));
  }

  /** Cuts every link between `side` and the others; they stay cut until `heal`. */
  partition(side: readonly string[], others: readonly string[]): void {
    for (const x of side) for (const y of others) this.cut.add(pairKey(x, y));
    for (const w of this.wires) if (this.blocked(w.nameA, w.nameB)) w.reset('partition');
  }

  heal(): void {
    this.cut.clear();
  }

  /** The process `name` died: its links are retired (peers see their connection end). */
  processDied(name: string): void {
    for (const w of [...this.wires]) {
      if (w.nameA !== name && w.nameB !== name) continue;
      w.retire(w.nameA === name ? 'a' : 'b');
      this.wires.delete(w);
    }
  }

  /** Removes a wire whose endpoints were replaced (a peer's channel to a restarted worker). */
  forget(w: SimWire): void {
    w.retire(null);
    this.wires.delete(w);
  }

  get bytesInFlight(): number {
    let n = 0;
    for (const w of this.wires) n += w.bytesInFlight;
    return n;
  }
}

function pairKey(x: string, y: string): string {
  return x < y ? `${x}|${y}` : `${y}|${x}`;
}
