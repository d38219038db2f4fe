// The StepMeter and the worker registry on embedded runs: per-step counts equal what the app
// did (messages through each step, dead letters per step), latency histograms count every
// message and merge exactly, and the Prometheus text carries it all.
import { describe, expect, it } from 'vitest';
import * as hdr from 'hdr-histogram-js';
import { defineApp, jsonCodec, stringCodec } from '../../runtime/index.ts';
import { runEmbedded } from '../../runtime/engine/embedded.ts';
import { MemoryDeadLetterSink } from '../../runtime/engine/dead-letters.ts';
import { memorySinkPayloads, setMemorySource } from '../../runtime/connectors/index.ts';
import { createSystemClock } from '../../runtime/system.ts';
import {
  createWorkerMetering,
  mergeHistograms,
  encodeHistogram,
  newLatencyHistogram,
} from '../../runtime/metrics/index.ts';
import { parsePrometheusText, sum } from './cluster.ts';

function app(tag: string) {
  const a = defineApp(`meter-${tag}`, { partitions: 8 });
  a.source('in', { uri: `memory:${tag}`, decode: stringCodec })
    .map('num', (s: string) => {
      if (s === 'bad') throw new Error('not a number');
      return Number(s);
    })
    .filter('even', (n: number) => n % 2 === 0)
    .state('sum', {
      key: (n: number) => n % 4,
      init: () => 0,
      update: (acc: number, n: number, emit: (x: number) => void) => {
        emit(acc + n);
        return acc + n;
      },
      codec: jsonCodec<number>(),
    })
    .sink('out', { uri: `memory:${tag}-out`, encode: (n: number) => String(n) });
  return a.build();
}

describe('StepMeter on an embedded run', () => {
  it('counts messages in and out per step and dead letters per step', async () => {
    const lines: string[] = [];
    for (let i = 0; i < 1000; i++) lines.push(i % 100 === 7 ? 'bad' : String(i));
    setMemorySource('m1', lines, 64);
    const a = app('m1');
    const clock = createSystemClock();
    const log = { info: () => undefined, warn: () => undefined, error: () => undefined };
    const metering = createWorkerMetering({ app: a, worker: 'embedded', clock, processMetrics: false });
    const summary = await runEmbedded(a, {
      clock,
      log,
      deadLetters: metering.deadLetters(new MemoryDeadLetterSink(log)),
      observer: metering.observer,
    });
    const bad = lines.filter((l) => l === 'bad').length;
    const evens = lines.filter((l) => l !== 'bad' && Number(l) % 2 === 0).length;
    const steps = Object.fromEntries(metering.observer.steps.map((s) => [s.name, s]));
    expect(steps.in!.messagesOut).toBe(1000);
    expect(steps.num!.messagesIn).toBe(1000);
    expect(steps.num!.messagesOut).toBe(1000 - bad);
    expect(steps.even!.messagesIn).toBe(1000 - bad);
    expect(steps.even!.messagesOut).toBe(evens);
    expect(steps.sum!.messagesIn).toBe(evens);
    expect(steps.out!.messagesIn).toBe(memorySinkPayloads('m1-out').length);
    expect(steps.out!.messagesIn).toBe(summary.metrics.sunk);
    expect(steps.out!.fromSource.totalCount).toBe(evens);
    expect(steps.sum!.toSink.totalCount).toBe(evens);
    expect(steps.in!.fromSource.totalCount).toBe(0);

    metering.attach({ metrics: () => summary.metrics });
    const samples = parsePrometheusText(await metering.metrics.text());
    expect(sum(samples, 'buffy_step_dead_letters_total', { step: 'num' })).toBe(bad);
    expect(sum(samples, 'buffy_step_dead_letters_total', { step: 'even' })).toBe(0);
    expect(sum(samples, 'buffy_step_messages_in_total', { step: 'in' })).toBe(1000);
    expect(sum(samples, 'buffy_worker_dead_letters_total')).toBe(bad);
    expect(sum(samples, 'buffy_state_messages_applied_total', { step: 'sum' })).toBe(evens);
    const quantiles = samples
      .filter((s) => s.name === 'buffy_step_latency_from_source_seconds' && s.labels.step === 'out')
      .map((s) => s.labels.quantile);
    expect(quantiles).toEqual(['0.5', '0.95', '0.99', '0.999', '0.9999']);
    expect(samples.every((s) => s.labels.pipeline === 'meter-m1' && s.labels.worker === 'embedded')).toBe(
      true,
    );
  });
});

describe('latency histograms', () => {
  it('merge exactly: the merged percentiles are those of all values recorded in one', () => {
    const a = newLatencyHistogram();
    const b = newLatencyHistogram();
    const all = newLatencyHistogram();
    let x = 12345;
    for (let i = 0; i < 5000; i++) {
      x = (x * 1103515245 + 12345) % 2 ** 31;
      const v = 1 + (x % 100_000);
      (i % 3 === 0 ? a : b).recordValue(v);
      all.recordValue(v);
    }
    const merged = mergeHistograms([encodeHistogram(a), encodeHistogram(b)]);
    expect(merged.totalCount).toBe(5000);
    for (const p of [50, 95, 99, 99.9, 99.99])
      expect(merged.getValueAtPercentile(p)).toBe(all.getValueAtPercentile(p));
    expect(hdr.decodeFromCompressedBase64(encodeHistogram(all)).totalCount).toBe(5000);
  });
});
