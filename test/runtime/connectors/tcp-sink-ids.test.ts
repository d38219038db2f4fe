// `tcp:HOST:PORT?ids=1` sinks put an id in front of each output; `buffy receive --check`
// (startReceiver with check) writes each id once and reports repeats and gaps.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { TcpSink, parseTcpUri } from '../../../runtime/connectors/tcp.ts';
import { IdCheck } from '../../../runtime/cluster/id-check.ts';
import { startReceiver } from '../../../runtime/cluster/tools.ts';
import type { Clock, ConnectorContext, Logger } from '../../../runtime/types.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'buffy-tcp-ids-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const clock: Clock = {
  nowMs: () => Date.now(),
  nowNs: () => process.hrtime.bigint(),
  monotonicMs: () => performance.now(),
  setTimer: (ms, fn) => setTimeout(fn, ms) as unknown as number,
  clearTimer: (h) => clearTimeout(h as unknown as NodeJS.Timeout),
};
const log: Logger = { info: () => {}, warn: () => {}, error: () => {} };
const frame = (s: string) => Buffer.from(s);

describe('IdCheck', () => {
  it('finds exactly the repeats and the missing output ids of each worker (against a naive model)', () => {
    const arb = fc.array(fc.tuple(fc.constantFrom('w1', 'w2', 'w3'), fc.integer({ min: 1, max: 40 })), {
      maxLength: 120,
    });
    fc.assert(
      fc.property(arb, (ids) => {
        const check = new IdCheck();
        const written: string[] = [];
        for (const [w, n] of ids) {
          const out = check.take(frame(`o:${w}:${n}\tv${w}${n}`));
          if (out) written.push(Buffer.from(out).toString());
        }
        const seen = new Map<string, Set<number>>();
        let repeats = 0;
        const expectWritten: string[] = [];
        for (const [w, n] of ids) {
          const s = seen.get(w) ?? new Set<number>();
          seen.set(w, s);
          if (s.has(n)) repeats++;
          else {
            s.add(n);
            expectWritten.push(`v${w}${n}`);
          }
        }
        const missing: string[] = [];
        for (const w of [...seen.keys()].sort())
          for (let n = 1; n <= Math.max(...seen.get(w)!); n++)
            if (!seen.get(w)!.has(n)) missing.push(`${w}:${n}`);
        const r = check.report();
        expect(written).toEqual(expectWritten);
        expect(r.duplicates).toBe(repeats);
        expect(r.missing).toBe(missing.length);
        const fromGaps = r.gaps.flatMap((g) =>
          Array.from({ length: g.through - g.from + 1 }, (_, i) => `${g.worker}:${g.from + i}`),
        );
        expect(fromGaps).toEqual(missing);
      }),
    );
  });

  it('message ids: repeats only; frames without an id are kept and counted', () => {
    const check = new IdCheck();
    expect(check.take(frame('m:0:5/1\ta'))).not.toBeNull();
    expect(check.take(frame('m:0:5/1\ta'))).toBeNull();
    expect(Buffer.from(check.take(frame('plain line'))!).toString()).toBe('plain line');
    const r = check.report();
    expect(r).toMatchObject({ distinct: 1, duplicates: 1, unlabelled: 1, missing: 0 });
    expect(r.lines[0]).toMatch(/1 repeated id dropped \(message ids: 1\); no gap; 1 frames without an id/);
  });
});

describe('tcp sink with ids=1 and buffy receive --check', () => {
  it('parses ids=1 and refuses other options', () => {
    const uri = (rest: string) => ({ raw: `tcp:${rest}`, scheme: 'tcp', rest });
    expect(parseTcpUri(uri('127.0.0.1:9?ids=1'), 'sink')).toMatchObject({ ids: true });
    expect(() => parseTcpUri(uri('127.0.0.1:9?ids=yes'), 'sink')).toThrow(/ids must be 0 or 1, got 'yes'/);
    expect(() => parseTcpUri(uri('127.0.0.1:9?ids=1'), 'source')).toThrow(
      /unknown option 'ids' \(known: end-after=N, max-batch=N\)/,
    );
  });

  it('output ids from the outbox: a resend after a crash is dropped, a lost output is a gap', async () => {
    const out = path.join(tmp, 'ids.txt');
    const receiver = await startReceiver({
      listen: { host: '127.0.0.1', port: 0 },
      out,
      log: () => {},
      check: true,
    });
    const ctx: ConnectorContext = { workerName: 'w1', clock, log, exactlyOnce: true };
    const sink = new TcpSink('tcp:x', receiver.address, ctx, { ids: true });
    expect(sink.resumable).toBeDefined();
    await sink.write({ payloads: ['a', 'b', 'c'], firstOutputId: 1 });
    // The worker crashed before recording 2..3 as written: the outbox is written again.
    await sink.write({ payloads: ['b', 'c', 'd'], firstOutputId: 2 });
    await sink.write({ payloads: [Buffer.from('g')], firstOutputId: 7 }); // 5..6 never came
    expect(await sink.resumable!.settle(false)).toBe(7);
    await sink.close();
    await new Promise((r) => setTimeout(r, 100));
    const counts = await receiver.close();
    expect(fs.readFileSync(out, 'utf8')).toBe('a\nb\nc\nd\ng\n');
    expect(counts.check).toMatchObject({ distinct: 5, duplicates: 2, missing: 2 });
    expect(counts.check!.lines).toEqual([
      'buffy receive --check: 5 distinct outputs from 1 worker; 2 repeated ids dropped (w1: 2); 2 missing in 1 gap',
      '  gap: worker w1, output ids 5..6',
    ]);
  });

  it('at-least-once (no outbox): message ids; plain sinks are not affected', async () => {
    const out = path.join(tmp, 'mids.txt');
    const receiver = await startReceiver({
      listen: { host: '127.0.0.1', port: 0 },
      out,
      log: () => {},
      check: true,
    });
    const ctx: ConnectorContext = { workerName: 'w2', clock, log };
    const sink = new TcpSink('tcp:x', receiver.address, ctx, { ids: true });
    expect(sink.resumable).toBeUndefined();
    const ids = { source: [0, 0], offset: [3, 4], sub: [0, 0] };
    await sink.write({ payloads: ['x', 'y'], ids });
    await sink.write({ payloads: ['x'], ids: { source: [0], offset: [3], sub: [0] } });
    await sink.close();
    await new Promise((r) => setTimeout(r, 100));
    const counts = await receiver.close();
    expect(fs.readFileSync(out, 'utf8')).toBe('x\ny\n');
    expect(counts.check).toMatchObject({ distinct: 2, duplicates: 1, missing: 0 });
  });
});
