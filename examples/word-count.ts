// Word count: lines -> words (lowercase; letters, digits and apostrophes) -> a state step keyed
// by word that counts -> each update "word count" to the sink. At the end the top words are
// printed (parameter `top`, default 10).
//
//   buffy run examples/word-count.ts                       (the bundled text, counting sink)
//   buffy run examples/word-count.ts --source file:t.txt --sink stdout: --param top=20
import { fileURLToPath } from 'node:url';
import { defineApp, parseParams, stringCodec, z } from 'buffy';
import type { AppOptions, Application, Key } from 'buffy';

export const DEFAULT_TEXT = fileURLToPath(new URL('../data/word-count-sample.txt', import.meta.url));

const NON_ASCII_WORD_CHAR = /^[\p{L}\p{N}]$/u;

/** Splits a line into lowercase words: maximal runs of letters, digits and apostrophes, with
 * apostrophes trimmed from both ends ("'tis" -> "tis", "don't" stays). */
export function splitWords(line: string): string[] {
  const s = line.toLowerCase();
  const out: string[] = [];
  const n = s.length;
  let start = -1;
  for (let i = 0; i <= n; i++) {
    let word = false;
    let width = 1;
    if (i < n) {
      const c = s.charCodeAt(i);
      if ((c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 39) word = true;
      else if (c >= 128) {
        const cp = s.codePointAt(i)!;
        width = cp > 0xffff ? 2 : 1;
        word = NON_ASCII_WORD_CHAR.test(String.fromCodePoint(cp));
      }
    }
    if (word) {
      if (start < 0) start = i;
      i += width - 1;
      continue;
    }
    if (start >= 0) {
      let a = start;
      let b = i;
      while (a < b && s.charCodeAt(a) === 39) a++;
      while (b > a && s.charCodeAt(b - 1) === 39) b--;
      if (b > a) out.push(s.slice(a, b));
      start = -1;
    }
  }
  return out;
}

export interface WordCount {
  readonly word: string;
  readonly count: number;
}

/** The `count` largest entries, ties broken by word (ascending). */
export function topWords(entries: Iterable<readonly [Key, number]>, count: number): WordCount[] {
  const all: WordCount[] = [];
  for (const [k, n] of entries) all.push({ word: String(k), count: n });
  all.sort((x, y) => y.count - x.count || (x.word < y.word ? -1 : x.word > y.word ? 1 : 0));
  return all.slice(0, count);
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

export default function wordCount(options: AppOptions): Application {
  const params = parseParams(paramsSchema, options.params);
  const app = defineApp('word-count', { partitions: params.partitions });
  app
    .source('lines', { uri: options.source ?? `file:${DEFAULT_TEXT}`, decode: stringCodec })
    .flatMap('split', splitWords)
    .state('counts', {
      key: (word: string) => word,
      // The state of a word is its count: a number, the cheapest state (nothing to freeze).
      init: () => 0,
      update: (count: number, word: string, emit: (u: WordCount) => void) => {
        emit({ word, count: count + 1 });
        return count + 1;
      },
      codec: stringCodec,
    })
    .sink('updates', { uri: options.sink ?? 'count:', encode: (u: WordCount) => `${u.word} ${u.count}` });
  // The paths a message may take (`buffy flow check` compares it with the topology; `--trace`
  // checks live messages against it).
  app.flow('lines;split;counts;updates');
  app.onFinish((view) => {
    if (params.top === 0) return;
    const top = topWords(view.states<number>('counts'), params.top);
    if (top.length === 0) return `no words counted (worker ${view.workerName})`;
    const width = Math.max(4, ...top.map((t) => t.word.length));
    const lines = top.map((t, i) => `${String(i + 1).padStart(3)}. ${t.word.padEnd(width)} ${t.count}`);
    return [`top ${top.length} words (worker ${view.workerName}):`, ...lines].join('\n');
  });
  return app.build();
}
