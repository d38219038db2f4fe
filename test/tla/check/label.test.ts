// The step labeller's test mode (Model.stepsTo: the successor enumeration run with the next
// state already assigned) gives the enumeration's labels, on every model of the repository's
// specs and some of the corpus: for every edge of the explored state graph (a step), and for
// pairs of explored states that are mostly not steps.
import { describe, expect, it } from 'vitest';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { labelKey, type CheckModel, type State } from '../../../tla/index.ts';
import { fingerprintState } from '../../../tla/values.ts';
import { loadModel } from '../../../tla/check/model.ts';
import { enumeratedLabels, labelStep, stepLabels } from '../../../tla/check/label.ts';
import { NO_CORPUS, corpusDir, hasCorpus } from '../shared.ts';

const specs = fileURLToPath(new URL('../../../specs/', import.meta.url));
const repoModels = existsSync(specs)
  ? readdirSync(specs)
      .filter((f) => f.endsWith('.cfg'))
      .sort()
      .map((cfg) => {
        const mod = cfg.replace(/\.cfg$/, '').replace(/[-_].*$/, '');
        return { spec: path.join(specs, `${mod}.tla`), cfg: path.join(specs, cfg) };
      })
      .filter((m) => existsSync(m.spec))
  : [];
// The corpus's model-checking folders (quantified, parameterised, nested and composed actions;
// not those where TLC reports an error).
const corpusModels = existsSync(corpusDir)
  ? readdirSync(corpusDir)
      .filter((dir) => dir.startsWith('check-') && existsSync(path.join(corpusDir, dir, 'expected.json')))
      .sort()
      .flatMap((dir) => {
        const j = JSON.parse(readFileSync(path.join(corpusDir, dir, 'expected.json'), 'utf8')) as
          Expected | Expected[];
        const e = Array.isArray(j) ? j[0]! : j;
        if (e.tlc.result === 'error') return [];
        return [{ spec: path.join(corpusDir, dir, e.model), cfg: path.join(corpusDir, dir, e.config) }];
      })
  : [];

interface Expected {
  model: string;
  config: string;
  tlc: { result: string };
}

const keys = (ls: readonly { name: string; args: Record<string, unknown> }[]): string[] =>
  ls.map((l) => labelKey(l as Parameters<typeof labelKey>[0]));

/** Breadth-first from the initial states: up to maxStates states and maxEdges steps. */
function explore(
  cm: CheckModel,
  maxStates: number,
  maxEdges: number,
): { states: State[]; edges: [State, State][] } {
  const states: State[] = [];
  const seen = new Set<bigint>();
  const add = (s: State): void => {
    const f = fingerprintState(s);
    if (seen.has(f) || states.length >= maxStates) return;
    seen.add(f);
    states.push(s);
  };
  cm.model.initStates(cm.init.expr, cm.init.ctx, add);
  const edges: [State, State][] = [];
  for (let i = 0; i < states.length && edges.length < maxEdges; i++) {
    const s = states[i]!;
    cm.model.successors(cm.next.expr, cm.next.ctx, s, (t) => {
      if (edges.length < maxEdges) edges.push([s, t]);
      add(t);
    });
  }
  return { states, edges };
}

describe('step labeller: testing a step against the actions = enumerating successors', () => {
  it('has models', () => {
    expect(repoModels.length).toBeGreaterThan(5);
  });
  if (!hasCorpus) it.skip(`the corpus's models: ${NO_CORPUS}`, () => {});
  for (const m of [...repoModels, ...corpusModels]) {
    it(path.relative(path.dirname(specs), m.cfg), async () => {
      const cm = await loadModel(m.spec, m.cfg);
      const g = explore(cm, 400, 1500);
      const next = cm.next;
      let steps = 0;
      for (const [s, t] of g.edges) {
        const want = keys(enumeratedLabels(cm.model, next, s, t));
        expect(want.length).toBeGreaterThan(0);
        expect(keys(stepLabels(cm.model, next, s, t))).toEqual(want);
        expect(keys(labelStep(cm.model, next, s, t))).toEqual(want);
        steps++;
      }
      expect(steps).toBeGreaterThan(0);
      // Pairs that are (mostly) not steps: each state against a state further in the list.
      const n = Math.min(g.states.length, 200);
      for (let i = 0; i < n; i++) {
        const s = g.states[i]!;
        const t = g.states[(i * 7 + 3) % g.states.length]!;
        const want = keys(enumeratedLabels(cm.model, next, s, t));
        expect(keys(stepLabels(cm.model, next, s, t))).toEqual(want);
      }
    });
  }
});
