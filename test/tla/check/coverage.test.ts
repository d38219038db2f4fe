// --coverage: per action, states generated and new distinct states (TLC's -coverage figures).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { check, loadModel, toJson } from '../../../tla/index.ts';
import { coverageLines } from '../../../tla/check/coverage.ts';
import { corpusDir, itWithCorpus } from '../shared.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'buffy-coverage-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function write(name: string, tla: string, cfg: string): string {
  writeFileSync(path.join(dir, `${name}.cfg`), cfg);
  const file = path.join(dir, `${name}.tla`);
  writeFileSync(file, tla);
  return file;
}

const COUNTER = `---- MODULE Counter ----
EXTENDS Naturals
VARIABLE x
Init == x \\in {0, 1}
Inc == x < 3 /\\ x' = x + 1
Reset == x = 3 /\\ x' = 0
Never(k) == k > 5 /\\ x' = k
Next == Inc \\/ Reset \\/ \\E k \\in 1..2 : Never(k)
====
`;

describe('coverage', () => {
  it('counts generated and new distinct states per action and lists the actions never enabled', async () => {
    const spec = write('Counter', COUNTER, 'INIT Init\nNEXT Next\n');
    const cm = await loadModel(spec, path.join(dir, 'Counter.cfg'));
    const r = check(cm, { coverage: true });
    expect(r.result).toBe('ok');
    // Init: 0 and 1. Inc from 0, 1, 2 (new: 2, 3). Reset from 3 (0 is not new). Never: never enabled.
    const table = r.coverage!.map((c) => [c.action, c.distinct, c.generated]);
    expect(table).toEqual([
      ['Init', 2, 2],
      ['Inc', 2, 3],
      ['Reset', 0, 1],
      ['Never', 0, 0],
    ]);
    expect(r.coverage![1]!.location).toMatch(/Counter\.tla:5:/);
    // The figures add up to the search's own.
    expect(r.coverage!.reduce((a, c) => a + c.generated, 0)).toBe(r.statesGenerated);
    expect(r.coverage!.reduce((a, c) => a + c.distinct, 0)).toBe(r.distinctStates);
    const lines = coverageLines(r.coverage!);
    expect(lines).toContain('Actions never enabled: Never');
    expect(toJson(cm, r).coverage).toEqual(r.coverage);
    // Without the option there is no table.
    expect(check(cm).coverage).toBeUndefined();
  });

  itWithCorpus('agrees with TLC -coverage on the replication bench model', async () => {
    const d = path.join(corpusDir, 'check-22-bench-replication');
    const r = check(await loadModel(path.join(d, 'Replication.tla'), path.join(d, 'Replication.cfg')), {
      coverage: true,
    });
    const by = new Map(r.coverage!.map((c) => [c.action, `${c.distinct}:${c.generated}`]));
    // TLC 2.18 -coverage (distinct:generated); TLC counts RecvAppend, RecvAck and Lose together as
    // the one action `\E m \in msgs : RecvAppend(m) \/ RecvAck(m) \/ Lose(m)` (126016:1221786).
    expect(by.get('Init')).toBe('1:1');
    expect(by.get('Pause')).toBe('34705:84487');
    expect(by.get('Resume')).toBe('0:84487');
    expect(by.get('ClientWrite')).toBe('2:919');
    expect(by.get('SendAppend')).toBe('3810:166644');
    expect(by.get('Commit')).toBe('4440:44453');
    const joint = ['RecvAppend', 'RecvAck', 'Lose'].map((a) => r.coverage!.find((c) => c.action === a)!);
    expect(joint.reduce((a, c) => a + c.distinct, 0)).toBe(126016);
    expect(joint.reduce((a, c) => a + c.generated, 0)).toBe(1221786);
  });
});
