import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TlaError } from '../../../tla/errors.ts';
import { loadSpec } from '../../../tla/parse/index.ts';

let tmp = '';

/** Writes `<dir>/<name>.tla` holding a module `name` with the given body; returns its path. */
function writeModule(dir: string, name: string, body: string, moduleName = name): string {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name}.tla`);
  fs.writeFileSync(file, `---- MODULE ${moduleName} ----\n${body}\n====\n`);
  return file;
}

async function loadError(root: string, libDirs: string[] = []): Promise<TlaError> {
  try {
    await loadSpec(root, { libDirs });
  } catch (e) {
    if (e instanceof TlaError) return e;
    throw e;
  }
  throw new Error(`expected loading ${root} to fail`);
}

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'buffy-parse-'));
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('loadSpec', () => {
  it('resolves EXTENDS and INSTANCE transitively: root folder, then libDirs in order, then standard modules', async () => {
    const dir = path.join(tmp, 'resolve');
    const lib1 = path.join(dir, 'lib1');
    const lib2 = path.join(dir, 'lib2');
    const root = writeModule(dir, 'Main', 'EXTENDS Naturals, Local, Shared\nI == INSTANCE Deep\nA == 1');
    writeModule(dir, 'Local', 'EXTENDS Sequences\nL == 1');
    writeModule(lib1, 'Shared', 'S == "lib1"');
    writeModule(lib2, 'Shared', 'S == "lib2"');
    writeModule(lib2, 'Deep', 'EXTENDS Deeper\nD == 1');
    writeModule(lib2, 'Deeper', 'LOCAL INSTANCE TLC\nDD == 1');
    // A file named like a standard module is never read, even when broken.
    fs.writeFileSync(path.join(dir, 'Naturals.tla'), 'this is not TLA+');

    const spec = await loadSpec(root, { libDirs: [lib1, lib2] });
    expect(spec.root.name).toBe('Main');
    expect([...spec.modules.keys()].sort()).toEqual([
      'Deep',
      'Deeper',
      'Local',
      'Main',
      'Naturals',
      'Sequences',
      'Shared',
      'TLC',
    ]);
    const shared = spec.modules.get('Shared')!;
    expect(shared.file).toBe(path.join(lib1, 'Shared.tla'));
    const s = shared.definitions[0]!;
    expect(s.kind === 'opDef' && s.body.kind === 'str' ? s.body.value : null).toBe('lib1');
    for (const std of ['Naturals', 'Sequences', 'TLC']) {
      expect(spec.modules.get(std)).toMatchObject({
        name: std,
        standard: true,
        definitions: [],
        extends: [],
      });
    }
    expect(spec.modules.get('Main')!.standard).toBe(false);
  });

  it('resolves a submodule by name and follows references from submodules and LETs', async () => {
    const dir = path.join(tmp, 'submodules');
    const root = writeModule(
      dir,
      'Outer',
      [
        '---- MODULE Inner ----',
        'EXTENDS FromInner',
        'X == 1',
        '====',
        'I == INSTANCE Inner',
        'Op == LET J == INSTANCE FromLet IN J!Y',
      ].join('\n'),
    );
    writeModule(dir, 'FromInner', 'Z == 1');
    writeModule(dir, 'FromLet', 'Y == 2');
    const spec = await loadSpec(root);
    expect([...spec.modules.keys()].sort()).toEqual(['FromInner', 'FromLet', 'Inner', 'Outer']);
    expect(spec.modules.get('Inner')).toBe(spec.root.submodules[0]);
  });

  it('reports a missing module at the place that names it, with the folders searched', async () => {
    const dir = path.join(tmp, 'missing');
    const lib = path.join(dir, 'lib');
    fs.mkdirSync(lib, { recursive: true });
    const root = writeModule(dir, 'Main', 'EXTENDS Naturals,\n        Nowhere\nA == 1');
    const e = await loadError(root, [lib]);
    expect(e.kind).toBe('io');
    expect(e.message).toMatch(/^module Nowhere not found/);
    expect(e.message).toContain(path.resolve(dir));
    expect(e.message).toContain(path.resolve(lib));
    expect(e.loc).toEqual({ file: root, line: 3, col: 9 });
  });

  it('reports a missing INSTANCE module inside another loaded module', async () => {
    const dir = path.join(tmp, 'missing-instance');
    const root = writeModule(dir, 'Main', 'EXTENDS Mid');
    const mid = writeModule(dir, 'Mid', 'M == INSTANCE Gone');
    const e = await loadError(root);
    expect(e.kind).toBe('io');
    expect(e.message).toMatch(/module Gone not found \(named by INSTANCE in Mid\)/);
    expect(e.loc).toEqual({ file: mid, line: 2, col: 15 });
  });

  it('reports a missing root file', async () => {
    const e = await loadError(path.join(tmp, 'no-such-dir', 'Root.tla'));
    expect(e.kind).toBe('io');
    expect(e.message).toMatch(/Root\.tla not found/);
  });

  it('detects cyclic EXTENDS', async () => {
    const dir = path.join(tmp, 'cycle');
    const root = writeModule(dir, 'A', 'EXTENDS B');
    writeModule(dir, 'B', 'EXTENDS C');
    const c = writeModule(dir, 'C', 'EXTENDS Naturals, A');
    const e = await loadError(root);
    expect(e.kind).toBe('semantic');
    expect(e.message).toMatch(/circular module dependency A -> B -> C -> A/);
    expect(e.loc).toEqual({ file: c, line: 2, col: 19 });
  });

  it('rejects a file whose module has another name', async () => {
    const dir = path.join(tmp, 'misnamed');
    const root = writeModule(dir, 'Main', 'EXTENDS Other');
    writeModule(dir, 'Other', 'X == 1', 'Different');
    const e = await loadError(root);
    expect(e.kind).toBe('parse');
    expect(e.message).toMatch(/Other\.tla holds module Different/);
  });

  it('reports syntax errors of a dependency in that file', async () => {
    const dir = path.join(tmp, 'dep-syntax');
    const root = writeModule(dir, 'Main', 'EXTENDS Broken');
    const broken = writeModule(dir, 'Broken', 'X == \\E y \\in S y');
    const e = await loadError(root);
    expect(e.kind).toBe('parse');
    expect(e.loc).toEqual({ file: broken, line: 2, col: 17 });
  });
});
