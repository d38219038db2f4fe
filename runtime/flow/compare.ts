// `flow check`: a declared flow against the topology's. Every traversal the topology can produce
// must be allowed by the declared flow, and every traversal the declared flow allows must be one
// the topology can produce.
import type { Flow } from './ast.ts';
import { workerTypes } from './ast.ts';
import { flowTraversals } from './semantics.ts';
import type { Traversal } from './traversal.ts';

export interface FlowComparison {
  /** The sets of traversals are equal. */
  readonly ok: boolean;
  /** Traversals of the topology that the declared flow does not allow. */
  readonly notAllowed: readonly Traversal[];
  /** Traversals of the declared flow that the topology cannot produce. */
  readonly notRealisable: readonly Traversal[];
  /** Worker types the declared flow names that are no step of the app. */
  readonly unknownTypes: readonly string[];
  readonly topologyCount: number;
  readonly declaredCount: number;
}

export function compareFlows(
  declared: Flow,
  topology: Flow,
  opts: { maxTraversals?: number } = {},
): FlowComparison {
  const d = flowTraversals(declared, opts);
  const t = flowTraversals(topology, opts);
  const known = new Set(workerTypes(topology));
  const notAllowed = [...t].filter(([k]) => !d.has(k)).map(([, v]) => v);
  const notRealisable = [...d].filter(([k]) => !t.has(k)).map(([, v]) => v);
  const unknownTypes = workerTypes(declared).filter((w) => !known.has(w));
  return {
    ok: notAllowed.length === 0 && notRealisable.length === 0,
    notAllowed,
    notRealisable,
    unknownTypes,
    topologyCount: t.size,
    declaredCount: d.size,
  };
}
