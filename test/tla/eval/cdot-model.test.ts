// A whole model checked with action composition (test/tla/eval/models/CdotCounter.tla: the
// expected figures are worked out by hand in its comments).
import { describe, expect, it } from 'vitest';
import path from 'node:path';
import { check } from '../../../tla/check/checker.ts';
import { loadModel } from '../../../tla/check/model.ts';

const dir = path.join(import.meta.dirname, 'models');

describe('CdotCounter: Inc \\/ (Inc \\cdot Reset) under a CONSTRAINT', () => {
  it('finds the states, depth and generated states TLC reports', async () => {
    const cm = await loadModel(path.join(dir, 'CdotCounter.tla'), path.join(dir, 'CdotCounter.cfg'));
    const r = check(cm);
    expect(r.result).toBe('ok');
    expect(r.distinctStates).toBe(4);
    expect(r.depth).toBe(4);
    // TLC counts the intermediate states of \cdot as generated: 9 emitted successors (the
    // initial state included) plus the 4 intermediate states.
    expect(cm.model.cdotGenerated).toBe(4);
    expect(r.statesGenerated).toBe(13);
  });
});
