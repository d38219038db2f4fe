// The flow notation's abstract syntax (see runtime/flow/README.md for the notation and its
// meaning). Trees are normalised by the parser: a sequence holds at least two items and never a
// sequence, a group holds at least two branches unless it has a count, and plain brackets
// (`[A;B]` inside a sequence, `[A]`) leave no trace.

/** A worker type: a step name of the application. */
export interface NameFlow {
  readonly kind: 'name';
  readonly name: string;
}

/** `@`: the origin worker joined again (see the README for which worker is the origin). */
export interface RelayFlow {
  readonly kind: 'relay';
}

/** `X;Y;...`: at least two items, none of them a sequence. */
export interface SeqFlow {
  readonly kind: 'seq';
  readonly items: readonly Flow[];
}

/** `[X||Y||...]`: every branch is taken; at least two branches. */
export interface ForkFlow {
  readonly kind: 'fork';
  readonly branches: readonly Flow[];
}

/** `[X|Y|...]`: exactly one branch is taken; at least two branches. */
export interface ChoiceFlow {
  readonly kind: 'choice';
  readonly branches: readonly Flow[];
}

/** `[X|Y|...](min,max)`: between `min` and `max` of the branches are taken, in parallel;
 * 0 <= min <= max, 1 <= max <= branches.length; one branch or more. */
export interface InclusiveFlow {
  readonly kind: 'inclusive';
  readonly branches: readonly Flow[];
  readonly min: number;
  readonly max: number;
}

export type GroupFlow = ForkFlow | ChoiceFlow | InclusiveFlow;
export type Flow = NameFlow | RelayFlow | SeqFlow | GroupFlow;

export const name = (n: string): NameFlow => ({ kind: 'name', name: n });
export const relay: RelayFlow = Object.freeze({ kind: 'relay' });

/** A sequence of items, flattened (nested sequences are spliced in); one item is itself. */
export function seq(items: readonly Flow[]): Flow {
  const flat: Flow[] = [];
  for (const it of items) {
    if (it.kind === 'seq') flat.push(...it.items);
    else flat.push(it);
  }
  if (flat.length === 0) throw new RangeError('seq: a sequence needs at least one item');
  return flat.length === 1 ? flat[0]! : { kind: 'seq', items: flat };
}

export function isGroup(f: Flow): f is GroupFlow {
  return f.kind === 'fork' || f.kind === 'choice' || f.kind === 'inclusive';
}

/** The items of a flow read as a sequence (a non-sequence is a sequence of one). */
export function itemsOf(f: Flow): readonly Flow[] {
  return f.kind === 'seq' ? f.items : [f];
}

/** Worker types named in a flow, in order of first appearance. */
export function workerTypes(f: Flow): string[] {
  const out = new Set<string>();
  const walk = (g: Flow): void => {
    if (g.kind === 'name') out.add(g.name);
    else if (g.kind === 'seq') g.items.forEach(walk);
    else if (isGroup(g)) g.branches.forEach(walk);
  };
  walk(f);
  return [...out];
}

/** Structural equality of two flows. */
export function flowEquals(a: Flow, b: Flow): boolean {
  if (a.kind !== b.kind) return false;
  switch (a.kind) {
    case 'name':
      return a.name === (b as NameFlow).name;
    case 'relay':
      return true;
    case 'seq':
      return listEquals(a.items, (b as SeqFlow).items);
    case 'fork':
    case 'choice':
      return listEquals(a.branches, (b as ForkFlow | ChoiceFlow).branches);
    case 'inclusive': {
      const c = b as InclusiveFlow;
      return a.min === c.min && a.max === c.max && listEquals(a.branches, c.branches);
    }
  }
}

function listEquals(a: readonly Flow[], b: readonly Flow[]): boolean {
  return a.length === b.length && a.every((x, i) => flowEquals(x, b[i]!));
}
