// SYMMETRY reduction on small models whose figures are worked out by hand in the .cfg
// comments (test/tla/check/symmetry/): the checker must find exactly one state per orbit.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { check, loadModel } from '../../../tla/index.ts';

const dir = path.join(import.meta.dirname, 'symmetry');
const run = async (module: string, cfg: string) =>
  check(await loadModel(path.join(dir, `${module}.tla`), path.join(dir, `${cfg}.cfg`)));

describe('SYMMETRY: one state per orbit', () => {
  it('relations over 3 points (a set of records): 512 states, 104 up to renaming', async () => {
    expect(await run('SymRel', 'SymRel')).toMatchObject({
      result: 'ok',
      distinctStates: 512,
      statesGenerated: 4609,
      depth: 10,
    });
    expect(await run('SymRel', 'SymRelSym')).toMatchObject({
      result: 'ok',
      distinctStates: 104,
      statesGenerated: 937,
      depth: 10,
    });
  });

  it('votes (a function on model values to model values): 27 states, 10 up to renaming processes, 6 renaming values too', async () => {
    expect(await run('SymVotes', 'SymVotes')).toMatchObject({
      result: 'ok',
      distinctStates: 27,
      statesGenerated: 163,
      depth: 4,
    });
    expect(await run('SymVotes', 'SymVotesProcs')).toMatchObject({
      result: 'ok',
      distinctStates: 10,
      statesGenerated: 61,
      depth: 4,
    });
    expect(await run('SymVotes', 'SymVotesBoth')).toMatchObject({
      result: 'ok',
      distinctStates: 6,
      statesGenerated: 37,
      depth: 4,
    });
  });
});
