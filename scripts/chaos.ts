// Chaos test of exactly-once on a real cluster (npm run chaos -- --seed S [--kills N]
// [--workers 3] [--lines L] [--durability sync|batch|none] [--app PATH] [--keep] [--no-validate]):
//
// word count (or --app: another app whose sink lines are `key n`, each key's n running 1, 2, ...,
// as examples/count-of-counts.ts, two state steps in a row) over a seeded text, on a cluster of `buffy node` processes on loopback, each with a
// store (--state), fed by the file source on the initializer and writing a file sink on every
// worker. Workers chosen by the seed (the initializer included) are SIGKILLed at seeded moments,
// several times, also while they recover (half of the kills come 0.3-2.5 s after the previous
// restart, the others that long after the previous victim caught up), and started again with
// their original command. At the
// end the counts must equal a fault-free single-process run, and the sink files of all workers
// together must hold every update "word n" exactly once (no duplicate, no gap). It prints the
// seed, the kills, the recovery times (a restart until the coordinator says the worker caught
// up: its durable watermarks reached the cluster's when it registered) and the verdict; the exit
// code is 1 on a wrong result, 2 on bad flags. Every worker also writes its channels' protocol
// steps (--protocol-log; the initializer its commit tracker's too, every worker its exactly-once
// core's), and at the end the logs are checked step by step against specs/Delivery.tla,
// specs/Ack.tla and specs/Recovery.tla (conformance/
// trace-validation*.ts, docs/trace-validation.md); a violation is a problem of the run
// (--no-validate skips it). The default run (200,000 lines read as fast as the file source
// can) is too large for the Ack and Recovery validators, which report those instances NOT
// validated / NOT CHECKED; `--source tcp --rate 150 --lines 4000` feeds the input over about
// 27 s, so the kills land while it is read and every instance of the three specs is checked
// (seed 1: 0 violations; docs/trace-validation.md, "Cost").
//
// The seed decides the text, the victims, when they die and how long they stay down; the
// moments are relative to the cluster's start, so a run is reproducible in what it does, not in
// the exact interleaving (real processes on a shared machine).
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadApp } from '../runtime/api/load.ts';
import { runEmbedded } from '../runtime/engine/embedded.ts';
import { MemoryDeadLetterSink } from '../runtime/engine/dead-letters.ts';
import { createSystemClock } from '../runtime/system.ts';
import { perWorkerPath } from '../runtime/connectors/file.ts';
import { formatViolation, parseProtocolLogs } from '../conformance/trace-validation.ts';
import { formatRunSummaries, validateRun } from '../conformance/trace-validation-run.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const APP = path.join(ROOT, 'examples', 'word-count.ts');
const BUFFY = path.join(ROOT, 'bin', 'buffy.mjs');

export interface ChaosOptions {
  readonly seed: number;
  /** The app (default examples/word-count.ts): its sink lines must be `key n`, n = 1, 2, ... per
   * key, with parameter `top` (0: no report). */
  readonly app?: string;
  /** SIGKILLs to deliver (default 6). */
  readonly kills?: number;
  readonly workers?: number;
  /** Lines of text (default 200000): enough for the kills to land while the input is read. */
  readonly lines?: number;
  readonly durability?: 'sync' | 'batch' | 'none';
  /** Give the workers stores (--state): exactly-once (default true). False is the control
   * experiment: the same kills without stores must give wrong counts. */
  readonly exactlyOnce?: boolean;
  /** `file` (default): the file source reads the text; `tcp`: `buffy send` sends it to the tcp:
   * source with the acknowledged protocol (it reconnects and resends what was not committed). */
  readonly source?: 'file' | 'tcp';
  /** With `source: 'tcp'`: lines per second `buffy send` sends (`--rate`), so that the input
   * lasts long enough for the kills to land whatever the machine's speed. */
  readonly rate?: number;
  /** Keep the temporary directory (stores, sink files, logs). */
  readonly keep?: boolean;
  /** Give up after this long (default 300 s). */
  readonly timeoutMs?: number;
  /** Progress lines (default: stderr). */
  readonly log?: (line: string) => void;
  /**
   * Every worker writes its channels' protocol steps (--protocol-log), and at the end they are
   * checked against specs/Delivery.tla, Ack.tla and Recovery.tla (conformance/trace-validation*.ts); default true.
   */
  readonly validate?: boolean;
}

export interface Kill {
  readonly atMs: number;
  readonly worker: string;
  /** How long it stayed down before it was started again. */
  readonly downMs: number;
  /** From its restart until the coordinator said it caught up; null: it did not before the next
   * kill of it or the end. */
  recoveryMs: number | null;
  /** Killed before it had caught up from an earlier kill. */
  readonly duringRecovery: boolean;
}

export interface ChaosResult {
  readonly seed: number;
  readonly workers: number;
  readonly lines: number;
  readonly kills: readonly Kill[];
  readonly updates: number;
  readonly words: number;
  readonly elapsedMs: number;
  readonly ok: boolean;
  /** What was wrong (empty when ok). */
  readonly problems: readonly string[];
  /** Trace validation of the protocol logs (absent with validate: false). */
  readonly validation?: {
    readonly records: number;
    readonly summary: string;
    readonly elapsedMs: number;
    readonly violations: readonly string[];
  };
  readonly dir: string;
}

/** mulberry32: a small seeded generator (deterministic for the seed). */
function generator(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Seeded text: lines of 3..12 words over a vocabulary where a few words are frequent. */
function writeCorpus(file: string, lines: number, rnd: () => number): void {
  const vocab = Array.from({ length: 2000 }, (_, i) => `w${i.toString(36)}${'xyz'[i % 3]}`);
  const out: string[] = [];
  for (let i = 0; i < lines; i++) {
    const n = 3 + Math.floor(rnd() * 10);
    const words: string[] = [];
    for (let k = 0; k < n; k++) words.push(vocab[Math.floor(vocab.length * rnd() ** 3)]!);
    out.push(words.join(' '));
  }
  fs.writeFileSync(file, out.join('\n') + '\n');
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Per word, the counts its update lines carry (from sink files of "word n" lines). */
function readUpdates(files: readonly string[], problems: string[]): Map<string, number[]> {
  const seen = new Map<string, number[]>();
  for (const f of files) {
    if (!fs.existsSync(f)) continue;
    const text = fs.readFileSync(f, 'utf8');
    const lines = text.split('\n');
    if (lines.at(-1) !== '') problems.push(`${f}: the last line is not complete (torn write)`);
    for (const l of lines.slice(0, -1)) {
      const sp = l.lastIndexOf(' ');
      const n = Number(l.slice(sp + 1));
      if (sp <= 0 || !Number.isInteger(n) || n < 1) {
        problems.push(`${f}: not an update line: ${JSON.stringify(l.slice(0, 80))}`);
        continue;
      }
      const w = l.slice(0, sp);
      const a = seen.get(w) ?? [];
      a.push(n);
      seen.set(w, a);
    }
  }
  return seen;
}

interface Node {
  readonly name: string;
  readonly args: readonly string[];
  child: ChildProcess | null;
  lines: string[];
  exited: Promise<number | null>;
}

/** Resolves with the sender's exit code once a run of it exited 0, or the last one failed. */
async function senderDone(sender: Node): Promise<number | null> {
  for (;;) {
    const p = sender.exited;
    const code = await p;
    await new Promise((r) => setTimeout(r, 400));
    if (sender.exited === p) return code; // not started again
  }
}

export async function runChaos(o: ChaosOptions): Promise<ChaosResult> {
  const log = o.log ?? ((l: string) => process.stderr.write(l + '\n'));
  const workers = o.workers ?? 3;
  const kills = o.kills ?? 6;
  const linesCount = o.lines ?? 200_000;
  const timeoutMs = o.timeoutMs ?? 300_000;
  const rnd = generator(o.seed);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `buffy-chaos-${o.seed}-`));
  const corpus = path.join(dir, 'corpus.txt');
  writeCorpus(corpus, linesCount, rnd);
  const started = Date.now();
  const problems: string[] = [];

  // The fault-free single-process run.
  const refOut = path.join(dir, 'reference.txt');
  const appPath = o.app === undefined ? APP : path.resolve(o.app);
  const app = await loadApp(appPath, {
    source: `file:${corpus}`,
    sink: `file:${refOut}`,
    params: { top: '0' },
  });
  const quiet = { info: () => {}, warn: () => {}, error: (m: string) => log(`reference: ${m}`) };
  await runEmbedded(app, { clock: createSystemClock(), log: quiet, deadLetters: new MemoryDeadLetterSink() });
  const reference = new Map<string, number>();
  for (const [w, ns] of readUpdates([refOut], problems)) reference.set(w, Math.max(...ns));
  const referenceUpdates = [...reference.values()].reduce((a, b) => a + b, 0);
  log(
    `chaos seed ${o.seed}: ${o.source === 'tcp' ? 'buffy send -> tcp source, ' : ''}${workers} workers${o.exactlyOnce === false ? ' WITHOUT stores (exactly-once off)' : ''}, ${linesCount} lines, ${reference.size} distinct words, ${referenceUpdates} updates in the reference run`,
  );

  // The cluster.
  const names = Array.from({ length: workers }, (_, i) => `w${i + 1}`);
  const control = `127.0.0.1:${await freePort()}`;
  const sink = path.join(dir, 'out', 'updates.txt');
  fs.mkdirSync(path.dirname(sink), { recursive: true });
  for (const n of names) fs.mkdirSync(path.join(dir, 'state', n), { recursive: true });
  const common = [
    '--workers',
    String(workers),
    '--cluster',
    `chaos-${o.seed}`,
    '--control',
    control,
    '--sink',
    `file:${sink}`,
    '--param',
    'top=0',
    ...(o.exactlyOnce === false
      ? []
      : ['--state', path.join(dir, 'state', '{worker}'), '--durability', o.durability ?? 'batch']),
    ...(o.validate === false ? [] : ['--protocol-log', path.join(dir, 'protocol.{worker}.jsonl')]),
    '--reconnect-timeout',
    String(timeoutMs),
    '--log-format',
    'text',
  ];
  const tcpPort = o.source === 'tcp' ? await freePort() : 0;
  const sourceUri = o.source === 'tcp' ? `tcp:127.0.0.1:${tcpPort}?end-after=1` : `file:${corpus}`;
  const nodes: Node[] = names.map((name, i) => ({
    name,
    args: [
      BUFFY,
      'node',
      appPath,
      '--name',
      name,
      ...(i === 0 ? ['--initializer', '--source', sourceUri, '--stop-when-done'] : []),
      '--dead-letters',
      path.join(dir, `dead-letters.${name}.jsonl`),
      ...common,
    ],
    child: null,
    lines: [],
    exited: Promise.resolve(null),
  }));
  const logFile = fs.createWriteStream(path.join(dir, 'cluster.log'));
  const watchers: Array<{ pattern: RegExp; resolve: (m: RegExpExecArray, atMs: number) => void }> = [];
  const start = (node: Node): void => {
    const child = spawn(process.execPath, node.args, { stdio: ['ignore', 'pipe', 'pipe'] });
    node.child = child;
    let rest = '';
    const onData = (chunk: Buffer): void => {
      rest += chunk.toString('utf8');
      let nl: number;
      while ((nl = rest.indexOf('\n')) >= 0) {
        const line = rest.slice(0, nl);
        rest = rest.slice(nl + 1);
        node.lines.push(line);
        logFile.write(`${node.name} ${line}\n`);
        const at = Date.now();
        for (const w of [...watchers]) {
          const m = w.pattern.exec(line);
          if (m) {
            watchers.splice(watchers.indexOf(w), 1);
            w.resolve(m, at);
          }
        }
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    node.exited = new Promise((resolve) => child.once('close', (code) => resolve(code)));
  };
  const waitLine = (pattern: RegExp, ms: number): Promise<{ m: RegExpExecArray; atMs: number } | null> =>
    new Promise((resolve) => {
      const timer = setTimeout(() => {
        const i = watchers.indexOf(w);
        if (i >= 0) watchers.splice(i, 1);
        resolve(null);
      }, ms);
      const w = {
        pattern,
        resolve: (m: RegExpExecArray, atMs: number) => {
          clearTimeout(timer);
          resolve({ m, atMs });
        },
      };
      watchers.push(w);
    });

  const shutdownBegun = waitLine(/stopping the cluster: /, timeoutMs);
  let stopping = false;
  void shutdownBegun.then(() => (stopping = true));
  start(nodes[0]!);
  // A process's start (tsx compiling the runtime) takes seconds, minutes on a loaded machine.
  const listening = await waitLine(/control listening on /, 120_000);
  if (!listening)
    throw new Error(
      `chaos: the initializer did not listen within 120 s (log in ${dir}; a machine this loaded cannot run the chaos test)`,
    );
  for (const n of nodes.slice(1)) start(n);
  const formed = await waitLine(/cluster 'chaos-\d+' started/, 60_000);
  if (!formed) throw new Error(`chaos: the cluster did not form within 60 s (log in ${dir})`);
  const t0 = Date.now();
  // The TCP source: `buffy send` with acknowledgements, which outlives the initializer's deaths.
  let sender: Node | null = null;
  if (o.source === 'tcp') {
    sender = {
      name: 'send',
      args: [
        BUFFY,
        'send',
        '--to',
        `127.0.0.1:${tcpPort}`,
        '--file',
        corpus,
        '--batch',
        '500',
        '--resume-file',
        path.join(dir, 'send.resume'),
        '--ack-timeout',
        String(timeoutMs),
        ...(o.rate !== undefined ? ['--rate', String(o.rate)] : []),
      ],
      child: null,
      lines: [],
      exited: Promise.resolve(null),
    };
    // Its first connection is not retried (a typo'd address fails at once): the harness waits
    // for the source and starts it again, with its resume file, when it exits with an error
    // (the initializer died before it connected, or while it waited for acknowledgements).
    await waitLine(/source tcp:\S+ listening on /, 60_000);
    const s = sender;
    let restarts = 0;
    const run = (): void => {
      start(s);
      void s.exited.then((code) => {
        if (code === 0 || code === null || restarts >= 50) return;
        restarts++;
        log(`chaos: buffy send exited with code ${code}; starting it again (${restarts})`);
        setTimeout(run, 300);
      });
    };
    run();
  }

  // Kills: a seeded victim, a seeded pause before it (300..2500 ms after the previous restart,
  // so some land while a worker recovers), a seeded time down (100..800 ms).
  const done: Kill[] = [];
  /** Per worker: the kill whose recovery is awaited. */
  const recovering = new Map<string, Kill>();
  const recoveryWatch = (k: Kill, restartAt: number): void => {
    recovering.set(k.worker, k);
    void waitLine(new RegExp(`worker '${k.worker}' caught up`), timeoutMs).then((r) => {
      if (r && recovering.get(k.worker) === k) {
        k.recoveryMs = r.atMs - restartAt;
        recovering.delete(k.worker);
      }
    });
  };
  let previous: Kill | null = null;
  for (let i = 0; i < kills; i++) {
    const pauseMs = 300 + Math.floor(rnd() * 2200);
    const victim = nodes[Math.floor(rnd() * workers)]!;
    const downMs = 100 + Math.floor(rnd() * 700);
    // Half of the kills wait until the previous victim caught up (for at most 10 s: a victim that
    // came back into a cluster forming again has nobody to catch up with); the others
    // come while it may still recover (a process takes seconds to start and recover).
    const waitRecovery = rnd() < 0.5;
    if (previous && waitRecovery) {
      const until = Date.now() + 10_000;
      while (
        previous.recoveryMs === null &&
        recovering.get(previous.worker) === previous &&
        !stopping &&
        Date.now() < until
      )
        await new Promise((r) => setTimeout(r, 50));
    }
    await new Promise((r) => setTimeout(r, pauseMs));
    if (stopping) {
      log(`chaos: the input ended and the cluster is stopping; ${kills - i} kill(s) not delivered`);
      break;
    }
    const child = victim.child!;
    const duringRecovery = recovering.has(victim.name);
    const k: Kill = { atMs: Date.now() - t0, worker: victim.name, downMs, recoveryMs: null, duringRecovery };
    child.kill('SIGKILL');
    await victim.exited;
    done.push(k);
    log(
      `chaos: ${(k.atMs / 1000).toFixed(2)} s: SIGKILL ${victim.name}${victim.name === names[0] ? ' (the initializer)' : ''}${duringRecovery ? ' while it recovered' : ''}; down for ${downMs} ms`,
    );
    await new Promise((r) => setTimeout(r, downMs));
    recovering.delete(victim.name);
    const restartAt = Date.now();
    start(victim);
    recoveryWatch(k, restartAt);
    previous = k;
  }

  // The end: the input read, drained, stopped.
  const deadline = started + timeoutMs;
  const codes = await Promise.race([
    Promise.all([...nodes.map((n) => n.exited), ...(sender ? [senderDone(sender)] : [])]),
    new Promise<null>((r) => setTimeout(() => r(null), Math.max(0, deadline - Date.now()))),
  ]);
  if (codes === null) {
    problems.push(`the cluster did not finish within ${timeoutMs / 1000} s`);
    for (const n of [...nodes, ...(sender ? [sender] : [])]) n.child?.kill('SIGKILL');
    await Promise.all(nodes.map((n) => n.exited));
  } else {
    codes.forEach((c, i) => {
      if (c !== 0)
        problems.push(`${i < names.length ? `worker ${names[i]}` : 'buffy send'} exited with code ${c}`);
    });
  }
  await new Promise<void>((r) => logFile.end(() => r()));

  // The verdict: every worker's sink file together against the reference.
  const got = readUpdates(
    names.map((n) => perWorkerPath(sink, n)),
    problems,
  );
  let updates = 0;
  for (const [w, ns] of got) {
    updates += ns.length;
    const want = reference.get(w);
    if (want === undefined) {
      problems.push(`word '${w}' is not in the reference run`);
      continue;
    }
    const sorted = [...ns].sort((a, b) => a - b);
    for (let i = 1; i < sorted.length; i++)
      if (sorted[i] === sorted[i - 1]) problems.push(`duplicate update '${w} ${sorted[i]}'`);
    const set = new Set(ns);
    for (let n = 1; n <= want; n++) if (!set.has(n)) problems.push(`missing update '${w} ${n}'`);
    for (const n of set) if (n > want) problems.push(`update '${w} ${n}' beyond the reference count ${want}`);
  }
  for (const w of reference.keys()) if (!got.has(w)) problems.push(`word '${w}' has no update`);
  const validation =
    o.validate === false
      ? undefined
      : await validateLogs(names.map((n) => path.join(dir, `protocol.${n}.jsonl`)));
  if (validation) for (const v of validation.violations) problems.push(v);
  const result: ChaosResult = {
    seed: o.seed,
    workers,
    lines: linesCount,
    kills: done,
    updates,
    words: got.size,
    elapsedMs: Date.now() - started,
    ok: problems.length === 0,
    problems,
    dir,
    ...(validation ? { validation } : {}),
  };
  if (!o.keep && result.ok) fs.rmSync(dir, { recursive: true, force: true });
  return result;
}

/** The workers' protocol logs, merged, checked step by step against specs/Delivery.tla, Ack.tla and Recovery.tla. */
async function validateLogs(files: readonly string[]): Promise<NonNullable<ChaosResult['validation']>> {
  const logs = files
    .filter((f) => fs.existsSync(f))
    .map((file) => ({ file, text: fs.readFileSync(file, 'utf8') }));
  const records = parseProtocolLogs(logs);
  const v = await validateRun(records);
  return {
    records: records.length,
    summary: formatRunSummaries(v).join('; '),
    elapsedMs: v.elapsedMs,
    violations: v.violations.map((x) => formatViolation(x)),
  };
}

/** The report a person reads. */
export function formatChaos(r: ChaosResult): string {
  const rec = r.kills.map((k) => k.recoveryMs).filter((x): x is number => x !== null);
  const lines = [
    `seed ${r.seed}: ${r.workers} workers, ${r.lines} lines, ${r.kills.length} kills in ${(r.elapsedMs / 1000).toFixed(1)} s`,
    ...r.kills.map(
      (k) =>
        `  ${(k.atMs / 1000).toFixed(2)} s  SIGKILL ${k.worker}${k.duringRecovery ? ' (while recovering)' : ''}, down ${k.downMs} ms, recovery ${k.recoveryMs === null ? 'not measured (killed again or the run ended first)' : `${(k.recoveryMs / 1000).toFixed(2)} s`}`,
    ),
    `recovery (restart to caught up): ${rec.length > 0 ? `min ${(Math.min(...rec) / 1000).toFixed(2)} s, max ${(Math.max(...rec) / 1000).toFixed(2)} s, mean ${(rec.reduce((a, b) => a + b, 0) / rec.length / 1000).toFixed(2)} s over ${rec.length}` : 'none measured'}`,
    `sinks: ${r.updates} updates of ${r.words} words`,
    ...(r.validation ? [`protocol logs: ${r.validation.records} records; ${r.validation.summary}`] : []),
    r.ok
      ? 'verdict: OK (counts equal the fault-free run; no duplicate, no gap)'
      : `verdict: WRONG (${r.problems.length} problem(s); files kept in ${r.dir})\n${r.problems
          .slice(0, 20)
          .map((p) => `  ${p}`)
          .join('\n')}${r.problems.length > 20 ? `\n  ... and ${r.problems.length - 20} more` : ''}`,
  ];
  return lines.join('\n');
}

function flag(argv: readonly string[], name: string): string | undefined {
  const i = argv.indexOf(name);
  return i < 0 ? undefined : argv[i + 1];
}

function intFlag(
  argv: readonly string[],
  name: string,
  fallback: number | undefined,
  min: number,
): number | undefined {
  const raw = flag(argv, name);
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < min)
    throw new Error(`${name} ${raw}: must be an integer >= ${min}`);
  return Number(raw);
}

async function main(argv: readonly string[]): Promise<number> {
  let options: ChaosOptions;
  try {
    const seed = intFlag(argv, '--seed', undefined, 0);
    if (seed === undefined) throw new Error('--seed S is required (any integer >= 0)');
    const durability = flag(argv, '--durability') ?? 'batch';
    const src = flag(argv, '--source') ?? 'file';
    if (src !== 'file' && src !== 'tcp') throw new Error(`--source ${src}: must be file or tcp`);
    if (!['sync', 'batch', 'none'].includes(durability))
      throw new Error(`--durability ${durability}: must be sync, batch or none`);
    options = {
      seed,
      kills: intFlag(argv, '--kills', 6, 0)!,
      workers: intFlag(argv, '--workers', 3, 2)!,
      lines: intFlag(argv, '--lines', 200_000, 1)!,
      source: flag(argv, '--source') === 'tcp' ? 'tcp' : 'file',
      ...(flag(argv, '--rate') !== undefined ? { rate: intFlag(argv, '--rate', 1, 1)! } : {}),
      durability: durability as 'sync' | 'batch' | 'none',
      ...(flag(argv, '--app') !== undefined ? { app: flag(argv, '--app')! } : {}),
      keep: argv.includes('--keep'),
      validate: !argv.includes('--no-validate'),
    };
  } catch (err) {
    process.stderr.write(
      `chaos: ${(err as Error).message}\nusage: npm run chaos -- --seed S [--kills N] [--workers W] [--lines L] [--durability sync|batch|none] [--source file|tcp [--rate LINES/S]] [--app PATH] [--keep] [--no-validate]\n`,
    );
    return 2;
  }
  const r = await runChaos(options);
  process.stdout.write(`${formatChaos(r)}\n`);
  return r.ok ? 0 : 1;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`chaos: ${(err as Error).message}\n`);
      process.exit(1);
    },
  );
}
