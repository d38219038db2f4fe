// Small helpers for messages of the cluster layer and the commands above it.

/** `1 worker`, `3 workers`, `0 workers`; `plural` defaults to `${noun}s`. */
export function countOf(n: number, noun: string, plural = `${noun}s`): string {
  return `${n} ${n === 1 ? noun : plural}`;
}
