// Over real TCP on 127.0.0.1: a data channel with the `reconnect` option through a proxy that
// cuts every connection at chosen moments. The dialling side dials again with backoff, the
// listener gives the new connection to the same channel (by the worker name in the HELLO), the
// handshake says where to resume, and every batch arrives exactly once, in order.
import { afterEach, describe, expect, it } from 'vitest';
import net from 'node:net';
import { connectChannel, listen, listenChannels } from '../../../runtime/net/tcp-channel.ts';
import type { ChannelServer, HostPort } from '../../../runtime/net/tcp-channel.ts';
import type { ChannelEndpoint } from '../../../runtime/net/endpoint.ts';

interface Proxy {
  readonly address: HostPort;
  /** Destroys every connection through the proxy (both sockets of each). */
  cut(): void;
  close(): Promise<void>;
}

async function proxyTo(target: HostPort): Promise<Proxy> {
  const pairs = new Set<[net.Socket, net.Socket]>();
  const server = net.createServer((down) => {
    const up = net.connect(target.port, target.host);
    const pair: [net.Socket, net.Socket] = [down, up];
    pairs.add(pair);
    down.pipe(up);
    up.pipe(down);
    const drop = () => {
      pairs.delete(pair);
      down.destroy();
      up.destroy();
    };
    down.on('error', drop).on('close', drop);
    up.on('error', drop).on('close', drop);
  });
  const address = await listen(server, { host: '127.0.0.1', port: 0 }, 'test proxy');
  return {
    address,
    cut: () => {
      for (const [a, b] of pairs) {
        a.destroy();
        b.destroy();
      }
      pairs.clear();
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function body(n: number): Uint8Array {
  const b = new Uint8Array(16);
  new DataView(b.buffer).setUint32(0, n);
  return b;
}

describe('data channel over TCP with reconnect', () => {
  it('survives connection cuts: every batch exactly once, in order', async () => {
    const got: number[] = [];
    const serverLogs: string[] = [];
    const opened: string[] = [];
    const local = (worker: string) => ({
      local: { cluster: 'c1', app: 'wc', worker },
      reconnect: true,
      windowFrames: 16,
    });
    const server: ChannelServer = await listenChannels(
      { host: '127.0.0.1', port: 0 },
      local('w1'),
      () => ({
        log: (m) => serverLogs.push(m),
        onBatch: (b) => void got.push(new DataView(b.body.buffer, b.body.byteOffset).getUint32(0)),
      }),
      (_ep, peer) => opened.push(peer.worker),
    );
    cleanups.push(() => server.close());
    const proxy = await proxyTo(server.address);
    cleanups.push(() => proxy.close());
    const clientLogs: string[] = [];
    const ep: ChannelEndpoint = await connectChannel(
      proxy.address,
      { ...local('w2'), expectedPeer: 'w1' },
      { log: (m) => clientLogs.push(m) },
      5_000,
      { initialMs: 10, maxMs: 100 },
    );
    cleanups.push(() => ep.close('test done'));
    const total = 3_000;
    for (let i = 0; i < total; i++) {
      const wait = ep.send(body(i), 1);
      if (wait) await wait;
      if (i % 700 === 350) {
        await new Promise((r) => setTimeout(r, 5));
        proxy.cut();
      }
      if (i % 50 === 0) await new Promise((r) => setImmediate(r));
    }
    for (let t = 0; t < 400 && got.length < total; t++) await new Promise((r) => setTimeout(r, 10));
    expect(got.length).toBe(total);
    expect(got).toEqual(Array.from({ length: total }, (_, i) => i));
    expect(ep.closed).toBeNull();
    // One channel from w2 as far as the listener's user knows, however many connections it took.
    expect(opened).toEqual(['w2']);
    expect(clientLogs.some((l) => /connection lost: .*; waiting for a new connection$/.test(l))).toBe(true);
    expect(ep.core.stats.resentFrames + ep.core.stats.sentFrames).toBeGreaterThanOrEqual(total);
  }, 60_000);
});
