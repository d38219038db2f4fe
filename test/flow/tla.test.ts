// The flow as TLA+: the model checker's traversals (the states where a behaviour has visited a
// whole traversal) equal the flow library's, on random flows and on hand-picked ones.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import type { Flow } from '../../runtime/flow/ast.ts';
import { parseFlow } from '../../runtime/flow/parse.ts';
import { printFlow } from '../../runtime/flow/print.ts';
import { flowTraversals } from '../../runtime/flow/semantics.ts';
import { flowTlaModule } from '../../runtime/flow/tla-module.ts';
import { canonicalKey } from '../../runtime/flow/traversal.ts';
import { check, exploreGraph, loadModel } from '../../tla/index.ts';
import { toItf } from '../../tla/values.ts';
import { smallFlow } from './arbitrary.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'buffy-flow-tla-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let serial = 0;

type Itf = unknown;
const int = (j: Itf): number => Number((j as { '#bigint': string })['#bigint']);
const setOf = (j: Itf): Itf[] => (j as { '#set': Itf[] })['#set'];
const tup = (j: Itf): Itf[] => (j as { '#tup': Itf[] })['#tup'];

async function writeModule(f: Flow): Promise<string> {
  const name = `Flow${++serial}`;
  const m = flowTlaModule(f, name);
  const file = path.join(dir, `${name}.tla`);
  writeFileSync(file, m.tla);
  writeFileSync(path.join(dir, `${name}.cfg`), m.cfg);
  return file;
}

/** Canonical keys of the traversals the checker reaches completely. */
async function checkerTraversals(f: Flow): Promise<string[]> {
  const cm = await loadModel(await writeModule(f));
  const g = exploreGraph(cm);
  const ti = cm.model.variables.indexOf('trav');
  const vi = cm.model.variables.indexOf('visited');
  const keys = new Set<string>();
  for (const s of g.states) {
    const nodes = setOf(toItf(s[ti]!)).map((n) => tup(n));
    if (setOf(toItf(s[vi]!)).length !== nodes.length) continue;
    const ids = nodes.map((n) => int(n[0]));
    const at = new Map(ids.map((id, i) => [id, i]));
    keys.add(
      canonicalKey({
        types: nodes.map((n) => n[1] as string),
        preds: nodes.map((n) => setOf(n[2]).map((p) => at.get(int(p))!)),
      }),
    );
  }
  return [...keys].sort();
}

const libraryTraversals = (f: Flow): string[] => [...flowTraversals(f).keys()].sort();

describe('flows as TLA+ modules', () => {
  it('hand-picked flows: the checker finds the library traversals', async () => {
    for (const s of [
      'A;[B||C];@;D',
      'A;[B;@||[C|E](1,2)];D',
      'A;[B](0,1);@;C',
      '[A|B;C];D',
      'A;[X;[B||C];@||E]',
    ]) {
      const f = parseFlow(s);
      expect(await checkerTraversals(f), s).toEqual(libraryTraversals(f));
    }
  });

  it("random flows: the checker's traversals equal the library's", async () => {
    await fc.assert(
      fc.asyncProperty(smallFlow({ maxDepth: 2, maxItems: 3, maxBranches: 3 }), async (f) => {
        fc.pre(flowTraversals(f).size <= 40);
        expect(await checkerTraversals(f), printFlow(f)).toEqual(libraryTraversals(f));
      }),
      { numRuns: 60 },
    );
  }, 120_000);

  it('the module checks: invariants hold and every behaviour completes its traversal', async () => {
    const cm = await loadModel(await writeModule(parseFlow('A;[B|C|D](1,2);@;E')));
    const r = check(cm);
    expect(r.result).toBe('ok');
  });
});
