// An application is an ES module wherever it lives: `.ts`, `.mts`, `.js` and `.mjs` apps load
// from a folder with no package.json (which Node and tsx would otherwise treat as CommonJS,
// failing with "Cannot require() ES Module ... in a cycle"); `.cts`/`.cjs` are refused with a
// message saying why. Run through the real CLI (bin/buffy.mjs), as a user does; the folder
// reaches the package through node_modules/buffy, as after `npm install buffy`.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const REPO = fileURLToPath(new URL('../../..', import.meta.url));
const BUFFY = join(REPO, 'bin/buffy.mjs');
const dir = mkdtempSync(join(tmpdir(), 'buffy-esm-apps-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
mkdirSync(join(dir, 'node_modules'));
symlinkSync(REPO, join(dir, 'node_modules', 'buffy'));
const lines = ['alpha', 'beta', 'gamma'];
writeFileSync(join(dir, 'in.txt'), lines.join('\n') + '\n');

const APP_TS = `import { defineApp, stringCodec, type AppOptions } from 'buffy';
export default function (o: AppOptions) {
  const app = defineApp('upper');
  app.source('lines', { uri: 'file:in.txt', decode: stringCodec })
    .map('upper', (line: string) => line.toUpperCase())
    .sink('out', { uri: o.sink ?? 'stdout:', encode: stringCodec });
  return app.build();
}
`;
const APP_JS = `import { defineApp, stringCodec } from 'buffy';
export default function (o) {
  const app = defineApp('upper');
  app.source('lines', { uri: 'file:in.txt', decode: stringCodec })
    .map('upper', (line) => line.toUpperCase())
    .sink('out', { uri: o.sink ?? 'stdout:', encode: stringCodec });
  return app.build();
}
`;

function run(app: string, sink: string) {
  return spawnSync(process.execPath, [BUFFY, 'run', app, '--sink', `file:${sink}`], {
    cwd: dir,
    encoding: 'utf8',
  });
}

describe('apps outside a "type": "module" package', () => {
  for (const [name, text] of [
    ['app.ts', APP_TS],
    ['app.mts', APP_TS],
    ['app.js', APP_JS],
    ['app.mjs', APP_JS],
  ] as const) {
    it(`${name} in a folder with no package.json loads as an ES module and runs`, () => {
      writeFileSync(join(dir, name), text);
      const r = run(name, `${name}.out`);
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(readFileSync(join(dir, `${name}.out`), 'utf8')).toBe(
        lines.map((l) => `${l.toUpperCase()}\n`).join(''),
      );
    });
  }

  it('a .cts app is refused: an application is an ES module (exit 2)', () => {
    writeFileSync(join(dir, 'app.cts'), APP_TS);
    const r = run('app.cts', 'cts.out');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(
      /app\.cts: an application is an ES module, and this file is CommonJS: name it \.ts/,
    );
  });
});
