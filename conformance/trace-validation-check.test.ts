// sameState (conformance/trace-validation-check.ts): the validators' stutter test settles
// identical objects and differing scalars first; what it answers must still be the equality of
// every variable.
import { describe, expect, it } from 'vitest';
import { setOfValues, tuple } from '../tla/values.ts';
import { sameState } from './trace-validation-check.ts';

describe('sameState', () => {
  const fold = tuple([0, 1, 1, 0]);
  it('is true for the same objects and equal scalars', () => {
    expect(sameState([1, fold, 'a', true], [1, fold, 'a', true])).toBe(true);
  });
  it('compares values that are equal but not the same object', () => {
    expect(sameState([1, tuple([0, 1]), setOfValues([2, 1])], [1, tuple([0, 1]), setOfValues([1, 2])])).toBe(
      true,
    );
    expect(sameState([1, tuple([0, 1])], [1, tuple([0, 2])])).toBe(false);
  });
  it('is false when a scalar differs, whatever the long values hold', () => {
    expect(sameState([tuple([0, 1]), 3], [tuple([0, 1]), 4])).toBe(false);
    expect(sameState([fold, true], [fold, false])).toBe(false);
  });
  it('is false for values TLA+ cannot compare and for states of another length', () => {
    expect(sameState([1], ['1'])).toBe(false);
    expect(sameState([tuple([1])], [setOfValues([1])])).toBe(false);
    expect(sameState([1, 2], [1])).toBe(false);
  });
});
