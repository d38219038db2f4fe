import { afterEach, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  DEFAULT_TCP_MAX_BATCH,
  TcpSink,
  TcpSource,
  parseTcpUri,
  tcpConnector,
} from '../../../runtime/connectors/tcp.ts';
import { sendFile, startReceiver, frameLines } from '../../../runtime/cluster/tools.ts';
import type { Receiver } from '../../../runtime/cluster/tools.ts';
import { FrameDecoder, encodeFrames } from '../../../runtime/net/framing.ts';
import { parseHostPort } from '../../../runtime/net/tcp-channel.ts';
import type { Clock, ConnectorContext, Logger, SourceBatch, SourceContext } from '../../../runtime/types.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'buffy-tcp-'));
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

const clock: Clock = {
  nowMs: () => Date.now(),
  nowNs: () => process.hrtime.bigint(),
  monotonicMs: () => performance.now(),
  setTimer: (ms, fn) => setTimeout(fn, ms) as unknown as number,
  clearTimer: (h) => clearTimeout(h as unknown as NodeJS.Timeout),
};
const logs: string[] = [];
const log: Logger = { info: () => {}, warn: (m) => logs.push(m), error: (m) => logs.push(m) };

function sourceContext(
  emit: (b: SourceBatch) => Promise<void>,
  controller = new AbortController(),
): SourceContext {
  return { sourceName: 'lines', workerName: 'w1', clock, log, emit, signal: controller.signal };
}

describe('frameLines', () => {
  it('frames every line, dropping CR before LF, keeping a last line without newline', () => {
    const { frames, ends } = frameLines(Buffer.from('a\r\nbb\n\nccc'));
    const got: string[] = [];
    const d = new FrameDecoder({ connection: 't' });
    d.push(frames, (p) => got.push(Buffer.from(p).toString()));
    expect(got).toEqual(['a', 'bb', '', 'ccc']);
    expect(ends.length).toBe(4);
  });
});

describe('tcp source', () => {
  it('receives every line sent by buffy send, in order, with increasing offsets', async () => {
    const lines = Array.from({ length: 5000 }, (_, i) => `line ${i} ${'x'.repeat(i % 50)}`);
    const file = path.join(tmp, 'lines.txt');
    fs.writeFileSync(file, lines.join('\n') + '\n');
    let bound: { host: string; port: number } | null = null;
    let ready: () => void = () => {};
    const listening = new Promise<void>((r) => (ready = r));
    const source = new TcpSource('tcp:127.0.0.1:0', parseHostPort('127.0.0.1:0', 't'), {
      onListening: (a) => {
        bound = a;
        ready();
      },
      maxBatchMessages: 700,
    });
    const got: string[] = [];
    const offsets: number[] = [];
    const running = source.run(
      sourceContext(async (b) => {
        expect(b.payloads.length).toBeLessThanOrEqual(700);
        // When each line arrived: one time per line, in order, not after the batch is emitted.
        const at = b.receivedMs!;
        expect(at).toHaveLength(b.payloads.length);
        for (let i = 1; i < at.length; i++) expect(at[i]!).toBeGreaterThanOrEqual(at[i - 1]!);
        expect(at.at(-1)!).toBeLessThanOrEqual(clock.nowMs());
        b.payloads.forEach((p, i) => {
          got.push(typeof p === 'string' ? p : Buffer.from(p).toString());
          offsets.push(b.firstOffset + i);
        });
      }),
    );
    cleanups.push(() => source.stop());
    await listening;
    const r = await sendFile({ to: bound!, file, batch: 333 });
    expect(r.messages).toBe(5000);
    for (let i = 0; i < 200 && got.length < 5000; i++) await new Promise((res) => setTimeout(res, 10));
    await source.stop();
    await running;
    expect(got).toEqual(lines);
    expect(offsets).toEqual(lines.map((_, i) => i));
  });

  it('emits at most max-batch=N lines per batch when its URI says so (default DEFAULT_TCP_MAX_BATCH)', async () => {
    const uri = (rest: string) => ({ raw: `tcp:${rest}`, scheme: 'tcp', rest });
    expect(parseTcpUri(uri('127.0.0.1:0?end-after=1&max-batch=64'), 'source')).toMatchObject({
      endAfterConnections: 1,
      maxBatchMessages: 64,
    });
    expect(parseTcpUri(uri('127.0.0.1:0'), 'source').maxBatchMessages).toBeUndefined();
    expect(() => parseTcpUri(uri('127.0.0.1:0?max-batch=0'), 'source')).toThrow(
      /source 'tcp:127.0.0.1:0\?max-batch=0': max-batch must be a positive integer, got '0'/,
    );
    expect(() => parseTcpUri(uri('127.0.0.1:0?max-batch=64'), 'sink')).toThrow(/unknown option 'max-batch'/);
    const file = path.join(tmp, 'max-batch.txt');
    const lines = Array.from({ length: 3000 }, (_, i) => `line ${i}`);
    fs.writeFileSync(file, lines.join('\n') + '\n');
    for (const [rest, max] of [
      ['127.0.0.1:0?max-batch=50', 50],
      ['127.0.0.1:0', DEFAULT_TCP_MAX_BATCH],
    ] as const) {
      const source = tcpConnector.createSource!(uri(rest), {} as ConnectorContext) as TcpSource;
      const got: string[] = [];
      let largest = 0;
      // The engine is slow at first, so that lines pile up and batches reach their bound.
      let slow = true;
      const running = source.run(
        sourceContext(async (b) => {
          largest = Math.max(largest, b.payloads.length);
          for (const p of b.payloads) got.push(typeof p === 'string' ? p : Buffer.from(p).toString());
          if (slow) await new Promise((res) => setTimeout(res, 100));
          slow = false;
        }),
      );
      cleanups.push(() => source.stop());
      for (let i = 0; i < 200 && source.boundAddress === null; i++)
        await new Promise((res) => setTimeout(res, 5));
      await sendFile({ to: source.boundAddress!, file, batch: 1000 });
      for (let i = 0; i < 200 && got.length < lines.length; i++)
        await new Promise((res) => setTimeout(res, 10));
      await source.stop();
      await running;
      expect(got).toEqual(lines);
      expect(largest).toBe(max);
    }
  });

  it('pauses the connection while the engine is slow (bounded buffering)', async () => {
    const file = path.join(tmp, 'many.txt');
    fs.writeFileSync(file, Array.from({ length: 200 }, (_, i) => `m${i}`).join('\n'));
    let ready: (a: { host: string; port: number }) => void = () => {};
    const listening = new Promise<{ host: string; port: number }>((r) => (ready = r));
    const source = new TcpSource(
      'tcp:127.0.0.1:0',
      { host: '127.0.0.1', port: 0 },
      { onListening: (a) => ready(a), highWaterMessages: 1000, maxBatchMessages: 100 },
    );
    let received = 0;
    let release: () => void = () => {};
    let maxPending = 0;
    const running = source.run(
      sourceContext((b) => {
        received += b.payloads.length;
        maxPending = Math.max(maxPending, source.framesReceived - received);
        return new Promise<void>((r) => (release = r));
      }),
    );
    cleanups.push(() => source.stop());
    const address = await listening;
    const sending = sendFile({ to: address, file, repeat: true, messages: 200_000, batch: 200 });
    await new Promise((r) => setTimeout(r, 300));
    // The engine took one batch and is stuck: the source must have paused its socket.
    const buffered = source.framesReceived - received;
    expect(received).toBe(100);
    expect(buffered).toBeLessThan(1000 + 64 * 1024); // high water + one socket read worth of frames
    const before = source.framesReceived;
    await new Promise((r) => setTimeout(r, 200));
    expect(source.framesReceived).toBe(before); // paused: nothing more is read
    // Let it go: everything arrives.
    const drain = async () => {
      while (received < 200_000) {
        release();
        await new Promise((r) => setImmediate(r));
      }
    };
    await drain();
    await sending;
    release();
    await source.stop();
    await running;
    expect(received).toBe(200_000);
  });

  it('pauses on buffered bytes too, not only on message count (large frames)', async () => {
    let ready: (a: { host: string; port: number }) => void = () => {};
    const listening = new Promise<{ host: string; port: number }>((r) => (ready = r));
    const source = new TcpSource(
      'tcp:127.0.0.1:0',
      { host: '127.0.0.1', port: 0 },
      { onListening: (a) => ready(a), highWaterBytes: 100_000, maxBatchMessages: 1 },
    );
    let received = 0;
    let release: () => void = () => {};
    const running = source.run(
      sourceContext((b) => {
        received += b.payloads.length;
        return new Promise<void>((r) => (release = r));
      }),
    );
    cleanups.push(() => source.stop());
    const address = await listening;
    const net = await import('node:net');
    const client = net.connect(address.port, address.host);
    await new Promise((r) => client.once('connect', r));
    const frame = encodeFrames([Buffer.alloc(10_000, 7)]);
    // 400 frames of 10 kB = 4 MB, far below the message high water (65536).
    for (let i = 0; i < 400; i++) client.write(frame);
    await new Promise((r) => setTimeout(r, 300));
    const buffered = source.framesReceived - received;
    expect(received).toBe(1);
    expect(buffered * 10_000).toBeLessThan(100_000 + 2 * 65_536 + 10_000); // high water + socket reads
    while (received < 400) {
      release();
      await new Promise((r) => setImmediate(r));
    }
    client.end();
    release();
    await source.stop();
    await running;
    expect(received).toBe(400);
  });

  it('port in use is an error naming the address', async () => {
    let bound: { host: string; port: number } | null = null;
    let ready: () => void = () => {};
    const listening = new Promise<void>((r) => (ready = r));
    const a2 = new TcpSource(
      'tcp:127.0.0.1:0',
      { host: '127.0.0.1', port: 0 },
      { onListening: (x) => ((bound = x), ready()) },
    );
    const r1 = a2.run(sourceContext(async () => {}));
    cleanups.push(() => a2.stop());
    await listening;
    const b = new TcpSource(`tcp:127.0.0.1:${bound!.port}`, bound!, {});
    await expect(b.run(sourceContext(async () => {}))).rejects.toThrow(
      new RegExp(`cannot listen on 127.0.0.1:${bound!.port}: the address is already in use`),
    );
    await a2.stop();
    await r1;
  });

  it('drops a connection that sends an over-size frame and keeps running', async () => {
    let ready: (a: { host: string; port: number }) => void = () => {};
    const listening = new Promise<{ host: string; port: number }>((r) => (ready = r));
    const source = new TcpSource(
      'tcp:127.0.0.1:0',
      { host: '127.0.0.1', port: 0 },
      { onListening: (a) => ready(a), maxFrameBytes: 16 },
    );
    const got: string[] = [];
    const running = source.run(
      sourceContext(
        async (b) => void b.payloads.forEach((p) => got.push(Buffer.from(p as Uint8Array).toString())),
      ),
    );
    cleanups.push(() => source.stop());
    const address = await listening;
    logs.length = 0;
    const net = await import('node:net');
    const bad = net.connect(address.port, address.host);
    await new Promise((r) => bad.once('connect', r));
    bad.write(encodeFrames(['ok', 'x'.repeat(17)]));
    await new Promise((r) => bad.once('close', r));
    const good = net.connect(address.port, address.host);
    await new Promise((r) => good.once('connect', r));
    good.end(encodeFrames(['still here']));
    for (let i = 0; i < 100 && got.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
    expect(got).toEqual(['ok', 'still here']);
    expect(logs.join('\n')).toMatch(/frame of 17 bytes exceeds maxFrameBytes 16 \(frame at byte offset 6\)/);
    // Said once (not again when the dropped connection closes).
    expect(logs.filter((l) => l.includes('exceeds maxFrameBytes'))).toHaveLength(1);
    await source.stop();
    await running;
  });
});

describe('tcp sink and buffy receive', () => {
  let receiver: Receiver | null = null;
  afterEach(async () => {
    await receiver?.close();
    receiver = null;
  });

  it('writes every payload as a line, from several sinks', async () => {
    const out = path.join(tmp, 'received.txt');
    receiver = await startReceiver({ listen: { host: '127.0.0.1', port: 0 }, out, log: () => {} });
    const ctx: ConnectorContext = { workerName: 'w1', clock, log };
    const sinks = [0, 1, 2].map(
      (k) =>
        new TcpSink(`tcp:127.0.0.1:${receiver!.address.port}`, receiver!.address, {
          ...ctx,
          workerName: `w${k}`,
        }),
    );
    const expected: string[] = [];
    for (let round = 0; round < 20; round++) {
      for (const [k, sink] of sinks.entries()) {
        const payloads = Array.from({ length: 50 }, (_, i) => `w${k} r${round} i${i} ünïcode`);
        expected.push(...payloads);
        await sink.write({ payloads: k === 1 ? payloads.map((p) => Buffer.from(p)) : payloads });
      }
    }
    for (const s of sinks) await s.flush();
    for (const s of sinks) await s.close();
    for (let i = 0; i < 100 && receiver.frames < expected.length; i++)
      await new Promise((r) => setTimeout(r, 10));
    const counts = await receiver.close();
    receiver = null;
    expect(counts.connections).toBe(3);
    expect(counts.frames).toBe(expected.length);
    const lines = fs.readFileSync(out, 'utf8').split('\n');
    expect(lines.pop()).toBe('');
    expect(lines.sort()).toEqual(expected.sort());
  });

  it('a sink whose receiver never comes up fails with the address', async () => {
    const ctx: ConnectorContext = { workerName: 'w9', clock, log };
    const sink = new TcpSink('tcp:127.0.0.1:1', { host: '127.0.0.1', port: 1 }, ctx, {
      connectTimeoutMs: 200,
    });
    await expect(Promise.resolve(sink.write({ payloads: ['x'] }))).rejects.toThrow(
      /sink tcp:127.0.0.1:1 of worker 'w9': cannot connect to 127.0.0.1:1/,
    );
  });
});

describe('buffy send', () => {
  it('respects --rate with a token bucket', async () => {
    const file = path.join(tmp, 'rate.txt');
    fs.writeFileSync(file, Array.from({ length: 100 }, (_, i) => `r${i}`).join('\n'));
    const rec = await startReceiver({
      listen: { host: '127.0.0.1', port: 0 },
      out: path.join(tmp, 'rate-out.txt'),
      log: () => {},
    });
    cleanups.push(async () => void (await rec.close()));
    const r = await sendFile({
      to: rec.address,
      file,
      rate: 2000,
      repeat: true,
      messages: 1000,
      batch: 50,
      acks: false,
    });
    expect(r.messages).toBe(1000);
    // 1000 messages at 2000/s with a 50-message burst: at least ~0.45 s.
    expect(r.elapsedMs).toBeGreaterThan(400);
  });
});
