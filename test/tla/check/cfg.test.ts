import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { parseCfg, printCfgValue as print, type CfgValue } from '../../../tla/check/cfg.ts';
import { TlaError } from '../../../tla/errors.ts';

import { corpusDir as corpus, itWithCorpus } from '../shared.ts';

function errorOf(text: string): TlaError {
  try {
    parseCfg(text, 'M.cfg');
  } catch (e) {
    if (e instanceof TlaError) return e;
    throw e;
  }
  throw new Error('expected a TlaError');
}

describe('parseCfg', () => {
  it('reads constants of every kind, substitutions, names and comments', () => {
    const cfg = parseCfg(
      [
        '\\* a comment',
        'CONSTANTS N = 3  M = -2',
        '  S = {a, b, {1, "x"}}  Nil = Nil',
        '  F <- Double  Op(_, _) <- Plus',
        '(* block (* nested *) comment *)',
        'CONSTANT Flag = TRUE  None = [model value]',
        'INIT Init NEXT Next',
        'INVARIANT TypeOK',
        'INVARIANTS Inv1',
        '   Inv2',
        'PROPERTY P1 PROPERTIES P2 P3',
        'CONSTRAINT Bound ACTION_CONSTRAINTS A1 A2',
        'SYMMETRY Perms VIEW View',
        'CHECK_DEADLOCK FALSE',
      ].join('\n'),
      'M.cfg',
    );
    expect(
      cfg.constants.map((c) => (c.kind === 'value' ? [c.name, c.value] : [c.name, '<-', c.target])),
    ).toEqual([
      ['N', { kind: 'int', value: 3 }],
      ['M', { kind: 'int', value: -2 }],
      [
        'S',
        {
          kind: 'set',
          elems: [
            { kind: 'modelValue', name: 'a' },
            { kind: 'modelValue', name: 'b' },
            {
              kind: 'set',
              elems: [
                { kind: 'int', value: 1 },
                { kind: 'str', value: 'x' },
              ],
            },
          ],
        },
      ],
      ['Nil', { kind: 'modelValue', name: 'Nil' }],
      ['F', '<-', 'Double'],
      ['Op', '<-', 'Plus'],
      ['Flag', { kind: 'bool', value: true }],
      ['None', { kind: 'modelValue', name: 'None' }],
    ]);
    expect(cfg.init?.name).toBe('Init');
    expect(cfg.next?.name).toBe('Next');
    expect(cfg.invariants.map((n) => n.name)).toEqual(['TypeOK', 'Inv1', 'Inv2']);
    expect(cfg.properties.map((n) => n.name)).toEqual(['P1', 'P2', 'P3']);
    expect(cfg.constraints.map((n) => n.name)).toEqual(['Bound']);
    expect(cfg.actionConstraints.map((n) => n.name)).toEqual(['A1', 'A2']);
    expect(cfg.symmetry?.name).toBe('Perms');
    expect(cfg.view?.name).toBe('View');
    expect(cfg.checkDeadlock).toBe(false);
    expect(cfg.invariants[2]!.loc).toEqual({ file: 'M.cfg', line: 10, col: 4 });
  });

  it('rejects what TLC rejects, with a location', () => {
    const tuple = errorOf('CONSTANTS\n  Vals = <<1, 2>>\n');
    expect(tuple.kind).toBe('config');
    expect(tuple.loc).toEqual({ file: 'M.cfg', line: 2, col: 10 });
    expect(tuple.message).toMatch(/tuple/);
    const bang = errorOf('SPECIFICATION Spec\nPROPERTY Hi!Spec\n');
    expect(bang.loc).toEqual({ file: 'M.cfg', line: 2, col: 12 });
    expect(bang.message).toMatch(/Hi/);
    expect(errorOf('INIT Init\n').message).toMatch(/NEXT/);
    expect(errorOf('CHECK_DEADLOCK maybe').message).toMatch(/TRUE or FALSE/);
    expect(errorOf('SPECIFICATION Spec INIT I NEXT N').message).toMatch(/SPECIFICATION/);
    expect(errorOf('CONSTANT N 3').loc).toEqual({ file: 'M.cfg', line: 1, col: 12 });
    expect(errorOf('(* open').message).toMatch(/unterminated/);
    expect(errorOf('ALIAS A B').message).toMatch(/exactly one name/);
    const badModule = errorOf('CONSTANT Nat <- [Lib Few');
    expect(badModule.message).toMatch(/expected "\]"/);
    expect(badModule.loc).toEqual({ file: 'M.cfg', line: 1, col: 22 });
  });

  it('accepts the forms TLC accepts: empty sections, module-scoped overrides, ALIAS, POSTCONDITION', () => {
    // ACP_SB_TLC.cfg in tlaplus/Examples has every property commented out.
    const cfg = parseCfg(
      [
        'CONSTANTS',
        'SPECIFICATION Spec',
        'PROPERTIES',
        '\\*  AC1 AC2',
        'INVARIANT',
        'CHECK_DEADLOCK FALSE',
        'CONSTANT Nat <- [ZSequences] ZSeqNat  Limit <- Ten',
        'ALIAS Alias',
        'POSTCONDITION Done Counted',
      ].join('\n'),
      'M.cfg',
    );
    expect(cfg.properties).toEqual([]);
    expect(cfg.invariants).toEqual([]);
    expect(cfg.checkDeadlock).toBe(false);
    expect(cfg.specification?.name).toBe('Spec');
    expect(cfg.constants).toEqual([
      {
        kind: 'substitution',
        name: 'Nat',
        target: 'ZSeqNat',
        module: 'ZSequences',
        loc: { file: 'M.cfg', line: 7, col: 10 },
      },
      { kind: 'substitution', name: 'Limit', target: 'Ten', loc: { file: 'M.cfg', line: 7, col: 39 } },
    ]);
    expect(cfg.alias?.name).toBe('Alias');
    expect(cfg.postconditions.map((n) => n.name)).toEqual(['Done', 'Counted']);
  });

  itWithCorpus('parses every corpus .cfg except the two TLC rejects', () => {
    const rejected: string[] = [];
    for (const dir of readdirSync(corpus)) {
      const full = path.join(corpus, dir);
      if (!existsSync(path.join(full, 'expected.json'))) continue;
      for (const f of readdirSync(full).filter((x) => x.endsWith('.cfg'))) {
        try {
          parseCfg(readFileSync(path.join(full, f), 'utf8'), f);
        } catch (e) {
          if (!(e instanceof TlaError)) throw e;
          rejected.push(`${dir}/${f}`);
        }
      }
    }
    expect(rejected.sort()).toEqual([
      'check-10-constants/TupleValue.cfg',
      'check-20-refinement-ok/BangInCfg.cfg',
    ]);
  });
});

describe('parseCfg property', () => {
  const ident = fc.stringMatching(/^[a-z][A-Za-z0-9_]{0,6}$/).filter((s) => !['model'].includes(s));
  const value: fc.Arbitrary<CfgValue> = fc.letrec((tie) => ({
    v: fc.oneof(
      { depthSize: 'small' },
      fc.integer({ min: -1000, max: 1000 }).map((n): CfgValue => ({ kind: 'int', value: n })),
      fc
        .string({ maxLength: 6 })
        .filter((x) => !/["\\\n\r]/.test(x))
        .map((x): CfgValue => ({ kind: 'str', value: x })),
      fc.boolean().map((b): CfgValue => ({ kind: 'bool', value: b })),
      ident.map((n): CfgValue => ({ kind: 'modelValue', name: n })),
      fc
        .array(tie('v'), { maxLength: 3 })
        .map((elems): CfgValue => ({ kind: 'set', elems: elems as CfgValue[] })),
    ),
  })).v;
  it('constants and names printed in .cfg syntax parse back to the same model', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(
            fc
              .stringMatching(/^[A-Z][A-Za-z0-9]{0,5}$/)
              .filter(
                (n) =>
                  !/^(INIT|NEXT|VIEW|TRUE|FALSE|ALIAS|SYMMETRY|CONSTANTS?|PROPERTY|INVARIANTS?|CONSTRAINTS?)$/.test(
                    n,
                  ),
              ),
            value,
          ),
          { maxLength: 5 },
        ),
        fc.array(fc.stringMatching(/^Inv[A-Za-z0-9]{0,4}$/), { maxLength: 4 }),
        fc.boolean(),
        (consts, invs, oneLine) => {
          const sep = oneLine ? ' ' : '\n  ';
          const text = [
            consts.length ? `CONSTANTS${sep}${consts.map(([n, v]) => `${n} = ${print(v)}`).join(sep)}` : '',
            'INIT Init (* the initial predicate *)',
            'NEXT Next \\* the next-state relation',
            invs.length ? `INVARIANTS${sep}${invs.join(sep)}` : '',
          ].join('\n');
          const cfg = parseCfg(text, 'P.cfg');
          expect(cfg.constants.map((c) => (c.kind === 'value' ? [c.name, c.value] : null))).toEqual(consts);
          expect(cfg.invariants.map((n) => n.name)).toEqual(invs);
          expect(cfg.init?.name).toBe('Init');
          expect(cfg.next?.name).toBe('Next');
        },
      ),
      { numRuns: 300 },
    );
  });
});
