import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TlaError } from '../../../tla/errors.ts';
import { parseModuleText } from '../../../tla/parse/index.ts';
import { corpusDir, describeWithCorpus } from '../shared.ts';

/** Corpus modules to damage (read when the corpus is present). */
const sampleFiles = [
  'expr-25-junctions-comments/Junctions.tla',
  'expr-16-let-if-case/Calculator.tla',
  'expr-22-instance/Instances.tla',
  'check-19-pluscal-mutex/Peterson.tla',
  'expr-24-unicode-tictactoe/TicTacToe.tla',
];

const fragments = [
  '(',
  ')',
  '[',
  ']',
  '{',
  '}',
  '<<',
  '>>',
  '/\\',
  '\\/',
  '==',
  ',',
  ':',
  'IN',
  'LET',
  'EXCEPT',
  '!',
  '@',
  '"',
  '(*',
  '*)',
  '\\*',
  '====',
  '\n',
  '1.5',
  'THEN',
  '->',
  '|->',
  '_',
  "'",
];

describeWithCorpus('damaged input', () => {
  it('is always answered with a TlaError that has a place inside the file, never a crash', async () => {
    const samples = sampleFiles.map((rel) => ({
      rel,
      text: fs.readFileSync(path.join(corpusDir, rel), 'utf8'),
    }));
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...samples),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.nat({ max: 12 }),
        fc.constantFrom(...fragments),
        async (sample, where, cut, insert) => {
          const at = Math.floor(where * sample.text.length);
          const text = sample.text.slice(0, at) + insert + sample.text.slice(at + cut);
          const lines = text.split('\n').length;
          try {
            await parseModuleText(text, sample.rel);
          } catch (e) {
            expect(e).toBeInstanceOf(TlaError);
            const err = e as TlaError;
            expect(['parse', 'unsupported']).toContain(err.kind);
            expect(err.loc).not.toBeNull();
            expect(err.loc!.file).toBe(sample.rel);
            expect(err.loc!.line).toBeGreaterThanOrEqual(1);
            expect(err.loc!.line).toBeLessThanOrEqual(lines + 1);
            expect(err.loc!.col).toBeGreaterThanOrEqual(1);
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('large and deep input', () => {
  it('converts a long left-nested operator chain without exhausting the stack', async () => {
    const n = 3000;
    const m = await parseModuleText(
      `---- MODULE Long ----\nA == ${Array.from({ length: n }, (_, i) => `x${i}`).join(' + ')}\n====`,
      'Long.tla',
    );
    const a = m.definitions[0]!;
    if (a.kind !== 'opDef') throw new Error('expected an operator definition');
    let e = a.body;
    let depth = 0;
    while (e.kind === 'apply' && e.op === '+') {
      e = e.args[0]!;
      depth++;
    }
    expect(depth).toBe(n - 1);
    expect(e).toMatchObject({ kind: 'name', name: 'x0' });
  });

  it('answers nesting too deep to convert with a TlaError, not a crash', async () => {
    const n = 5000;
    const text = `---- MODULE Deep ----\nA == ${'('.repeat(n)}1${')'.repeat(n)}\n====`;
    try {
      const m = await parseModuleText(text, 'Deep.tla');
      expect(m.definitions[0]).toMatchObject({ kind: 'opDef', body: { kind: 'num', value: 1 } });
    } catch (e) {
      expect(e).toBeInstanceOf(TlaError);
      expect((e as TlaError).kind).toBe('unsupported');
      expect((e as TlaError).message).toMatch(/nests expressions too deeply/);
    }
  });
});
