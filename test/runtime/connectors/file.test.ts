import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { FileSink, FileSource, filePathOfUri } from '../../../runtime/connectors/file.ts';
import { createSink, createSource, parseConnectorUri } from '../../../runtime/connectors/index.ts';
import { createSystemClock } from '../../../runtime/system.ts';
import type { Logger, SourceBatch, SourceContext } from '../../../runtime/types.ts';

const dir = mkdtempSync(join(tmpdir(), 'buffy-file-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const silent: Logger = { info: () => undefined, warn: () => undefined, error: () => undefined };
const clock = createSystemClock();
let fileNo = 0;

function fileWith(content: string | Buffer): string {
  const p = join(dir, `f${fileNo++}.txt`);
  writeFileSync(p, content);
  return p;
}

async function readAll(
  src: FileSource,
  onBatch?: (b: SourceBatch) => void,
): Promise<{ lines: string[]; offsets: number[] }> {
  const lines: string[] = [];
  const offsets: number[] = [];
  const ctx: SourceContext = {
    sourceName: 'in',
    workerName: 'w',
    clock,
    log: silent,
    signal: new AbortController().signal,
    emit: async (b) => {
      onBatch?.(b);
      b.payloads.forEach((p, i) => {
        lines.push(String(p));
        offsets.push(b.offsets ? b.offsets[i]! : b.firstOffset + i);
      });
    },
  };
  await src.run(ctx);
  return { lines, offsets };
}

/** What a file's lines are, by definition (independent of the connector's code path). */
function expectedLines(text: string): string[] {
  if (text === '') return [];
  const parts = text.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  if (text.endsWith('\n')) parts.pop();
  return parts;
}

describe('file source', () => {
  it.each([
    ['an empty file', ''],
    ['one line without newline', 'last'],
    ['a trailing newline', 'a\nb\n'],
    ['CRLF and LF mixed, and empty lines', 'a\r\n\r\nb\n\nc\r\n'],
    ['a lone newline', '\n'],
    ['a final line without newline after CRLF', 'x\r\ny'],
  ])('reads %s', async (_what, text) => {
    const p = fileWith(text);
    const { lines, offsets } = await readAll(new FileSource(`file:${p}`, p));
    expect(lines).toEqual(expectedLines(text));
    expect(offsets).toEqual(lines.map((_, i) => i));
  });

  it('streams any text in any chunk size and batch size: lines and line-number offsets exact', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc
          .array(
            fc.oneof(
              fc.string({ unit: 'grapheme', maxLength: 12 }),
              fc.constantFrom('\n', '\r\n', 'é', '😀'),
            ),
            { maxLength: 40 },
          )
          .map((a) => a.join('')),
        fc.integer({ min: 1, max: 9 }),
        fc.integer({ min: 1, max: 5 }),
        async (text, chunkBytes, batchLines) => {
          const p = fileWith(text);
          let maxBatch = 0;
          const { lines, offsets } = await readAll(
            new FileSource(`file:${p}`, p, { chunkBytes, batchLines }),
            (b) => {
              maxBatch = Math.max(maxBatch, b.payloads.length);
            },
          );
          expect(lines).toEqual(expectedLines(text));
          expect(offsets).toEqual(lines.map((_, i) => i));
          expect(maxBatch).toBeLessThanOrEqual(batchLines);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('rejects an over-long line naming the file and the line number', async () => {
    const p = fileWith(`ok\n${'x'.repeat(5000)}\n`);
    await expect(
      readAll(new FileSource(`file:${p}`, p, { chunkBytes: 256, maxLineChars: 1000 })),
    ).rejects.toThrow(/line 2 is longer than 1000 characters/);
  });

  it('names the URI and the path when the file is missing', async () => {
    const p = join(dir, 'missing.txt');
    await expect(readAll(new FileSource(`file:${p}`, p))).rejects.toThrow(
      new RegExp(`source "file:${p}": cannot open`),
    );
  });

  it('stops early when asked, between batches', async () => {
    const p = fileWith(Array.from({ length: 1000 }, (_, i) => `line ${i}`).join('\n'));
    const src = new FileSource(`file:${p}`, p, { batchLines: 10 });
    let batches = 0;
    const { lines } = await readAll(src, () => {
      if (++batches === 3) void src.stop();
    });
    expect(lines.length).toBe(30);
  });

  it('is created from file: URIs, relative or absolute', () => {
    expect(filePathOfUri(parseConnectorUri('file:///tmp/x.txt'))).toBe('/tmp/x.txt');
    expect(filePathOfUri(parseConnectorUri('file:rel.txt'))).toBe(join(process.cwd(), 'rel.txt'));
    expect(() => filePathOfUri(parseConnectorUri('file:'))).toThrow(/missing path/);
    const ctx = { workerName: 'w', clock, log: silent };
    expect(createSource(`file:${dir}/a.txt`, ctx)).toBeInstanceOf(FileSource);
    expect(() => createSource('stdout:', ctx)).toThrow(/cannot be a source/);
    expect(() => createSink('nosuch:x', ctx)).toThrow(/no connector for scheme "nosuch:"/);
  });
});

describe('file sink', () => {
  it('writes one payload per line, strings and bytes, in order, and closes', async () => {
    const p = join(dir, 'out.txt');
    const sink = new FileSink(`file:${p}`, p);
    await sink.write({ payloads: ['a', 'b c'] });
    await sink.write({ payloads: [Buffer.from('bytes'), 'é'] });
    await sink.write({ payloads: [] });
    await sink.flush();
    await sink.close();
    expect(readFileSync(p, 'utf8')).toBe('a\nb c\nbytes\né\n');
    expect(() => sink.write({ payloads: ['late'] })).toThrow(/write after close/);
  });

  it('keeps every line of many batches under backpressure', async () => {
    const p = join(dir, 'big.txt');
    const sink = new FileSink(`file:${p}`, p);
    const expected: string[] = [];
    for (let b = 0; b < 200; b++) {
      const payloads = Array.from({ length: 500 }, (_, i) => `batch ${b} line ${i} ${'x'.repeat(20)}`);
      expected.push(...payloads);
      await sink.write({ payloads });
    }
    await sink.close();
    expect(readFileSync(p, 'utf8')).toBe(`${expected.join('\n')}\n`);
  });

  it('kept (exactly-once): each write is in the file when it returns, length() counts its bytes, truncate cuts back to a length', async () => {
    const p = join(dir, 'kept.txt');
    writeFileSync(p, 'old line\nold tail');
    const sink = new FileSink(`file:${p}`, p, false, true);
    const r = sink.resumable!;
    expect(r.length!()).toBe(Buffer.byteLength('old line\nold tail'));
    await r.truncate(9); // what a store committed: the first line
    expect(r.length!()).toBe(9);
    expect(sink.write({ payloads: ['é', Buffer.from('bytes')] })).toBeUndefined(); // no waiting
    expect(readFileSync(p, 'utf8')).toBe('old line\né\nbytes\n'); // before any flush
    expect(r.length!()).toBe(Buffer.byteLength('old line\né\nbytes\n'));
    expect(await r.settle(true)).toBe(r.length!());
    const n = r.length!();
    await expect(r.truncate(1000)).rejects.toThrow(
      new RegExp(`kept\\.txt holds ${n} bytes, fewer than the 1000 its store records as written`),
    );
    await sink.close();
    expect(() => sink.write({ payloads: ['late'] })).toThrow(/write after close/);
    // A plain sink starts its file afresh and has no resumable side.
    const plain = new FileSink(`file:${p}`, p);
    expect(plain.resumable).toBeUndefined();
    await plain.close();
    expect(readFileSync(p, 'utf8')).toBe('');
  });

  it('puts the worker name into a sink path holding {worker}', async () => {
    const sink = createSink(`file:${dir}/per-{worker}.txt`, { workerName: 'w7', clock, log: silent });
    await sink.write({ payloads: ['x'] });
    await sink.close();
    expect(readFileSync(join(dir, 'per-w7.txt'), 'utf8')).toBe('x\n');
  });

  it('names the path when it cannot open the file', () => {
    // Its folder would have to be made inside a file.
    const p = join(fileWith('a file, not a folder'), 'out.txt');
    expect(() => new FileSink(`file:${p}`, p)).toThrow(
      new RegExp(`sink "file:${p}": cannot open ${p} for writing`),
    );
  });

  it("creates the file's folder", async () => {
    const p = join(dir, 'new-dir', 'deeper', 'out.txt');
    const sink = new FileSink(`file:${p}`, p);
    await sink.write({ payloads: ['a', 'b'] });
    await sink.close();
    expect(readFileSync(p, 'utf8')).toBe('a\nb\n');
  });
});
