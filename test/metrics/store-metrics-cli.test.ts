// `buffy run --state DIR --metrics` as a process: word count over a tcp: source into a file
// sink; the store's counters move as lines arrive, and a second run on the same DIR counts a
// recovery and says what it loaded.
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sendFile } from '../../runtime/cluster/tools.ts';
import { freePort, killAll, startBuffy } from '../integration/processes.ts';
import { parsePrometheusText, sum } from './cluster.ts';
import type { Sample } from './cluster.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const dir = mkdtempSync(path.join(tmpdir(), 'buffy-store-metrics-cli-'));
afterAll(async () => {
  await killAll();
  rmSync(dir, { recursive: true, force: true });
});

async function scrape(url: string): Promise<Sample[]> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`GET ${url}: ${res.status}`);
  return parsePrometheusText(await res.text());
}

async function start(port: number) {
  const p = startBuffy(
    'run',
    [
      'run',
      'examples/word-count.ts',
      '--source',
      `tcp:127.0.0.1:${port}`,
      '--sink',
      `file:${path.join(dir, 'out.txt')}`,
      '--state',
      path.join(dir, 'state'),
      '--metrics',
      '127.0.0.1:0',
      '--param',
      'top=0',
      '--dead-letters',
      path.join(dir, 'dead.jsonl'),
    ],
    root,
  );
  const url = (await p.waitFor(/metrics on (http:\S+)/, 30_000))[1]!;
  await p.waitFor(new RegExp(`listening on 127\\.0\\.0\\.1:${port}`), 30_000);
  return { p, url };
}

const file = (name: string, n: number, from: number): string => {
  const f = path.join(dir, name);
  writeFileSync(f, Array.from({ length: n }, (_, i) => `a${(from + i) % 13} b${(from + i) % 3}\n`).join(''));
  return f;
};

describe('buffy run --state --metrics', () => {
  it('shows the commits moving, and a recovery after a restart on the same store', async () => {
    const port = await freePort();
    const first = await start(port);
    expect(sum(await scrape(first.url), 'buffy_store_commits_total')).toBe(0);
    await sendFile({ to: { host: '127.0.0.1', port }, file: file('in1.txt', 2000, 0) });
    let s: Sample[] = [];
    const poll = async (cond: (x: Sample[]) => boolean, what: string) => {
      const t0 = Date.now();
      for (;;) {
        s = await scrape(first.url);
        if (cond(s)) return s;
        if (Date.now() - t0 > 20_000) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    const a = await poll(
      (x) =>
        sum(x, 'buffy_worker_messages_ingested_total') === 2000 && sum(x, 'buffy_store_commits_total') > 0,
      'the first 2000 lines committed',
    );
    const commitsA = sum(a, 'buffy_store_commits_total');
    const bytesA = sum(a, 'buffy_store_written_bytes_total');
    expect(sum(a, 'buffy_store_commit_seconds_count')).toBe(commitsA);
    expect(bytesA).toBeGreaterThan(0);
    expect(sum(a, 'buffy_recoveries_total')).toBe(0);
    await sendFile({ to: { host: '127.0.0.1', port }, file: file('in2.txt', 2000, 2000) });
    const b = await poll(
      (x) =>
        sum(x, 'buffy_worker_messages_ingested_total') === 4000 &&
        sum(x, 'buffy_store_commits_total') > commitsA,
      'the next 2000 lines committed',
    );
    expect(sum(b, 'buffy_store_written_bytes_total')).toBeGreaterThan(bytesA);
    first.p.child.kill('SIGTERM');
    expect(await first.p.exited).toBe(0);

    const second = await start(port);
    const r = await scrape(second.url);
    expect(sum(r, 'buffy_recoveries_total')).toBe(1);
    // word count keys its state by word: a0..a12 and b0..b2 were all seen.
    expect(sum(r, 'buffy_last_recovery_states')).toBe(13 + 3);
    expect(sum(r, 'buffy_last_recovery_seconds')).toBeGreaterThan(0);
    second.p.child.kill('SIGTERM');
    expect(await second.p.exited).toBe(0);
  }, 90_000);
});
