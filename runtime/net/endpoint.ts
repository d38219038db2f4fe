// The shell logic shared by every transport: byte stream -> frames -> ChannelCore -> actions.
// A transport (TCP socket, in-memory test link) gives it bytes and tells it when the
// connection went away; it gives the transport bytes to write and asks it to close.

import { FrameDecoder, FrameError, DEFAULT_MAX_FRAME_BYTES, FRAME_HEADER_BYTES } from './framing.ts';
import type { TimerHandle } from '../types.ts';
import { DeliveryChannelCore } from './channel.ts';
import type { ChannelCore, ChannelClosed, ChannelOptions, DataBatch, Hello, PeerRestart } from './channel.ts';

/** The byte-level side a ChannelEndpoint drives. */
export interface ByteTransport {
  /** Writes chunks in order (a TCP shell corks around them). */
  write(chunks: readonly Uint8Array[]): void;
  /** Closes after the pending writes. */
  close(): void;
}

export interface EndpointHandlers {
  /** A batch from the peer. Returning a promise delays the credit for it until it settles. */
  onBatch?: (batch: DataBatch, from: Hello, endpoint: ChannelEndpoint) => void | Promise<void>;
  onOpen?: (peer: Hello) => void;
  onClose?: (closed: ChannelClosed) => void;
  /** The connection was lost and the channel (option `reconnect`) waits for a new transport. */
  onDisconnect?: (reason: string) => void;
  /**
   * The peer came back as a new incarnation (it restarted): the channel started fresh in both
   * directions, dropping what it kept for the old one (`restart` says how much; logged too).
   * Batches of the old incarnation still being handled are not acknowledged any more.
   */
  onPeerRestarted?: (restart: PeerRestart, endpoint: ChannelEndpoint) => void;
  /** Errors for people (rejected hello, protocol errors, lost connections); default console.error. */
  log?: (message: string) => void;
}

/** The timers an endpoint's timeouts run on (runtime/types.ts Clock provides them). */
export interface EndpointClock {
  monotonicMs(): number;
  setTimer(delayMs: number, fn: () => void): TimerHandle;
  clearTimer(handle: TimerHandle): void;
}

export interface EndpointOptions extends ChannelOptions {
  readonly maxFrameBytes?: number;
  /** Another core (tests); default a DeliveryChannelCore with these options. */
  readonly core?: ChannelCore;
  /** The clock the timeouts use; without one there are none. */
  readonly clock?: EndpointClock;
  /** A connection whose peer has not said HELLO within this many ms is dropped. */
  readonly handshakeTimeoutMs?: number;
  /**
   * A connection on which nothing arrives for this many ms is dropped; to keep a quiet but
   * live connection open, each side sends its ACK (the spec's Acknowledge, always allowed)
   * every third of it.
   */
  readonly idleTimeoutMs?: number;
  /**
   * With a clock: the receiver acknowledges what the application consumed at most this many ms
   * later (the core's `deferAck`), so that one ACK answers every batch consumed meanwhile instead
   * of one ACK per batch: fewer writes here and fewer wake-ups of the sender at moderate rates.
   * Half the window consumed is still acknowledged at once (the sender never waits for credit
   * because of it). Without it (or without a clock) each batch consumed with nothing else to
   * consume is acknowledged at once.
   */
  readonly ackDelayMs?: number;
}

/**
 * The ack delay buffy node's data channels use (EndpointOptions.ackDelayMs): at half the
 * maximum rate of the 2-worker word count a batch arrives about every 1.5 ms, so one ACK
 * answers a few batches; the sender's credit is the window, far more than a few ms of batches.
 */
export const DATA_ACK_DELAY_MS = 5;

/**
 * buffy node's data channels drop a connection whose peer has not said HELLO within this
 * many ms (EndpointOptions.handshakeTimeoutMs): something listening there that is not a
 * Buffy worker, or a peer stuck before its handshake. The dialling side dials again.
 */
export const DATA_HANDSHAKE_TIMEOUT_MS = 10_000;

/**
 * buffy node's data channels drop a connection on which nothing has arrived for this many ms
 * (EndpointOptions.idleTimeoutMs; each side sends a keepalive ACK every third of it): a peer
 * that went silent without closing (a partition, a middlebox that drops the connection's
 * packets, a host that vanished) would otherwise hold the channel, and the sender's credit,
 * forever. The connection is re-established and resumes where the receiver stopped.
 * `buffy node --idle-timeout` sets another.
 */
export const DATA_IDLE_TIMEOUT_MS = 15_000;

export class ChannelEndpoint {
  readonly core: ChannelCore;
  readonly connection: string;
  private decoder: FrameDecoder;
  private transport: ByteTransport | null = null;
  private waiters: Array<() => void> = [];
  private closeWaiters: Array<(closed: ChannelClosed) => void> = [];
  private closedInfo: ChannelClosed | null = null;
  private openWaiters: Array<{ resolve: (h: Hello) => void; reject: (e: Error) => void }> = [];
  private pumping = false;
  private pumpScheduled = false;
  private readonly clock: EndpointClock | undefined;
  private readonly handshakeTimeoutMs: number | undefined;
  private readonly idleTimeoutMs: number | undefined;
  private handshakeTimer: TimerHandle | null = null;
  private idleTimer: TimerHandle | null = null;
  private readonly ackDelayMs: number | undefined;
  private ackTimer: TimerHandle | null = null;
  private readonly onAckTimer = (): void => {
    this.ackTimer = null;
    const st = this.core.state;
    if (this.closedInfo || (st !== 'open' && st !== 'closing') || this.core.stats.owedFrames === 0) return;
    this.core.step({ type: 'acknowledge' });
    this.pump();
  };
  private lastReceivedMs = 0;
  private readonly onFrameBound: (payload: Uint8Array) => void;
  private readonly scheduledPump = (): void => {
    if (!this.pumpScheduled) return; // flushed already
    this.pumpScheduled = false;
    this.pump();
  };
  private readonly handlers: EndpointHandlers;
  private readonly maxFrameBytes: number;

  constructor(options: EndpointOptions, handlers: EndpointHandlers = {}) {
    this.connection = options.connection ?? `channel of ${options.local.worker}`;
    const ackDelayMs = options.clock ? options.ackDelayMs : undefined;
    if (ackDelayMs !== undefined && !(Number.isFinite(ackDelayMs) && ackDelayMs >= 0))
      throw new RangeError(`${this.connection}: ackDelayMs must be a number of ms >= 0, got ${ackDelayMs}`);
    this.ackDelayMs = ackDelayMs;
    // A byte stream (TCP, the in-memory test link) keeps order and loses nothing while connected.
    this.core =
      options.core ?? new DeliveryChannelCore({ fifo: true, ...options, deferAck: ackDelayMs !== undefined });
    this.maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.decoder = new FrameDecoder({ connection: this.connection, maxFrameBytes: this.maxFrameBytes });
    this.handlers = handlers;
    this.clock = options.clock;
    this.handshakeTimeoutMs = options.handshakeTimeoutMs;
    this.idleTimeoutMs = options.idleTimeoutMs;
    // The decoder has consumed the frame when it hands it out: it starts header + payload earlier.
    this.onFrameBound = (payload) =>
      this.core.step({
        type: 'frame',
        payload,
        offset: this.decoder.bytesReceived - payload.length - FRAME_HEADER_BYTES,
      });
  }

  /**
   * Attaches the transport and sends HELLO. With the `reconnect` option, a new transport may be
   * attached after the last one was lost (`onDisconnect`): the handshake says where to resume.
   */
  attach(transport: ByteTransport): void {
    if (this.transport) throw new Error(`${this.connection}: transport attached twice`);
    if (this.closedInfo) throw new Error(`${this.connection}: attach on a closed channel`);
    this.transport = transport;
    this.decoder = new FrameDecoder({ connection: this.connection, maxFrameBytes: this.maxFrameBytes });
    this.core.step({ type: 'start' });
    this.pump();
    this.startTimers(transport);
  }

  private startTimers(transport: ByteTransport): void {
    const clock = this.clock;
    if (!clock || this.closedInfo || this.transport !== transport) return;
    this.lastReceivedMs = clock.monotonicMs();
    const hs = this.handshakeTimeoutMs;
    if (hs !== undefined) {
      this.handshakeTimer = clock.setTimer(hs, () => {
        this.handshakeTimer = null;
        if (this.transport === transport && this.core.peer === null && !this.closedInfo)
          this.transportClosed(`no HELLO from the peer within ${hs} ms (handshake timeout)`);
      });
    }
    const idle = this.idleTimeoutMs;
    if (idle !== undefined) {
      const every = Math.max(1, Math.floor(idle / 3));
      const tick = (): void => {
        this.idleTimer = null;
        if (this.transport !== transport || this.closedInfo) return;
        const quiet = clock.monotonicMs() - this.lastReceivedMs;
        if (quiet >= idle) {
          this.transportClosed(`nothing received for ${Math.round(quiet)} ms (idle timeout ${idle} ms)`);
          return;
        }
        if (this.core.state === 'open') {
          this.core.step({ type: 'acknowledge' }); // keepalive
          this.pump();
        }
        this.idleTimer = clock.setTimer(every, tick);
      };
      this.idleTimer = clock.setTimer(every, tick);
    }
  }

  private stopTimers(): void {
    if (!this.clock) return;
    if (this.handshakeTimer !== null) this.clock.clearTimer(this.handshakeTimer);
    if (this.idleTimer !== null) this.clock.clearTimer(this.idleTimer);
    if (this.ackTimer !== null) this.clock.clearTimer(this.ackTimer);
    this.handshakeTimer = null;
    this.idleTimer = null;
    this.ackTimer = null;
  }

  /** The transport attached now (null between connections); a shell ignores events of an older one. */
  get currentTransport(): ByteTransport | null {
    return this.transport;
  }

  get closed(): ChannelClosed | null {
    return this.closedInfo;
  }

  get peer(): Hello | null {
    return this.core.peer;
  }

  /** Resolves with the peer's hello once accepted; rejects if the channel closes first. */
  opened(): Promise<Hello> {
    const peer = this.core.peer;
    if (peer && this.core.state !== 'closed') return Promise.resolve(peer);
    if (this.closedInfo) return Promise.reject(new Error(this.closedInfo.reason));
    return new Promise((resolve, reject) => this.openWaiters.push({ resolve, reject }));
  }

  /** Resolves when the channel has closed. */
  whenClosed(): Promise<ChannelClosed> {
    if (this.closedInfo) return Promise.resolve(this.closedInfo);
    return new Promise((resolve) => this.closeWaiters.push(resolve));
  }

  /** Bytes from the transport. */
  receiveBytes(chunk: Uint8Array): void {
    if (this.closedInfo) return;
    if (this.clock) this.lastReceivedMs = this.clock.monotonicMs();
    try {
      this.decoder.push(chunk, this.onFrameBound);
    } catch (err) {
      if (!(err instanceof FrameError)) throw err;
      this.pump();
      if (!this.closedInfo) this.core.step({ type: 'transportClosed', reason: err.message });
    }
    this.pump();
  }

  /** The transport went away (or ended). */
  transportClosed(reason: string): void {
    if (this.closedInfo) return;
    try {
      this.decoder.end();
    } catch (err) {
      if (!(err instanceof FrameError)) throw err;
      reason = err.message;
    }
    this.core.step({ type: 'transportClosed', reason });
    this.pump();
  }

  /**
   * Queues a batch. Returns undefined when the caller may go on, or a promise that
   * resolves when the send queue is below its bound again (backpressure).
   */
  send(body: Uint8Array, messages: number): Promise<void> | undefined {
    if (this.closedInfo)
      throw new Error(`${this.connection}: send on a closed channel: ${this.closedInfo.reason}`);
    this.core.step({ type: 'send', body, messages });
    // The batches sent in this turn of the event loop go to the core's machine together (one
    // event, one corked write): the pump runs once, after the caller's synchronous sends.
    if (!this.pumpScheduled) {
      this.pumpScheduled = true;
      queueMicrotask(this.scheduledPump);
    }
    if (this.core.canSend || this.closedInfo) return undefined;
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /**
   * Puts the batches sent so far on the wire now instead of at the end of this turn of the
   * event loop (the sender knows no more are coming: latency before coalescing).
   */
  flush(): void {
    if (!this.pumpScheduled) return;
    this.pumpScheduled = false;
    this.pump();
  }

  /** Resolves once the send queue is below its bound. */
  writable(): Promise<void> | undefined {
    if (this.core.canSend || this.closedInfo) return undefined;
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /**
   * The application finished with delivered data: grants credit back. `epoch`: the core's
   * epoch when the data was delivered (a report from before a peer restart is ignored).
   */
  consumed(frames: number, messages: number, bytes: number, epoch?: number): void {
    if (this.closedInfo) return;
    this.core.step({ type: 'consumed', frames, messages, bytes, ...(epoch !== undefined ? { epoch } : {}) });
    this.pump();
  }

  /** Graceful close: queued batches go out first. */
  close(reason = 'closed'): void {
    if (this.closedInfo) return;
    this.core.step({ type: 'close', reason });
    this.pump();
  }

  private pump(): void {
    if (this.pumping) return; // re-entrant calls from handlers: the outer loop picks them up
    this.pumping = true;
    try {
      for (;;) {
        const r = this.core.ready();
        if (r.writes.length > 0 && this.transport) this.transport.write(r.writes);
        if (r.opened) {
          for (const w of this.openWaiters) w.resolve(r.opened);
          this.openWaiters = [];
          this.handlers.onOpen?.(r.opened);
        }
        if (r.peerRestarted) {
          const p = r.peerRestarted;
          (this.handlers.log ?? console.error)(
            `${this.connection}: worker '${p.worker}' restarted (incarnation ${p.previousIncarnation} -> ` +
              `${p.incarnation}): the channel starts fresh in both directions; dropped ${p.droppedFrames} ` +
              `batches (${p.droppedMessages} messages, ${p.droppedBytes} bytes) kept or queued for its ` +
              `previous incarnation` +
              (p.abandonedFrames > 0 ? `; ${p.abandonedFrames} batches it sent are still being handled` : ''),
          );
          this.handlers.onPeerRestarted?.(p, this);
        }
        if (r.deliveries.length > 0) this.deliver(r.deliveries);
        if (r.ackOwed === true && this.ackTimer === null && this.clock && this.ackDelayMs !== undefined)
          this.ackTimer = this.clock.setTimer(this.ackDelayMs, this.onAckTimer);
        if (r.writable) this.wake();
        if (r.closed) {
          this.closedInfo = r.closed;
          this.stopTimers();
          if (r.closed.error) (this.handlers.log ?? console.error)(r.closed.reason);
          this.transport?.close();
          this.wake();
          for (const w of this.openWaiters) w.reject(new Error(r.closed.reason));
          this.openWaiters = [];
          for (const w of this.closeWaiters) w(r.closed);
          this.closeWaiters = [];
          this.handlers.onClose?.(r.closed);
        }
        if (r.disconnected !== null) {
          (this.handlers.log ?? console.error)(`${r.disconnected}; waiting for a new connection`);
          const t = this.transport;
          this.transport = null;
          this.stopTimers();
          t?.close();
          this.handlers.onDisconnect?.(r.disconnected);
        }
        if (
          r.writes.length === 0 &&
          r.deliveries.length === 0 &&
          !r.opened &&
          !r.closed &&
          !r.writable &&
          r.disconnected === null &&
          !r.peerRestarted
        )
          break;
      }
    } finally {
      this.pumping = false;
    }
  }

  private deliver(batches: DataBatch[]): void {
    const from = this.core.peer!;
    const onBatch = this.handlers.onBatch;
    const epoch = this.core.epoch;
    let syncFrames = 0;
    let syncMessages = 0;
    let syncBytes = 0;
    for (const b of batches) {
      let result: void | Promise<void>;
      try {
        result = onBatch ? onBatch(b, from, this) : undefined;
      } catch (err) {
        (this.handlers.log ?? console.error)(
          `${this.connection}: batch seq ${b.seq} from worker '${from.worker}' failed: ${String(err)}`,
        );
        result = undefined;
      }
      if (result && typeof (result as Promise<void>).then === 'function') {
        (result as Promise<void>).then(
          () => this.consumed(1, b.messages, b.body.length, epoch),
          (err: unknown) => {
            (this.handlers.log ?? console.error)(
              `${this.connection}: batch seq ${b.seq} from worker '${from.worker}' failed: ${String(err)}`,
            );
            this.consumed(1, b.messages, b.body.length, epoch);
          },
        );
      } else {
        syncFrames++;
        syncMessages += b.messages;
        syncBytes += b.body.length;
      }
    }
    if (syncFrames > 0)
      this.core.step({ type: 'consumed', frames: syncFrames, messages: syncMessages, bytes: syncBytes });
  }

  private wake(): void {
    const ws = this.waiters;
    this.waiters = [];
    for (const w of ws) w();
  }
}
