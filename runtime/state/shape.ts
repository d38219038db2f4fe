// Shape checks for decoded CRDT states (from JSON, the store or another worker): a state that
// does not have its type's shape is refused with an error naming the path, never half-used.

export class CrdtShapeError extends TypeError {
  constructor(message: string) {
    super(message);
    this.name = 'CrdtShapeError';
  }
}

export function checkPlainObject(data: unknown, path: string): Record<string, unknown> {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new CrdtShapeError(`${path}: expected an object, got ${describe(data)}`);
  }
  const proto: unknown = Object.getPrototypeOf(data);
  if (proto !== Object.prototype && proto !== null) {
    throw new CrdtShapeError(`${path}: expected a plain object`);
  }
  return data as Record<string, unknown>;
}

export function checkArray(data: unknown, path: string): unknown[] {
  if (!Array.isArray(data)) throw new CrdtShapeError(`${path}: expected an array, got ${describe(data)}`);
  return data;
}

export function checkNumber(data: unknown, path: string): number {
  if (typeof data !== 'number' || !Number.isFinite(data)) {
    throw new CrdtShapeError(`${path}: expected a finite number, got ${describe(data)}`);
  }
  return data;
}

/** Sorted, distinct strings. */
export function checkStringSet(data: unknown, path: string): readonly string[] {
  const a = checkArray(data, path);
  for (let i = 0; i < a.length; i++) {
    if (typeof a[i] !== 'string') throw new CrdtShapeError(`${path}[${i}]: expected a string`);
    if (i > 0 && !((a[i - 1] as string) < (a[i] as string))) {
      throw new CrdtShapeError(`${path}[${i}]: elements must be sorted and distinct`);
    }
  }
  return a as string[];
}

export function checkKeys(obj: Record<string, unknown>, keys: readonly string[], path: string): void {
  for (const k of keys) if (!(k in obj)) throw new CrdtShapeError(`${path}: missing field "${k}"`);
  for (const k in obj) {
    if (!keys.includes(k)) throw new CrdtShapeError(`${path}: unexpected field "${k}"`);
  }
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  const s = JSON.stringify(v);
  return typeof v === 'object'
    ? 'an object'
    : `${typeof v} ${s && s.length > 40 ? s.slice(0, 40) + '...' : s}`;
}
