// Pieces of runtime/cluster/local.ts that need no processes: the line forwarding that keeps the
// workers' stdout lines whole, and the closing report of a local cluster's files.
import { PassThrough, Writable } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { defineApp } from '../../../runtime/api/app.ts';
import { stringCodec } from '../../../runtime/api/codec.ts';
import { describeOutputs, forwardLines, localWorkerNames } from '../../../runtime/cluster/local.ts';

/** A writable that collects what it is given, as written (one entry per write). */
function collector(): { out: Writable; writes: Buffer[] } {
  const writes: Buffer[] = [];
  const out = new Writable({
    write(chunk: Buffer, _enc, cb) {
      writes.push(chunk);
      cb();
    },
  });
  return { out, writes };
}

describe('forwardLines', () => {
  it('several outputs cut anywhere and interleaved: every write holds whole lines, each source in order', async () => {
    const line = fc.stringMatching(/^[a-z0-9 ]{0,20}$/);
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(line, { maxLength: 30 }), { minLength: 1, maxLength: 4 }),
        fc.array(fc.nat(), { maxLength: 200 }),
        async (sources, choices) => {
          const { out, writes } = collector();
          const streams = sources.map(() => new PassThrough());
          const done = streams.map((s) => forwardLines(s, out));
          // Each source's bytes, tagged by source, cut at points the choices pick.
          const bytes = sources.map((lines, i) => Buffer.from(lines.map((l) => `${i}:${l}\n`).join('')));
          const at = bytes.map(() => 0);
          let c = 0;
          while (at.some((a, i) => a < bytes[i]!.length)) {
            const open = at.map((_, i) => i).filter((i) => at[i]! < bytes[i]!.length);
            const i = open[(choices[c++ % Math.max(1, choices.length)] ?? 0) % open.length]!;
            const n = 1 + ((choices[c++ % Math.max(1, choices.length)] ?? 7) % 9);
            streams[i]!.write(bytes[i]!.subarray(at[i]!, at[i]! + n));
            at[i]! += n;
            await new Promise((r) => setImmediate(r));
          }
          for (const s of streams) s.end();
          await Promise.all(done);
          for (const w of writes) expect(w[w.length - 1]).toBe(10);
          const got = Buffer.concat(writes).toString().split('\n').slice(0, -1);
          sources.forEach((lines, i) => {
            expect(got.filter((l) => l.startsWith(`${i}:`))).toEqual(lines.map((l) => `${i}:${l}`));
          });
          expect(got).toHaveLength(sources.flat().length);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('passes on a last line without a newline at the end', async () => {
    const { out, writes } = collector();
    const s = new PassThrough();
    const done = forwardLines(s, out);
    s.write('a\nb');
    s.end('c');
    await done;
    expect(Buffer.concat(writes).toString()).toBe('a\nbc');
  });

  it('a closed output is reported once and the rest is dropped, without stalling the source', async () => {
    const errors: string[] = [];
    const out = new Writable({
      highWaterMark: 1,
      write(_chunk, _enc, cb) {
        cb(Object.assign(new Error('broken pipe'), { code: 'EPIPE' }));
      },
    });
    const s = new PassThrough();
    const done = forwardLines(s, out, (err) => errors.push(err.message));
    for (let i = 0; i < 100; i++) s.write(`line ${i}\n`);
    s.end();
    await done;
    expect(errors).toEqual(['broken pipe']);
  });
});

describe('describeOutputs', () => {
  const app = (() => {
    const a = defineApp('outs');
    const lines = a.source('in', { uri: 'memory:x', decode: stringCodec });
    lines.sink('updates', { uri: 'file:out/c.txt', encode: stringCodec });
    lines.sink('counted', { uri: 'count:', encode: stringCodec });
    return a.build();
  })();
  const names = localWorkerNames(3);

  it("names every worker's file of a file: sink, and the dead-letter files that have letters", () => {
    const summary = {
      exitCode: 0,
      workers: [
        { name: 'w1', metrics: { deadLetters: 0 } },
        { name: 'w2', metrics: { deadLetters: 1 } },
        { name: 'w3', metrics: { deadLetters: 4 } },
      ],
    };
    expect(describeOutputs(app, names, 'dl/x.jsonl', summary)).toEqual([
      'sink "updates" wrote one file per worker: out/c.w1.txt, out/c.w2.txt, out/c.w3.txt',
      '5 dead letters: dl/x.w2.jsonl (1), dl/x.w3.jsonl (4)',
    ]);
  });

  it('says nothing of dead letters when there are none, or no summary came', () => {
    expect(describeOutputs(undefined, names, 'x.jsonl', null)).toEqual([]);
    const one = {
      exitCode: 0,
      workers: [
        { name: 'w1', metrics: { deadLetters: 1 } },
        { name: 'w2', metrics: null },
      ],
    };
    expect(describeOutputs(undefined, names, 'x.jsonl', one)).toEqual(['1 dead letter: x.w1.jsonl (1)']);
  });
});
