// Word count on a real 3-process cluster on loopback, fed by `buffy send`, captured by
// `buffy receive`, stopped by `buffy shutdown`; the final count of every word must equal a
// single-process (embedded) reference run over the same text.
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
import { createStderrLogger, createSystemClock } from '../../runtime/system.ts';
import { runLocalCluster } from '../../runtime/cluster/local.ts';
import { startReceiver } from '../../runtime/cluster/tools.ts';

const APP = fileURLToPath(new URL('../../examples/word-count.ts', import.meta.url));
const SAMPLE = fileURLToPath(new URL('../../data/word-count-sample.txt', import.meta.url));
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'buffy-cluster-'));

/** Text: the first 1500 lines of the bundled sample plus lines that stress the splitter. */
// The file ends with a newline (the last element is empty), so it holds lines.length - 1 lines.
const lines = [
  ...fs.readFileSync(SAMPLE, 'utf8').split('\n').slice(0, 1500),
  "Don't STOP -- 'tis the end, the END.",
  'ünïcödé wörds ünïcödé',
  '',
];
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
    const max = Math.max(...s);
    expect(s.size, `updates of '${w}' are not 1..${max}`).toBe(max);
    out.set(w, max);
  }
  return out;
}

let reference: Map<string, number>;
let referenceUpdates = 0;

beforeAll(async () => {
  // The single-process reference: the same app, embedded, memory source and sink.
  setMemorySource('cluster-ref', lines, 256);
  const app = await loadApp(APP, {
    source: 'memory:cluster-ref',
    sink: 'memory:cluster-ref-out',
    params: { top: '0' },
  });
  const log = createStderrLogger('reference');
  await runEmbedded(app, { clock: createSystemClock(), log, deadLetters: new MemoryDeadLetterSink(log) });
  const out = memorySinkPayloads('cluster-ref-out').map((p) =>
    typeof p === 'string' ? p : Buffer.from(p).toString(),
  );
  referenceUpdates = out.length;
  reference = finalCounts(out);
  expect(reference.get('the')).toBeGreaterThan(10);
});

afterAll(async () => {
  await killAll();
});

describe('3-worker cluster (buffy node x3, send, receive, shutdown)', () => {
  it('counts exactly as the single-process run, and stops cleanly', async () => {
    const out = path.join(tmp, 'counts.txt');
    const receive = startBuffy('receive', ['receive', '--listen', '127.0.0.1:0', '--out', out]);
    const recvAddr = (await receive.waitFor(/listening on (127\.0\.0\.1:\d+)/))[1]!;
    const common = ['--workers', '3', '--cluster', 'itest', '--sink', `tcp:${recvAddr}`, '--param', 'top=0'];
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
      path.join(tmp, 'dl1.jsonl'),
      ...common,
    ]);
    const control = (await w1.waitFor(/control listening on (127\.0\.0\.1:\d+)/))[1]!;
    const w2 = startBuffy('w2', [
      'node',
      APP,
      '--name',
      'w2',
      '--control',
      control,
      '--dead-letters',
      path.join(tmp, 'dl2.jsonl'),
      ...common,
    ]);
    const w3 = startBuffy('w3', [
      'node',
      APP,
      '--name',
      'w3',
      '--control',
      control,
      '--dead-letters',
      path.join(tmp, 'dl3.jsonl'),
      ...common,
    ]);
    // A worker of another cluster is turned away; the cluster carries on.
    const intruder = startBuffy('intruder', [
      'node',
      APP,
      '--name',
      'w4',
      '--control',
      control,
      '--workers',
      '3',
      '--cluster',
      'other',
    ]);
    expect(await intruder.exited).toBe(1);
    expect(intruder.lines.join('\n')).toMatch(
      /rejected this worker: cluster 'other' is not this cluster 'itest'/,
    );
    expect(w1.lines.join('\n')).toMatch(/rejected worker 'w4' from .*cluster 'other'/);

    await w1.waitFor(/cluster 'itest' started: 3 workers/);
    const sourceAddr = (await w1.waitFor(/source tcp:127\.0\.0\.1:0 listening on (127\.0\.0\.1:\d+)/))[1]!;
    const send = startBuffy('send', ['send', '--to', sourceAddr, '--file', corpus, '--batch', '100']);
    expect(await send.exited).toBe(0);
    expect(send.lines.join('\n')).toMatch(new RegExp(`sent ${lines.length - 1} messages`));

    await waitUntil(
      `${referenceUpdates} update lines in ${out}`,
      () => fs.existsSync(out) && fs.readFileSync(out, 'utf8').split('\n').length - 1 >= referenceUpdates,
      20_000,
    );
    const shutdown = startBuffy('shutdown', ['shutdown', '--control', control]);
    expect(await shutdown.exited).toBe(0);
    expect(shutdown.lines.join('\n')).toMatch(/cluster stopped: 3 workers \(w1, w2, w3\)/);
    expect(await w1.exited).toBe(0);
    expect(await w2.exited).toBe(0);
    expect(await w3.exited).toBe(0);
    receive.child.kill('SIGTERM');
    expect(await receive.exited).toBe(0);
    expect(receive.lines.join('\n')).toMatch(/received \d+ frames .* over 3 connections/);

    const got = finalCounts(
      fs
        .readFileSync(out, 'utf8')
        .split('\n')
        .filter((l) => l.length > 0),
    );
    expect(got.size).toBe(reference.size);
    for (const [w, n] of reference) expect(got.get(w), `count of '${w}'`).toBe(n);
    // Every worker processed part of the words (partitions are spread).
    expect(w1.lines.join('\n')).toMatch(/worker 'w2' stopped: .*sunk [1-9]/);
    expect(w1.lines.join('\n')).toMatch(/worker 'w3' stopped: .*sunk [1-9]/);
  }, 60_000);
});

describe('buffy run --workers 3 (runLocalCluster)', () => {
  it('runs a file source to its end on a local cluster and exits 0', async () => {
    const receiver = await startReceiver({
      listen: { host: '127.0.0.1', port: 0 },
      out: path.join(tmp, 'local.txt'),
      log: () => {},
    });
    const stderr: string[] = [];
    const code = await runLocalCluster(
      APP,
      { source: `file:${corpus}`, sink: `tcp:127.0.0.1:${receiver.address.port}`, params: { top: '0' } },
      3,
      { onStderr: (l) => stderr.push(l) },
    );
    await waitUntil('all updates', () => receiver.frames >= referenceUpdates, 5000).catch(() => undefined);
    const counts = await receiver.close();
    expect(code, stderr.join('\n')).toBe(0);
    expect(counts.connections).toBe(3);
    const got = finalCounts(
      fs
        .readFileSync(path.join(tmp, 'local.txt'), 'utf8')
        .split('\n')
        .filter((l) => l.length > 0),
    );
    expect(got).toEqual(reference);
    expect(stderr.join('\n')).toMatch(/stopping the cluster: the sources have ended/);
  }, 60_000);
});
