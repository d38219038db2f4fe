// The wrappers runtime/metrics puts around the engine's seams: the outlet that times the waits
// on peers (backpressure), and the dead-letter sink that counts per step.
import { describe, expect, it } from 'vitest';
import { CountingDeadLetters, TimedOutlet } from '../../runtime/metrics/index.ts';
import { createManualClock } from '../../runtime/system.ts';
import type { DeadLetter, DeadLetterSink, RemoteBatch, RemoteOutlet } from '../../runtime/types.ts';

const batch: RemoteBatch = {
  step: 's',
  fromWorker: 'w1',
  source: [0],
  offset: [0],
  sub: [0],
  bornMs: [0],
  partition: [0],
  payloads: ['x'],
};

describe('TimedOutlet', () => {
  it('counts the time during which at least one send waits, overlapping waits once', async () => {
    const clock = createManualClock();
    const waiting: Array<() => void> = [];
    const inner: RemoteOutlet = {
      send: (w) => (w === 'fast' ? undefined : new Promise<void>((r) => waiting.push(r))),
    };
    const out = new TimedOutlet(inner, clock);
    expect(out.send('fast', batch)).toBeUndefined();
    const a = out.send('slow', batch)!;
    clock.advance(100);
    const b = out.send('slow', batch)!;
    clock.advance(50);
    expect(out.backpressureSeconds).toBeCloseTo(0.15, 9);
    waiting[0]!();
    await a;
    clock.advance(50);
    waiting[1]!();
    await b;
    clock.advance(1000);
    expect(out.backpressureSeconds).toBeCloseTo(0.2, 9);
  });

  it('passes a failed send on, and stops counting', async () => {
    const clock = createManualClock();
    const out = new TimedOutlet({ send: () => Promise.reject(new Error('peer gone')) }, clock);
    await expect(out.send('w2', batch)).rejects.toThrow('peer gone');
    clock.advance(500);
    expect(out.backpressureSeconds).toBe(0);
  });
});

describe('CountingDeadLetters', () => {
  it('counts per step, the stage in parentheses removed, and writes every letter on', async () => {
    const written: DeadLetter[] = [];
    const inner: DeadLetterSink = {
      write: (l) => written.push(l),
      get count() {
        return written.length;
      },
      close: async () => undefined,
    };
    const dl = new CountingDeadLetters(inner);
    const letter = (step: string): DeadLetter => ({
      worker: 'w1',
      step,
      messageId: '0:1',
      error: 'E',
      payloadExcerpt: '',
      timeMs: 0,
    });
    for (const s of ['counts (key)', 'counts', 'lines (decode)', 'a step (with parens) (encode)'])
      dl.write(letter(s));
    expect(Object.fromEntries(dl.perStep)).toEqual({ counts: 2, lines: 1, 'a step (with parens)': 1 });
    expect(dl.count).toBe(4);
    expect(written.length).toBe(4);
  });
});
