import { afterEach, describe, expect, it } from 'vitest';
import {
  connectChannel,
  listenChannels,
  parseHostPort,
  formatAddress,
} from '../../../runtime/net/tcp-channel.ts';
import type { ChannelServer } from '../../../runtime/net/tcp-channel.ts';
import type { ChannelEndpoint } from '../../../runtime/net/endpoint.ts';
import net from 'node:net';
import { encodeHello, PROTOCOL_VERSION } from '../../../runtime/net/channel.ts';
import { encodeFrame } from '../../../runtime/net/framing.ts';

const servers: ChannelServer[] = [];
const endpoints: ChannelEndpoint[] = [];
afterEach(async () => {
  for (const e of endpoints.splice(0)) e.close('test over');
  for (const s of servers.splice(0)) await s.close();
});

const local = (worker: string, cluster = 'c1', app = 'wc') => ({ local: { cluster, app, worker } });

describe('host:port parsing', () => {
  it('parses and formats addresses, naming the flag on errors', () => {
    expect(parseHostPort('127.0.0.1:80', '--data')).toEqual({ host: '127.0.0.1', port: 80 });
    expect(parseHostPort('[::1]:9', '--data')).toEqual({ host: '::1', port: 9 });
    expect(formatAddress({ host: '::1', port: 9 })).toBe('[::1]:9');
    expect(() => parseHostPort('localhost', '--control')).toThrow(
      /--control: expected HOST:PORT, got 'localhost'/,
    );
    expect(() => parseHostPort('h:70000', '--to')).toThrow(/--to: port 70000 is out of range/);
  });
});

describe('data channels over TCP', () => {
  it('carries batches both ways with credit, in order', async () => {
    const gotByServer: number[] = [];
    const server = await listenChannels(
      { host: '127.0.0.1', port: 0 },
      { ...local('w1'), windowBytes: 4096 },
      () => ({
        onBatch: (b) => void gotByServer.push(new DataView(b.body.buffer, b.body.byteOffset).getUint32(0)),
      }),
    );
    servers.push(server);
    const gotByClient: number[] = [];
    const client = await connectChannel(
      server.address,
      { ...local('w2'), expectedPeer: 'w1', windowBytes: 4096 },
      {
        onBatch: (b) => void gotByClient.push(b.seq),
      },
    );
    endpoints.push(client);
    expect(client.peer?.worker).toBe('w1');
    for (let i = 0; i < 500; i++) {
      const body = new Uint8Array(100);
      new DataView(body.buffer).setUint32(0, i);
      const wait = client.send(body, 10);
      if (wait) await wait;
    }
    for (let i = 0; i < 200 && gotByServer.length < 500; i++) await new Promise((r) => setTimeout(r, 5));
    expect(gotByServer).toEqual(Array.from({ length: 500 }, (_, i) => i));
    const [serverSide] = [...server.endpoints];
    serverSide!.send(new Uint8Array(8), 1);
    for (let i = 0; i < 100 && gotByClient.length < 1; i++) await new Promise((r) => setTimeout(r, 5));
    expect(gotByClient).toEqual([1]);
  });

  it('rejects a wrong cluster name on both sides and keeps listening', async () => {
    const serverLogs: string[] = [];
    const server = await listenChannels({ host: '127.0.0.1', port: 0 }, local('w1'), () => ({
      log: (m) => serverLogs.push(m),
    }));
    servers.push(server);
    const clientLogs: string[] = [];
    await expect(
      connectChannel(server.address, local('w9', 'other-cluster'), { log: (m) => clientLogs.push(m) }),
    ).rejects.toThrow(/rejected/);
    for (let i = 0; i < 100 && serverLogs.length === 0; i++) await new Promise((r) => setTimeout(r, 5));
    expect(serverLogs.join('\n')).toContain(
      "rejected hello from worker 'w9': cluster 'other-cluster' is not this worker's cluster 'c1'",
    );
    expect(clientLogs.join('\n')).toMatch(/rejected/);
    // The listener is still up: a good peer gets in.
    const ok = await connectChannel(server.address, local('w2'));
    endpoints.push(ok);
    expect(ok.peer?.worker).toBe('w1');
  });

  it('rejects a wrong application name', async () => {
    const serverLogs: string[] = [];
    const server = await listenChannels({ host: '127.0.0.1', port: 0 }, local('w1'), () => ({
      log: (m) => serverLogs.push(m),
    }));
    servers.push(server);
    await expect(
      connectChannel(server.address, local('w2', 'c1', 'other-app'), { log: () => {} }),
    ).rejects.toThrow(/application 'wc'|application 'other-app'/);
    for (let i = 0; i < 100 && serverLogs.length === 0; i++) await new Promise((r) => setTimeout(r, 5));
    expect(serverLogs.join('\n')).toContain("application 'other-app' is not this worker's application 'wc'");
  });

  it('drops a connection that sends an over-size frame, naming it and the byte offset, and keeps listening', async () => {
    const serverLogs: string[] = [];
    const server = await listenChannels(
      { host: '127.0.0.1', port: 0 },
      { ...local('w1'), maxFrameBytes: 1024 },
      () => ({
        log: (m) => serverLogs.push(m),
      }),
    );
    servers.push(server);
    const raw = net.connect(server.address.port, '127.0.0.1');
    await new Promise((r) => raw.once('connect', r));
    raw.on('error', () => {});
    raw.resume();
    const hello = encodeFrame(
      encodeHello({ protocolVersion: PROTOCOL_VERSION, cluster: 'c1', app: 'wc', worker: 'evil' }),
    );
    const huge = Buffer.alloc(4);
    huge.writeUInt32BE(1_000_000, 0);
    raw.write(Buffer.concat([hello, huge]));
    await new Promise((r) => raw.once('close', r));
    expect(serverLogs.join('\n')).toMatch(
      new RegExp(
        `data channel w1 <- 127\\.0\\.0\\.1:\\d+: frame of 1000000 bytes exceeds maxFrameBytes 1024 \\(frame at byte offset ${hello.length}\\)`,
      ),
    );
    const ok = await connectChannel(server.address, local('w2'));
    endpoints.push(ok);
    expect(ok.peer?.worker).toBe('w1');
  });

  it('a port in use is an error naming the address', async () => {
    const server = await listenChannels({ host: '127.0.0.1', port: 0 }, local('w1'), () => ({}));
    servers.push(server);
    await expect(listenChannels(server.address, local('w2'), () => ({}))).rejects.toThrow(
      new RegExp(`cannot listen on 127.0.0.1:${server.address.port}: the address is already in use`),
    );
  });

  it('connecting to nothing names the address', async () => {
    await expect(connectChannel({ host: '127.0.0.1', port: 1 }, local('w2'), {}, 1000)).rejects.toThrow(
      /cannot connect to 127.0.0.1:1/,
    );
  });
});
