// Traversals: the path one logical message took (or may take) through the workers, as a DAG of
// worker-type nodes with one source. Two traversals are the same when their DAGs are isomorphic
// (same worker types, same shape); `canonicalKey` gives every traversal one string such that two
// traversals have the same key exactly when they are isomorphic.

/** Node i has worker type `types[i]` and predecessors `preds[i]` (indexes of other nodes). */
export interface Traversal {
  readonly types: readonly string[];
  readonly preds: readonly (readonly number[])[];
}

export class TraversalError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TraversalError';
  }
}

/** Throws unless `t` is a DAG with exactly one source (a node without predecessors). */
export function assertTraversal(t: Traversal): void {
  const n = t.types.length;
  if (t.preds.length !== n)
    throw new TraversalError(`traversal has ${n} types but ${t.preds.length} predecessor lists`);
  if (n === 0) throw new TraversalError('traversal has no node');
  let sources = 0;
  for (let i = 0; i < n; i++) {
    const p = t.preds[i]!;
    if (p.length === 0) sources++;
    for (const j of p) {
      if (!(Number.isInteger(j) && j >= 0 && j < n && j !== i)) {
        throw new TraversalError(`node ${i} (${t.types[i]}) has predecessor ${j}, which is not another node`);
      }
    }
  }
  if (sources !== 1)
    throw new TraversalError(`traversal has ${sources} sources; a traversal has exactly one`);
  // Kahn: every node must be reached.
  const indeg = t.preds.map((p) => new Set(p).size);
  const succ = successors(t);
  const queue = indeg.flatMap((d, i) => (d === 0 ? [i] : []));
  let seen = 0;
  while (queue.length > 0) {
    const v = queue.pop()!;
    seen++;
    for (const w of succ[v]!) if (--indeg[w]! === 0) queue.push(w);
  }
  if (seen !== n) throw new TraversalError('traversal has a cycle');
}

export function successors(t: Traversal): number[][] {
  const succ: number[][] = t.types.map(() => []);
  t.preds.forEach((p, i) => new Set(p).forEach((j) => succ[j]!.push(i)));
  return succ;
}

/** Ranks: equal keys get equal ranks, in sorted key order (an isomorphism-invariant order). */
function rank(keys: readonly string[]): number[] {
  const sorted = [...new Set(keys)].sort();
  const at = new Map(sorted.map((k, i) => [k, i]));
  return keys.map((k) => at.get(k)!);
}

function cellCount(c: readonly number[]): number {
  return new Set(c).size;
}

/** Colour refinement: a node's colour is refined by the multisets of its neighbours' colours. */
function refine(colors: number[], preds: readonly number[][], succ: readonly number[][]): number[] {
  let c = colors;
  let cells = cellCount(c);
  for (;;) {
    const keys = c.map((ci, i) => {
      const p = preds[i]!.map((j) => c[j]!).sort((a, b) => a - b);
      const s = succ[i]!.map((j) => c[j]!).sort((a, b) => a - b);
      return `${ci.toString().padStart(6, '0')}|${p.join(',')}|${s.join(',')}`;
    });
    const next = rank(keys);
    const nc = cellCount(next);
    if (nc === cells) return next;
    c = next;
    cells = nc;
  }
}

/** Canonical string of a traversal: isomorphic traversals, and only they, share it.
 * Colour refinement, then individualisation of each node of the first ambiguous cell in turn,
 * keeping the least encoding (exact; exponential only for large symmetric groups). */
export function canonicalKey(t: Traversal): string {
  const n = t.types.length;
  const preds = t.preds.map((p) => [...new Set(p)]);
  const succ = successors({ types: t.types, preds });
  let best: string | null = null;
  const encode = (c: readonly number[]): string => {
    const order = c.map((_, i) => i).sort((a, b) => c[a]! - c[b]!);
    const pos = new Array<number>(n);
    order.forEach((v, k) => (pos[v] = k));
    return order
      .map(
        (v) =>
          `${t.types[v]}<${preds[v]!.map((j) => pos[j]!)
            .sort((a, b) => a - b)
            .join(',')}>`,
      )
      .join(' ');
  };
  const search = (colors: number[]): void => {
    const c = refine(colors, preds, succ);
    if (cellCount(c) === n) {
      const e = encode(c);
      if (best === null || e < best) best = e;
      return;
    }
    // First cell (least colour) with more than one node.
    const count = new Map<number, number>();
    for (const x of c) count.set(x, (count.get(x) ?? 0) + 1);
    let cell = Infinity;
    for (const [x, k] of count) if (k > 1 && x < cell) cell = x;
    for (let v = 0; v < n; v++) {
      if (c[v] !== cell) continue;
      search(rank(c.map((x, i) => `${x.toString().padStart(6, '0')}${i === v ? 'a' : 'b'}`)));
    }
  };
  search(rank(t.types as string[]));
  return best!;
}

/** A traversal in flow notation when it is a tree (`A;[B;C||D]`), otherwise its edges. */
export function formatTraversal(t: Traversal): string {
  const succ = successors(t);
  const isTree = t.preds.every((p) => new Set(p).size <= 1);
  const source = t.preds.findIndex((p) => p.length === 0);
  if (isTree && source >= 0) {
    const show = (v: number): string => {
      const kids = succ[v]!.map(show).sort();
      if (kids.length === 0) return t.types[v]!;
      if (kids.length === 1) return `${t.types[v]};${kids[0]}`;
      return `${t.types[v]};[${kids.join('||')}]`;
    };
    return show(source);
  }
  const edges: string[] = [];
  t.preds.forEach((p, i) => p.forEach((j) => edges.push(`${t.types[j]}#${j}->${t.types[i]}#${i}`)));
  return `{${edges.join(', ')}}`;
}
