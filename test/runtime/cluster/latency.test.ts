import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { LatencyHistogram, WarmedUpRecorder } from '../../../runtime/cluster/latency.ts';

describe('LatencyHistogram', () => {
  it('quantiles are within 1% of the exact ones', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 1, max: 1e7, noNaN: true }), { minLength: 1, maxLength: 500 }),
        fc.double({ min: 0.01, max: 1, noNaN: true }),
        (values, q) => {
          const h = new LatencyHistogram();
          for (const v of values) h.recordUs(v);
          const sorted = [...values].sort((a, b) => a - b);
          const exact = sorted[Math.max(1, Math.ceil(q * values.length)) - 1]!;
          const got = h.quantileUs(q);
          expect(got).toBeGreaterThanOrEqual(exact * 0.999);
          expect(got).toBeLessThanOrEqual(exact * 1.0101);
        },
      ),
    );
  });

  it('merging equals recording into one', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 0, max: 1e6, noNaN: true })),
        fc.array(fc.double({ min: 0, max: 1e6, noNaN: true })),
        (a, b) => {
          const ha = new LatencyHistogram();
          const hb = new LatencyHistogram();
          const both = new LatencyHistogram();
          for (const v of a) {
            ha.recordUs(v);
            both.recordUs(v);
          }
          for (const v of b) {
            hb.recordUsWithCount(v, 1);
            both.recordUs(v);
          }
          ha.merge(JSON.parse(JSON.stringify(hb.toJSON())));
          expect(ha.summary()).toEqual(both.summary());
        },
      ),
    );
  });
});

describe('WarmedUpRecorder', () => {
  it('records only what comes warmupMs after the first record, and counts what it left out', () => {
    let now = 1000;
    const h = new LatencyHistogram();
    const r = new WarmedUpRecorder(h, () => now, 50);
    r.recordUs(900); // the first record starts the warm-up
    now = 1049;
    r.recordUsWithCount(800, 3);
    expect(h.count).toBe(0);
    expect(r.skipped).toBe(4);
    now = 1050;
    r.recordUsWithCount(20, 2);
    now = 5000;
    r.recordUs(30);
    expect(h.count).toBe(3);
    expect(h.summary().maxUs).toBe(30);
    expect(r.skipped).toBe(4);
  });
});
