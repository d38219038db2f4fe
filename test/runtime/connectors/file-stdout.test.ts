import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { FileSource } from '../../../runtime/connectors/file.ts';
import { StdoutSink } from '../../../runtime/connectors/stdout.ts';
import { createSystemClock } from '../../../runtime/system.ts';
import type { Logger } from '../../../runtime/types.ts';

const dir = mkdtempSync(join(tmpdir(), 'buffy-file2-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function fakeStdout(fail: boolean): { stream: NodeJS.WriteStream; text: () => string } {
  let text = '';
  const w = new Writable({
    highWaterMark: 64,
    write(chunk: Buffer, _enc, cb) {
      if (fail) {
        const err = Object.assign(new Error('write EPIPE'), { code: 'EPIPE' });
        cb(err);
        return;
      }
      text += chunk.toString();
      setImmediate(cb);
    },
  });
  return { stream: w as unknown as NodeJS.WriteStream, text: () => text };
}

describe('stdout sink', () => {
  it('writes lines in order across backpressure', async () => {
    const out = fakeStdout(false);
    const warnings: string[] = [];
    const log: Logger = { info: () => undefined, warn: (m) => warnings.push(m), error: () => undefined };
    const sink = new StdoutSink('stdout:', log, out.stream);
    const expected: string[] = [];
    for (let b = 0; b < 50; b++) {
      const payloads = Array.from({ length: 20 }, (_, i) => `${b}.${i}`);
      expected.push(...payloads);
      await sink.write({ payloads });
    }
    await sink.close();
    expect(out.text()).toBe(`${expected.join('\n')}\n`);
    expect(warnings).toEqual([]);
  });

  it('a closed pipe (EPIPE) ends the output with one warning; later writes are dropped, not errors', async () => {
    const out = fakeStdout(true);
    const warnings: string[] = [];
    const log: Logger = { info: () => undefined, warn: (m) => warnings.push(m), error: () => undefined };
    const sink = new StdoutSink('stdout:', log, out.stream);
    await sink.write({ payloads: ['x'.repeat(100)] });
    await new Promise((r) => setImmediate(r));
    await sink.write({ payloads: ['a', 'b'] });
    await sink.close();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/sink "stdout:": standard output closed \(EPIPE\)/);
    expect(sink.dropped).toBe(2);
  });
});

describe('file source on a multi-megabyte file with default settings', () => {
  it('streams every line with its line number', async () => {
    const n = 120_000;
    const lines = Array.from({ length: n }, (_, i) => `line ${i} ${'é'.repeat(i % 7)} ${'x'.repeat(i % 40)}`);
    const p = join(dir, 'big.txt');
    writeFileSync(p, lines.join('\n'));
    const src = new FileSource(`file:${p}`, p);
    let count = 0;
    let batches = 0;
    let ok = true;
    await src.run({
      sourceName: 'in',
      workerName: 'w',
      clock: createSystemClock(),
      log: { info: () => undefined, warn: () => undefined, error: () => undefined },
      signal: new AbortController().signal,
      emit: async (b) => {
        batches++;
        b.payloads.forEach((line, i) => {
          if (line !== lines[b.firstOffset + i]) ok = false;
        });
        count += b.payloads.length;
      },
    });
    expect(ok).toBe(true);
    expect(count).toBe(n);
    expect(batches).toBeGreaterThanOrEqual(n / 256);
  });
});
