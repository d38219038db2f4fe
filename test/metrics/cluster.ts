// A real 3-worker cluster for the metrics tests: `buffy run --workers 3` semantics through
// runLocalCluster (three `buffy node` processes on loopback), word count fed over a tcp: source,
// every worker serving its metrics on an ephemeral port.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CLUSTER_SUMMARY, runLocalCluster } from '../../runtime/cluster/local.ts';
import { requestShutdown } from '../../runtime/cluster/control.ts';
import { sendFile } from '../../runtime/cluster/tools.ts';
import { parseHostPort } from '../../runtime/net/tcp-channel.ts';
import { freePort, waitUntil } from '../integration/processes.ts';

export const APP = fileURLToPath(new URL('../../examples/word-count.ts', import.meta.url));
export const SAMPLE = fileURLToPath(new URL('../../data/word-count-sample.txt', import.meta.url));

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** Parses Prometheus text format (the sample lines; comments skipped). */
export function parsePrometheusText(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a Prometheus sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

/** The sum of a metric's samples whose labels include `where`. */
export function sum(samples: readonly Sample[], name: string, where: Record<string, string> = {}): number {
  let total = 0;
  for (const s of samples) {
    if (s.name !== name) continue;
    if (Object.entries(where).every(([k, v]) => s.labels[k] === v)) total += s.value;
  }
  return total;
}

export interface TestCluster {
  readonly dir: string;
  /** Worker name -> http://HOST:PORT/metrics */
  readonly metricsUrls: ReadonlyMap<string, string>;
  readonly control: string;
  readonly stderr: string[];
  /** Sends the first `lines` lines of the sample text to the source; resolves once sent. */
  send(lines: number): Promise<void>;
  scrape(worker: string): Promise<Sample[]>;
  scrapeAll(): Promise<Sample[]>;
  /** Shuts the cluster down; resolves with the exit code and the initializer's summary. */
  shutdown(): Promise<{ code: number; summary: ClusterSummaryLine | null }>;
  /** Kills the cluster's processes (a test that failed midway). */
  readonly done: Promise<number>;
}

export interface ClusterSummaryLine {
  readonly workers: ReadonlyArray<{
    name: string;
    metrics: {
      ingested: number;
      sunk: number;
      remoteSent: number;
      remoteReceived: number;
      deadLetters: number;
    };
  }>;
}

export async function startTestCluster(): Promise<TestCluster> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'buffy-metrics-'));
  const sourcePort = await freePort();
  const stderr: string[] = [];
  const metricsUrls = new Map<string, string>();
  let control = '';
  let summary: ClusterSummaryLine | null = null;
  const done = runLocalCluster(
    APP,
    { source: `tcp:127.0.0.1:${sourcePort}`, sink: 'count:', params: {} },
    3,
    {
      untilSignal: true,
      metrics: { host: '127.0.0.1', port: 0 },
      deadLetters: path.join(dir, 'dead-letters.jsonl'),
      stdout: fs.createWriteStream(path.join(dir, 'stdout.txt')),
      onStderr: (line) => {
        stderr.push(line);
        const m = /^\[(\w+)[^\]]*\] metrics on (http:\S+)$/.exec(line);
        if (m) metricsUrls.set(m[1]!, m[2]!);
        const c = /control listening on (\S+?);/.exec(line);
        if (c) control = c[1]!;
        const s = CLUSTER_SUMMARY.exec(line);
        if (s) summary = JSON.parse(s[1]!) as ClusterSummaryLine;
      },
    },
  );
  let exited = false;
  void done.then(() => {
    exited = true;
    fs.rmSync(dir, { recursive: true, force: true });
  });
  await waitUntil(
    'the 3 workers started and serve metrics',
    () => exited || (metricsUrls.size === 3 && stderr.filter((l) => / started$/.test(l)).length === 3),
    30_000,
  );
  if (exited) throw new Error(`the cluster exited early:\n${stderr.join('\n')}`);
  // The tcp: source listens once the initializer's engine started.
  await waitUntil('the tcp: source listens', () =>
    stderr.some((l) => l.includes(`listening on 127.0.0.1:${sourcePort}`)),
  );
  const corpus = fs.readFileSync(SAMPLE, 'utf8').split('\n').slice(0, -1);
  const scrape = async (worker: string): Promise<Sample[]> => {
    const res = await fetch(metricsUrls.get(worker)!);
    if (!res.ok) throw new Error(`GET ${metricsUrls.get(worker)}: ${res.status}`);
    return parsePrometheusText(await res.text());
  };
  return {
    dir,
    metricsUrls,
    control,
    stderr,
    done,
    async send(lines: number) {
      const file = path.join(dir, `part-${lines}.txt`);
      const chosen: string[] = [];
      for (let i = 0; i < lines; i++) chosen.push(corpus[i % corpus.length]!);
      fs.writeFileSync(file, chosen.join('\n') + '\n');
      await sendFile({ to: { host: '127.0.0.1', port: sourcePort }, file });
    },
    scrape,
    async scrapeAll() {
      const all = await Promise.all([...metricsUrls.keys()].map(scrape));
      return all.flat();
    },
    async shutdown() {
      await requestShutdown(parseHostPort(control, 'control'), 60_000, () => undefined);
      const code = await done;
      return { code, summary };
    },
  };
}
