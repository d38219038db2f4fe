// The TCP shell: a ChannelEndpoint over a net.Socket (no Nagle delay, corked batch writes),
// plus helpers to listen for and open data channels.

import net from 'node:net';
import { ChannelEndpoint } from './endpoint.ts';
import type { ByteTransport, EndpointHandlers, EndpointOptions } from './endpoint.ts';
import type { Hello } from './channel.ts';

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

/** Binds an endpoint to a connected socket. */
export function attachSocket(endpoint: ChannelEndpoint, socket: net.Socket): ChannelEndpoint {
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
  return endpoint;
}

/** Opens a data channel to `address`; resolves once both hellos were accepted. */
export async function connectChannel(
  address: HostPort,
  options: EndpointOptions,
  handlers: EndpointHandlers = {},
  timeoutMs = 10_000,
): Promise<ChannelEndpoint> {
  const connection =
    options.connection ?? `data channel ${options.local.worker} -> ${formatAddress(address)}`;
  const socket = await connectSocket(address, connection, timeoutMs);
  const endpoint = attachSocket(new ChannelEndpoint({ ...options, connection }, handlers), socket);
  await endpoint.opened();
  return endpoint;
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
  const server = net.createServer((socket) => {
    const remote = `${socket.remoteAddress}:${socket.remotePort}`;
    const connection = `data channel ${options.local.worker} <- ${remote}`;
    const handlers = handlersFor(remote);
    const endpoint = new ChannelEndpoint(
      { ...options, connection },
      {
        ...handlers,
        onOpen: (peer) => {
          handlers.onOpen?.(peer);
          onOpen?.(endpoint, peer);
        },
        onClose: (closed) => {
          endpoints.delete(endpoint);
          handlers.onClose?.(closed);
        },
      },
    );
    endpoints.add(endpoint);
    attachSocket(endpoint, socket);
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
