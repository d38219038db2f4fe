import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TlaError } from '../../../tla/errors.ts';
import { parseModuleText } from '../../../tla/parse/index.ts';
import { corpusDir } from './helpers.ts';

const samples = [
  'expr-25-junctions-comments/Junctions.tla',
  'expr-16-let-if-case/Calculator.tla',
  'expr-22-instance/Instances.tla',
  'check-19-pluscal-mutex/Peterson.tla',
  'expr-24-unicode-tictactoe/TicTacToe.tla',
].map((rel) => ({ rel, text: fs.readFileSync(path.join(corpusDir, rel), 'utf8') }));

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

describe('damaged input', () => {
  it('is always answered with a TlaError that has a place inside the file, never a crash', async () => {
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
