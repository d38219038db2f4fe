// `buffy send` as a real process against an acknowledging tcp: source (in this process, with a
// fake engine that commits what it took every few milliseconds, as the exactly-once engine
// does): killed with SIGKILL and restarted with --resume-file it resumes without loss or
// duplicate at the source; a connection reset on the source's side mid-stream is resent; a
// source that goes away is an exit 1 with one line saying how far it got. `buffy receive
// --check` reports repeats and gaps of the ids a `tcp:...?ids=1` sink sends.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { TcpSink, TcpSource } from '../../runtime/connectors/tcp.ts';
import type { HostPort } from '../../runtime/net/tcp-channel.ts';
import type { Clock, Logger } from '../../runtime/types.ts';
import { killAll, startBuffy } from './processes.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'buffy-send-acks-'));
const LINES = 60_000;
const file = path.join(tmp, 'lines.txt');
const lines = Array.from({ length: LINES }, (_, i) => `message ${i}`);
fs.writeFileSync(file, lines.join('\n') + '\n');

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
afterAll(async () => {
  await killAll();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const clock: Clock = {
  nowMs: () => Date.now(),
  nowNs: () => process.hrtime.bigint(),
  monotonicMs: () => performance.now(),
  setTimer: (ms, fn) => setTimeout(fn, ms) as unknown as number,
  clearTimer: (h) => clearTimeout(h as unknown as NodeJS.Timeout),
};
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
async function until(what: string, cond: () => boolean, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** An exactly-once tcp: source whose fake engine commits everything it took every 20 ms. */
async function committingSource(): Promise<{
  address: HostPort;
  offsets: number[];
  payloads: string[];
  logs: string[];
  stop(): Promise<void>;
}> {
  const logs: string[] = [];
  const log: Logger = { info: (m) => logs.push(m), warn: (m) => logs.push(m), error: (m) => logs.push(m) };
  let ready!: (a: HostPort) => void;
  const listening = new Promise<HostPort>((r) => (ready = r));
  const source = new TcpSource('tcp:127.0.0.1:0', { host: '127.0.0.1', port: 0 }, { onListening: ready });
  const offsets: number[] = [];
  const payloads: string[] = [];
  const controller = new AbortController();
  const running = source.run({
    sourceName: 'lines',
    workerName: 'w1',
    clock,
    log,
    signal: controller.signal,
    resume: { offset: 0, position: 0 },
    emit: async (b) => {
      b.payloads.forEach((p, i) => {
        offsets.push(b.firstOffset + i);
        payloads.push(Buffer.from(p as Uint8Array).toString());
      });
    },
  });
  const timer = setInterval(() => {
    if (offsets.length > 0) source.commit(offsets[offsets.length - 1]!);
  }, 20);
  const address = await listening;
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    clearInterval(timer);
    await source.stop();
    await running;
  };
  cleanups.push(stop);
  return { address, offsets, payloads, logs, stop };
}

/** Every line once, in order, at offset = its line number. */
function expectEveryLineOnce(offsets: number[], payloads: string[]): void {
  expect(offsets.length).toBe(LINES);
  for (let i = 0; i < LINES; i++) {
    if (offsets[i] !== i || payloads[i] !== lines[i])
      throw new Error(
        `at ${i}: offset ${offsets[i]} payload '${payloads[i]}' (expected ${i}, '${lines[i]}')`,
      );
  }
}

describe('buffy send with acknowledgements (real processes)', () => {
  it('killed with SIGKILL and restarted with --resume-file: no loss, no duplicate at the source', async () => {
    const src = await committingSource();
    const to = `127.0.0.1:${src.address.port}`;
    const resumeFile = path.join(tmp, 'resume.json');
    const args = ['send', '--to', to, '--file', file, '--resume-file', resumeFile, '--rate', '40000'];
    const first = startBuffy('send/first', args);
    await until('a third of the lines at the source', () => src.offsets.length >= LINES / 3);
    first.child.kill('SIGKILL');
    expect(await first.exited).toBe(137);
    const taken = src.offsets.length;
    expect(taken).toBeLessThan(LINES);
    const recorded = JSON.parse(fs.readFileSync(resumeFile, 'utf8')) as { acknowledged: number };
    expect(recorded.acknowledged).toBeGreaterThan(0);
    const second = startBuffy(
      'send/second',
      args.filter((a, i) => a !== '--rate' && args[i - 1] !== '--rate'),
    );
    expect(await second.exited, second.lines.join('\n')).toBe(0);
    const out = second.lines.join('\n');
    const m =
      /^sent (\d+) messages \(.*; all acknowledged, (\d+) lines skipped \(already at the source\)/m.exec(out);
    expect(m, out).not.toBeNull();
    // The restart skipped at least what the resume file said, and sent only the rest.
    expect(Number(m![2])).toBeGreaterThanOrEqual(recorded.acknowledged + 1);
    expect(Number(m![1]) + Number(m![2])).toBe(LINES);
    expectEveryLineOnce(src.offsets, src.payloads);
    expect(JSON.parse(fs.readFileSync(resumeFile, 'utf8'))).toMatchObject({ acknowledged: LINES - 1 });
  }, 90_000);

  it('the source side resets the connection mid-stream: buffy send reconnects, resends, exits 0', async () => {
    const src = await committingSource();
    // A proxy in front of the source resets the sender's connection once, mid-stream.
    let cuts = 0;
    let forwarded = 0;
    const proxy = net.createServer((client) => {
      const upstream = net.connect(src.address.port, src.address.host);
      client.on('error', () => undefined);
      upstream.on('error', () => undefined);
      upstream.on('data', (d) => client.write(d));
      client.on('data', (d: Buffer) => {
        if (cuts === 0 && forwarded > 300_000) {
          cuts++;
          client.resetAndDestroy();
          upstream.destroy();
          return;
        }
        forwarded += d.length;
        upstream.write(d);
      });
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise<void>((r) => proxy.close(() => r())));
    const port = (proxy.address() as net.AddressInfo).port;
    const send = startBuffy('send/reset', [
      'send',
      '--to',
      `127.0.0.1:${port}`,
      '--file',
      file,
      '--batch',
      '200',
    ]);
    expect(await send.exited, send.lines.join('\n')).toBe(0);
    expect(cuts).toBe(1);
    const out = send.lines.join('\n');
    expect(out).toMatch(
      /^buffy send: (the connection to )?127\.0\.0\.1:\d+ (failed|closed).* at line \d+ \(\d+ lines acknowledged\); connecting again$/m,
    );
    expect(out).toMatch(new RegExp(`^sent ${LINES} messages \\(.*; all acknowledged`, 'm'));
    expectEveryLineOnce(src.offsets, src.payloads);
  }, 60_000);

  it('the source goes away for good: exit 1, one line with what was sent and acknowledged', async () => {
    const src = await committingSource();
    const resumeFile = path.join(tmp, 'gone.json');
    const send = startBuffy('send/gone', [
      'send',
      '--to',
      `127.0.0.1:${src.address.port}`,
      '--file',
      file,
      '--rate',
      '20000',
      '--ack-timeout',
      '1500',
      '--resume-file',
      resumeFile,
    ]);
    await until('some lines', () => src.offsets.length >= 5000);
    await src.stop();
    expect(await send.exited).toBe(1);
    const errors = send.lines.filter((l) => l.startsWith('buffy send: ') && !/connecting again$/.test(l));
    expect(errors, send.lines.join('\n')).toHaveLength(1);
    expect(errors[0]).toMatch(
      /could not be reached again within 1500 ms .*: \d+ messages sent, \d+ of them acknowledged by the source; .*gone\.json records that: the same command sends the rest$/,
    );
  }, 60_000);
});

describe('buffy receive --check (real process)', () => {
  for (const lose of [false, true]) {
    it(`${lose ? 'a lost output: exit 1 naming the gap' : 'a resend after a crash: dropped, exit 0'}`, async () => {
      const out = path.join(tmp, `check-${lose}.txt`);
      const recv = startBuffy('receive/check', [
        'receive',
        '--listen',
        '127.0.0.1:0',
        '--out',
        out,
        '--check',
      ]);
      const port = Number((await recv.waitFor(/listening on 127\.0\.0\.1:(\d+)/))[1]);
      const log: Logger = { info: () => {}, warn: () => {}, error: () => {} };
      const sink = new TcpSink(
        'tcp:x',
        { host: '127.0.0.1', port },
        { workerName: 'w2', clock, log, exactlyOnce: true },
        {
          ids: true,
        },
      );
      await sink.write({ payloads: ['one', 'two'], firstOutputId: 1 });
      await sink.write({ payloads: ['two', 'three'], firstOutputId: 2 });
      await sink.write({ payloads: ['five'], firstOutputId: lose ? 5 : 4 });
      await sink.close();
      await sleep(200);
      recv.child.kill('SIGTERM');
      expect(await recv.exited, recv.lines.join('\n')).toBe(lose ? 1 : 0);
      const text = recv.lines.join('\n');
      expect(text).toMatch(/received 5 frames .* over 1 connection/);
      expect(text).toContain(
        `buffy receive --check: 4 distinct outputs from 1 worker; 1 repeated id dropped (w2: 1); ${lose ? '1 missing in 1 gap' : 'no gap'}`,
      );
      if (lose) expect(text).toContain('  gap: worker w2, output ids 4');
      expect(fs.readFileSync(out, 'utf8')).toBe('one\ntwo\nthree\nfive\n');
    }, 30_000);
  }
});
