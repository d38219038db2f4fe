// Smoke test over the TLA+ corpus: every expr-* model's ASSUMEs and invariants hold in its
// initial states, and a small breadth-first search over its Init/Next reproduces TLC's
// distinct-state, generated-state and depth figures (or TLC's kind of error).
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import type { Expr } from '../../../tla/ast.ts';
import { TlaError } from '../../../tla/errors.ts';
import { buildModel } from '../../../tla/eval/index.ts';
import type { ConstantAssignment, Ctx, Model, State } from '../../../tla/eval/index.ts';
import { loadSpec } from '../../../tla/parse/index.ts';
import { fingerprintState, modelValue, setOfValues } from '../../../tla/values.ts';
import type { Value } from '../../../tla/values.ts';

import { corpusDir as CORPUS, describeWithCorpus } from '../shared.ts';

interface Expected {
  model: string;
  config: string;
  tlc: {
    result: string;
    distinctStates?: number;
    statesGenerated?: number;
    depth?: number;
    violation?: { name?: string };
  };
}

/** The parts of a .cfg this smoke test needs (constants of simple values, INIT/NEXT/SPECIFICATION, INVARIANTS). */
function readCfg(text: string): {
  constants: Map<string, ConstantAssignment>;
  init?: string;
  next?: string;
  spec?: string;
  invariants: string[];
} {
  const clean = text.replace(/\(\*[\s\S]*?\*\)/g, ' ').replace(/\\\*.*$/gm, '');
  const parse = (t: string): Value => {
    t = t.trim();
    if (/^-?\d+$/.test(t)) return Number(t);
    if (t.startsWith('{'))
      return setOfValues(
        t
          .slice(1, -1)
          .split(',')
          .map((x) => x.trim())
          .filter(Boolean)
          .map(parse),
      );
    if (t.startsWith('"')) return t.slice(1, -1);
    return modelValue(t);
  };
  const out = { constants: new Map<string, ConstantAssignment>(), invariants: [] as string[] } as ReturnType<
    typeof readCfg
  >;
  let section = '';
  for (const raw of clean.split('\n')) {
    let line = raw.trim();
    const m = line.match(
      /^(CONSTANTS?|INIT|NEXT|INVARIANTS?|SPECIFICATION|SYMMETRY|PROPERTY|PROPERTIES|CONSTRAINTS?|VIEW|CHECK_DEADLOCK)\b\s*(.*)$/,
    );
    if (m) {
      section = m[1]!;
      line = m[2]!;
    }
    if (!line) continue;
    if (section.startsWith('CONSTANT')) {
      const c = line.match(/^(\w+)\s*=\s*(.*)$/);
      if (c) out.constants.set(c[1]!, { kind: 'value', value: parse(c[2]!) });
    } else if (section === 'INIT') out.init = line;
    else if (section === 'NEXT') out.next = line;
    else if (section === 'SPECIFICATION') out.spec = line;
    else if (section.startsWith('INVARIANT')) out.invariants.push(...line.split(/\s+/));
  }
  return out;
}

/** Init and Next of `Spec == Init /\ [][Next]_vars`, found with Model.unfold. */
function splitSpec(m: Model, name: string): { init: { e: Expr; ctx: Ctx }; next: { e: Expr; ctx: Ctx } } {
  const u = m.unfold(m.lookup(name), m.rootCtx);
  if (!u || u.expr.kind !== 'and') throw new Error(`${name} is not Init /\\ [][Next]_v`);
  const box = u.expr.args[1]!;
  if (box.kind !== 'always' || box.expr.kind !== 'boxAction') throw new Error(`${name} has no [][Next]_v`);
  return { init: { e: u.expr.args[0]!, ctx: u.ctx }, next: { e: box.expr.action, ctx: u.ctx } };
}

function bfs(
  m: Model,
  init: { e: Expr; ctx: Ctx },
  next: { e: Expr; ctx: Ctx },
  invariants: string[],
  maxStates: number,
) {
  const seen = new Set<bigint>();
  let generated = 0;
  let depth = 0;
  let frontier: State[] = [];
  const inv = invariants.map((n) => ({ n, e: m.lookup(n) }));
  let violated: string | null = null;
  const add = (s: State): void => {
    generated++;
    const f = fingerprintState(s);
    if (seen.has(f)) return;
    seen.add(f);
    frontier.push(s);
    for (const i of inv) if (violated === null && m.evalState(i.e, m.rootCtx, s) !== true) violated = i.n;
  };
  m.initStates(init.e, init.ctx, add);
  while (frontier.length > 0 && violated === null && seen.size < maxStates) {
    depth++;
    const cur = frontier;
    frontier = [];
    for (const s of cur) {
      m.successors(next.e, next.ctx, s, add);
      if (violated !== null) break;
    }
  }
  return { distinct: seen.size, generated, depth, violated };
}

const folders = existsSync(CORPUS)
  ? readdirSync(CORPUS)
      .filter((d) => d.startsWith('expr-'))
      .sort()
  : [];

describeWithCorpus('TLA+ corpus (expr-*)', () => {
  it('has expr-* models', () => {
    expect(folders.length).toBeGreaterThan(10);
  });
  for (const folder of folders) {
    const dir = path.join(CORPUS, folder);
    const raw = JSON.parse(readFileSync(path.join(dir, 'expected.json'), 'utf8')) as Expected | Expected[];
    for (const exp of Array.isArray(raw) ? raw : [raw]) {
      it(`${folder}/${exp.config}: ${exp.tlc.result}`, async () => {
        const cfg = readCfg(readFileSync(path.join(dir, exp.config), 'utf8'));
        const spec = await loadSpec(path.join(dir, exp.model));
        const m = buildModel(spec, cfg.constants, new Map(), { print: () => {} });
        let parts;
        try {
          m.checkAssumptions();
          parts = cfg.spec
            ? splitSpec(m, cfg.spec)
            : {
                init: { e: m.lookup(cfg.init!), ctx: m.rootCtx },
                next: { e: m.lookup(cfg.next!), ctx: m.rootCtx },
              };
          const r = bfs(m, parts.init, parts.next, cfg.invariants, 20_000);
          if (exp.tlc.result === 'ok' || exp.tlc.result === 'deadlock') {
            expect({ distinct: r.distinct, generated: r.generated, depth: r.depth }).toEqual({
              distinct: exp.tlc.distinctStates,
              generated: exp.tlc.statesGenerated,
              depth: exp.tlc.depth,
            });
            expect(r.violated).toBeNull();
          } else if (exp.tlc.result === 'invariant') {
            expect(r.violated).toBe(exp.tlc.violation?.name);
          } else {
            throw new Error(`expected an error, got ${JSON.stringify(r)}`);
          }
        } catch (e) {
          if (exp.tlc.result !== 'error') throw e;
          expect(e).toBeInstanceOf(TlaError);
          expect((e as TlaError).kind).toBe('eval');
        }
      });
    }
  }
});
