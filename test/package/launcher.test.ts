// bin/dist.mjs: when the launcher may run dist/ instead of the TypeScript sources. Checked on
// package layouts built in a temporary folder: an installed package (dist/ only), a checkout
// with a current build, with an edited, added or deleted source, and without a build.
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BUILD_INPUTS, DIST_MAIN, STAMP, compiledIsCurrent } from '../../bin/dist.mjs';

const base = mkdtempSync(join(tmpdir(), 'buffy-launcher-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));

const T0 = new Date('2026-01-01T00:00:00Z');
const BUILT = new Date('2026-01-02T00:00:00Z');
const LATER = new Date('2026-01-03T00:00:00Z');

function file(root: string, rel: string, time: Date): void {
  const p = join(root, rel);
  mkdirSync(dirname(p), { recursive: true });
  writeFileSync(p, rel);
  utimesSync(p, time, time);
}

/** Sets every folder's mtime (adding files moved them to now). */
function settle(root: string, rels: string[], time: Date): void {
  for (const rel of rels) utimesSync(join(root, rel), time, time);
}

let n = 0;
function checkout(): string {
  const root = join(base, `checkout-${n++}`);
  for (const input of BUILD_INPUTS) {
    if (input.endsWith('.json')) file(root, input, T0);
    else file(root, join(input, 'a.ts'), T0);
  }
  file(root, 'cli/main.ts', T0);
  file(root, 'tla/check/deep.ts', T0);
  file(root, DIST_MAIN, BUILT);
  file(root, STAMP, BUILT);
  settle(root, [...BUILD_INPUTS.filter((i) => !i.endsWith('.json')), 'tla/check'], T0);
  return root;
}

describe('compiledIsCurrent', () => {
  it('an installed package (dist/ and no sources) runs dist/', () => {
    const root = join(base, 'installed');
    file(root, DIST_MAIN, BUILT);
    expect(compiledIsCurrent(root)).toBe(true);
  });

  it('a checkout runs dist/ while no source changed since the build started', () => {
    expect(compiledIsCurrent(checkout())).toBe(true);
  });

  it('an edited source, deep or not, makes dist/ stale', () => {
    for (const rel of ['tla/check/deep.ts', 'cli/main.ts', 'specs/a.ts', 'tsconfig.build.json']) {
      const root = checkout();
      utimesSync(join(root, rel), LATER, LATER);
      expect([rel, compiledIsCurrent(root)]).toEqual([rel, false]);
    }
  });

  it('an added or deleted source makes dist/ stale (its folder changed)', () => {
    const added = checkout();
    writeFileSync(join(added, 'runtime/new.ts'), '');
    expect(compiledIsCurrent(added)).toBe(false);
    const deleted = checkout();
    rmSync(join(deleted, 'machines/a.ts'));
    expect(compiledIsCurrent(deleted)).toBe(false);
  });

  it('no build, or a build that did not finish (no stamp), runs the sources', () => {
    const none = checkout();
    rmSync(join(none, 'dist'), { recursive: true });
    expect(compiledIsCurrent(none)).toBe(false);
    const unfinished = checkout();
    rmSync(join(unfinished, STAMP));
    expect(compiledIsCurrent(unfinished)).toBe(false);
  });
});
