import { describe, expect, it } from 'vitest';
import { TlaError } from '../../../tla/errors.ts';
import { parseModuleText } from '../../../tla/parse/index.ts';
import { unclosedBrackets } from '../../../tla/parse/syntax.ts';
import { moduleText } from './helpers.ts';

/** The TlaError thrown by parsing `text` (fails the test when none is thrown). */
async function errorOf(text: string): Promise<TlaError> {
  try {
    await parseModuleText(text, 'E.tla');
  } catch (e) {
    if (e instanceof TlaError) return e;
    throw e;
  }
  throw new Error(`expected an error for:\n${text}`);
}

describe('syntax errors', () => {
  it('reports the offending token with its place', async () => {
    const e = await errorOf(moduleText('A == \\E x \\in S x\nB == 1'));
    expect(e.kind).toBe('parse');
    expect(e.message).toBe('syntax error near "x"');
    expect(e.loc).toEqual({ file: 'E.tla', line: 2, col: 17 });
    expect(e.describe()).toBe('E.tla:2:17: syntax error near "x"');
  });

  it('reports a missing token where it was expected', async () => {
    const e = await errorOf(moduleText('A == [x \\in S |-> ]'));
    expect(e.kind).toBe('parse');
    expect(e.message).toMatch(/^syntax error near "\]"/);
    expect(e.loc).toEqual({ file: 'E.tla', line: 2, col: 18 });
  });

  it('reports a stray token after a complete definition', async () => {
    const e = await errorOf(moduleText("VARIABLE x\nA == x' = 1 )"));
    expect(e.message).toBe('syntax error near ")"');
    expect(e.loc).toEqual({ file: 'E.tla', line: 3, col: 13 });
  });

  it('reports an unterminated module at the end of the file', async () => {
    const e = await errorOf('---- MODULE E ----\nA == 1\n');
    expect(e.kind).toBe('parse');
    expect(e.message).toMatch(/^syntax error at end of file/);
    expect(e.loc).toEqual({ file: 'E.tla', line: 2, col: 7 });
  });

  it('rejects text without a module', async () => {
    const e = await errorOf('just some words');
    expect(e.kind).toBe('parse');
    expect(e.message).toMatch(/no module found/);
  });

  it('ignores text the grammar cannot read inside comments', async () => {
    const m = await parseModuleText(moduleText('(* --algorithm broken {{{ *)\n\\* ) ] }\nA == 1'), 'E.tla');
    expect(m.definitions).toHaveLength(1);
  });

  it('rejects malformed literals', async () => {
    const e = await errorOf(moduleText('A == "bad \\q escape"'));
    expect(e.kind).toBe('parse');
    expect(e.message).toMatch(/unknown escape sequence \\q/);
    expect(e.loc).toEqual({ file: 'E.tla', line: 2, col: 6 });
  });
});

describe('unsupported constructs', () => {
  const cases: [string, RegExp, number][] = [
    ['A == 1.5', /real number literal 1\.5 is not supported/, 6],
    ['A == x -+-> y', /-\+-> .* is not supported/, 8],
    ['A == Op!@', /selector !@ in the subexpression reference Op!@ is not supported/, 9],
    ['A == <1>2', /proof step reference <1>2 is not supported/, 6],
    ['A == 99999999999999999999', /too large/, 6],
  ];
  for (const [src, msg, col] of cases) {
    it(`names the construct and its place: ${src}`, async () => {
      const e = await errorOf(moduleText(src));
      expect(e.kind).toBe('unsupported');
      expect(e.message).toMatch(msg);
      expect(e.loc).toEqual({ file: 'E.tla', line: 2, col });
    });
  }

  it('reports an unsupported construct nested deep inside a definition', async () => {
    const e = await errorOf(moduleText('A == LET B == {x \\in S : x -+-> 2}\n     IN B'));
    expect(e.kind).toBe('unsupported');
    expect(e.loc).toEqual({ file: 'E.tla', line: 2, col: 28 });
  });
});

describe('precedence conflicts (rejected by TLA+, read somehow by the grammar)', () => {
  // The place reported is the operator whose operand breaks the rule.
  const conflicts: [string, number][] = [
    ['a /\\ b \\/ c', 13],
    ['S \\cup T \\cap U', 15],
    ['S \\ T \\cup U', 12],
    ['a = b = c', 12],
    ['a => b => c', 13],
    ['a * b / c', 12],
    ['a + b % c', 8],
    ['SUBSET S \\X T', 15],
    ['DOMAIN f + 1', 15],
    ['SUBSET (S) \\X T', 17],
    ['x + y % 2', 8],
    ['a \\/ b /\\ c /\\ d', 13],
    ["ENABLED y'", 15],
    ["UNCHANGED (x)'", 19],
    ['ENABLED A = B', 16],
  ];
  for (const [src, col] of conflicts) {
    it(`rejects ${src}`, async () => {
      const e = await errorOf(moduleText(`A == ${src}`));
      expect(e.kind).toBe('parse');
      expect(e.message).toMatch(/^precedence conflict between .* add parentheses$/);
      expect(e.loc).toEqual({ file: 'E.tla', line: 2, col });
    });
  }

  it('accepts associative chains and operators of separate ranges', async () => {
    const ok = [
      'a + b + c',
      'a - b - c',
      'a + b - c',
      'f @@ g @@ h',
      'a :> 1 @@ b :> 2',
      '~a = b',
      '-a + b',
      'A \\X B \\X C',
      'a .. b + 1',
      '[]P => <>Q',
      'a \\/ (b /\\ c)',
      'DOMAIN f \\cup g',
      'SUBSET S \\cup T',
      '~(a = b) = c',
      "-y'",
      "~y'",
      "ENABLED (y')",
      "(UNCHANGED x)'",
    ];
    for (const src of ok)
      await expect(parseModuleText(moduleText(`A == ${src}`), 'E.tla'), src).resolves.toBeDefined();
  });
});

describe('unclosed brackets', () => {
  it('are named in the syntax error', async () => {
    const e = await errorOf(moduleText('A == {1, 2\nB == 2'));
    expect(e.message).toMatch(/the "\{" at 2:6 is never closed/);
    const f = await errorOf(moduleText('A == <<1, (2\nB == 2'));
    expect(f.message).toMatch(/the "\(" at 2:11 is never closed/);
  });

  it('are found outside strings and comments only', () => {
    const text =
      '(( free text before\n---- MODULE M ----\nA == "(" \\* (\n(* ( (* nested ( *) *)\nB == [x \\in {1} |-> <<x, (x)>>]\nC == {\n====';
    const open = unclosedBrackets(text);
    expect(open.map((b) => b.text)).toEqual(['{']);
    expect(text.slice(open[0]!.index - 5, open[0]!.index + 1)).toBe('C == {');
  });

  it('gives no hint when the brackets balance', async () => {
    const e = await errorOf(moduleText('A == {1, 2 3}'));
    expect(e.message).toBe('syntax error near "3}"');
  });
});

describe('text after the module', () => {
  it('is ignored, even when it would not parse', async () => {
    const m = await parseModuleText(
      '---- MODULE E ----\nA == 1\n====\nfree text ( [ \\/ /\\\n---- MODULE F ----\nB == (\n====\n',
      'E.tla',
    );
    expect(m.name).toBe('E');
    expect(m.definitions).toHaveLength(1);
  });
});
