import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { childSub, formatMessageId, subPath } from '../../../runtime/engine/ids.ts';

describe('message ids', () => {
  it('encodes short output paths exactly and decodes them back', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 1_000_000 }), { maxLength: 2 }), (path) => {
        const sub = path.reduce((s, i) => childSub(s, i), 0);
        expect(subPath(sub)).toEqual(path);
      }),
    );
  });

  it('gives distinct ids to the outputs of one message, at any depth, deterministically', () => {
    fc.assert(
      fc.property(fc.array(fc.nat(5000), { maxLength: 6 }), fc.integer({ min: 2, max: 300 }), (path, fan) => {
        const parent = path.reduce((s, i) => childSub(s, i), 0);
        const kids = Array.from({ length: fan }, (_, i) => childSub(parent, i));
        expect(new Set(kids).size).toBe(fan);
        for (const k of kids) expect(Number.isSafeInteger(k) && k >= 0).toBe(true);
        expect(Array.from({ length: fan }, (_, i) => childSub(parent, i))).toEqual(kids);
      }),
    );
  });

  it('formats ids for people', () => {
    expect(formatMessageId(2, 17, 0)).toBe('2:17');
    expect(formatMessageId(0, 5, childSub(childSub(0, 3), 0))).toBe('0:5/3/0');
  });
});
