// Word count on a real 3-process cluster on loopback while its data connections are cut at
// seeded random moments: each worker listens for data on 127.0.0.1 and advertises 127.0.0.2
// (the same port), where a proxy in this test (runtime/net/cut-proxy.ts) forwards to it and
// resets every connection through it now and then, losing what was in flight. The channels
// reconnect, the handshake says where to resume, the senders resend: the final count of every
// word must equal a single-process (embedded) run over the same text, each update once.
// The second case freezes the proxied connections instead (a silent partition: no FIN, no RST,
// nothing forwarded): only the data channels' idle timeout (--idle-timeout) can notice it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { killAll, startBuffy, waitUntil } from './processes.ts';
import { loadApp } from '../../runtime/api/load.ts';
import { runEmbedded } from '../../runtime/engine/embedded.ts';
import { MemoryDeadLetterSink } from '../../runtime/engine/dead-letters.ts';
import { memorySinkPayloads, setMemorySource } from '../../runtime/connectors/index.ts';
import { createStderrLogger, createSeededRandom, createSystemClock } from '../../runtime/system.ts';
import { startCutProxy, type CutProxy } from '../../runtime/net/cut-proxy.ts';

const APP = fileURLToPath(new URL('../../examples/word-count.ts', import.meta.url));
const SAMPLE = fileURLToPath(new URL('../../data/word-count-sample.txt', import.meta.url));
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'buffy-cluster-cuts-'));
const SEED = Number(process.env.BUFFY_CUTS_SEED ?? 20261202);

// The file ends with a newline (the last element is empty), so it holds lines.length - 1 lines.
const lines = [...fs.readFileSync(SAMPLE, 'utf8').split('\n').slice(0, 1500), ''];
const corpus = path.join(tmp, 'corpus.txt');
fs.writeFileSync(corpus, lines.join('\n'));

/** Final count per word from "word count" update lines; also checks each word's updates are 1..n once each. */
function finalCounts(outputLines: readonly string[]): Map<string, number> {
  const seen = new Map<string, Set<number>>();
  for (const l of outputLines) {
    const sp = l.lastIndexOf(' ');
    const word = l.slice(0, sp);
    const n = Number(l.slice(sp + 1));
    const s = seen.get(word) ?? new Set<number>();
    expect(s.has(n), `duplicate update '${l}'`).toBe(false);
    s.add(n);
    seen.set(word, s);
  }
  const out = new Map<string, number>();
  for (const [w, s] of seen) {
    expect(s.size, `updates of '${w}' are not 1..${Math.max(...s)}`).toBe(Math.max(...s));
    out.set(w, Math.max(...s));
  }
  return out;
}

let reference: Map<string, number>;
let referenceUpdates = 0;
let proxies: CutProxy[] = [];

beforeAll(async () => {
  setMemorySource('cuts-ref', lines, 256);
  const app = await loadApp(APP, {
    source: 'memory:cuts-ref',
    sink: 'memory:cuts-ref-out',
    params: { top: '0' },
  });
  const log = createStderrLogger('reference');
  await runEmbedded(app, { clock: createSystemClock(), log, deadLetters: new MemoryDeadLetterSink(log) });
  const out = memorySinkPayloads('cuts-ref-out').map((p) =>
    typeof p === 'string' ? p : Buffer.from(p).toString(),
  );
  referenceUpdates = out.length;
  reference = finalCounts(out);
  expect(reference.get('the')).toBeGreaterThan(10);
});

afterAll(async () => {
  await killAll();
  await Promise.all(proxies.map((p) => p.close()));
  fs.rmSync(tmp, { recursive: true, force: true });
});

/**
 * A cut proxy on 127.0.0.2 forwarding to the same port on 127.0.0.1 (cutting every ~60 ms on
 * average, unless `cutting` is false); returns that port.
 */
async function proxiedPort(i: number, cutting: boolean): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    const probe = await startCutProxy({
      listen: { host: '127.0.0.2', port: 0 },
      target: { host: '127.0.0.1', port: 1 },
      random: createSeededRandom(0),
    });
    const port = probe.address.port;
    await probe.close();
    try {
      proxies.push(
        await startCutProxy({
          listen: { host: '127.0.0.2', port },
          target: { host: '127.0.0.1', port },
          random: createSeededRandom(SEED * 7 + i),
          ...(cutting ? { meanIntervalMs: 60 } : {}),
        }),
      );
      return port;
    } catch (err) {
      if (attempt >= 5) throw err;
    }
  }
}

/**
 * Runs the 3-worker word count through the proxies: `cut` resets their connections at seeded
 * random moments; `freeze` freezes every connection through them twice while the words flow
 * (the workers run with --idle-timeout 600). Checks the counts and returns the workers' logs.
 */
async function runThroughProxies(mode: 'cut' | 'freeze'): Promise<{ logs: string; faults: number }> {
  for (const p of proxies) await p.close();
  proxies = [];
  const out = path.join(tmp, `counts-${mode}.txt`);
  const receive = startBuffy('receive', ['receive', '--listen', '127.0.0.1:0', '--out', out]);
  const recvAddr = (await receive.waitFor(/listening on (127\.0\.0\.1:\d+)/))[1]!;
  const common = [
    '--workers',
    '3',
    '--cluster',
    'cuts',
    '--sink',
    `tcp:${recvAddr}`,
    '--param',
    'top=0',
    ...(mode === 'freeze' ? ['--idle-timeout', '600'] : []),
  ];
  const data = async (i: number) => [
    '--data',
    `127.0.0.1:${await proxiedPort(i, mode === 'cut')}`,
    '--advertise',
    '127.0.0.2',
  ];
  const w1 = startBuffy('w1', [
    'node',
    APP,
    '--name',
    'w1',
    '--initializer',
    '--control',
    '127.0.0.1:0',
    '--source',
    'tcp:127.0.0.1:0',
    '--dead-letters',
    path.join(tmp, `dl1-${mode}.jsonl`),
    ...(await data(1)),
    ...common,
  ]);
  const control = (await w1.waitFor(/control listening on (127\.0\.0\.1:\d+)/))[1]!;
  const others = [2, 3].map(async (i) =>
    startBuffy(`w${i}`, [
      'node',
      APP,
      '--name',
      `w${i}`,
      '--control',
      control,
      '--dead-letters',
      path.join(tmp, `dl${i}-${mode}.jsonl`),
      ...(await data(i)),
      ...common,
    ]),
  );
  const [w2, w3] = await Promise.all(others);
  await w1.waitFor(/cluster 'cuts' started: 3 workers/, 30_000);
  const sourceAddr = (await w1.waitFor(/source tcp:127\.0\.0\.1:0 listening on (127\.0\.0\.1:\d+)/))[1]!;
  // Paced over about 1.5 s, so that the cuts fall while the words flow.
  const send = startBuffy('send', [
    'send',
    '--to',
    sourceAddr,
    '--file',
    corpus,
    '--batch',
    '20',
    '--rate',
    '1000',
  ]);
  // Freeze: twice while the words flow, each time every connection open through the proxies.
  let frozen = 0;
  const freezes =
    mode === 'freeze'
      ? [400, 1100].map((ms) =>
          setTimeout(() => {
            for (const p of proxies) frozen += p.freezeNow();
          }, ms),
        )
      : [];
  expect(await send.exited, send.lines.join('\n')).toBe(0);

  await waitUntil(
    `${referenceUpdates} update lines in ${out}`,
    () => fs.existsSync(out) && fs.readFileSync(out, 'utf8').split('\n').length - 1 >= referenceUpdates,
    40_000,
  );
  for (const t of freezes) clearTimeout(t);
  // connections reset (cut) or frozen while the words flowed
  const faults = mode === 'cut' ? proxies.reduce((n, p) => n + p.cuts, 0) : frozen;
  for (const p of proxies) p.stopCutting();
  const shutdown = startBuffy('shutdown', ['shutdown', '--control', control]);
  expect(await shutdown.exited, shutdown.lines.join('\n')).toBe(0);
  expect(await w1.exited, w1.lines.join('\n')).toBe(0);
  expect(await w2!.exited, w2!.lines.join('\n')).toBe(0);
  expect(await w3!.exited, w3!.lines.join('\n')).toBe(0);
  receive.child.kill('SIGTERM');
  expect(await receive.exited).toBe(0);

  const got = finalCounts(
    fs
      .readFileSync(out, 'utf8')
      .split('\n')
      .filter((l) => l.length > 0),
  );
  expect(got.size).toBe(reference.size);
  for (const [w, n] of reference) expect(got.get(w), `count of '${w}'`).toBe(n);
  const logs = [w1, w2!, w3!].flatMap((p) => p.lines).join('\n');
  expect(logs).not.toMatch(/protocol error/);
  return { logs, faults };
}

describe('3-worker cluster with its data connections cut at random', () => {
  it(`counts exactly as the single-process run (seed ${SEED}; BUFFY_CUTS_SEED sets another)`, async () => {
    const { logs, faults } = await runThroughProxies('cut');
    // The connections were cut while data flowed, and the workers noticed and reconnected.
    expect(faults).toBeGreaterThan(5);
    expect(logs).toMatch(/data channel .* connection lost/);
  }, 90_000);

  it('counts exactly when its data connections go silent without closing (the idle timeout notices)', async () => {
    const { logs, faults } = await runThroughProxies('freeze');
    // Connections were frozen while data flowed; only the idle timeout could end them.
    expect(faults).toBeGreaterThan(0);
    expect(logs).toMatch(/idle timeout 600 ms/);
  }, 90_000);
});
