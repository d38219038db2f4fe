// Live progress of `buffy run` on a terminal (stderr a TTY), like `buffy check`'s: one line,
// rewritten in place every half second, from the engine's counters (read, not added to). Off
// when stderr is not a terminal, so logs and pipes see nothing of it.
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
