import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { FrameDecoder, FrameError, encodeFrame, encodeFrames } from '../../../runtime/net/framing.ts';

const payloads = fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 30 });

/** Cuts `bytes` at the given (sorted, deduplicated) points. */
function cut(bytes: Uint8Array, points: number[]): Uint8Array[] {
  const at = [...new Set(points.map((p) => p % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const p of at) {
    out.push(bytes.subarray(prev, p));
    prev = p;
  }
  out.push(bytes.subarray(prev));
  return out;
}

function decodeAll(chunks: Uint8Array[], maxFrameBytes?: number): Uint8Array[] {
  const d = new FrameDecoder({ connection: 'test', maxFrameBytes });
  const got: Uint8Array[] = [];
  for (const c of chunks) d.push(c, (p) => got.push(Uint8Array.from(p)));
  d.end();
  return got;
}

describe('framing', () => {
  it('round-trips arbitrary frames cut at arbitrary points', () => {
    fc.assert(
      fc.property(payloads, fc.array(fc.nat(), { maxLength: 40 }), (ps, points) => {
        const stream = encodeFrames(ps);
        const got = decodeAll(cut(stream, points));
        expect(got.map((g) => Buffer.from(g).toString('hex'))).toEqual(
          ps.map((p) => Buffer.from(p).toString('hex')),
        );
      }),
      { numRuns: 300 },
    );
  });

  it('round-trips byte by byte', () => {
    const ps = [new Uint8Array([1, 2, 3]), new Uint8Array(0), Buffer.from('hello world')];
    const stream = encodeFrames(ps);
    const chunks = Array.from(stream, (b) => Uint8Array.of(b));
    expect(decodeAll(chunks).map((g) => Buffer.from(g).toString())).toEqual(
      ps.map((p) => Buffer.from(p).toString()),
    );
  });

  it('hands out views of the chunk when the frame lies inside it', () => {
    const stream = encodeFrames([Buffer.from('abc'), Buffer.from('defg')]);
    const d = new FrameDecoder({ connection: 'test' });
    const got: Uint8Array[] = [];
    d.push(stream, (p) => got.push(p));
    expect(got).toHaveLength(2);
    expect(got[0]!.buffer).toBe(stream.buffer);
    expect(Buffer.from(got[1]!).toString()).toBe('defg');
  });

  it('encodeFrame equals encodeFrames of one payload', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (p) => {
        expect(Buffer.compare(encodeFrame(p), encodeFrames([p]))).toBe(0);
      }),
    );
  });

  it('rejects an over-size frame, naming the connection and byte offset', () => {
    const stream = encodeFrames([new Uint8Array(10), new Uint8Array(101)]);
    const d = new FrameDecoder({ connection: 'data channel from w2', maxFrameBytes: 100 });
    let frames = 0;
    let error: unknown;
    try {
      d.push(stream, () => frames++);
    } catch (e) {
      error = e;
    }
    expect(frames).toBe(1);
    expect(error).toBeInstanceOf(FrameError);
    const fe = error as FrameError;
    expect(fe.kind).toBe('oversize');
    expect(fe.byteOffset).toBe(14);
    expect(fe.message).toContain('data channel from w2');
    expect(fe.message).toContain('byte offset 14');
    expect(fe.message).toContain('101 bytes exceeds maxFrameBytes 100');
    // The decoder stays failed.
    expect(() => d.push(new Uint8Array(1), () => frames++)).toThrow(FrameError);
  });

  it('rejects an over-size frame whose header is split across chunks', () => {
    const stream = encodeFrame(new Uint8Array(200));
    const d = new FrameDecoder({ connection: 'c', maxFrameBytes: 199 });
    d.push(stream.subarray(0, 2), () => {});
    expect(() => d.push(stream.subarray(2, 5), () => {})).toThrow(/exceeds maxFrameBytes 199/);
  });

  it('reports a truncated frame at end of stream', () => {
    fc.assert(
      fc.property(payloads, fc.uint8Array({ minLength: 1, maxLength: 50 }), fc.nat(), (ps, last, cutAt) => {
        const whole = encodeFrames([...ps, last]);
        const prefixLen = whole.length - 4 - last.length;
        // Cut somewhere strictly inside the last frame.
        const keep = prefixLen + 1 + (cutAt % (4 + last.length - 1));
        const d = new FrameDecoder({ connection: 'conn X' });
        let n = 0;
        d.push(whole.subarray(0, keep), () => n++);
        expect(n).toBe(ps.length);
        let err: unknown;
        try {
          d.end();
        } catch (e) {
          err = e;
        }
        expect(err).toBeInstanceOf(FrameError);
        expect((err as FrameError).kind).toBe('truncated');
        expect((err as FrameError).byteOffset).toBe(prefixLen);
        expect((err as FrameError).message).toContain('conn X');
      }),
      { numRuns: 200 },
    );
  });

  it('validates maxFrameBytes', () => {
    expect(() => new FrameDecoder({ connection: 'c', maxFrameBytes: 0 })).toThrow(/maxFrameBytes/);
    expect(() => new FrameDecoder({ connection: 'c', maxFrameBytes: 1.5 })).toThrow(/maxFrameBytes/);
  });
});
