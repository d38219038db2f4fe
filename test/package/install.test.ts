// Buffy as a user gets it: `npm pack` (which builds dist/ through the prepack script), the
// tarball installed with no network into a project outside the repository, then a TypeScript
// application importing 'buffy' run with `npx buffy run`, a script importing 'buffy/tla', and
// the installed type declarations checked by tsc.
//
// The repository is packed from a copy (so the build never rewrites this checkout's dist/
// while other tests run the CLI). The project gets the package's dependencies by copying them
// from this repository's node_modules (real copies: npm rewrites files there), so the offline
// install finds every dependency already in place.
import { spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
/** What the package's build and `npm pack` read. */
const PACKAGE_INPUTS = [
  'package.json',
  'tsconfig.json',
  'tsconfig.build.json',
  'README.md',
  'bin',
  'cli',
  'runtime',
  'tla',
  'machines',
  'conformance',
  'specs',
];
const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as {
  version: string;
  dependencies: Record<string, string>;
};

let work = '';
let project = '';
let packed: { filename: string; files: { path: string }[] };

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], cwd: string, timeout = 120_000): Run {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout, env: { ...process.env, CI: 'true' } });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function ok(r: Run, what: string): Run {
  if (r.status !== 0)
    throw new Error(`${what} exited ${r.status}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`);
  return r;
}

/** The installed packages `names` need, transitively (from the flat node_modules). */
function dependencyClosure(names: readonly string[]): string[] {
  const seen = new Set<string>();
  const visit = (name: string): void => {
    if (seen.has(name)) return;
    const manifest = join(REPO, 'node_modules', name, 'package.json');
    if (!existsSync(manifest)) return; // an optional dependency for another platform
    seen.add(name);
    const m = JSON.parse(readFileSync(manifest, 'utf8')) as Record<
      string,
      Record<string, string> | undefined
    >;
    for (const d of Object.keys({ ...m.dependencies, ...m.optionalDependencies, ...m.peerDependencies }))
      visit(d);
  };
  names.forEach(visit);
  return [...seen].sort();
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'buffy-package-'));
  const stage = join(work, 'stage');
  for (const input of PACKAGE_INPUTS) cpSync(join(REPO, input), join(stage, input), { recursive: true });
  rmSync(join(stage, 'dist'), { recursive: true, force: true });
  symlinkSync(join(REPO, 'node_modules'), join(stage, 'node_modules'));
  const pack = ok(run('npm', ['pack', '--json', '--pack-destination', work], stage, 300_000), 'npm pack');
  packed = (JSON.parse(pack.stdout.slice(pack.stdout.indexOf('['))) as (typeof packed)[])[0]!;

  // A user's project: no "type" field, so CommonJS by default (an app is loaded as an ES
  // module all the same).
  project = join(work, 'project');
  mkdirSync(project);
  writeFileSync(
    join(project, 'package.json'),
    JSON.stringify({ name: 'user-app', version: '0.0.0', private: true }),
  );
  for (const name of dependencyClosure(Object.keys(pkg.dependencies))) {
    cpSync(join(REPO, 'node_modules', name), join(project, 'node_modules', name), { recursive: true });
  }
  ok(
    run('npm', ['install', '--offline', '--no-audit', '--no-fund', join(work, packed.filename)], project),
    'npm install --offline',
  );
}, 400_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('the packed package', () => {
  it('holds compiled code, declarations, the TLA+ standard modules and the launcher; no sources or tests', () => {
    const paths = packed.files.map((f) => f.path);
    for (const p of [
      'bin/buffy.mjs',
      'README.md',
      'package.json',
      'dist/cli/main.js',
      'dist/runtime/index.js',
      'dist/runtime/index.d.ts',
      'dist/tla/index.js',
      'dist/tla/index.d.ts',
      'dist/tla/lib/SequencesExt.tla',
    ]) {
      expect(paths).toContain(p);
    }
    expect(paths.filter((p) => /(?<!\.d)\.ts$/.test(p))).toEqual([]);
    expect(
      paths.filter((p) => /(^|\/)(test|examples|bench|node_modules)\//.test(p) || /\.test\./.test(p)),
    ).toEqual([]);
    // The installed package has no sources, so its launcher runs dist/ (and needs no build).
    expect(existsSync(join(project, 'node_modules/buffy/cli/main.ts'))).toBe(false);
    expect(existsSync(join(project, 'node_modules/buffy/dist/cli/main.js'))).toBe(true);
  });

  it('npx buffy --version prints the version in package.json', () => {
    const r = ok(run('npx', ['--offline', 'buffy', '--version'], project), 'buffy --version');
    expect(r.stdout.trim()).toBe(pkg.version);
  });

  it('runs a TypeScript app that imports from buffy (npx buffy run app.ts)', () => {
    writeFileSync(
      join(project, 'app.ts'),
      `import { defineApp, parseParams, stringCodec, z, type AppOptions, type Emit } from 'buffy';

const params = z.object({ min: z.coerce.number().int().default(1) });

export default function lengths(options: AppOptions) {
  const { min } = parseParams(params, options.params);
  const app = defineApp('lengths');
  app
    .source('lines', { uri: options.source ?? 'file:in.txt', decode: stringCodec })
    .flatMap('words', (line: string) => line.split(' ').filter((w) => w.length >= min))
    .state('per-initial', {
      key: (w: string) => w[0]!,
      init: () => 0,
      update: (n: number, w: string, emit: Emit<string>) => {
        emit(\`\${w[0]} \${n + w.length}\`);
        return n + w.length;
      },
      codec: stringCodec,
    })
    .sink('out', { uri: options.sink ?? 'file:out.txt', encode: stringCodec });
  return app.build();
}
`,
    );
    const words = fc.sample(fc.array(fc.stringMatching(/^[a-e]{1,6}$/), { minLength: 1, maxLength: 8 }), {
      numRuns: 40,
      seed: 12,
    });
    writeFileSync(join(project, 'in.txt'), words.map((ws) => ws.join(' ')).join('\n') + '\n');
    const r = ok(
      run('npx', ['--offline', 'buffy', 'run', 'app.ts', '--param', 'min=2'], project),
      'buffy run app.ts',
    );
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^lengths: done after/m);

    const totals = new Map<string, number>();
    const expected: string[] = [];
    for (const w of words.flat().filter((x) => x.length >= 2)) {
      const n = (totals.get(w[0]!) ?? 0) + w.length;
      totals.set(w[0]!, n);
      expected.push(`${w[0]} ${n}`);
    }
    expect(readFileSync(join(project, 'out.txt'), 'utf8')).toBe(expected.map((l) => `${l}\n`).join(''));
  });

  it('an app with a bad parameter is a usage error naming it (exit 2)', () => {
    const r = run('npx', ['--offline', 'buffy', 'run', 'app.ts', '--param', 'min=x'], project);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--param min \(given "x"\)/);
  });

  it("checks a spec with the checker's library API from an .mjs file (import from 'buffy/tla')", () => {
    const limit = 7;
    writeFileSync(
      join(project, 'Counter.tla'),
      `---- MODULE Counter ----
EXTENDS Naturals, SequencesExt
VARIABLE x
Init == x = 0
Next == x < ${limit} /\\ x' = x + 1
Inv == x \\in 0..${limit} /\\ SetToSeq({x}) = <<x>>
====
`,
    );
    writeFileSync(
      join(project, 'Counter.cfg'),
      'INIT Init\nNEXT Next\nINVARIANT Inv\nCHECK_DEADLOCK FALSE\n',
    );
    writeFileSync(
      join(project, 'check.mjs'),
      `import { check, loadModel } from 'buffy/tla';
const r = check(await loadModel('Counter.tla'));
console.log(JSON.stringify({ result: r.result, distinct: r.distinctStates, depth: r.depth }));
`,
    );
    const r = ok(run(process.execPath, ['check.mjs'], project), 'node check.mjs');
    // x = 0 .. limit: limit + 1 states, a path of limit steps (TLC counts depth in states).
    expect(JSON.parse(r.stdout)).toEqual({ result: 'ok', distinct: limit + 1, depth: limit + 1 });

    const cli = ok(run('npx', ['--offline', 'buffy', 'check', 'Counter.tla'], project), 'buffy check');
    expect(cli.stdout).toMatch(new RegExp(`\\b${limit + 1} distinct states found`));
  });

  it('the installed type declarations type-check the app, and reject a wrong one', () => {
    writeFileSync(
      join(project, 'wrong.ts'),
      `import { defineApp, stringCodec } from 'buffy';
defineApp('w').source('s', { uri: 'file:x', decode: stringCodec }).map('n', (s: number) => s);
`,
    );
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'nodenext',
          moduleResolution: 'nodenext',
          target: 'es2022',
          strict: true,
          noEmit: true,
          types: [],
          typeRoots: [join(REPO, 'node_modules/@types')],
          skipLibCheck: false, // the package's own .d.ts files are checked too
        },
        files: ['app.ts', 'wrong.ts'],
      }),
    );
    const r = run(
      process.execPath,
      [join(REPO, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'],
      project,
    );
    // The one error: a string stream mapped by a function of numbers. app.ts is clean.
    const errors = r.stdout.split('\n').filter((l) => /^\S/.test(l)); // not the indented details
    expect(errors).toEqual([expect.stringMatching(/^wrong\.ts\(2,\d+\): error TS2345: /)]);
    expect(r.status).not.toBe(0);
  });
});
