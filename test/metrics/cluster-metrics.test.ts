// Scrapes the Prometheus endpoints of a real 3-worker cluster over HTTP while it counts words:
// the counters move with the input, agree with each other across workers, and at the end equal
// the totals the workers report to the initializer when they stop.
import { afterAll, describe, expect, it } from 'vitest';
import { startTestCluster, sum } from './cluster.ts';
import type { Sample, TestCluster } from './cluster.ts';
import { waitUntil } from '../integration/processes.ts';

let cluster: TestCluster | null = null;

afterAll(async () => {
  if (cluster) await cluster.shutdown().catch(() => undefined);
});

/** Waits until every message read has been counted and sunk (the cluster is idle). */
async function settled(c: TestCluster, ingested: number): Promise<Sample[]> {
  let s: Sample[] = [];
  await waitUntil(
    `the cluster processed ${ingested} lines`,
    () => {
      void c.scrapeAll().then((x) => (s = x));
      const split = sum(s, 'buffy_step_messages_out_total', { step: 'split' });
      return (
        sum(s, 'buffy_worker_messages_ingested_total') === ingested &&
        split > 0 &&
        sum(s, 'buffy_worker_messages_sunk_total') === split
      );
    },
    30_000,
  );
  return c.scrapeAll();
}

describe('metrics of a 3-worker cluster, scraped over HTTP', () => {
  it('move with the input, agree across workers and match the stop totals', async () => {
    cluster = await startTestCluster();
    const c = cluster;
    expect([...c.metricsUrls.keys()].sort()).toEqual(['w1', 'w2', 'w3']);
    const before = await c.scrapeAll();
    expect(sum(before, 'buffy_worker_messages_ingested_total')).toBe(0);
    expect(before.filter((s) => s.name === 'buffy_step_messages_in_total').length).toBe(3 * 4);

    await c.send(1000);
    const first = await settled(c, 1000);
    await c.send(2000);
    const second = await settled(c, 3000);

    for (const s of [first, second]) {
      const words = sum(s, 'buffy_step_messages_out_total', { step: 'split' });
      // Every word is applied once, on the worker owning its key, and sunk there.
      expect(sum(s, 'buffy_state_messages_applied_total', { step: 'counts' })).toBe(words);
      expect(sum(s, 'buffy_step_messages_in_total', { step: 'updates' })).toBe(words);
      expect(sum(s, 'buffy_step_latency_from_source_observations_total', { step: 'updates' })).toBe(words);
      // The state step sees each word on w1 (from split) and again where it is sent.
      expect(sum(s, 'buffy_step_messages_in_total', { step: 'counts' })).toBe(
        words + sum(s, 'buffy_worker_remote_messages_received_total'),
      );
      expect(sum(s, 'buffy_worker_remote_messages_sent_total')).toBe(
        sum(s, 'buffy_worker_remote_messages_received_total'),
      );
      expect(sum(s, 'buffy_step_messages_in_total', { step: 'lines' })).toBe(
        sum(s, 'buffy_worker_messages_ingested_total'),
      );
      // Data channels: frames went out from the initializer to both peers.
      expect(sum(s, 'buffy_channel_frames_sent_total', { worker: 'w1', peer: 'w2' })).toBeGreaterThan(0);
      expect(sum(s, 'buffy_channel_frames_sent_total', { worker: 'w1', peer: 'w3' })).toBeGreaterThan(0);
    }
    // The counters moved with the second input, and each worker sank a share.
    const words1 = sum(first, 'buffy_step_messages_out_total', { step: 'split' });
    const words2 = sum(second, 'buffy_step_messages_out_total', { step: 'split' });
    expect(words2).toBeGreaterThan(2.5 * words1);
    for (const w of ['w1', 'w2', 'w3']) {
      expect(sum(second, 'buffy_worker_messages_sunk_total', { worker: w })).toBeGreaterThan(
        sum(first, 'buffy_worker_messages_sunk_total', { worker: w }),
      );
    }
    // Latency percentiles are present, ordered and below the test's duration.
    const q = (quantile: string) =>
      sum(second, 'buffy_step_latency_from_source_seconds', { worker: 'w2', step: 'updates', quantile });
    expect(q('0.5')).toBeGreaterThan(0);
    expect(q('0.5')).toBeLessThanOrEqual(q('0.99'));
    expect(q('0.99')).toBeLessThanOrEqual(q('0.9999'));
    expect(q('0.9999')).toBeLessThan(60);

    const last = await c.scrapeAll();
    // Every worker has a store (buffy run --workers): exactly-once commits, counted per commit.
    for (const worker of ['w1', 'w2', 'w3']) {
      const commits = sum(last, 'buffy_store_commits_total', { worker });
      expect(commits, worker).toBeGreaterThan(0);
      expect(sum(last, 'buffy_store_commit_seconds_count', { worker }), worker).toBe(commits);
      expect(sum(last, 'buffy_store_written_bytes_total', { worker }), worker).toBeGreaterThan(0);
      expect(sum(last, 'buffy_recoveries_total', { worker }), worker).toBe(0);
    }
    const { code, summary } = await c.shutdown();
    cluster = null;
    expect(code).toBe(0);
    expect(summary).not.toBeNull();
    for (const w of summary!.workers) {
      const at = { worker: w.name };
      expect(sum(last, 'buffy_worker_messages_ingested_total', at), w.name).toBe(w.metrics.ingested);
      expect(sum(last, 'buffy_worker_messages_sunk_total', at), w.name).toBe(w.metrics.sunk);
      expect(sum(last, 'buffy_worker_remote_messages_sent_total', at), w.name).toBe(w.metrics.remoteSent);
      expect(sum(last, 'buffy_worker_remote_messages_received_total', at), w.name).toBe(
        w.metrics.remoteReceived,
      );
      expect(sum(last, 'buffy_step_messages_in_total', { ...at, step: 'updates' }), w.name).toBe(
        w.metrics.sunk,
      );
    }
    expect(summary!.workers.reduce((n, w) => n + w.metrics.ingested, 0)).toBe(3000);
  }, 90_000);
});
