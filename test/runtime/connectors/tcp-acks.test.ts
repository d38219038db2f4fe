// The acknowledged tcp: source with `sendFile` (buffy send) in one process: the engine is a fake
// that records (offset, line) and calls commit/rewind itself, as ENGINE's exactly-once engine
// does (runtime/types.ts SourceConnector.commit / rewind, SourceContext.resume).
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { TcpSource } from '../../../runtime/connectors/tcp.ts';
import type { TcpSourceOptions } from '../../../runtime/connectors/tcp.ts';
import { SendError, sendFile } from '../../../runtime/cluster/tools.ts';
import {
  decodeSourceMessage,
  encodeBatch,
  encodeEnd,
  encodeHello,
} from '../../../runtime/connectors/tcp-protocol.ts';
import type { SourceMessage } from '../../../runtime/connectors/tcp-protocol.ts';
import { FrameDecoder, encodeFrames } from '../../../runtime/net/framing.ts';
import type { HostPort } from '../../../runtime/net/tcp-channel.ts';
import type { Clock, Logger, SourcePosition } from '../../../runtime/types.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'buffy-tcp-acks-'));
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const clock: Clock = {
  nowMs: () => Date.now(),
  nowNs: () => process.hrtime.bigint(),
  monotonicMs: () => performance.now(),
  setTimer: (ms, fn) => setTimeout(fn, ms) as unknown as number,
  clearTimer: (h) => clearTimeout(h as unknown as NodeJS.Timeout),
};

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
async function until(what: string, cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

function writeLines(name: string, n: number): { file: string; lines: string[] } {
  const lines = Array.from({ length: n }, (_, i) => `${name} line ${i} ${'x'.repeat(i % 17)}`);
  const file = path.join(tmp, `${name}.txt`);
  fs.writeFileSync(file, lines.join('\n') + '\n');
  return { file, lines };
}

interface Running {
  source: TcpSource;
  address: HostPort;
  /** (offset, line) in emit order. */
  got: Array<[number, string]>;
  logs: string[];
  stop(): Promise<void>;
}

/** A source and a fake engine; `resume` makes it exactly-once (acks on commit only). */
async function startSource(
  options: TcpSourceOptions & { resume?: SourcePosition; port?: number; emitDelayMs?: number } = {},
): Promise<Running> {
  const logs: string[] = [];
  const log: Logger = { info: (m) => logs.push(m), warn: (m) => logs.push(m), error: (m) => logs.push(m) };
  let ready!: (a: HostPort) => void;
  const listening = new Promise<HostPort>((r) => (ready = r));
  const source = new TcpSource(
    `tcp:127.0.0.1:${options.port ?? 0}`,
    { host: '127.0.0.1', port: options.port ?? 0 },
    {
      ...options,
      onListening: ready,
    },
  );
  const got: Array<[number, string]> = [];
  const controller = new AbortController();
  const running = source.run({
    sourceName: 'lines',
    workerName: 'w1',
    clock,
    log,
    signal: controller.signal,
    ...(options.resume ? { resume: options.resume } : {}),
    emit: async (b) => {
      b.payloads.forEach((p, i) => got.push([b.firstOffset + i, Buffer.from(p as Uint8Array).toString()]));
      if (options.emitDelayMs) await sleep(options.emitDelayMs);
    },
  });
  const address = await listening;
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await source.stop();
    await running;
  };
  cleanups.push(stop);
  return { source, address, got, logs, stop };
}

/** The offsets taken, each once and in order, and their lines. */
function expectExactly(got: Array<[number, string]>, lines: string[], base = 0): void {
  expect(got.map(([o]) => o)).toEqual(lines.map((_, i) => base + i));
  expect(got.map(([, l]) => l)).toEqual(lines);
}

/** A TCP proxy to `target` that resets the client's connection once `cutAfterBytes` went through. */
async function startProxy(target: HostPort, cutAfterBytes: number): Promise<{ port: number; cuts: number }> {
  const state = { port: 0, cuts: 0 };
  let forwarded = 0;
  let cut = false;
  const server = net.createServer((client) => {
    const upstream = net.connect(target.port, target.host);
    client.on('error', () => undefined);
    upstream.on('error', () => undefined);
    upstream.on('data', (d) => client.write(d));
    client.on('data', (d: Buffer) => {
      if (!cut && forwarded + d.length > cutAfterBytes) {
        cut = true;
        state.cuts++;
        // Half the chunk reaches the source, the rest is lost with the connection.
        upstream.write(d.subarray(0, Math.floor(d.length / 2)), () => {
          client.resetAndDestroy();
          upstream.destroy();
        });
        return;
      }
      forwarded += d.length;
      upstream.write(d);
    });
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  state.port = (server.address() as net.AddressInfo).port;
  cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
  return state;
}

/** A raw sender connection speaking the protocol by hand. */
async function rawSender(address: HostPort): Promise<{
  socket: net.Socket;
  messages: SourceMessage[];
  closed: Promise<void>;
}> {
  const socket = net.connect(address.port, address.host);
  await new Promise((r) => socket.once('connect', r));
  const messages: SourceMessage[] = [];
  const d = new FrameDecoder({ connection: 'raw' });
  socket.on('data', (c: Buffer) => d.push(c, (p) => messages.push(decodeSourceMessage(p))));
  socket.on('error', () => undefined);
  const closed = new Promise<void>((r) => socket.once('close', () => r()));
  cleanups.push(() => void socket.destroy());
  return { socket, messages, closed };
}

describe('tcp source with buffy send acknowledgements', () => {
  it('receipt mode (no store): every line once at offset = line number; the sender ends acknowledged', async () => {
    const src = await startSource({ maxBatchMessages: 300 });
    const { file, lines } = writeLines('receipt', 5000);
    const r = await sendFile({ to: src.address, file, batch: 333 });
    expect(r).toMatchObject({ messages: 5000, acknowledged: true, skipped: 0, resent: 0 });
    expectExactly(src.got, lines);
    expect(src.logs.join('\n')).toMatch(/stream 'receipt\.txt' from 127\.0\.0\.1:\d+: sending from line 0/);
  });

  it('commit mode: the sender finishes only once commit() covers its last line', async () => {
    const src = await startSource({ resume: { offset: 0, position: 0 } });
    const { file, lines } = writeLines('commit', 2000);
    let finished = false;
    const sending = sendFile({ to: src.address, file, batch: 100 }).then((r) => ((finished = true), r));
    await until('all lines taken', () => src.got.length === 2000);
    src.source.commit(999);
    await sleep(100);
    expect(finished).toBe(false);
    src.source.commit(1999);
    const r = await sending;
    expect(r.acknowledged).toBe(true);
    expectExactly(src.got, lines);
  });

  it('a connection reset mid-stream: the sender reconnects and resends; the source takes each line once', async () => {
    const src = await startSource();
    const { file, lines } = writeLines('reset', 20_000);
    const proxy = await startProxy(src.address, 150_000);
    const notes: string[] = [];
    const r = await sendFile({
      to: { host: '127.0.0.1', port: proxy.port },
      file,
      batch: 50,
      log: (l) => notes.push(l),
    });
    expect(proxy.cuts).toBe(1);
    expect(r.reconnects).toBeGreaterThanOrEqual(1);
    expect(notes.join('\n')).toMatch(/at line \d+ \(\d+ lines acknowledged\); connecting again/);
    expectExactly(src.got, lines);
  });

  it('a restarted source (exactly-once, resumed at its committed offset) gets the rest again from the sender', async () => {
    const first = await startSource({ resume: { offset: 0, position: 0 }, emitDelayMs: 1 });
    const port = first.address.port;
    const { file, lines } = writeLines('restart', 30_000);
    const sending = sendFile({ to: first.address, file, batch: 100, ackTimeoutMs: 20_000 });
    await until('some lines', () => first.got.length >= 5000);
    first.source.commit(2999);
    await sleep(50);
    const before = first.got.length;
    await first.stop(); // a crash of the source worker: lines after 2999 were not durable
    expect(before).toBeGreaterThan(3000);
    const second = await startSource({ port, resume: { offset: 3000, position: 0 } });
    await until('the rest', () => second.got.length >= 27_000, 30_000);
    second.source.commit(29_999);
    const r = await sending;
    expect(r.acknowledged).toBe(true);
    expectExactly(second.got, lines.slice(3000), 3000);
  });

  it('rewind(): the source drops what it holds from there and the sender sends it again', async () => {
    const src = await startSource({ resume: { offset: 0, position: 0 } });
    const { file, lines } = writeLines('rewind', 3000);
    const sending = sendFile({ to: src.address, file, batch: 100 });
    await until('all lines', () => src.got.length === 3000);
    src.source.commit(499);
    src.source.rewind({ offset: 500, position: 0 });
    await until('the replay', () => src.got.length === 5500);
    src.source.commit(2999);
    await sending;
    expectExactly(src.got.slice(0, 3000), lines);
    expectExactly(src.got.slice(3000), lines.slice(500), 500);
  });

  it('rewind() to before the stream: what plain clients sent is lost (said once), the stream is read again', async () => {
    const src = await startSource();
    const plain = net.connect(src.address.port, src.address.host);
    await new Promise((r) => plain.once('connect', r));
    const plainClosed = new Promise((r) => plain.once('close', r));
    plain.end(encodeFrames(['p0', 'p1', 'p2']));
    await until('plain frames', () => src.got.length === 3);
    await plainClosed;
    await sleep(50);
    const raw = await rawSender(src.address);
    raw.socket.write(encodeHello({ stream: 's', base: null, first: 0 }));
    raw.socket.write(encodeBatch(0, [Buffer.from('s0'), Buffer.from('s1')]));
    await until('stream lines', () => src.got.length === 5 && raw.messages.length > 0);
    expect(raw.messages[0]).toEqual({ kind: 'welcome', base: 3, next: 0, acked: -1 });
    src.source.rewind({ offset: 1, position: 0 });
    await until('rewind sent', () => raw.messages.some((m) => m.kind === 'rewind'));
    expect(raw.messages.find((m) => m.kind === 'rewind')).toEqual({ kind: 'rewind', next: 0 });
    expect(src.logs.join('\n')).toMatch(
      /the engine asked to read offsets 1\.\.2 again; they came before stream 's', which cannot send them again \(at most once\): they are lost/,
    );
    raw.socket.write(encodeBatch(0, [Buffer.from('s0'), Buffer.from('s1')]));
    await until('the replay', () => src.got.length === 7);
    expect(src.got.slice(5)).toEqual([
      [3, 's0'],
      [4, 's1'],
    ]);
  });

  it('streams one after another continue the offsets; the same file sent again is a new stream', async () => {
    const src = await startSource();
    const a = writeLines('a', 100);
    const b = writeLines('b', 50);
    await sendFile({ to: src.address, file: a.file });
    await sendFile({ to: src.address, file: b.file });
    await sendFile({ to: src.address, file: a.file });
    expectExactly(src.got, [...a.lines, ...b.lines, ...a.lines]);
  });

  it('a second stream waits (BUSY) until the first is acknowledged through its end', async () => {
    const src = await startSource({ resume: { offset: 0, position: 0 } });
    const a = writeLines('busy-a', 100);
    const b = writeLines('busy-b', 10);
    const sa = sendFile({ to: src.address, file: a.file });
    await until('a taken', () => src.got.length === 100);
    const notes: string[] = [];
    const sb = sendFile({ to: src.address, file: b.file, log: (l) => notes.push(l) });
    await sleep(300);
    expect(src.got).toHaveLength(100);
    expect(notes.join('\n')).toMatch(/is busy \(this source takes stream 'busy-a\.txt'/);
    src.source.commit(99);
    await sa;
    await until('b taken', () => src.got.length === 110);
    src.source.commit(109);
    await sb;
    expectExactly(src.got, [...a.lines, ...b.lines]);
  });

  it('a resume file: a new run skips what was acknowledged, and says so', async () => {
    const src = await startSource({ resume: { offset: 0, position: 0 } });
    const { file, lines } = writeLines('resume', 1000);
    const resumeFile = path.join(tmp, 'resume.json');
    const controller = new AbortController();
    const first = sendFile({
      to: src.address,
      file,
      batch: 10,
      rate: 5000,
      resumeFile,
      signal: controller.signal,
    });
    await until('some lines', () => src.got.length >= 300);
    src.source.commit(199);
    await sleep(150);
    controller.abort();
    // Lines after 199 were sent but not acknowledged: the run fails, naming the resume file.
    await expect(first).rejects.toThrow(
      new RegExp(
        `stopped by a signal before .* acknowledged every line sent: \\d+ messages sent, 200 of them acknowledged by the source; ${resumeFile.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} records that`,
      ),
    );
    expect(JSON.parse(fs.readFileSync(resumeFile, 'utf8'))).toMatchObject({
      stream: 'resume.txt',
      base: 0,
      acknowledged: 199,
    });
    // The source restarts at its committed offset (a new instance), the sender with the file.
    await src.stop();
    const again = await startSource({ port: src.address.port, resume: { offset: 200, position: 0 } });
    const second = sendFile({ to: again.address, file, batch: 100, resumeFile });
    await until('the rest', () => again.got.length === 800);
    again.source.commit(999);
    const r = await second;
    expect(r).toMatchObject({ skipped: 200, messages: 800, acknowledged: true });
    expectExactly(again.got, lines.slice(200), 200);
    expect(JSON.parse(fs.readFileSync(resumeFile, 'utf8')).acknowledged).toBe(999);
    // Everything acknowledged: a third run sends nothing.
    const r3 = await sendFile({ to: again.address, file, resumeFile });
    expect(r3).toMatchObject({ messages: 0, skipped: 1000 });
  });

  it('a source that lost what it committed is an error, not a silent resend', async () => {
    // The source committed 0..9 only: its store was replaced since it acknowledged 0..49.
    const src = await startSource({ resume: { offset: 10, position: 0 } });
    const { file } = writeLines('lost', 100);
    const resumeFile = path.join(tmp, 'lost.json');
    fs.writeFileSync(
      resumeFile,
      JSON.stringify({
        version: 1,
        stream: 'lost.txt',
        file,
        fileBytes: fs.statSync(file).size,
        to: 'x',
        base: 0,
        acknowledged: 49,
      }),
    );
    await expect(sendFile({ to: src.address, file, resumeFile })).rejects.toThrow(
      /asks for line 10 again, but lines up to 49 were acknowledged .*: the source lost what it had committed/,
    );
  });

  it('a resume file of another stream or a changed file is refused before anything is sent', async () => {
    const { file } = writeLines('other', 10);
    const resumeFile = path.join(tmp, 'other.json');
    fs.writeFileSync(
      resumeFile,
      JSON.stringify({
        version: 1,
        stream: 'x.txt',
        file: 'x.txt',
        fileBytes: 3,
        to: 'x',
        base: 0,
        acknowledged: 1,
      }),
    );
    await expect(sendFile({ to: { host: '127.0.0.1', port: 1 }, file, resumeFile })).rejects.toThrow(
      /belongs to stream 'x\.txt' \(file x\.txt\), not 'other\.txt'/,
    );
    fs.writeFileSync(resumeFile, 'garbage');
    await expect(sendFile({ to: { host: '127.0.0.1', port: 1 }, file, resumeFile })).rejects.toThrow(
      /not a resume file of buffy send/,
    );
  });
});

describe('tcp source: plain clients and bad input', () => {
  it('a plain client works as before, at most once, logged once per connection', async () => {
    const src = await startSource();
    const { file, lines } = writeLines('plain', 500);
    const r = await sendFile({ to: src.address, file, acks: false });
    expect(r.acknowledged).toBeUndefined();
    await until('all', () => src.got.length === 500);
    expectExactly(src.got, lines);
    expect(
      src.logs.filter((l) => /sends plain frames \(no buffy send handshake\): at most once/.test(l)),
    ).toHaveLength(1);
  });

  it('a plain client while a stream feeds the source is dropped, with a line naming it', async () => {
    const src = await startSource({ resume: { offset: 0, position: 0 } });
    const raw = await rawSender(src.address);
    raw.socket.write(encodeHello({ stream: 's', base: null, first: 0 }));
    raw.socket.write(encodeBatch(0, [Buffer.from('one')]));
    await until('one line', () => src.got.length === 1);
    const plain = net.connect(src.address.port, src.address.host);
    plain.on('error', () => undefined);
    plain.write(encodeFrames(['intruder']));
    await new Promise((r) => plain.once('close', r));
    expect(src.logs.join('\n')).toMatch(
      /connection from 127\.0\.0\.1:\d+ sends plain frames while buffy send stream 's' feeds this source; dropping it/,
    );
    expect(src.got.map(([, l]) => l)).toEqual(['one']);
  });

  it('a corrupt batch: one line naming the peer and the byte offset; FAIL to the sender; the source goes on', async () => {
    const src = await startSource();
    const raw = await rawSender(src.address);
    const hello = encodeHello({ stream: 's', base: null, first: 0 });
    const good = encodeBatch(0, [Buffer.from('a'), Buffer.from('b')]);
    const bad = Buffer.from(encodeBatch(2, [Buffer.from('cc')]));
    bad.writeUInt32BE(99, 4 + 9); // the inner line announces 99 bytes
    raw.socket.write(Buffer.concat([hello, good, bad]));
    await raw.closed;
    const errors = src.logs.filter((l) => /dropping the connection/.test(l));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(
      new RegExp(
        `stream 's' from 127\\.0\\.0\\.1:\\d+: BATCH: line 2 announces 99 bytes, only 2 follow \\(frame at byte offset ${hello.length + good.length}, fault at byte ${hello.length + good.length + 13}\\)`,
      ),
    );
    expect(raw.messages.map((m) => m.kind)).toEqual(['welcome', 'fail']);
    expect(src.got.map(([, l]) => l)).toEqual(['a', 'b']);
    // The sender may come back: it resumes after what was taken.
    const again = await rawSender(src.address);
    again.socket.write(encodeHello({ stream: 's', base: 0, first: 2 }));
    await until('welcome', () => again.messages.length > 0);
    expect(again.messages[0]).toEqual({ kind: 'welcome', base: 0, next: 2, acked: 1 });
  });

  it('a wrong sequence number: a gap is logged once with the byte offset and answered with REWIND', async () => {
    const src = await startSource();
    const raw = await rawSender(src.address);
    const hello = encodeHello({ stream: 'g', base: null, first: 0 });
    const b0 = encodeBatch(0, [Buffer.from('l0')]);
    const gap1 = encodeBatch(5, [Buffer.from('l5')]);
    const gap2 = encodeBatch(6, [Buffer.from('l6')]);
    raw.socket.write(Buffer.concat([hello, b0, gap1, gap2]));
    await until('rewind', () => raw.messages.some((m) => m.kind === 'rewind'));
    await sleep(50);
    expect(raw.messages.filter((m) => m.kind === 'rewind')).toEqual([{ kind: 'rewind', next: 1 }]);
    const gaps = src.logs.filter((l) => /lines in between are missing/.test(l));
    expect(gaps).toHaveLength(1);
    expect(gaps[0]).toMatch(
      new RegExp(
        `stream 'g' from 127\\.0\\.0\\.1:\\d+: the batch at byte offset ${hello.length + b0.length} starts at line 5, expected line 1`,
      ),
    );
    // The sender complies: lines 1.. in sequence, a repeat of line 0 is dropped.
    raw.socket.write(
      Buffer.concat([
        encodeBatch(0, [Buffer.from('l0'), Buffer.from('l1')]),
        encodeBatch(2, [Buffer.from('l2')]),
        encodeEnd(3),
      ]),
    );
    await until('3 lines', () => src.got.length === 3);
    expect(src.got).toEqual([
      [0, 'l0'],
      [1, 'l1'],
      [2, 'l2'],
    ]);
    expect(src.source.duplicatesDropped).toBe(1);
  });

  it('random batches (repeats, gaps, overlaps): the source takes exactly the lines in sequence, never crashes', async () => {
    const src = await startSource();
    const raw = await rawSender(src.address);
    raw.socket.write(encodeHello({ stream: 'fc', base: null, first: 0 }));
    await until('welcome', () => raw.messages.length > 0);
    let next = 0;
    let sent = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ back: fc.integer({ min: -3, max: 5 }), n: fc.integer({ min: 1, max: 4 }) }), {
          maxLength: 20,
        }),
        async (steps) => {
          for (const { back, n } of steps) {
            // back > 0: starts before the next expected line (repeats); back < 0: a gap.
            const seq = Math.max(0, next - back);
            raw.socket.write(
              encodeBatch(
                seq,
                Array.from({ length: n }, (_, i) => Buffer.from(`L${seq + i}`)),
              ),
            );
            sent++;
            if (seq <= next) next = Math.max(next, seq + n);
          }
          await until('the source took them', () => src.got.length === next, 5000);
        },
      ),
      { numRuns: 30 },
    );
    expect(sent).toBeGreaterThan(0);
    expect(src.got).toEqual(Array.from({ length: next }, (_, i) => [i, `L${i}`]));
  });
});

describe('buffy send errors (acknowledged)', () => {
  it('a peer that never answers the handshake: a clear error naming it and --no-acks', async () => {
    const server = net.createServer((s) => s.on('error', () => undefined).resume());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
    const port = (server.address() as net.AddressInfo).port;
    const { file } = writeLines('silent', 10);
    const err = await sendFile({ to: { host: '127.0.0.1', port }, file, handshakeTimeoutMs: 500 }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(SendError);
    expect((err as Error).message).toMatch(
      /did not answer the handshake within 0\.5 s: is it a tcp: source of Buffy\? \(--no-acks sends plain frames/,
    );
  }, 20_000);
});
