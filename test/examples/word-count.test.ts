import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import wordCount, { DEFAULT_TEXT, splitWords, topWords } from '../../examples/word-count.ts';
import { generateCorpus } from '../../bench/corpus.ts';
import {
  clearMemoryConnectors,
  memorySinkPayloads,
  setMemorySource,
} from '../../runtime/connectors/index.ts';
import { MemoryDeadLetterSink } from '../../runtime/engine/dead-letters.ts';
import { runEmbedded } from '../../runtime/engine/embedded.ts';
import { createSystemClock } from '../../runtime/system.ts';
import type { Logger } from '../../runtime/types.ts';

const clock = createSystemClock();
const silent: Logger = { info: () => undefined, warn: () => undefined, error: () => undefined };
afterEach(() => clearMemoryConnectors());

/** Naive reference: regular expressions, written independently of splitWords. */
function referenceCounts(lines: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const line of lines) {
    for (const token of line.toLowerCase().match(/[\p{L}\p{N}']+/gu) ?? []) {
      const w = token.replace(/^'+|'+$/g, '');
      if (w) counts.set(w, (counts.get(w) ?? 0) + 1);
    }
  }
  return counts;
}

async function runWordCount(
  lines: readonly string[],
  batch = 64,
): Promise<{ updates: string[]; top: string | undefined }> {
  setMemorySource('wc-in', lines, batch);
  const s = await runEmbedded(
    wordCount({ source: 'memory:wc-in', sink: 'memory:wc-out', params: { top: '5' } }),
    {
      clock,
      log: silent,
      deadLetters: new MemoryDeadLetterSink(),
    },
  );
  expect(s.metrics.deadLetters).toBe(0);
  return { updates: memorySinkPayloads('wc-out').map(String), top: s.finishText };
}

/** Checks the update stream: per word, counts 1, 2, ..., n in order; returns the finals. */
function finalsFromUpdates(updates: readonly string[]): Map<string, number> {
  const last = new Map<string, number>();
  for (const u of updates) {
    const sp = u.lastIndexOf(' ');
    const w = u.slice(0, sp);
    const n = Number(u.slice(sp + 1));
    expect(n).toBe((last.get(w) ?? 0) + 1);
    last.set(w, n);
  }
  return last;
}

const token = fc.oneof(
  fc.constantFrom(
    'The',
    'the',
    'THE',
    "don't",
    "'tis",
    "rock'n'roll'",
    "''",
    'o’clock',
    'naïve',
    'Straße',
    'ÉCOLE',
    'x2',
    '1984',
    '😀',
    '—',
    '...',
    ',',
  ),
  fc.string({ unit: 'grapheme-ascii', maxLength: 8 }),
  fc.string({ unit: 'grapheme', maxLength: 4 }),
);
const lineArb = fc.array(token, { maxLength: 12 }).map((t) => t.join(' '));

describe('word count example', () => {
  it('counts exactly as a naive reference on random texts', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(lineArb, { maxLength: 60 }),
        fc.integer({ min: 1, max: 20 }),
        async (lines, batch) => {
          clearMemoryConnectors();
          const { updates } = await runWordCount(lines, batch);
          const ref = referenceCounts(lines);
          expect(finalsFromUpdates(updates)).toEqual(ref);
          expect(updates.length).toBe([...ref.values()].reduce((a, b) => a + b, 0));
        },
      ),
      { numRuns: 80 },
    );
  });

  it('splitWords agrees with the reference on random lines', () => {
    fc.assert(
      fc.property(lineArb, (line) => {
        const mine = new Map<string, number>();
        for (const w of splitWords(line)) mine.set(w, (mine.get(w) ?? 0) + 1);
        expect(mine).toEqual(referenceCounts([line]));
      }),
      { numRuns: 500 },
    );
  });

  it('counts the bundled text and reports its top words', async () => {
    const text = readFileSync(DEFAULT_TEXT, 'utf8');
    const lines = text.split('\n');
    const { updates, top } = await runWordCount(lines, 256);
    const ref = referenceCounts(lines);
    expect(finalsFromUpdates(updates)).toEqual(ref);
    const best = [...ref].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, 5);
    const asStates = [...ref].map(([w, n]) => [w, n] as const);
    expect(topWords(asStates, 5)).toEqual(best.map(([word, count]) => ({ word, count })));
    for (const [w, n] of best) expect(top).toMatch(new RegExp(`\\b${w}\\s+${n}\\b`));
  });

  it('generates the same corpus for the same seed and different ones for others', () => {
    const a = generateCorpus({ words: 5000, seed: 3 });
    expect(generateCorpus({ words: 5000, seed: 3 })).toBe(a);
    expect(generateCorpus({ words: 5000, seed: 4 })).not.toBe(a);
    expect(referenceCounts(a.split('\n')).size).toBeGreaterThan(100);
    expect([...referenceCounts(a.split('\n')).values()].reduce((x, y) => x + y, 0)).toBe(5000);
  });

  it('with no words says so instead of "top 0 words"; with top=0 says nothing', async () => {
    const empty = await runWordCount(['', '  ', '...']);
    expect(empty.updates).toEqual([]);
    expect(empty.top).toBe('no words counted (worker embedded)');
    setMemorySource('wc-top0', ['a b a']);
    const s = await runEmbedded(
      wordCount({ source: 'memory:wc-top0', sink: 'count:', params: { top: '0' } }),
      {
        clock,
        log: silent,
        deadLetters: new MemoryDeadLetterSink(),
      },
    );
    expect(s.metrics.sunk).toBe(3);
    expect(s.finishText).toBeUndefined();
  });

  it('rejects a bad parameter naming it', () => {
    expect(() => wordCount({ params: { top: 'lots' } })).toThrow(/--param top \(given "lots"\)/);
  });
});
