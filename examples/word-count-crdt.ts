// Word count on an OR-Map of counters (runtime/state): exact counts over at-least-once delivery.
// Each word's state is its entry of the map `all-words` (an OR-Map entry holding a G-Counter);
// the update is keyed by the message id, so a message delivered twice (a resend, a replay) is
// the identity transition: no new state, no output. The map is sharded by word over the
// partitions, one entry per state; `allWords(view)` assembles it at the end.
//
//   buffy run examples/word-count-crdt.ts                  (the bundled text, counting sink)
//   buffy run examples/word-count-crdt.ts --source file:t.txt --sink stdout: --param top=20
//
// The counter assumes what the engine gives a state step: the messages of one source reach a
// key in order (duplicates anywhere). For deliveries reordered within a source, use
// `orMap(entryCounter({ window }))` (runtime/state/README.md).
import { GCounterType, defineApp, orMap, parseParams, stringCodec, z } from 'buffy';
import type { AppOptions, Application, FinishView, GCounter, ORMap, ORMapEntry } from 'buffy';
import { DEFAULT_TEXT, splitWords, topWords } from './word-count.ts';
import type { WordCount } from './word-count.ts';

/** The map word -> counter. */
export const AllWords = orMap(GCounterType);

type Entry = ORMapEntry<GCounter>;

/** The `all-words` map of a finished run, from the entries of the state step `counts`. */
export function allWords(view: FinishView): ORMap<GCounter> {
  return AllWords.fromEntries(view.states<Entry>('counts'));
}

const paramsSchema = z.object({
  top: z.coerce
    .number()
    .int('must be an integer')
    .min(0, 'must be >= 0')
    .max(10000, 'must be <= 10000')
    .default(10),
  partitions: z.coerce.number().int('must be an integer').min(1).max(65536).default(128),
});

export default function wordCountCrdt(options: AppOptions): Application {
  const params = parseParams(paramsSchema, options.params);
  const app = defineApp('word-count-crdt', { partitions: params.partitions });
  app
    .source('lines', { uri: options.source ?? `file:${DEFAULT_TEXT}`, decode: stringCodec })
    .flatMap('split', splitWords)
    .state('counts', {
      key: (word: string) => word,
      init: () => AllWords.entry.empty(),
      update: (entry: Entry, word: string, emit: (u: WordCount) => void, _key, id) => {
        const next = AllWords.entry.update(entry, id, 1);
        // A duplicate returns `entry` itself: nothing to emit, the identity transition.
        if (next !== entry) emit({ word, count: AllWords.entry.value(next)! });
        return next;
      },
      codec: stringCodec,
    })
    .sink('updates', { uri: options.sink ?? 'count:', encode: (u: WordCount) => `${u.word} ${u.count}` });
  app.onFinish((view) => {
    if (params.top === 0) return;
    const top = topWords(Object.entries(AllWords.value(allWords(view))), params.top);
    if (top.length === 0) return `no words counted (worker ${view.workerName})`;
    const width = Math.max(4, ...top.map((t) => t.word.length));
    const lines = top.map((t, i) => `${String(i + 1).padStart(3)}. ${t.word.padEnd(width)} ${t.count}`);
    return [`top ${top.length} words (worker ${view.workerName}):`, ...lines].join('\n');
  });
  return app.build();
}
