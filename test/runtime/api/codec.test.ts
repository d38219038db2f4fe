import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bytesCodec, jsonCodec, payloadToString, stringCodec } from '../../../runtime/api/codec.ts';

describe('codecs', () => {
  it('string codec: identity on strings, UTF-8 for bytes', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), (s) => {
        expect(stringCodec.decode(stringCodec.encode(s))).toBe(s);
        expect(stringCodec.decode(Buffer.from(s, 'utf8'))).toBe(s);
        expect(payloadToString(new TextEncoder().encode(s))).toBe(s);
      }),
    );
  });

  it('JSON codec round-trips plain data, from strings and from bytes', () => {
    const codec = jsonCodec<unknown>();
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        const enc = codec.encode(v);
        const norm = JSON.parse(JSON.stringify(v));
        expect(codec.decode(enc)).toEqual(norm);
        expect(codec.decode(Buffer.from(String(enc), 'utf8'))).toEqual(norm);
      }),
    );
    expect(() => codec.decode('{oops')).toThrow(SyntaxError);
  });

  it('bytes codec keeps bytes and encodes strings as UTF-8', () => {
    fc.assert(
      fc.property(fc.uint8Array(), (b) => {
        expect([...bytesCodec.decode(bytesCodec.encode(b))]).toEqual([...b]);
      }),
    );
    expect([...bytesCodec.decode('é')]).toEqual([0xc3, 0xa9]);
  });
});
