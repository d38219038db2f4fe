// The initializer's membership view: its coordinator counts joined / down / rejoined events,
// answers the control request `members` (workers, up, metrics addresses, events), exposes them
// as Prometheus metrics, and `buffy dashboard --control` shows them (a real process).
import { Registry } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import { Coordinator } from '../../runtime/cluster/coordinator.ts';
import { CONTROL_PROTOCOL_VERSION, connectControl, requestMembers } from '../../runtime/cluster/control.ts';
import type { ControlConnection } from '../../runtime/cluster/control.ts';
import { registerClusterMetrics } from '../../runtime/metrics/cluster-metrics.ts';
import { formatAddress } from '../../runtime/net/tcp-channel.ts';
import { killAll, startBuffy, waitUntil } from '../integration/processes.ts';
import { parsePrometheusText, sum } from '../metrics/cluster.ts';

const conns: ControlConnection[] = [];
afterAll(async () => {
  for (const c of conns) c.destroy('test over');
  await killAll();
});

const started = new Set<string>();
const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

async function register(coord: Coordinator, name: string, incarnation: string, metrics: string) {
  const c = await connectControl(coord.address!, name, () => undefined);
  conns.push(c);
  // Answers the membership round as a worker does, so that the cluster starts.
  c.onMessage((m) => {
    if (m.t === 'assign') c.send({ t: 'assigned', epoch: m.epoch ?? 0 });
    if (m.t === 'connect') c.send({ t: 'ready', epoch: m.epoch });
    if (m.t === 'start') started.add(name);
  });
  c.send({
    t: 'register',
    protocolVersion: CONTROL_PROTOCOL_VERSION,
    cluster: 'c',
    app: 'app',
    worker: name,
    data: '127.0.0.1:4000',
    workers: 2,
    incarnation,
    metrics,
  });
  return c;
}

describe('the coordinator membership view', () => {
  it('counts joined, down and rejoined, and answers members with the new metrics address', async () => {
    const coord = new Coordinator({
      cluster: 'c',
      app: 'app',
      workers: 2,
      partitionCount: 8,
      control: { host: '127.0.0.1', port: 0 },
      initializer: 'w1',
      log: quiet,
    });
    await coord.listen();
    const registry = new Registry();
    registerClusterMetrics(registry, coord);
    const scrape = async () => parsePrometheusText(await registry.metrics());

    await register(coord, 'w1', 'a1', '127.0.0.1:9101');
    const w2 = await register(coord, 'w2', 'b1', '127.0.0.1:9102');
    await waitUntil('both registered', () => coord.clusterSnapshot().members.length === 2);
    // The cluster started (the round completed) before w2 goes down.
    await waitUntil('the cluster started', () => started.has('w1') && started.has('w2'));
    let s = await scrape();
    expect(sum(s, 'buffy_cluster_worker_events_total', { event: 'joined' })).toBe(2);
    expect(sum(s, 'buffy_cluster_workers_up')).toBe(2);
    expect(sum(s, 'buffy_cluster_workers_expected')).toBe(2);

    w2.destroy('killed');
    await waitUntil('w2 down', () => coord.clusterSnapshot().members.some((m) => !m.up));
    s = await scrape();
    expect(sum(s, 'buffy_cluster_worker_events_total', { event: 'down' })).toBe(1);
    expect(sum(s, 'buffy_cluster_workers_up')).toBe(1);

    // Restarted: a new process, its metrics on a new port.
    await register(coord, 'w2', 'b2', '127.0.0.1:9202');
    await waitUntil('w2 back', () => coord.clusterSnapshot().members.every((m) => m.up));
    s = await scrape();
    expect(sum(s, 'buffy_cluster_worker_events_total', { event: 'rejoined' })).toBe(1);
    expect(sum(s, 'buffy_cluster_worker_events_total', { event: 'caught_up' })).toBe(0);

    const answer = await requestMembers(coord.address!);
    expect(answer.members).toEqual([
      { name: 'w1', up: true, metrics: '127.0.0.1:9101' },
      { name: 'w2', up: true, metrics: '127.0.0.1:9202' },
    ]);
    expect(answer.events.map((e) => [e.kind, e.worker])).toEqual([
      ['joined', 'w1'],
      ['joined', 'w2'],
      ['down', 'w2'],
      ['rejoined', 'w2'],
    ]);
    expect(answer.events.map((e) => e.seq)).toEqual([1, 2, 3, 4]);
    expect(answer.counts).toEqual({ joined: 2, down: 1, rejoined: 1, caught_up: 0 });

    // buffy dashboard --control: the same events on its state.
    const dash = startBuffy('dashboard', [
      'dashboard',
      '--control',
      formatAddress(coord.address!),
      '--listen',
      '127.0.0.1:0',
    ]);
    const url = (await dash.waitFor(/listening on (http:\S+)/))[1]!;
    let texts: string[] = [];
    await waitUntil('the dashboard shows the events', () => {
      void fetch(`${url}api/state`)
        .then((r) => r.json() as Promise<{ events: Array<{ text: string }> }>)
        .then((st) => (texts = st.events.map((e) => e.text)));
      return texts.length === 4;
    });
    expect(texts[3]).toMatch(/^worker w2 rejoined \(a restarted process, metrics at 127\.0\.0\.1:9202\)/);
    dash.child.kill('SIGTERM');
    expect(await dash.exited).toBe(0);
    coord.beginShutdown('test over');
  }, 30_000);

  it('buffy dashboard without --control or --metrics is a usage error', async () => {
    const p = startBuffy('dashboard', ['dashboard', '--listen', '127.0.0.1:0']);
    expect(await p.exited).toBe(2);
    expect(p.lines.join('\n')).toContain('--control or --metrics is required');
  });
});
