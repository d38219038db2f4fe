// freezeState reads an array's elements before freezing it (frozen arrays read slowly in V8):
// arrays are still frozen deeply, cycles end, and bad elements are refused with their path.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { StateShapeError, freezeState } from '../../../runtime/engine/frozen-state.ts';

function allFrozen(v: unknown): boolean {
  if (typeof v !== 'object' || v === null) return true;
  if (!Object.isFrozen(v)) return false;
  return Object.values(v).every(allFrozen);
}

describe('freezeState on arrays', () => {
  it('freezes nested arrays and objects, all levels', () => {
    const json = fc.letrec((tie) => ({
      v: fc.oneof(
        { depthSize: 'small' },
        fc.integer(),
        fc.string(),
        fc.array(tie('v')),
        fc.dictionary(fc.string(), tie('v')),
      ),
    })).v;
    fc.assert(
      fc.property(json, (v) => {
        const copy = structuredClone(v);
        expect(freezeState(copy, 'st')).toBe(copy);
        expect(allFrozen(copy)).toBe(true);
        expect(copy).toEqual(v);
      }),
    );
  });

  it('a cycle through an array ends; a bad element is refused with its path', () => {
    const a: unknown[] = [1, { x: 2 }];
    a.push(a);
    expect(() => freezeState(a, 'st')).not.toThrow();
    expect(Object.isFrozen(a) && allFrozen(a[1])).toBe(true);
    expect(() => freezeState([1, [2, new Map()]], 'st')).toThrow(StateShapeError);
    expect(() => freezeState([1, [2, new Map()]], 'st')).toThrow(/a Map at state\[1\]\[1\]/);
    expect(() => freezeState({ f: [() => 1] }, 'st')).toThrow(/function at state\.f\[0\]/);
  });
});
