// State of a state step is a value: the engine freezes every state it commits, so an update
// cannot change a committed state in place, and a failed update (one that throws) leaves no
// trace. States are plain data: primitives, plain objects (prototype Object.prototype or null)
// and arrays, nested. Maps, Sets, typed arrays, Dates, class instances and functions cannot be
// frozen soundly (their contents stay writable) and are refused with an error naming the step
// and the path of the offending value.
//
// Cost: an object that is already frozen is taken as deeply frozen and not walked again, so an
// update that returns `{ ...state, n: state.n + 1 }` pays for freezing the new top-level object
// and one `isFrozen` test per field; primitive states (numbers, strings) cost nothing.

export class StateShapeError extends TypeError {
  constructor(message: string) {
    super(message);
    this.name = 'StateShapeError';
  }
}

function describe(value: object): string {
  if (typeof value === 'function') return 'a function';
  const proto = Object.getPrototypeOf(value) as { constructor?: { name?: string } } | null;
  const name = proto?.constructor?.name;
  return name ? `a ${name}` : 'an object with a custom prototype';
}

/** A child to freeze or refuse: an object not yet frozen, or a function. Frozen children are
 * skipped here, before their path string (for error messages) is built: a state of 64 frozen
 * entries cost 64 string concatenations per commit otherwise. */
function needsWalk(c: unknown): boolean {
  return typeof c === 'function' || (typeof c === 'object' && c !== null && !Object.isFrozen(c));
}

function freezeAt(value: unknown, step: string, path: string): void {
  if (typeof value !== 'object' || value === null) {
    if (typeof value === 'function') {
      throw new StateShapeError(
        `state of step "${step}" holds a function at ${path}; state must be plain data (primitives, plain objects, arrays)`,
      );
    }
    return;
  }
  if (Object.isFrozen(value)) return;
  if (Array.isArray(value)) {
    // Read the elements before freezing: V8 reads a frozen array's elements on a slow path
    // (~10 ns each here, against ~2), so an array of 50 numbers cost ~0.5 us to commit.
    let kids: number[] | null = null;
    for (let i = 0; i < value.length; i++) {
      const c: unknown = value[i];
      if (needsWalk(c)) (kids ??= []).push(i);
    }
    Object.freeze(value); // before recursing: a cycle back to this array stops at isFrozen
    if (kids !== null) for (const i of kids) freezeAt(value[i], step, `${path}[${i}]`);
    return;
  }
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) {
    throw new StateShapeError(
      `state of step "${step}" holds ${describe(value)} at ${path}; state must be plain data (primitives, plain objects, arrays), since the engine freezes it to undo failed updates: use a plain object or an array instead`,
    );
  }
  Object.freeze(value);
  for (const k in value) {
    const c: unknown = (value as Record<string, unknown>)[k];
    if (needsWalk(c)) freezeAt(c, step, `${path}.${k}`);
  }
}

/** Freezes a state deeply (stopping at objects already frozen) and returns it; throws a
 * StateShapeError naming `step` and the path when the state is not plain data. */
export function freezeState<S>(state: S, step: string): S {
  if (typeof state === 'object' || typeof state === 'function') freezeAt(state, step, 'state');
  return state;
}
