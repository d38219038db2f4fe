// The `buffy send` <-> tcp: source frames (runtime/connectors/tcp-protocol.ts): every message
// survives encoding, framing and decoding with the byte stream cut anywhere; arbitrary bytes
// decode to a message or a ProtocolError, never anything else.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FrameDecoder } from '../../../runtime/net/framing.ts';
import {
  HELLO_MAGIC,
  ProtocolError,
  decodeHello,
  decodeSenderMessage,
  decodeSourceMessage,
  encodeBatch,
  encodeEnd,
  encodeHello,
  encodeSourceMessage,
  isHello,
} from '../../../runtime/connectors/tcp-protocol.ts';
import type { SenderMessage, SourceMessage } from '../../../runtime/connectors/tcp-protocol.ts';

const offset = fc.oneof(
  fc.integer({ min: -1, max: 1000 }),
  fc.constantFrom(2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1),
);
const nonNeg = fc.oneof(fc.integer({ min: 0, max: 1000 }), fc.constantFrom(2 ** 32, 2 ** 53 - 2));
const line = fc.uint8Array({ maxLength: 40 });

const senderMessage: fc.Arbitrary<SenderMessage> = fc.oneof(
  fc.record({
    kind: fc.constant('hello' as const),
    stream: fc.string({ minLength: 1, maxLength: 30 }),
    base: fc.option(nonNeg, { nil: null }),
    first: nonNeg,
  }),
  fc
    .record({
      seq: fc.integer({ min: 0, max: 2 ** 40 }),
      lines: fc.array(line, { minLength: 1, maxLength: 8 }),
    })
    .map(({ seq, lines }) => ({ kind: 'batch' as const, seq, lines })),
  fc.record({ kind: fc.constant('end' as const), length: nonNeg }),
);

const sourceMessage: fc.Arbitrary<SourceMessage> = fc.oneof(
  fc.record({ kind: fc.constant('welcome' as const), base: nonNeg, next: nonNeg, acked: offset }),
  fc.record({ kind: fc.constant('ack' as const), acked: offset }),
  fc.record({ kind: fc.constant('rewind' as const), next: nonNeg }),
  fc.record({ kind: fc.constant('busy' as const), reason: fc.string({ maxLength: 40 }) }),
  fc.record({ kind: fc.constant('fail' as const), reason: fc.string({ maxLength: 40 }) }),
);

function encodeSender(m: SenderMessage): Buffer {
  if (m.kind === 'hello') return encodeHello(m);
  if (m.kind === 'batch') return encodeBatch(m.seq, m.lines);
  return encodeEnd(m.length);
}

/** Feeds `bytes` cut at `cuts` through a FrameDecoder; returns the payloads (copied). */
function frames(bytes: Buffer, cuts: number[]): Uint8Array[] {
  const d = new FrameDecoder({ connection: 'test' });
  const out: Uint8Array[] = [];
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  let at = 0;
  for (const p of [...points, bytes.length]) {
    d.push(bytes.subarray(at, p), (payload) => out.push(Uint8Array.from(payload)));
    at = p;
  }
  d.end();
  return out;
}

function plain(m: SenderMessage | SourceMessage): unknown {
  return m.kind === 'batch' ? { ...m, lines: m.lines.map((l) => [...l]) } : m;
}

describe('tcp protocol frames', () => {
  it('sender messages survive encoding, a byte stream cut anywhere, and decoding', () => {
    fc.assert(
      fc.property(
        fc.array(senderMessage, { maxLength: 10 }),
        fc.array(fc.nat(), { maxLength: 6 }),
        (ms, cuts) => {
          const payloads = frames(Buffer.concat(ms.map(encodeSender)), cuts);
          expect(payloads).toHaveLength(ms.length);
          const got = payloads.map((p) => (isHello(p) ? decodeHello(p) : decodeSenderMessage(p)));
          expect(got.map(plain)).toEqual(ms.map(plain));
        },
      ),
    );
  });

  it('source messages survive encoding, a byte stream cut anywhere, and decoding', () => {
    fc.assert(
      fc.property(
        fc.array(sourceMessage, { maxLength: 10 }),
        fc.array(fc.nat(), { maxLength: 6 }),
        (ms, cuts) => {
          const got = frames(Buffer.concat(ms.map(encodeSourceMessage)), cuts).map(decodeSourceMessage);
          expect(got).toEqual(ms);
        },
      ),
    );
  });

  it('arbitrary or corrupted payloads decode to a message or a ProtocolError inside the payload', () => {
    const corrupt = fc.oneof(
      fc.uint8Array({ maxLength: 60 }),
      // A valid message with one byte changed, or cut short.
      fc
        .tuple(
          fc.oneof(senderMessage.map(encodeSender), sourceMessage.map(encodeSourceMessage)),
          fc.nat(),
          fc.nat(255),
        )
        .map(([b, i, v]) => {
          const p = Uint8Array.from(b.subarray(4));
          if (p.length > 0) p[i % p.length] = v;
          return p;
        }),
      fc
        .tuple(fc.oneof(senderMessage.map(encodeSender), sourceMessage.map(encodeSourceMessage)), fc.nat())
        .map(([b, n]) => Uint8Array.from(b.subarray(4, 4 + (n % (b.length - 3))))),
    );
    fc.assert(
      fc.property(corrupt, (p) => {
        for (const decode of [
          (x: Uint8Array) => (isHello(x) ? decodeHello(x) : decodeSenderMessage(x)),
          decodeSourceMessage,
        ]) {
          try {
            decode(p);
          } catch (err) {
            expect(err).toBeInstanceOf(ProtocolError);
            const at = (err as ProtocolError).at;
            expect(at).toBeGreaterThanOrEqual(0);
            expect(at).toBeLessThanOrEqual(p.length);
          }
        }
      }),
    );
  });

  it('says what is wrong with a batch whose line overruns it, and where', () => {
    const b = encodeBatch(7, [Buffer.from('abc'), Buffer.from('de')]).subarray(4);
    const cut = Uint8Array.from(b.subarray(0, b.length - 1));
    expect(() => decodeSenderMessage(cut)).toThrow(/BATCH: line 8 announces 2 bytes, only 1 follow/);
    try {
      decodeSenderMessage(cut);
    } catch (err) {
      expect((err as ProtocolError).at).toBe(9 + 4 + 3);
    }
    expect(() => decodeHello(Buffer.concat([HELLO_MAGIC, Buffer.from('{"version":2}')]))).toThrow(
      /HELLO: version must be 1/,
    );
    expect(isHello(Buffer.from('plain line'))).toBe(false);
  });
});
