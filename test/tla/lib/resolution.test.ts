// Where modules come from: the spec's folder, then --lib folders, then Buffy's own library
// (tla/lib); further top-level modules of a file are modules too.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TlaError } from '../../../tla/errors.ts';
import { buildModel } from '../../../tla/eval/index.ts';
import { LIBRARY_DIR, loadSpec } from '../../../tla/parse/index.ts';
import { toTla } from '../../../tla/values.ts';

let tmp = '';
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'buffy-libres-'));
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

function write(dir: string, name: string, text: string): string {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name}.tla`);
  fs.writeFileSync(file, text);
  return file;
}

const mod = (name: string, body: string): string => `---- MODULE ${name} ----\n${body}\n====\n`;

async function valueOf(root: string, def: string, libDirs: string[] = []): Promise<string> {
  const spec = await loadSpec(root, { libDirs });
  const m = buildModel(spec, new Map());
  return toTla(m.evalConstant(m.lookup(def), m.rootCtx));
}

describe('Buffy library folder', () => {
  it('is tla/lib and holds the library modules', () => {
    expect(path.basename(LIBRARY_DIR.replace(/[\\/]$/, ''))).toBe('lib');
    for (const name of [
      'TLAPS',
      'Functions',
      'SequencesExt',
      'FiniteSetsExt',
      'Folds',
      'Bitwise',
      'TLCExt',
    ]) {
      expect(fs.existsSync(path.join(LIBRARY_DIR, `${name}.tla`))).toBe(true);
    }
  });

  it('is searched when neither the spec folder nor the lib folders have the module', async () => {
    const dir = path.join(tmp, 'fallback');
    const root = write(dir, 'Main', mod('Main', 'EXTENDS SequencesExt, TLAPS\nV == Reverse(<<1, 2>>)'));
    expect(await valueOf(root, 'V')).toBe('<<2, 1>>');
    const spec = await loadSpec(root);
    expect(spec.modules.get('SequencesExt')?.file).toBe(path.join(LIBRARY_DIR, 'SequencesExt.tla'));
  });

  it('comes after the spec folder: a module of the same name there wins', async () => {
    const dir = path.join(tmp, 'shadow');
    write(dir, 'Functions', mod('Functions', 'Range(f) == "the spec folder\'s Range"'));
    const root = write(dir, 'Main', mod('Main', 'EXTENDS Functions\nV == Range(<<1>>)'));
    expect(await valueOf(root, 'V')).toBe('"the spec folder\'s Range"');
  });

  it('comes after the --lib folders', async () => {
    const dir = path.join(tmp, 'libfirst');
    const lib = path.join(dir, 'lib');
    write(lib, 'Bitwise', mod('Bitwise', 'shiftR(n, k) == "from --lib"'));
    const root = write(dir, 'Main', mod('Main', 'EXTENDS Bitwise\nV == shiftR(8, 1)'));
    expect(await valueOf(root, 'V', [lib])).toBe('"from --lib"');
    expect(await valueOf(root, 'V')).toBe('4');
  });

  it('is named in the error for a module found nowhere', async () => {
    const dir = path.join(tmp, 'missing');
    const root = write(dir, 'Main', mod('Main', 'EXTENDS NoSuchModule'));
    const err = await loadSpec(root).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TlaError);
    expect((err as TlaError).message).toContain(`Buffy's library ${path.resolve(LIBRARY_DIR)}`);
    expect((err as TlaError).loc).toEqual({ file: root, line: 2, col: 9 });
  });
});

describe('Reals', () => {
  it('is named as unsupported where it is extended', async () => {
    const dir = path.join(tmp, 'reals');
    const root = write(dir, 'Main', mod('Main', 'EXTENDS Naturals, Reals'));
    const err = await loadSpec(root).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TlaError);
    expect((err as TlaError).kind).toBe('unsupported');
    expect((err as TlaError).message).toMatch(/standard module Reals \(named by EXTENDS in Main\) is not supported/);
    expect((err as TlaError).loc).toEqual({ file: root, line: 2, col: 19 });
  });
});

describe('several top-level modules in one file', () => {
  it('the modules after the first are found by EXTENDS and INSTANCE', async () => {
    const dir = path.join(tmp, 'multi');
    const root = write(
      dir,
      'Main',
      `${mod('Main', 'EXTENDS Naturals, Helper\nI == INSTANCE Other\nV == <<H, I!O>>')}` +
        `${mod('Helper', 'EXTENDS Naturals\nH == 1 + 1')}${mod('Other', 'O == "other"')}`,
    );
    expect(await valueOf(root, 'V')).toBe('<<2, "other">>');
  });

  it('a broken module after the first matters only when it is named', async () => {
    const dir = path.join(tmp, 'multibroken');
    const text = `${mod('Main', 'V == 1')}---- MODULE Broken ----\nX == (1 +\n====\n`;
    const root = write(dir, 'Main', text);
    expect(await valueOf(root, 'V')).toBe('1');
    const root2 = write(
      dir,
      'Main2',
      text.replace('MODULE Main ', 'MODULE Main2 ').replace('V == 1', 'EXTENDS Broken\nV == 1'),
    );
    const err = await loadSpec(root2).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TlaError);
    expect((err as TlaError).kind).toBe('parse');
    expect((err as TlaError).loc?.line).toBeGreaterThanOrEqual(6);
  });
});

describe('IOUtils!IOEnv', () => {
  it('is the record of the environment given to loadSpec', async () => {
    const dir = path.join(tmp, 'ioenv');
    const root = write(
      dir,
      'Main',
      mod('Main', 'EXTENDS IOUtils\nV == <<IOEnv.GRAPH, "K" \\in DOMAIN IOEnv, atoi(IOEnv.N) + 1>>'),
    );
    const spec = await loadSpec(root, { env: { GRAPH: '7', N: '41', UNSET: undefined } });
    const m = buildModel(spec, new Map());
    expect(toTla(m.evalConstant(m.lookup('V'), m.rootCtx))).toBe('<<"7", FALSE, 42>>');
    expect(toTla(m.evalConstant(m.lookup('IOEnv'), m.rootCtx))).toBe('[GRAPH |-> "7", N |-> "41"]');
  });

  it('is not added to an IOUtils module of the spec folder', async () => {
    const dir = path.join(tmp, 'ioenvown');
    write(dir, 'IOUtils', mod('IOUtils', 'IOEnv == [A |-> "own"]'));
    const root = write(dir, 'Main', mod('Main', 'EXTENDS IOUtils\nV == IOEnv'));
    const spec = await loadSpec(root, { env: { A: 'process' } });
    const m = buildModel(spec, new Map());
    expect(toTla(m.evalConstant(m.lookup('V'), m.rootCtx))).toBe('[A |-> "own"]');
  });
});
