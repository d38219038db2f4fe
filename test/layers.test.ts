// The layer arrows, checked on the import statements of every source file:
//   tla/          the TLA+ toolchain: nothing from runtime/, conformance/, machines/, cli/
//   machines/     XState machines: xstate and each other, nothing else (no node: modules either)
//   runtime/      the engine: nothing from tla/, conformance/, cli/
//   conformance/  replays traces against the runtime: anything but cli/
//   cli/          the command line, above everything
// Also: no import cycle inside runtime/ (runtime/types.ts and runtime/api/app.ts once imported
// each other). Static imports, re-exports, `import type` and dynamic `import()` all count; the
// package's own name (`buffy`, `buffy/tla`) counts as the folder it points at.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const LAYERS = ['tla', 'machines', 'runtime', 'conformance', 'cli'] as const;
type Layer = (typeof LAYERS)[number];

const FORBIDDEN: Record<Layer, readonly Layer[]> = {
  tla: ['runtime', 'conformance', 'machines', 'cli'],
  machines: ['tla', 'runtime', 'conformance', 'cli'],
  runtime: ['tla', 'conformance', 'cli'],
  conformance: ['cli'],
  cli: [],
};
/** Arrows known to run the wrong way, each to be removed by moving the code where it belongs.
 * The test fails on any other violation, and on an entry here that is no longer true (so the
 * list shrinks as they are fixed). */
const KNOWN_VIOLATIONS: ReadonlySet<string> = new Set<string>([]);
/** Packages (and node: modules) machines/ may import. */
const MACHINE_PACKAGES = new Set(['xstate']);
/** The package's own entry points, as the files they resolve to in a checkout. */
const SELF: Record<string, string> = { buffy: 'runtime/index.ts', 'buffy/tla': 'tla/index.ts' };

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
    const rel = path.posix.join(dir, e.name);
    if (e.isDirectory()) out.push(...sourceFiles(rel));
    else if (/\.(ts|mts|js|mjs)$/.test(e.name) && !e.name.endsWith('.d.ts')) out.push(rel);
  }
  return out;
}

interface Import {
  readonly file: string;
  readonly line: number;
  readonly specifier: string;
  /** The repository path it resolves to (relative specifiers and the package's own name). */
  readonly target?: string;
}

const IMPORT_RE =
  /(?:^|[\s;])(?:import|export)\s+(?:type\s+)?(?:[\w*{}\s,$]+?\s+from\s+)?['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/g;

function importsOf(file: string): Import[] {
  const text = readFileSync(path.join(ROOT, file), 'utf8');
  // Comments mention paths in prose; blank them (keeping line numbers) before matching.
  const code = text.replace(/\/\*[\s\S]*?\*\/|\/\/[^\n]*/g, (c) => c.replace(/[^\n]/g, ' '));
  const found: Import[] = [];
  for (const m of code.matchAll(IMPORT_RE)) {
    const specifier = (m[1] ?? m[2])!;
    const line = code.slice(0, m.index).split('\n').length + (m[0].startsWith('\n') ? 1 : 0);
    const target = specifier.startsWith('.')
      ? path.posix.normalize(path.posix.join(path.posix.dirname(file), specifier))
      : SELF[specifier];
    found.push({ file, line, specifier, ...(target !== undefined ? { target } : {}) });
  }
  return found;
}

const layerOf = (repoPath: string): string => repoPath.split('/')[0]!;
const files = LAYERS.flatMap((l) => sourceFiles(l));
const imports = files.flatMap(importsOf);
const where = (i: Import) => `${i.file}:${i.line} imports '${i.specifier}'`;
const arrow = (i: Import) => `${i.file} -> '${i.specifier}'`;
const isForbidden = (i: Import): boolean =>
  i.target !== undefined &&
  (FORBIDDEN[layerOf(i.file) as Layer] as readonly string[]).includes(layerOf(i.target));

describe('layers', () => {
  it('finds the source files and their imports (the scan itself works)', () => {
    for (const l of LAYERS) expect(files.some((f) => f.startsWith(`${l}/`))).toBe(true);
    // A few arrows that must be seen, so a broken pattern cannot pass by finding nothing.
    expect(imports.some((i) => i.file.startsWith('cli/') && i.target?.startsWith('tla/'))).toBe(true);
    expect(imports.some((i) => i.file.startsWith('machines/') && i.specifier === 'xstate')).toBe(true);
    expect(imports.some((i) => i.file.startsWith('conformance/') && i.target?.startsWith('runtime/'))).toBe(
      true,
    );
  });

  for (const layer of LAYERS) {
    it(`${layer}/ imports nothing from ${FORBIDDEN[layer].join(', ') || '(no rule: it is the top)'}`, () => {
      const bad = imports
        .filter((i) => layerOf(i.file) === layer && isForbidden(i) && !KNOWN_VIOLATIONS.has(arrow(i)))
        .map(where);
      expect(bad).toEqual([]);
    });
  }

  it('every known violation still exists (remove an entry once its arrow is gone)', () => {
    const seen = new Set(imports.filter(isForbidden).map(arrow));
    expect([...KNOWN_VIOLATIONS].filter((v) => !seen.has(v))).toEqual([]);
  });

  it('machines/ imports only xstate and other machines', () => {
    const bad = imports
      .filter((i) => layerOf(i.file) === 'machines' && i.target === undefined)
      .filter((i) => !MACHINE_PACKAGES.has(i.specifier.split('/')[0]!))
      .map(where);
    expect(bad).toEqual([]);
  });

  it('runtime/ has no import cycle', () => {
    const graph = new Map<string, string[]>();
    for (const i of imports) {
      if (layerOf(i.file) !== 'runtime' || i.target === undefined || layerOf(i.target) !== 'runtime')
        continue;
      graph.set(i.file, [...(graph.get(i.file) ?? []), i.target]);
    }
    const state = new Map<string, 'open' | 'done'>();
    const cycles: string[] = [];
    const visit = (f: string, stack: string[]): void => {
      state.set(f, 'open');
      for (const t of graph.get(f) ?? []) {
        if (state.get(t) === 'open') cycles.push([...stack.slice(stack.indexOf(t)), t].join(' -> '));
        else if (!state.has(t)) visit(t, [...stack, t]);
      }
      state.set(f, 'done');
    };
    for (const f of graph.keys()) if (!state.has(f)) visit(f, [f]);
    expect(cycles).toEqual([]);
  });
});
