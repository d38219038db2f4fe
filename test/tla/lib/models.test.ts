// Small models of our own that use the library modules and subexpression references, checked
// end to end. Expected figures follow from the models by hand (see each model's comment):
// TLC counts the initial state and every successor generated; depth is the length of the
// longest shortest path in states.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { check } from '../../../tla/check/checker.ts';
import { loadModel } from '../../../tla/check/model.ts';

const dir = path.join(import.meta.dirname, 'models');

async function run(spec: string, cfg: string) {
  const cm = await loadModel(path.join(dir, `${spec}.tla`), path.join(dir, `${cfg}.cfg`));
  return check(cm);
}

describe('models using the community modules', () => {
  it('LibQueue: 15 stacks over {1, 2} of length <= 3', async () => {
    const r = await run('LibQueue', 'LibQueue');
    expect(r.error).toBeUndefined();
    expect(r.result).toBe('ok');
    expect(r.distinctStates).toBe(15);
    // 1 initial state; successors: <<>> 2, length 1: 2 x 3, length 2: 4 x 3, length 3: 8 x 1.
    expect(r.statesGenerated).toBe(1 + 2 + 6 + 12 + 8);
    expect(r.depth).toBe(4);
  });

  it('LibQueue: the sum reaches 6 at <<2, 2, 2>>, three steps from the start', async () => {
    const r = await run('LibQueue', 'LibQueueSum');
    expect(r.result).toBe('invariant');
    expect(r.violation?.name).toBe('SmallSum');
    expect(r.violation?.trace.steps.length).toBe(4);
  });
});

describe('models using subexpression references', () => {
  it('SubexprCounter: Inv!1 holds on the 5 states of the counter', async () => {
    const r = await run('SubexprCounter', 'SubexprCounter');
    expect(r.error).toBeUndefined();
    expect(r.result).toBe('ok');
    expect(r.distinctStates).toBe(5);
    expect(r.statesGenerated).toBe(6);
    expect(r.depth).toBe(5);
  });

  it('SubexprCounter: Inv!2 (x <= 2) fails at x = 3', async () => {
    const r = await run('SubexprCounter', 'SubexprCounterSmall');
    expect(r.result).toBe('invariant');
    expect(r.violation?.name).toBe('Small');
    expect(r.violation?.trace.steps.length).toBe(4);
  });
});
