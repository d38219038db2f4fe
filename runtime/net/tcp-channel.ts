// The TCP shell: a ChannelEndpoint over a net.Socket (no Nagle delay, corked batch writes),
// plus helpers to listen for and open data channels.

import { randomInt } from 'node:crypto';
import net from 'node:net';
import { ChannelEndpoint } from './endpoint.ts';
import type { ByteTransport, EndpointHandlers, EndpointOptions } from './endpoint.ts';
import { decodeHello, newIncarnation, type Hello } from './channel.ts';
import type { Random } from '../types.ts';
import { DEFAULT_MAX_FRAME_BYTES, FrameDecoder } from './framing.ts';

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

export function formatAddress(a: HostPort): string {
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

/** Parses `HOST:PORT` (IPv6 as `[::1]:PORT`); `what` names the flag or setting in errors. */
export function parseHostPort(text: string, what: string): HostPort {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text.trim());
  if (!m) throw new Error(`${what}: expected HOST:PORT, got '${text}'`);
  const host = (m[1] ?? m[2] ?? '') || '127.0.0.1';
  const port = Number(m[3]);
  if (port > 65535) throw new Error(`${what}: port ${port} is out of range 0..65535`);
  return { host, port };
}

class SocketTransport implements ByteTransport {
  constructor(private readonly socket: net.Socket) {}
  write(chunks: readonly Uint8Array[]): void {
    if (this.socket.destroyed) return;
    if (chunks.length === 1) {
      this.socket.write(chunks[0]!);
      return;
    }
    this.socket.cork();
    for (const c of chunks) this.socket.write(c);
    this.socket.uncork();
  }
  close(): void {
    if (!this.socket.destroyed) this.socket.end();
    // Do not wait forever for a peer that never closes its side.
    setTimeout(() => this.socket.destroy(), 2000).unref();
  }
}

/** The operating system's randomness as a Random (for the process incarnation only). */
const osRandom: Random = {
  nextU32: () => randomInt(0x1_0000_0000),
  next: () => randomInt(0x1_0000_0000) / 0x1_0000_0000,
  nextInt: (bound) => randomInt(bound),
};

let incarnation: number | null = null;

/**
 * This process's incarnation: drawn once, on first use, from `random` (default the operating
 * system's). The TCP shells give it to a channel whose options name none, so a restarted
 * worker process says another one in its HELLO.
 */
export function processIncarnation(random: Random = osRandom): number {
  incarnation ??= newIncarnation(random);
  return incarnation;
}

/** The options with this process's incarnation in `local`, unless they name one. */
function withIncarnation(options: EndpointOptions): EndpointOptions {
  if (options.local.incarnation !== undefined) return options;
  return { ...options, local: { ...options.local, incarnation: processIncarnation() } };
}

/** Binds an endpoint to a connected socket; `first` are bytes already read from it. */
export function attachSocket(
  endpoint: ChannelEndpoint,
  socket: net.Socket,
  first?: Uint8Array,
): ChannelEndpoint {
  socket.setNoDelay(true);
  const transport = new SocketTransport(socket);
  // After a reconnect the endpoint has another transport: this socket's late events are not its.
  const mine = () => endpoint.currentTransport === transport;
  socket.on('data', (chunk: Buffer) => {
    if (mine()) endpoint.receiveBytes(chunk);
  });
  socket.on('error', (err) => {
    if (mine()) endpoint.transportClosed(`${err.message}`);
  });
  socket.on('close', () => {
    if (mine()) endpoint.transportClosed('socket closed');
  });
  endpoint.attach(transport);
  if (first && first.length > 0) endpoint.receiveBytes(first);
  return endpoint;
}

/** Redial delays after a lost connection (option `reconnect`): doubling from `initialMs` up to `maxMs`. */
export interface RedialOptions {
  readonly initialMs?: number;
  readonly maxMs?: number;
  /**
   * Where to dial again, asked before every redial (a restarted peer may listen elsewhere: the
   * cluster learns its new data address); default the first address.
   */
  readonly address?: () => HostPort;
}

/**
 * Opens a data channel to `address`; resolves once both hellos were accepted. With the
 * `reconnect` option, a failed first connection is tried again for `timeoutMs`, and a lost
 * connection is dialled again with backoff until the channel is closed; the new connection's
 * handshake says where each side resumes, and nothing is lost.
 */
export async function connectChannel(
  address: HostPort,
  options: EndpointOptions,
  handlers: EndpointHandlers = {},
  timeoutMs = 10_000,
  redial: RedialOptions = {},
): Promise<ChannelEndpoint> {
  const connection =
    options.connection ?? `data channel ${options.local.worker} -> ${formatAddress(address)}`;
  const initialMs = redial.initialMs ?? 50;
  const maxMs = redial.maxMs ?? 2_000;
  // With `reconnect`, the first connection is retried too (a reset while connecting, a peer not
  // listening yet), with the same backoff, until `timeoutMs` has passed.
  const deadline = Date.now() + timeoutMs;
  let socket: net.Socket;
  for (let delay = initialMs; ; delay = Math.min(delay * 2, maxMs)) {
    try {
      socket = await connectSocket(address, connection, Math.max(1, deadline - Date.now()));
      break;
    } catch (err) {
      if (!options.reconnect || Date.now() + delay >= deadline) throw err;
      (handlers.log ?? console.error)(`${(err as Error).message}; trying again in ${delay} ms`);
      await new Promise((r) => setTimeout(r, delay));
    }
  }
  const endpoint = new ChannelEndpoint(withIncarnation({ ...options, connection }), {
    ...handlers,
    onDisconnect: (reason) => {
      handlers.onDisconnect?.(reason);
      dial(initialMs);
    },
  });
  attachSocket(endpoint, socket);
  await endpoint.opened();
  return endpoint;

  function dial(delay: number): void {
    const timer = setTimeout(() => {
      if (endpoint.closed) return;
      const target = redial.address?.() ?? address;
      connectSocket(target, connection, timeoutMs).then(
        (s) => {
          if (endpoint.closed || endpoint.currentTransport !== null) s.destroy();
          else attachSocket(endpoint, s);
        },
        (err: unknown) => {
          (handlers.log ?? console.error)(
            `${(err as Error).message}; trying again in ${Math.min(delay * 2, maxMs)} ms`,
          );
          dial(Math.min(delay * 2, maxMs));
        },
      );
    }, delay);
    timer.unref();
  }
}

/**
 * Reads from a fresh socket until its first frame (the peer's HELLO) is complete, without
 * consuming it: resolves with the peer's worker name (null when the first frame is no valid
 * HELLO) and every byte read so far.
 */
function peekHello(
  socket: net.Socket,
  maxFrameBytes: number,
): Promise<{ worker: string | null; bytes: Buffer; gone: boolean }> {
  return new Promise((resolve) => {
    const decoder = new FrameDecoder({ connection: 'hello', maxFrameBytes });
    const chunks: Buffer[] = [];
    let done = false;
    const finish = (worker: string | null, gone = false): void => {
      if (done) return;
      done = true;
      socket.off('data', onData);
      socket.off('close', onEnd);
      socket.off('error', onError);
      socket.pause();
      resolve({ worker, bytes: Buffer.concat(chunks), gone });
    };
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      try {
        decoder.push(chunk, (p) => {
          const h = decodeHello(p);
          finish(typeof h === 'string' ? null : h.hello.worker);
        });
      } catch {
        finish(null); // the endpoint's own decoder reports the bad frame
      }
    };
    // Reset or closed before its HELLO (a peer that died, a proxy that cut): nothing to attach.
    const onEnd = (): void => finish(null, true);
    const onError = (): void => {
      finish(null, true);
      socket.destroy();
    };
    socket.on('data', onData);
    socket.on('close', onEnd);
    socket.on('error', onError);
  });
}

/** Connects a socket, with a timeout and an error that names the address. */
export function connectSocket(address: HostPort, what: string, timeoutMs: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: address.host, port: address.port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`${what}: no connection to ${formatAddress(address)} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      resolve(socket);
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`${what}: cannot connect to ${formatAddress(address)}: ${err.message}`));
    });
  });
}

/** Listens on `address`; a port in use is an error naming the address. Resolves with the bound address. */
export function listen(server: net.Server, address: HostPort, what: string): Promise<HostPort> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      const why =
        err.code === 'EADDRINUSE'
          ? 'the address is already in use'
          : err.code === 'EACCES'
            ? 'permission denied'
            : err.message;
      reject(new Error(`${what}: cannot listen on ${formatAddress(address)}: ${why}`));
    };
    server.once('error', onError);
    server.listen(address.port, address.host, () => {
      server.removeListener('error', onError);
      const a = server.address();
      if (a === null || typeof a === 'string')
        return reject(new Error(`${what}: unexpected listening address ${String(a)}`));
      resolve({ host: a.address, port: a.port });
    });
  });
}

export interface ChannelServer {
  readonly address: HostPort;
  readonly endpoints: ReadonlySet<ChannelEndpoint>;
  close(): Promise<void>;
}

/**
 * Accepts data channels. `handlersFor` is called per accepted connection; each endpoint
 * checks the peer's hello (cluster, app) and rejects mismatches, logging on both sides.
 */
export async function listenChannels(
  address: HostPort,
  options: EndpointOptions,
  handlersFor: (remote: string) => EndpointHandlers,
  onOpen?: (endpoint: ChannelEndpoint, peer: Hello) => void,
): Promise<ChannelServer> {
  const endpoints = new Set<ChannelEndpoint>();
  /** With `reconnect`: each peer's endpoint, which a new connection from that peer resumes. */
  const byPeer = new Map<string, ChannelEndpoint>();
  const fresh = (socket: net.Socket, first?: Uint8Array): void => {
    const remote = `${socket.remoteAddress}:${socket.remotePort}`;
    const connection = `data channel ${options.local.worker} <- ${remote}`;
    const handlers = handlersFor(remote);
    let announced = false;
    const endpoint = new ChannelEndpoint(withIncarnation({ ...options, connection }), {
      ...handlers,
      onOpen: (peer) => {
        handlers.onOpen?.(peer);
        if (options.reconnect) byPeer.set(peer.worker, endpoint);
        if (announced) return; // a resumed connection: the same channel as before
        announced = true;
        onOpen?.(endpoint, peer);
      },
      onClose: (closed) => {
        endpoints.delete(endpoint);
        for (const [w, e] of byPeer) if (e === endpoint) byPeer.delete(w);
        handlers.onClose?.(closed);
      },
    });
    endpoints.add(endpoint);
    attachSocket(endpoint, socket, first);
  };
  const server = net.createServer((socket) => {
    if (!options.reconnect) return fresh(socket);
    void peekHello(socket, options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES).then(
      ({ worker, bytes, gone }) => {
        if (gone || socket.destroyed) return;
        const existing = worker !== null ? byPeer.get(worker) : undefined;
        if (existing && !existing.closed) {
          // The peer dials only when it lost its connection (or restarted): if this side has not
          // noticed yet, the old connection is dead, and the new one takes its place.
          if (existing.currentTransport !== null)
            existing.transportClosed(
              `worker '${worker}' connected again from ${socket.remoteAddress}:${socket.remotePort}`,
            );
          if (existing.closed || existing.currentTransport !== null) fresh(socket, bytes);
          else attachSocket(existing, socket, bytes);
        } else {
          fresh(socket, bytes);
        }
        socket.resume();
      },
    );
  });
  const bound = await listen(server, address, `data listener of worker '${options.local.worker}'`);
  return {
    address: bound,
    endpoints,
    close: () =>
      new Promise<void>((resolve) => {
        for (const e of endpoints) e.close('listener closing');
        server.close(() => resolve());
      }),
  };
}
