// The TLC engine's rough edges: SANY's cause reaches the error message (and --json); TLC finds
// the project's tla/lib modules as the built-in checker does; --lib with a folder that does not
// exist is a usage error.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { javaAvailable, parseTlcOutput, runTlc, tlcJar } from '../../tla/check/tlc.ts';
import { sharedDir } from '../tla/shared.ts';
import { buffyCheckCli } from './run-in-process.ts';

let dir: string;
const f = (rel: string): string => path.join(dir, rel);
const jar = tlcJar() ?? tlcJar({ TLA2TOOLS_JAR: path.join(sharedDir, 'tools', 'tla2tools.jar') });
const haveTlc = jar !== null && javaAvailable();
const tlcNote = haveTlc ? '' : ' (skipped: no tla2tools.jar (TLA2TOOLS_JAR or ../shared/tools) or no java)';

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'buffy-tlc-edges-'));
  writeFileSync(
    f('UsesLib.tla'),
    "---- MODULE UsesLib ----\nEXTENDS Naturals, SequencesExt, Functions\nVARIABLE x\nInit == x = <<1, 2>>\nNext == x' = Reverse(x)\nInv == Range(x) = {1, 2}\n====\n",
  );
  writeFileSync(f('UsesLib.cfg'), 'INIT Init\nNEXT Next\nINVARIANT Inv\n');
  writeFileSync(f('Bad.tla'), "---- MODULE Bad ----\nVARIABLE x\nInit == x = \nNext == x' = x\n====\n");
  writeFileSync(f('Bad.cfg'), 'INIT Init\nNEXT Next\n');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const buffy = buffyCheckCli;

describe('TLC engine rough edges', () => {
  it("a parse failure keeps SANY's cause (TLC 2.18 output)", () => {
    const parse = [
      '***Parse Error***',
      'Was expecting "Expression or Instance"',
      'Encountered "Beginning of definition" at line 3, column 9 and token "==" ',
      '',
      'Residual stack trace follows:',
      'Definition starting at line 3, column 1.',
      'Module body starting at line 2, column 1.',
      '',
      'Fatal errors while parsing TLA+ spec in file Bad',
      '',
      'tla2sany.semantic.AbortException',
      '*** Abort messages: 1',
      '',
      'In module Bad',
      '',
      'Could not parse module Bad from file Bad.tla',
      '',
      'Starting... (2026-12-02 00:25:25)',
      'Error: Parsing or semantic analysis failed.',
      'Finished in 00s at (2026-12-02 00:25:25)',
    ].join('\n');
    const o = parseTlcOutput(parse);
    expect(o.result).toBe('error');
    expect(o.message).toBe(
      'Parsing or semantic analysis failed: Was expecting "Expression or Instance"; Encountered "Beginning of definition" at line 3, column 9 and token "=="; Could not parse module Bad from file Bad.tla',
    );
    const sem = [
      'Semantic errors:',
      '',
      '*** Errors: 1',
      '',
      'line 3, col 13 to line 3, col 13 of module Sem',
      '',
      "Unknown operator: `y'.",
      '',
      'Starting... (x)',
      'Error: Parsing or semantic analysis failed.',
    ].join('\n');
    expect(parseTlcOutput(sem).message).toBe(
      "Parsing or semantic analysis failed: line 3, col 13 to line 3, col 13 of module Sem; Unknown operator: `y'.",
    );
  });

  it('--lib with a folder that does not exist, or a file: a usage error (exit 2)', async () => {
    const r = await buffy('check', f('UsesLib.tla'), '--engine', 'builtin', '--lib', f('nothere'));
    expect(r.code).toBe(2);
    expect(r.err).toBe(`buffy check: --lib ${f('nothere')}: no such folder\n`);
    const j = await buffy('check', f('UsesLib.tla'), '--engine', 'builtin', '--lib', f('Bad.tla'), '--json');
    expect(j.code).toBe(2);
    expect((JSON.parse(j.out) as { error: { message: string } }).error.message).toMatch(/is not a folder/);
    const t = await buffy(
      'traces',
      f('UsesLib.tla'),
      '--random',
      '1',
      '--out',
      f('out'),
      '--lib',
      f('nothere'),
    );
    expect(t.code).toBe(2);
  });

  it(`TLC gets the project's tla/lib modules, and a parse failure's cause in --json${tlcNote}`, async () => {
    if (!haveTlc) return;
    const run = await runTlc({ specFile: f('UsesLib.tla'), cfgFile: f('UsesLib.cfg'), jar: jar! });
    expect(run.outcome.result).toBe('ok');
    expect([run.outcome.distinctStates, run.outcome.statesGenerated]).toEqual([2, 3]);
    const bad = await runTlc({ specFile: f('Bad.tla'), cfgFile: f('Bad.cfg'), jar: jar! });
    expect(bad.outcome.message).toMatch(/^Parsing or semantic analysis failed: .*line 3, column 9/);
  });
});
