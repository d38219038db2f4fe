// fast-check arbitraries: small valid flows (names from a five-letter alphabet, groups of every
// kind, relays) and random relabellings of traversals.
import fc from 'fast-check';
import type { Flow } from '../../runtime/flow/ast.ts';
import { name, relay, seq } from '../../runtime/flow/ast.ts';
import { checkRestrictions } from '../../runtime/flow/parse.ts';
import type { Traversal } from '../../runtime/flow/traversal.ts';

const TYPES = ['A', 'B', 'C', 'D', 'E'];

function flowArb(maxDepth: number, maxItems: number, maxBranches: number): fc.Arbitrary<Flow> {
  const { item, group } = fc.letrec<{ item: Flow; seq: Flow; group: Flow }>((tie) => ({
    item: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      { arbitrary: fc.constantFrom(...TYPES).map(name), weight: 5 },
      { arbitrary: fc.constant(relay).map(() => ({ ...relay })), weight: 1 },
      { arbitrary: tie('group'), weight: 3 },
    ),
    seq: fc.array(tie('item'), { minLength: 1, maxLength: maxItems }).map((items) => seq(items)),
    group: fc.oneof(
      fc
        .array(tie('seq'), { minLength: 2, maxLength: maxBranches })
        .map((branches): Flow => ({ kind: 'fork', branches })),
      fc
        .array(tie('seq'), { minLength: 2, maxLength: maxBranches })
        .map((branches): Flow => ({ kind: 'choice', branches })),
      fc.array(tie('seq'), { minLength: 1, maxLength: maxBranches }).chain((branches) =>
        fc
          .tuple(fc.nat(branches.length), fc.integer({ min: 1, max: branches.length }))
          .map(([a, b]): Flow => ({
            kind: 'inclusive',
            branches,
            min: Math.min(a, b),
            max: Math.max(a, b),
          })),
      ),
    ),
  }));
  void maxDepth;
  return fc
    .tuple(
      fc.constantFrom(...TYPES),
      fc.array(item, { minLength: 0, maxLength: maxItems }),
      fc.option(group, { freq: 3 }),
      fc.nat(),
    )
    .map(([first, rest, g, at]) => {
      // Most flows get at least one group, at any place after the first worker.
      if (g !== null) rest.splice(at % (rest.length + 1), 0, g);
      return seq([name(first), ...rest]);
    })
    .filter((f) => {
      try {
        checkRestrictions(f);
        return depth(f) <= maxDepth;
      } catch {
        return false;
      }
    });
}

function depth(f: Flow): number {
  if (f.kind === 'seq') return Math.max(...f.items.map(depth));
  if (f.kind === 'name' || f.kind === 'relay') return 0;
  return 1 + Math.max(...f.branches.map(depth));
}

/** Valid flows, small enough that their traversals are few (group nesting <= maxDepth). */
export const smallFlow = (opts: { maxDepth?: number; maxItems?: number; maxBranches?: number } = {}) =>
  flowArb(opts.maxDepth ?? 2, opts.maxItems ?? 3, opts.maxBranches ?? 3);

/** The same traversal with its nodes renumbered by `perm` (perm[i] = new index of node i). */
export function renumber(t: Traversal, perm: readonly number[]): Traversal {
  const n = t.types.length;
  const types = new Array<string>(n);
  const preds = new Array<number[]>(n);
  for (let i = 0; i < n; i++) {
    types[perm[i]!] = t.types[i]!;
    preds[perm[i]!] = t.preds[i]!.map((j) => perm[j]!);
  }
  return { types, preds };
}

/** A permutation of 0..n-1. */
export const permutation = (n: number): fc.Arbitrary<number[]> =>
  fc
    .array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: n, maxLength: n })
    .map((ws) =>
      ws
        .map((w, i) => [w, i] as const)
        .sort((a, b) => a[0] - b[0] || a[1] - b[1])
        .map(([, i]) => i),
    )
    .map((order) => {
      const perm = new Array<number>(n);
      order.forEach((v, k) => (perm[v] = k));
      return perm;
    });
