// Count of counts: two state steps in a row. Word count (lines -> words -> `counts`, keyed by
// word), whose every update "word reached n" goes to a second state step, `tally`, keyed by n,
// that counts how many words have reached n so far; each of its updates "the k-th word to reach
// n" goes to the sink as `n<n> <k>`. `tally`'s keys are partitioned over the workers like
// `counts`' keys, so in a cluster most updates cross from one worker's `counts` to another's
// `tally`: with exactly-once they go through the outbox between the two (docs/exactly-once.md,
// "State -> state"). The sink's lines for a key n are `n<n> 1` ... `n<n> K` where K is the
// number of words that occur at least n times: whatever the order of the words, a run without a
// duplicate or a gap writes exactly those (test/integration/exactly-once-chain.test.ts checks it
// under SIGKILLs). At the end the largest tallies are printed (parameter `top`, default 10).
//
//   buffy run examples/count-of-counts.ts --sink stdout: --param top=5
//   buffy run examples/count-of-counts.ts --workers 3 --param exactlyOnce=false   (at-least-once)
import { defineApp, parseParams, payloadToString, stringCodec, z } from 'buffy';
import type { AppOptions, Application } from 'buffy';
import { DEFAULT_TEXT, splitWords } from './word-count.ts';

interface Reached {
  readonly word: string;
  readonly count: number;
}

interface Tally {
  readonly count: number;
  readonly words: number;
}

const paramsSchema = z.object({
  top: z.coerce.number().int('must be an integer').min(0, 'must be >= 0').max(10000).default(10),
  partitions: z.coerce.number().int('must be an integer').min(1).max(65536).default(64),
  /** `false`: at-least-once even where workers have stores (to measure what exactly-once costs). */
  exactlyOnce: z.enum(['true', 'false']).default('true'),
});

export default function countOfCounts(options: AppOptions): Application {
  const params = parseParams(paramsSchema, options.params);
  const app = defineApp('count-of-counts', {
    partitions: params.partitions,
    exactlyOnce: params.exactlyOnce === 'true',
  });
  app
    .source('lines', { uri: options.source ?? `file:${DEFAULT_TEXT}`, decode: stringCodec })
    .flatMap('split', splitWords)
    .state('counts', {
      key: (word: string) => word,
      init: () => 0,
      update: (count: number, word: string, emit: (r: Reached) => void) => {
        emit({ word, count: count + 1 });
        return count + 1;
      },
      codec: stringCodec,
    })
    .state('tally', {
      key: (r: Reached) => r.count,
      init: () => 0,
      update: (words: number, r: Reached, emit: (t: Tally) => void) => {
        emit({ count: r.count, words: words + 1 });
        return words + 1;
      },
      codec: {
        name: 'reached',
        encode: (r: Reached) => `${r.count} ${r.word}`,
        decode: (b) => {
          const s = payloadToString(b);
          const sp = s.indexOf(' ');
          return { count: Number(s.slice(0, sp)), word: s.slice(sp + 1) };
        },
      },
    })
    .sink('tallies', { uri: options.sink ?? 'count:', encode: (t: Tally) => `n${t.count} ${t.words}` });
  app.flow('lines;split;counts;tally;tallies');
  app.onFinish((view) => {
    if (params.top === 0) return;
    const all = [...view.states<number>('tally')].map(([n, k]) => [Number(n), k] as const);
    all.sort((a, b) => a[0] - b[0]);
    const shown = all.slice(0, params.top);
    if (shown.length === 0) return `no tallies (worker ${view.workerName})`;
    return [
      `words reaching a count (worker ${view.workerName}):`,
      ...shown.map(([n, k]) => `  ${String(n).padStart(5)}: ${k}`),
    ].join('\n');
  });
  return app.build();
}
