// A real Prometheus (Debian's `prometheus` binary) scrapes a running 3-worker cluster: the test
// starts it on loopback with its own config and storage directory, waits until the three
// workers are up as targets, feeds the cluster, and queries Prometheus's HTTP API for the
// scraped series. Skipped, saying why, where the binary is absent (apt-get install prometheus).
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startTestCluster } from './cluster.ts';
import type { TestCluster } from './cluster.ts';
import { freePort, waitUntil } from '../integration/processes.ts';

const PROMETHEUS = process.env.BUFFY_PROMETHEUS ?? 'prometheus';
const available = spawnSync(PROMETHEUS, ['--version'], { stdio: 'ignore' }).status === 0;
if (!available)
  console.warn(
    `test/metrics/prometheus.test.ts: skipped, no '${PROMETHEUS}' binary on PATH (Debian: apt-get install -y prometheus; or set BUFFY_PROMETHEUS)`,
  );

let cluster: TestCluster | null = null;
let prom: ChildProcess | null = null;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'buffy-prometheus-'));

afterAll(async () => {
  if (prom && prom.exitCode === null) {
    const gone = new Promise((r) => prom!.once('exit', r));
    prom.kill('SIGTERM');
    await gone;
  }
  if (cluster) await cluster.shutdown().catch(() => undefined);
  fs.rmSync(dir, { recursive: true, force: true });
});

interface Vector {
  metric: Record<string, string>;
  value: [number, string];
}

describe.skipIf(!available)('Prometheus scrapes a 3-worker cluster', () => {
  it('sees every worker as a target and the counters the cluster reports', async () => {
    cluster = await startTestCluster();
    const c = cluster;
    const targets = [...c.metricsUrls.values()].map((u) => new URL(u).host);
    const config = path.join(dir, 'prometheus.yml');
    fs.writeFileSync(
      config,
      [
        'global:',
        '  scrape_interval: 1s',
        '  scrape_timeout: 1s',
        'scrape_configs:',
        '  - job_name: buffy',
        '    static_configs:',
        `      - targets: [${targets.map((t) => `'${t}'`).join(', ')}]`,
        '',
      ].join('\n'),
    );
    const port = await freePort();
    const api = `http://127.0.0.1:${port}/api/v1`;
    const log: string[] = [];
    prom = spawn(
      PROMETHEUS,
      [
        `--config.file=${config}`,
        `--storage.tsdb.path=${path.join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--log.level=warn',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    prom.stderr!.on('data', (d: Buffer) => log.push(d.toString()));
    const get = async (q: string): Promise<unknown> => {
      const res = await fetch(`${api}/${q}`);
      const body = (await res.json()) as { status: string; data: unknown };
      if (body.status !== 'success') throw new Error(`${q}: ${JSON.stringify(body)}`);
      return body.data;
    };
    const query = async (expr: string): Promise<Vector[]> =>
      ((await get(`query?query=${encodeURIComponent(expr)}`)) as { result: Vector[] }).result;

    let up: Vector[] = [];
    await waitUntil(
      'Prometheus scrapes the 3 workers (up == 1)',
      () => {
        if (prom!.exitCode !== null) throw new Error(`prometheus exited:\n${log.join('')}`);
        void query('up{job="buffy"} == 1').then(
          (r) => (up = r),
          () => undefined,
        );
        return up.length === 3;
      },
      30_000,
    );

    await c.send(1500);
    let ingested: Vector[] = [];
    await waitUntil(
      'Prometheus sees the 1500 lines ingested',
      () => {
        void query('sum(buffy_worker_messages_ingested_total)').then(
          (r) => (ingested = r),
          () => undefined,
        );
        return ingested[0]?.value[1] === '1500';
      },
      30_000,
    );
    // Wait until the words are all sunk, then compare Prometheus's view with the workers' own.
    let sunkVsSplit: Vector[] = [];
    await waitUntil(
      'Prometheus sees every word sunk',
      () => {
        void query(
          'sum(buffy_worker_messages_sunk_total) - sum(buffy_step_messages_out_total{step="split"}) == 0',
        ).then(
          (r) => (sunkVsSplit = r),
          () => undefined,
        );
        return sunkVsSplit.length === 1;
      },
      30_000,
    );
    const direct = await c.scrapeAll();
    const perWorker = await query('buffy_worker_messages_sunk_total');
    expect(perWorker.map((v) => v.metric.worker).sort()).toEqual(['w1', 'w2', 'w3']);
    for (const v of perWorker) {
      const own = direct.find(
        (s) => s.name === 'buffy_worker_messages_sunk_total' && s.labels.worker === v.metric.worker,
      );
      expect(Number(v.value[1]), v.metric.worker).toBe(own!.value);
      expect(v.metric.pipeline).toBe('word-count');
    }
    const series = (await get(
      `series?match[]=${encodeURIComponent('buffy_step_messages_in_total')}`,
    )) as Array<Record<string, string>>;
    expect(new Set(series.map((s) => `${s.worker}/${s.step}`)).size).toBe(3 * 4);
    const p99 = await query('buffy_step_latency_from_source_seconds{step="updates",quantile="0.99"}');
    expect(p99.length).toBe(3);
    for (const v of p99) expect(Number(v.value[1])).toBeGreaterThan(0);
    const { code } = await c.shutdown();
    cluster = null;
    expect(code).toBe(0);
  }, 120_000);
});
