// The traversals a flow allows (semantics: runtime/flow/README.md, "Meaning").
//
// A flow is read left to right with a set of *ends*: the nodes the message is at. A worker type
// adds one node whose predecessors are all the ends, and becomes the only end. A group runs some
// of its branches (a fork all, a choice one, an inclusive choice min..max of them), each from the
// same ends; the ends after it are the union of the branches' ends. `@` adds a node of the
// origin's worker type joined from every end, unless the only end is the origin itself.
import type { Flow } from './ast.ts';
import { itemsOf } from './ast.ts';
import { checkRestrictions } from './parse.ts';
import type { Traversal } from './traversal.ts';
import { canonicalKey } from './traversal.ts';

export class FlowLimitError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FlowLimitError';
  }
}

export const DEFAULT_MAX_TRAVERSALS = 10_000;

/** A partial traversal: nodes so far, current ends, and the sequence's reading position. */
interface State {
  readonly types: readonly string[];
  readonly preds: readonly (readonly number[])[];
  readonly ends: readonly number[];
  /** The node of the nearest worker type or relay before this point in the sequence. */
  readonly last: number | null;
  /** The previous item of the sequence was a group. */
  readonly afterGroup: boolean;
}

interface Scope {
  readonly topLevel: boolean;
  /** The origin of the enclosing group: where a relay inside its branches returns to. */
  readonly groupOrigin: number | null;
}

function addNode(s: State, type: string): State {
  const id = s.types.length;
  return {
    types: [...s.types, type],
    preds: [...s.preds, [...s.ends]],
    ends: [id],
    last: id,
    afterGroup: false,
  };
}

/** All subsets of {0..n-1} with min..max elements, in increasing order of their members. */
export function subsetsBetween(n: number, min: number, max: number): number[][] {
  const out: number[][] = [];
  const pick = (from: number, acc: number[]): void => {
    if (acc.length >= min && acc.length <= max) out.push([...acc]);
    if (acc.length === max) return;
    for (let i = from; i < n; i++) {
      acc.push(i);
      pick(i + 1, acc);
      acc.pop();
    }
  };
  pick(0, []);
  return out;
}

class Enumerator {
  constructor(private readonly maxStates: number) {}

  private bound(states: State[]): State[] {
    if (states.length > this.maxStates) {
      throw new FlowLimitError(
        `the flow allows more than ${this.maxStates} traversals (partial ones counted); raise the bound or split the flow`,
      );
    }
    return states;
  }

  seq(items: readonly Flow[], start: State[], scope: Scope): State[] {
    let states = start;
    for (const it of items) states = this.bound(states.flatMap((s) => this.item(it, s, scope)));
    return states;
  }

  private item(it: Flow, s: State, scope: Scope): State[] {
    switch (it.kind) {
      case 'name':
        return [addNode(s, it.name)];
      case 'relay': {
        const origin = s.afterGroup
          ? (s.last ?? scope.groupOrigin)
          : scope.topLevel
            ? s.last
            : scope.groupOrigin;
        if (origin === null) throw new Error('relay without origin (checkRestrictions lets none through)');
        if (s.ends.length === 1 && s.ends[0] === origin) return [{ ...s, last: origin, afterGroup: false }];
        return [addNode(s, s.types[origin]!)];
      }
      case 'seq':
        throw new Error('a sequence inside a sequence (flows are flattened)');
      default: {
        const n = it.branches.length;
        const [min, max] = it.kind === 'fork' ? [n, n] : it.kind === 'choice' ? [1, 1] : [it.min, it.max];
        const inner: Scope = { topLevel: false, groupOrigin: s.last ?? scope.groupOrigin };
        const out: State[] = [];
        for (const subset of subsetsBetween(n, min, max)) {
          // Branches run one after another on the same node list (fresh ids), each from the
          // group's ends; the group's ends are the union of theirs.
          let acc: { st: State; ends: number[] }[] = [{ st: s, ends: [] }];
          for (const b of subset) {
            const next: { st: State; ends: number[] }[] = [];
            for (const a of acc) {
              const from: State = { ...a.st, ends: s.ends, last: null, afterGroup: false };
              for (const r of this.seq(itemsOf(it.branches[b]!), [from], inner)) {
                next.push({ st: r, ends: [...a.ends, ...r.ends] });
              }
            }
            acc = next;
            this.bound(acc as unknown as State[]);
          }
          for (const a of acc) {
            const ends = subset.length === 0 ? [...s.ends] : [...new Set(a.ends)].sort((x, y) => x - y);
            out.push({ types: a.st.types, preds: a.st.preds, ends, last: s.last, afterGroup: true });
          }
        }
        return out;
      }
    }
  }
}

/** The distinct traversals a flow allows, keyed by `canonicalKey`. Throws FlowSyntaxError if
 * the flow breaks a restriction and FlowLimitError past `maxTraversals`. */
export function flowTraversals(f: Flow, opts: { maxTraversals?: number } = {}): Map<string, Traversal> {
  checkRestrictions(f);
  const e = new Enumerator(opts.maxTraversals ?? DEFAULT_MAX_TRAVERSALS);
  const empty: State = { types: [], preds: [], ends: [], last: null, afterGroup: false };
  const out = new Map<string, Traversal>();
  for (const s of e.seq(itemsOf(f), [empty], { topLevel: true, groupOrigin: null })) {
    const t: Traversal = { types: s.types, preds: s.preds };
    const k = canonicalKey(t);
    if (!out.has(k)) out.set(k, t);
  }
  return out;
}
