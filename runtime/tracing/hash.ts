// Hashes of trace reports: 53-bit integers (so they ride number columns), never 0 (0 marks an
// untraced message in a batch's trace column). A visit's hash covers the message id, worker
// type, instance, state index and the predecessors' hashes (sorted), and no hop count: the same
// visit reported twice hashes the same, and the predecessor links make it unique in its trace.
import { fmix32 } from '../engine/partition.ts';

// The two 32-bit lanes of the hash being computed (module state, so that mixing allocates
// nothing: traceHash runs once per report and is not reentrant).
let h1 = 0;
let h2 = 0;

function mixString(s: string): void {
  let a = h1;
  let b = h2;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193) >>> 0;
    b = Math.imul(b ^ c, 0x5bd1e995) >>> 0;
  }
  // Separator, so ("ab","c") and ("a","bc") differ.
  h1 = Math.imul(a ^ 0xff, 0x01000193) >>> 0;
  h2 = Math.imul(b ^ 0xff, 0x5bd1e995) >>> 0;
}

function mixNumber(n: number): void {
  const lo = (n % 4294967296) >>> 0;
  const hi = Math.floor(n / 4294967296) >>> 0;
  h1 = fmix32((h1 ^ lo) >>> 0);
  h2 = fmix32((h2 ^ hi ^ h1) >>> 0);
}

export function traceHash(
  messageId: string,
  workerType: string,
  instanceId: string,
  stateIndex: number,
  predecessorHashes: readonly number[],
): number {
  h1 = 0x811c9dc5;
  h2 = 0x9747b28c;
  mixString(messageId);
  mixString(workerType);
  mixString(instanceId);
  mixNumber(stateIndex);
  const preds =
    predecessorHashes.length > 1 ? [...predecessorHashes].sort((a, b) => a - b) : predecessorHashes;
  for (let i = 0; i < preds.length; i++) mixNumber(preds[i]!);
  const v = (h2 & 0x1fffff) * 4294967296 + fmix32(h1);
  return v === 0 ? 1 : v;
}
