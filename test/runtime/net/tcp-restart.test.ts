// Over real TCP on 127.0.0.1: a worker that comes back as a new incarnation (the same name, a
// new process) dials the listener, which still holds the old connection (it has not noticed
// the old process is gone). The new connection takes the old one's place in the same channel,
// the HELLO shows the restart, both directions start fresh, and the listener reports what it
// dropped. A redial asks `redial.address` where the peer is now.
import { afterEach, describe, expect, it } from 'vitest';
import net from 'node:net';
import {
  connectChannel,
  listenChannels,
  processIncarnation,
  type ChannelServer,
} from '../../../runtime/net/tcp-channel.ts';
import type { ChannelEndpoint } from '../../../runtime/net/endpoint.ts';
import type { PeerRestart } from '../../../runtime/net/channel.ts';

const servers: ChannelServer[] = [];
const endpoints: ChannelEndpoint[] = [];
afterEach(async () => {
  for (const e of endpoints.splice(0)) e.close('test over');
  for (const s of servers.splice(0)) await s.close();
});

const opts = (worker: string, incarnation?: number) => ({
  local: { cluster: 'c1', app: 'wc', worker, ...(incarnation !== undefined ? { incarnation } : {}) },
  reconnect: true,
});

function body(n: number): Uint8Array {
  const b = new Uint8Array(16);
  new DataView(b.buffer).setUint32(0, n);
  return b;
}
const numberOf = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset).getUint32(0);

async function until(what: string, cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('a restarted peer over TCP', () => {
  it('takes over the old connection and gets a fresh channel', async () => {
    const restarts: PeerRestart[] = [];
    const logs: string[] = [];
    const gotByServer: number[] = [];
    const opened: string[] = [];
    const server = await listenChannels(
      { host: '127.0.0.1', port: 0 },
      opts('w1', 100),
      () => ({
        log: (m) => logs.push(m),
        onPeerRestarted: (r) => restarts.push(r),
        onBatch: (b) => void gotByServer.push(numberOf(b.body)),
      }),
      (_ep, peer) => opened.push(peer.worker),
    );
    servers.push(server);
    // The old incarnation of w2 holds every batch it gets: the server keeps them unacknowledged.
    const old = await connectChannel(
      server.address,
      { ...opts('w2', 200), expectedPeer: 'w1' },
      { log: () => {}, onBatch: () => new Promise<void>(() => {}) },
      5000,
      { initialMs: 3_600_000 },
    );
    endpoints.push(old);
    await until('the server channel', () => server.endpoints.size === 1);
    const serverSide = [...server.endpoints][0]!;
    for (let n = 0; n < 5; n++) void serverSide.send(body(n), 1);
    void old.send(body(1000), 1);
    await until(
      'the old incarnation got 5 and sent 1',
      () => gotByServer.length === 1 && old.core.stats.ackedFrames === 1,
    );
    await until(
      '5 unacknowledged',
      () => serverSide.core.stats.unackedFrames === 5 && serverSide.core.stats.sentFrames === 5,
    );

    // w2 again, a new incarnation, while the old connection is still up.
    const gotByNew: number[] = [];
    const fresh = await connectChannel(
      server.address,
      { ...opts('w2', 201), expectedPeer: 'w1' },
      { log: () => {}, onBatch: (b) => void gotByNew.push(numberOf(b.body)) },
    );
    endpoints.push(fresh);
    await until('the restart', () => restarts.length === 1);
    expect(restarts[0]).toMatchObject({
      worker: 'w2',
      previousIncarnation: 200,
      incarnation: 201,
      droppedFrames: 5,
    });
    expect(logs.join('\n')).toMatch(/worker 'w2' connected again from 127\.0\.0\.1:\d+/);
    expect(logs.join('\n')).toMatch(/worker 'w2' restarted \(incarnation 200 -> 201\).*dropped 5 batches/);
    // The same channel (no second one announced), fresh both ways.
    expect(server.endpoints.size).toBe(1);
    expect(opened).toEqual(['w2']);
    void serverSide.send(body(7), 1);
    void fresh.send(body(2000), 1);
    await until('both new batches', () => gotByNew.length === 1 && gotByServer.length === 2);
    expect(gotByNew).toEqual([7]);
    expect(gotByServer).toEqual([1000, 2000]);
    expect(serverSide.core.stats.unackedFrames).toBe(0);
    expect(logs.join('\n')).not.toMatch(/protocol error/);
  });

  it('survives a connection reset before its HELLO (the listener waits for the HELLO to know the peer)', async () => {
    const server = await listenChannels({ host: '127.0.0.1', port: 0 }, opts('w1', 1), () => ({
      log: () => {},
    }));
    servers.push(server);
    for (let i = 0; i < 5; i++) {
      const s = net.connect(server.address.port, server.address.host);
      await new Promise<void>((resolve) => s.once('connect', () => resolve()));
      if (i % 2 === 0) s.write(Buffer.from([0, 0, 0, 40, 1])); // a HELLO cut short
      await new Promise((r) => setTimeout(r, 10));
      s.resetAndDestroy();
    }
    await new Promise((r) => setTimeout(r, 50));
    expect(server.endpoints.size).toBe(0);
    const client = await connectChannel(
      server.address,
      { ...opts('w2', 2), expectedPeer: 'w1' },
      { log: () => {} },
    );
    endpoints.push(client);
    expect(client.peer?.worker).toBe('w1');
  });

  it('with reconnect, tries the first connection again until the peer listens', async () => {
    // A free port: listen, note it, close.
    const probe = await listenChannels({ host: '127.0.0.1', port: 0 }, opts('w1', 1), () => ({}));
    const address = probe.address;
    await probe.close();
    await expect(
      connectChannel(address, { local: { cluster: 'c1', app: 'wc', worker: 'w2' } }, { log: () => {} }, 2000),
    ).rejects.toThrow(/cannot connect to 127\.0\.0\.1:\d+/);
    const logs: string[] = [];
    const dialing = connectChannel(
      address,
      { ...opts('w2', 2), expectedPeer: 'w1' },
      { log: (m) => logs.push(m) },
      5000,
      {
        initialMs: 20,
        maxMs: 50,
      },
    );
    await new Promise((r) => setTimeout(r, 150));
    const server = await listenChannels(address, opts('w1', 1), () => ({ log: () => {} }));
    servers.push(server);
    const client = await dialing;
    endpoints.push(client);
    expect(client.peer?.worker).toBe('w1');
    expect(logs.join('\n')).toMatch(/cannot connect to .*; trying again in \d+ ms/);
  });

  it('redials where redial.address says, and gives a channel without one this process incarnation', async () => {
    const seen: number[] = [];
    const mk = () =>
      listenChannels(
        { host: '127.0.0.1', port: 0 },
        opts('w1', 1),
        () => ({ log: () => {} }),
        (_e, peer) => seen.push(peer.incarnation ?? -1),
      );
    const first = await mk();
    servers.push(first);
    let target = first.address;
    const client = await connectChannel(
      first.address,
      { ...opts('w2'), expectedPeer: 'w1' },
      { log: () => {} },
      5000,
      { initialMs: 10, maxMs: 50, address: () => target },
    );
    endpoints.push(client);
    expect(seen).toEqual([processIncarnation()]);
    expect(processIncarnation()).toBeGreaterThan(0);
    // The peer moves: a new listener elsewhere, the old one gone.
    const second = await mk();
    servers.push(second);
    target = second.address;
    for (const e of first.endpoints)
      (e.currentTransport as unknown as { socket: net.Socket }).socket.destroy();
    await until('the channel at the new address', () => second.endpoints.size === 1);
    await client.opened();
    expect(seen).toEqual([processIncarnation(), processIncarnation()]);
  });
});
