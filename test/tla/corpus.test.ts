// One test per configuration of the TLA+ corpus (../shared/tla-corpus): the built-in checker
// must give TLC's answers recorded in each folder's expected.json.
import { expect, it } from 'vitest';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { loadModel, type CheckModel } from '../../tla/check/model.ts';
import { labelStep } from '../../tla/check/label.ts';
import { equals } from '../../tla/values.ts';
import type { State } from '../../tla/eval/index.ts';
import { check, type CheckResult } from '../../tla/check/checker.ts';
import { TlaError } from '../../tla/errors.ts';

import { corpusDir as corpusRoot, describeWithCorpus } from './shared.ts';

interface Expected {
  model: string;
  config: string;
  tlc: {
    result: 'ok' | 'invariant' | 'property' | 'deadlock' | 'error';
    distinctStates?: number;
    statesGenerated?: number;
    depth?: number;
    countsInformative?: boolean;
    errorTraceLength?: number;
    violation?: { name?: string; traceLength?: number; stuttering?: boolean; observed?: unknown[] };
    message?: string;
  };
}

function cases(): { dir: string; e: Expected }[] {
  if (!existsSync(corpusRoot)) return [];
  const out: { dir: string; e: Expected }[] = [];
  for (const dir of readdirSync(corpusRoot).sort()) {
    const f = path.join(corpusRoot, dir, 'expected.json');
    if (!existsSync(f)) continue;
    const j = JSON.parse(readFileSync(f, 'utf8')) as Expected | Expected[];
    for (const e of Array.isArray(j) ? j : [j]) out.push({ dir, e });
  }
  return out;
}

async function run(
  dir: string,
  e: Expected,
): Promise<(CheckResult & { cm: CheckModel }) | { loadError: unknown }> {
  const folder = path.join(corpusRoot, dir);
  try {
    const cm = await loadModel(path.join(folder, e.model), path.join(folder, e.config));
    return { ...check(cm), cm };
  } catch (err) {
    return { loadError: err };
  }
}

/** A step of the behaviour: a step of Next, or stuttering. */
function isStep(cm: CheckModel, s: State, t: State): boolean {
  if (s.every((v, i) => equals(v, t[i]!))) return true;
  return labelStep(cm.model, cm.next, s, t).length > 0;
}

const all = cases();

describeWithCorpus('TLA+ corpus (TLC 2.18 answers)', () => {
  it('has models with expected answers', () => {
    expect(all.length).toBeGreaterThan(20);
  });
  for (const { dir, e } of all) {
    it(`${dir}/${e.config}: ${e.tlc.result}`, async () => {
      const r = await run(dir, e);
      const want = e.tlc;
      if ('loadError' in r) {
        // Errors TLC reports before exploring (bad .cfg, false ASSUME) surface while loading.
        if (want.result === 'error') {
          expect(r.loadError).toBeInstanceOf(TlaError);
          expect((r.loadError as TlaError).kind).not.toBe('unsupported');
          return;
        }
        throw r.loadError;
      }
      const detail = r.error ? `${r.error.location ?? ''} ${r.error.message}` : '';
      expect(r.result, detail).toBe(want.result);
      if (want.result === 'ok') {
        expect(r.distinctStates, 'distinct states').toBe(want.distinctStates);
        expect(r.depth, 'depth').toBe(want.depth);
        expect(r.statesGenerated, 'states generated').toBe(want.statesGenerated);
        return;
      }
      if (want.result === 'error') {
        expect(r.error!.kind, r.error!.message).toBe('eval');
        // the behaviour up to the state where evaluation failed, as long as TLC's
        if (want.errorTraceLength !== undefined)
          expect(r.error!.trace?.steps.length ?? 0).toBe(want.errorTraceLength);
        return;
      }
      const v = r.violation!;
      if (want.violation?.name !== undefined) expect(v.name).toBe(want.violation.name);
      if (want.result === 'property' && v.kind === 'liveness') {
        // any valid lasso: a behaviour of the spec that ends in a loop (or stutters)
        const states = v.trace.steps.map((st) => st.state);
        expect(v.trace.loopsTo).toBeDefined();
        expect(v.trace.loopsTo!).toBeLessThan(states.length);
        for (let k = 1; k < states.length; k++)
          expect(isStep(r.cm, states[k - 1]!, states[k]!), `step ${k}`).toBe(true);
        expect(isStep(r.cm, states[states.length - 1]!, states[v.trace.loopsTo!]!), 'the step back').toBe(
          true,
        );
        // and fair: every WF/SF of the specification is met on the cycle
        const m = r.cm.model;
        const cycle = states.slice(v.trace.loopsTo!);
        const cycleSteps: [State, State][] = v.trace.stuttering
          ? [[cycle[0]!, cycle[0]!]]
          : cycle.map((st, k) => [st, cycle[(k + 1) % cycle.length]!]);
        for (const f of r.cm.fairness) {
          const taken = cycleSteps.some(([a, b]) => m.evalAction(f.angle.expr, f.angle.ctx, a, b) === true);
          const enabled = cycle.map((st) => m.enabled(f.angle.expr, f.angle.ctx, st));
          const fair = f.kind === 'WF' ? taken || enabled.some((x) => !x) : taken || enabled.every((x) => !x);
          expect(fair, `${f.kind} ${f.name} on the cycle`).toBe(true);
        }
        return;
      }
      if (want.violation?.traceLength !== undefined)
        expect(v.trace.steps.length, 'trace length').toBe(want.violation.traceLength);
    });
  }
});
