// Hashes of trace reports: 53-bit integers (so they ride number columns), never 0 (0 marks an
// untraced message in a batch's trace column). A visit's hash covers the message id, worker
// type, instance, state index and the predecessors' hashes (sorted), and no hop count: the same
// visit reported twice hashes the same, and the predecessor links make it unique in its trace.
import { fmix32 } from '../engine/partition.ts';

function mixString(h1: number, h2: number, s: string): [number, number] {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 0x01000193) >>> 0;
    h2 = Math.imul(h2 ^ c, 0x5bd1e995) >>> 0;
  }
  // Separator, so ("ab","c") and ("a","bc") differ.
  h1 = Math.imul(h1 ^ 0xff, 0x01000193) >>> 0;
  h2 = Math.imul(h2 ^ 0xff, 0x5bd1e995) >>> 0;
  return [h1, h2];
}

function mixNumber(h1: number, h2: number, n: number): [number, number] {
  const lo = (n % 4294967296) >>> 0;
  const hi = Math.floor(n / 4294967296) >>> 0;
  h1 = fmix32((h1 ^ lo) >>> 0);
  h2 = fmix32((h2 ^ hi ^ h1) >>> 0);
  return [h1, h2];
}

export function traceHash(
  messageId: string,
  workerType: string,
  instanceId: string,
  stateIndex: number,
  predecessorHashes: readonly number[],
): number {
  let h: [number, number] = [0x811c9dc5, 0x9747b28c];
  h = mixString(h[0], h[1], messageId);
  h = mixString(h[0], h[1], workerType);
  h = mixString(h[0], h[1], instanceId);
  h = mixNumber(h[0], h[1], stateIndex);
  const preds =
    predecessorHashes.length > 1 ? [...predecessorHashes].sort((a, b) => a - b) : predecessorHashes;
  for (const p of preds) h = mixNumber(h[0], h[1], p);
  const v = (h[1] & 0x1fffff) * 4294967296 + fmix32(h[0]);
  return v === 0 ? 1 : v;
}
