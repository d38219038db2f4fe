// The dashboard end to end in headless Chromium (Debian's `chromium`, driven by playwright-core,
// which downloads no browser): a 3-worker cluster counts words, the page shows the same numbers
// as the workers' metrics endpoints, they move with the input, a killed worker shows up as an
// event, and screenshots go to out/ (out/dashboard.png, out/dashboard-worker-killed.png).
// Skipped, saying why, without a chromium binary (apt-get install -y chromium, or BUFFY_CHROMIUM).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { chromium } from 'playwright-core';
import type { Browser, Page } from 'playwright-core';
import { startDashboard } from '../../runtime/dashboard/server.ts';
import type { DashboardServer } from '../../runtime/dashboard/server.ts';
import { createSystemClock } from '../../runtime/system.ts';
import { startTestCluster, sum } from '../metrics/cluster.ts';
import type { TestCluster } from '../metrics/cluster.ts';
import { waitUntil } from '../integration/processes.ts';

const OUT = fileURLToPath(new URL('../../out/', import.meta.url));
const CHROMIUM =
  process.env.BUFFY_CHROMIUM ??
  ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => fs.existsSync(p));
if (!CHROMIUM)
  console.warn(
    'test/dashboard/dashboard.test.ts: skipped, no chromium binary (Debian: apt-get install -y chromium; or set BUFFY_CHROMIUM)',
  );

let cluster: TestCluster | null = null;
let dashboard: DashboardServer | null = null;
let byControl: DashboardServer | null = null;
let browser: Browser | null = null;

afterAll(async () => {
  await browser?.close();
  await dashboard?.close();
  await byControl?.close();
  if (cluster) {
    await cluster.shutdown().catch(() => undefined);
    await cluster.done;
  }
});

/** The number shown in an element (thousands separators removed). */
async function shown(page: Page, testid: string): Promise<number> {
  const text = await page.getByTestId(testid).first().textContent({ timeout: 5000 });
  return Number((text ?? '').replace(/,/g, ''));
}

async function until(what: string, cond: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  let ok = false;
  await waitUntil(
    what,
    () => {
      void cond().then(
        (r) => (ok = r),
        () => undefined,
      );
      return ok;
    },
    timeoutMs,
  );
}

describe.skipIf(!CHROMIUM)('buffy dashboard in headless Chromium', () => {
  it('shows the metrics of a running 3-worker cluster, live, and a worker that crashed', async () => {
    cluster = await startTestCluster();
    const c = cluster;
    dashboard = await startDashboard({
      targets: [...c.metricsUrls.values()].map((u) => {
        const url = new URL(u);
        return { host: url.hostname, port: Number(url.port) };
      }),
      listen: { host: '127.0.0.1', port: 0 },
      clock: createSystemClock(),
      pollMs: 1000,
    });
    browser = await chromium.launch({ executablePath: CHROMIUM!, args: ['--no-sandbox'] });
    const page = await browser.newPage({ viewport: { width: 1300, height: 1000 } });
    await page.goto(dashboard.url);
    await until('the page shows 3 workers up', async () => {
      for (const w of ['w1', 'w2', 'w3'])
        if ((await page.getByTestId(`worker-state-${w}`).textContent()) !== 'up') return false;
      return true;
    });
    expect(await page.getByTestId('pipeline').textContent()).toBe('word-count');
    // The membership events come from the initializer (w1): each worker joined, once.
    const events = async (): Promise<string> => (await page.getByTestId('events').textContent()) ?? '';
    await until('the page shows the joins the initializer saw', async () => {
      const e = await events();
      return ['w1', 'w2', 'w3'].every((w) => e.includes(`worker ${w} joined`));
    });
    for (const w of ['w1', 'w2', 'w3'])
      expect((await events()).split(`worker ${w} joined`).length - 1).toBe(1);
    const clusterMetrics = async () => {
      const s = await c.scrape('w1');
      return {
        up: sum(s, 'buffy_cluster_workers_up'),
        joined: sum(s, 'buffy_cluster_worker_events_total', { event: 'joined' }),
        down: sum(s, 'buffy_cluster_worker_events_total', { event: 'down' }),
        rejoined: sum(s, 'buffy_cluster_worker_events_total', { event: 'rejoined' }),
      };
    };
    expect(await clusterMetrics()).toEqual({ up: 3, joined: 3, down: 0, rejoined: 0 });
    // Only the initializer has the cluster's view.
    expect(sum(await c.scrape('w2'), 'buffy_cluster_workers_up')).toBe(0);

    // buffy dashboard --control: the initializer says where the workers' metrics are.
    const control = c.control.split(':');
    byControl = await startDashboard({
      control: { host: control[0]!, port: Number(control[1]) },
      listen: { host: '127.0.0.1', port: 0 },
      clock: createSystemClock(),
      pollMs: 1000,
    });
    const ctl = byControl.dashboard;
    await until('the --control dashboard found the 3 workers', async () => {
      const t = ctl.state().targets;
      return t.length === 3 && t.every((x) => x.up);
    });
    expect(
      ctl
        .state()
        .targets.map((t) => [t.worker, t.target])
        .sort(),
    ).toEqual([...c.metricsUrls].map(([w, u]) => [w, new URL(u).host]).sort());

    // Counts shown equal the endpoints' once the cluster is idle.
    await c.send(1000);
    const idle = async (lines: number) => {
      await until(`the cluster processed ${lines} lines`, async () => {
        const s = await c.scrapeAll();
        const split = sum(s, 'buffy_step_messages_out_total', { step: 'split' });
        return (
          sum(s, 'buffy_worker_messages_ingested_total') === lines &&
          split > 0 &&
          sum(s, 'buffy_worker_messages_sunk_total') === split
        );
      });
      return c.scrapeAll();
    };
    const first = await idle(1000);
    const matches = async (s: typeof first): Promise<boolean> => {
      for (const w of ['w1', 'w2', 'w3']) {
        for (const step of ['counts', 'updates']) {
          const want = sum(s, 'buffy_step_messages_in_total', { worker: w, step });
          if ((await shown(page, `in-${w}-${step}`)) !== want) return false;
        }
      }
      const words = sum(s, 'buffy_step_messages_out_total', { step: 'split' });
      return (
        (await shown(page, 'out-all-split')) === words && (await shown(page, 'in-all-updates')) === words
      );
    };
    await until('the page shows the counts of the metrics endpoints', () => matches(first));
    // The partition table: every partition has one owner.
    const parts = await Promise.all(['w1', 'w2', 'w3'].map((w) => shown(page, `partitions-${w}`)));
    expect(parts.reduce((a, b) => a + b, 0)).toBe(128);
    for (const n of parts) expect(n).toBeGreaterThan(0);

    // The figures move: a rate above zero while input flows, then the new totals.
    let sawRate = false;
    const sending = c.send(20_000);
    const watching = until('a rate above zero on the page', async () => {
      sawRate ||= (await shown(page, 'inrate-all-updates')) > 0;
      return sawRate;
    });
    await sending;
    await watching;
    const second = await idle(21_000);
    await until('the page shows the new counts', () => matches(second));
    expect(await shown(page, 'in-all-updates')).toBeGreaterThan(
      sum(first, 'buffy_step_messages_in_total', { step: 'updates' }),
    );
    fs.mkdirSync(OUT, { recursive: true });
    await page.screenshot({ path: path.join(OUT, 'dashboard.png'), fullPage: true });

    // Kill a worker: the page says so.
    const w3 = dashboard.dashboard.state().targets.find((t) => t.worker === 'w3')!;
    expect(w3.pid).toBeGreaterThan(0);
    process.kill(w3.pid!, 'SIGKILL');
    await until('the page shows w3 down and the event', async () => {
      const state = await page.getByTestId('worker-state-w3').textContent();
      return state === 'down' && (await events()).includes('worker w3 is down');
    });
    await page.screenshot({ path: path.join(OUT, 'dashboard-worker-killed.png'), fullPage: true });
    // buffy run --workers starts the killed worker again; the cluster goes on and stops cleanly.
    await waitUntil('w3 started again', () =>
      c.stderr.some((l) => /worker 'w3' was killed by SIGKILL; starting it again/.test(l)),
    );
    await waitUntil('w3 back in the cluster', () =>
      c.stderr.some((l) => /running again with 'w3' back/.test(l)),
    );
    await until('the page shows w3 rejoined', async () => (await events()).includes('worker w3 rejoined'));
    await until('the initializer counted the down and the rejoin', async () => {
      const m = await clusterMetrics();
      return m.up === 3 && m.down === 1 && m.rejoined === 1 && m.joined === 3;
    });
    // The --control dashboard follows w3 to its new process (and metrics address).
    await until('the --control dashboard shows the new w3 up', async () => {
      const t = ctl.state().targets.find((x) => x.worker === 'w3');
      return t !== undefined && t.up && t.pid !== w3.pid;
    });
    expect(ctl.state().targets.filter((t) => t.up)).toHaveLength(3);
    expect(
      ctl
        .state()
        .events.filter((e) => e.kind === 'rejoined')
        .map((e) => e.worker),
    ).toEqual(['w3']);
    await c.shutdown();
    expect(await c.done).toBe(0);
    cluster = null;
  }, 120_000);
});
