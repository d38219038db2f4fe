// The shell logic shared by every transport: byte stream -> frames -> ChannelCore -> actions.
// A transport (TCP socket, in-memory test link) gives it bytes and tells it when the
// connection went away; it gives the transport bytes to write and asks it to close.

import { FrameDecoder, FrameError, DEFAULT_MAX_FRAME_BYTES } from './framing.ts';
import { CreditChannelCore } from './channel.ts';
import type { ChannelCore, ChannelClosed, ChannelOptions, DataBatch, Hello } from './channel.ts';

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
  /** Errors for people (rejected hello, protocol errors, lost connections); default console.error. */
  log?: (message: string) => void;
}

export interface EndpointOptions extends ChannelOptions {
  readonly maxFrameBytes?: number;
  /** Replaces the credit core (the delivery protocol will); default CreditChannelCore. */
  readonly core?: ChannelCore;
}

export class ChannelEndpoint {
  readonly core: ChannelCore;
  readonly connection: string;
  private readonly decoder: FrameDecoder;
  private transport: ByteTransport | null = null;
  private waiters: Array<() => void> = [];
  private closeWaiters: Array<(closed: ChannelClosed) => void> = [];
  private closedInfo: ChannelClosed | null = null;
  private openWaiters: Array<{ resolve: (h: Hello) => void; reject: (e: Error) => void }> = [];
  private pumping = false;
  private readonly onFrameBound: (payload: Uint8Array) => void;
  private readonly handlers: EndpointHandlers;
  private readonly maxFrameBytes: number;

  constructor(options: EndpointOptions, handlers: EndpointHandlers = {}) {
    this.connection = options.connection ?? `channel of ${options.local.worker}`;
    this.core = options.core ?? new CreditChannelCore(options);
    this.maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.decoder = new FrameDecoder({ connection: this.connection, maxFrameBytes: this.maxFrameBytes });
    this.handlers = handlers;
    this.onFrameBound = (payload) => this.core.step({ type: 'frame', payload });
  }

  /** Attaches the transport and sends HELLO. */
  attach(transport: ByteTransport): void {
    if (this.transport) throw new Error(`${this.connection}: transport attached twice`);
    this.transport = transport;
    this.core.step({ type: 'start' });
    this.pump();
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
    this.pump();
    if (this.core.canSend || this.closedInfo) return undefined;
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Resolves once the send queue is below its bound. */
  writable(): Promise<void> | undefined {
    if (this.core.canSend || this.closedInfo) return undefined;
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** The application finished with delivered data: grants credit back. */
  consumed(messages: number, bytes: number): void {
    if (this.closedInfo) return;
    this.core.step({ type: 'consumed', messages, bytes });
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
        if (r.deliveries.length > 0) this.deliver(r.deliveries);
        if (r.writable) this.wake();
        if (r.closed) {
          this.closedInfo = r.closed;
          if (r.closed.error) (this.handlers.log ?? console.error)(r.closed.reason);
          this.transport?.close();
          this.wake();
          for (const w of this.openWaiters) w.reject(new Error(r.closed.reason));
          this.openWaiters = [];
          for (const w of this.closeWaiters) w(r.closed);
          this.closeWaiters = [];
          this.handlers.onClose?.(r.closed);
        }
        if (r.writes.length === 0 && r.deliveries.length === 0 && !r.opened && !r.closed && !r.writable)
          break;
      }
    } finally {
      this.pumping = false;
    }
  }

  private deliver(batches: DataBatch[]): void {
    const from = this.core.peer!;
    const onBatch = this.handlers.onBatch;
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
          () => this.consumed(b.messages, b.body.length),
          (err: unknown) => {
            (this.handlers.log ?? console.error)(
              `${this.connection}: batch seq ${b.seq} from worker '${from.worker}' failed: ${String(err)}`,
            );
            this.consumed(b.messages, b.body.length);
          },
        );
      } else {
        syncMessages += b.messages;
        syncBytes += b.body.length;
      }
    }
    if (syncMessages > 0) this.core.step({ type: 'consumed', messages: syncMessages, bytes: syncBytes });
  }

  private wake(): void {
    const ws = this.waiters;
    this.waiters = [];
    for (const w of ws) w();
  }
}
