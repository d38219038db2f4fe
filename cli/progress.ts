// Live progress of `buffy run` on a terminal (stderr a TTY), like `buffy check`'s: one line,
// rewritten in place every half second, from the engine's counters (read, not added to). Off
// when stderr is not a terminal, so logs and pipes see nothing of it. With --workers N, the same
// line summed over the workers' metrics (startClusterProgress).
import { requestMembers } from '../runtime/cluster/control.ts';
import type { WorkerSnapshot } from '../runtime/metrics/worker-metrics.ts';
import type { HostPort } from '../runtime/net/tcp-channel.ts';
import type { EngineMetrics } from '../runtime/types.ts';

export interface ProgressOptions {
  readonly metrics: () => EngineMetrics;
  readonly nowMs: () => number;
  readonly write: (text: string) => void;
  readonly intervalMs?: number;
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

/** The progress line: totals, rates over the last interval, dead letters, elapsed time. */
export function progressLine(
  now: EngineMetrics,
  before: EngineMetrics | null,
  intervalMs: number,
  elapsedMs: number,
): string {
  const rate = (x: number, y: number | undefined): string =>
    y === undefined || intervalMs <= 0 ? '' : ` (${fmt(((x - y) * 1000) / intervalMs)}/s)`;
  return (
    `read ${fmt(now.ingested)}${rate(now.ingested, before?.ingested)}, ` +
    `sunk ${fmt(now.sunk)}${rate(now.sunk, before?.sunk)}, ` +
    `dead letters ${fmt(now.deadLetters)}, ${(elapsedMs / 1000).toFixed(1)} s`
  );
}

/** Starts the progress line; the returned function stops it and clears the line. */
export function startProgress(o: ProgressOptions): () => void {
  const interval = o.intervalMs ?? 500;
  const t0 = o.nowMs();
  let last: EngineMetrics | null = null;
  let lastMs = t0;
  const timer = setInterval(() => {
    const m = o.metrics();
    const now = o.nowMs();
    o.write(`\r${progressLine(m, last, now - lastMs, now - t0)}\x1b[K`);
    last = m;
    lastMs = now;
  }, interval);
  timer.unref();
  let stopped = false;
  return () => {
    if (stopped) return;
    stopped = true;
    clearInterval(timer);
    o.write('\r\x1b[K');
  };
}

/** The sum of the workers' engine counters. */
function sumMetrics(all: readonly EngineMetrics[]): EngineMetrics {
  const stateApplied: Record<string, number> = {};
  for (const m of all)
    for (const [k, v] of Object.entries(m.stateApplied)) stateApplied[k] = (stateApplied[k] ?? 0) + v;
  const total = (f: (m: EngineMetrics) => number): number => all.reduce((n, m) => n + f(m), 0);
  return {
    ingested: total((m) => m.ingested),
    sunk: total((m) => m.sunk),
    deadLetters: total((m) => m.deadLetters),
    remoteSent: total((m) => m.remoteSent),
    remoteReceived: total((m) => m.remoteReceived),
    stateApplied,
  };
}

export interface ClusterProgressOptions {
  /** The initializer's control address: it says which workers are up and where their metrics are. */
  readonly control: HostPort;
  readonly nowMs: () => number;
  readonly write: (text: string) => void;
  readonly intervalMs?: number;
}

/**
 * The progress line of `buffy run --workers N`: every interval, the members from the initializer
 * (runtime/cluster/control.ts `members`), the engine counters of each worker that is up from its
 * /metrics.json, summed, plus how many workers are up. A worker started again counts from 0, so
 * the totals may step back after a restart. Returns the function that stops it and clears the line.
 */
export function startClusterProgress(o: ClusterProgressOptions): () => void {
  const interval = o.intervalMs ?? 500;
  const t0 = o.nowMs();
  let last: EngineMetrics | null = null;
  let lastMs = t0;
  let busy = false;
  let stopped = false;
  let shown = false;
  const tick = async (): Promise<void> => {
    const members = await requestMembers(o.control, interval * 2);
    const up = members.members.filter((m) => m.up && m.metrics !== null);
    const snaps = await Promise.all(
      up.map(async (m) => {
        const res = await fetch(`http://${m.metrics}/metrics.json`, {
          signal: AbortSignal.timeout(interval * 2),
        });
        if (!res.ok) throw new Error(`HTTP ${res.status}`);
        return ((await res.json()) as WorkerSnapshot).engine;
      }),
    );
    const engines = snaps.filter((e): e is EngineMetrics => e !== null);
    if (stopped || engines.length === 0) return;
    const m = sumMetrics(engines);
    const now = o.nowMs();
    const workers = `${members.members.filter((x) => x.up).length} of ${members.expected} workers up`;
    o.write(`\r${progressLine(m, last, now - lastMs, now - t0)}, ${workers}\x1b[K`);
    shown = true;
    last = m;
    lastMs = now;
  };
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    // A worker or the initializer not answering this time (starting, restarting, stopping):
    // the line stays as it was until the next tick.
    tick()
      .catch(() => undefined)
      .finally(() => (busy = false));
  }, interval);
  timer.unref();
  return () => {
    if (stopped) return;
    stopped = true;
    clearInterval(timer);
    if (shown) o.write('\r\x1b[K');
  };
}

/** What `buffy run --workers N` passes to runLocalCluster on a terminal: the progress line, and
 * the workers' stderr lines written over it (the next tick draws it again). */
export function clusterProgressOptions(
  nowMs: () => number,
  write: (text: string) => void = (t) => process.stderr.write(t),
): { watch: (control: HostPort) => () => void; onStderr: (line: string) => void } {
  return {
    watch: (control) => startClusterProgress({ control, nowMs, write }),
    onStderr: (line) => write(`\r\x1b[K${line}\n`),
  };
}
