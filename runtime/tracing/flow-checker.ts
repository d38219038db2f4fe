// Is a rebuilt traversal one the flow allows? A complete traversal must be one of the flow's
// traversals. A traversal that ended early (some visits report `ended`: filtered out, no
// outputs, or failed) must be a truncation of one: a part of a flow traversal that holds its
// source and, for each of its visits, either all of the visit's successors (the visit went on)
// or none (the visit ended, and says so). A last visit may say it ended too (a sink whose
// encoding failed).
import type { Flow } from '../flow/ast.ts';
import { flowTraversals } from '../flow/semantics.ts';
import type { Traversal } from '../flow/traversal.ts';
import { canonicalKey, successors } from '../flow/traversal.ts';

/** Flow traversals with more nodes than this get no truncations (2^n of them). */
export const MAX_TRUNCATED_NODES = 14;
/** Truncations listed at most, over all traversals of a flow (the rest get none). */
export const MAX_TRUNCATION_CHOICES = 1 << 20;

/** The traversal with each ended visit's worker type marked `!` (no worker type holds one). */
export function markedKey(t: Traversal, ended: readonly boolean[]): string {
  return canonicalKey({ types: t.types.map((ty, i) => (ended[i] ? `${ty}!` : ty)), preds: t.preds });
}

export class FlowChecker {
  private readonly complete: Set<string>;
  private readonly truncated = new Set<string>();
  /** Flow traversals too large for their truncations to be listed. */
  readonly untruncatable: number;

  constructor(
    readonly flow: Flow,
    opts: { maxTraversals?: number } = {},
  ) {
    const all = flowTraversals(flow, opts);
    this.complete = new Set(all.keys());
    let skipped = 0;
    let budget = MAX_TRUNCATION_CHOICES;
    for (const t of all.values()) {
      const choices = 2 ** t.types.length;
      if (choices > budget || !this.addTruncations(t)) skipped++;
      else budget -= choices;
    }
    this.untruncatable = skipped;
  }

  /** Every truncation of `t`; false if `t` has too many visits to list them. */
  private addTruncations(t: Traversal): boolean {
    const n = t.types.length;
    const inner = t.types.map((_, i) => i);
    if (inner.length > MAX_TRUNCATED_NODES) return false;
    const source = t.preds.findIndex((p) => p.length === 0);
    // A choice of which visits end; the visits reached from the source through visits that
    // go on form the truncation, which must be all-or-none at every visit.
    for (let mask = 1; mask < 1 << inner.length; mask++) {
      const ends = new Uint8Array(n);
      inner.forEach((v, k) => (ends[v] = (mask >> k) & 1));
      const inP = new Uint8Array(n);
      const order = topological(t);
      inP[source] = 1;
      let consistent = true;
      for (const v of order) {
        if (v === source) continue;
        const preds = [...new Set(t.preds[v])];
        const going = preds.filter((p) => inP[p] === 1 && ends[p] === 0).length;
        if (going === 0) continue;
        if (going !== preds.length) {
          consistent = false;
          break;
        }
        inP[v] = 1;
      }
      if (!consistent) continue;
      // An ended visit must be in the truncation (else the choice repeats another).
      if (inner.some((v) => ends[v] === 1 && inP[v] === 0)) continue;
      const keep = t.types.map((_, i) => i).filter((i) => inP[i] === 1);
      const at = new Map(keep.map((v, k) => [v, k]));
      const part: Traversal = {
        types: keep.map((v) => t.types[v]!),
        preds: keep.map((v) => t.preds[v]!.map((p) => at.get(p)!)),
      };
      this.truncated.add(
        markedKey(
          part,
          keep.map((v) => ends[v] === 1),
        ),
      );
    }
    return true;
  }

  /** Whether the flow allows `t`, whose visits `ended[i]` ended there. */
  allows(t: Traversal, ended: readonly boolean[]): boolean {
    if (!ended.some(Boolean)) return this.complete.has(canonicalKey(t));
    return this.truncated.has(markedKey(t, ended));
  }
}

function topological(t: Traversal): number[] {
  const succ = successors(t);
  const indeg = t.preds.map((p) => new Set(p).size);
  const queue = indeg.flatMap((d, i) => (d === 0 ? [i] : []));
  const out: number[] = [];
  while (queue.length > 0) {
    const v = queue.shift()!;
    out.push(v);
    for (const w of succ[v]!) if (--indeg[w]! === 0) queue.push(w);
  }
  return out;
}
