import fs from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { loadSpec } from '../../../tla/parse/index.ts';
import { printDefinition } from '../../../tla/parse/print.ts';
import { parseBody, stripLocs } from './helpers.ts';
import { corpusDir, describeWithCorpus } from '../shared.ts';

/** Every AST node (an object with a `kind`) below `v` that lacks a place inside a file of `lines` lines. */
function misplaced(v: unknown, file: string, lines: number, out: string[] = []): string[] {
  if (Array.isArray(v)) {
    for (const x of v) misplaced(x, file, lines, out);
  } else if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if (typeof o.kind === 'string' && o.kind !== 'index' && o.kind !== 'field') {
      const loc = o.loc as { file?: string; line?: number; col?: number } | undefined;
      if (
        !loc ||
        loc.file !== file ||
        !loc.line ||
        loc.line < 1 ||
        loc.line > lines ||
        !loc.col ||
        loc.col < 1
      )
        out.push(JSON.stringify(o).slice(0, 120));
    }
    for (const [k, x] of Object.entries(o)) if (k !== 'loc') misplaced(x, file, lines, out);
  }
  return out;
}

/** Every .tla file under the corpus, recursively. */
function tlaFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...tlaFiles(p));
    else if (entry.name.endsWith('.tla')) out.push(p);
  }
  return out.sort();
}

const files = fs.existsSync(corpusDir) ? tlaFiles(corpusDir) : [];

describeWithCorpus('the TLA+ corpus', () => {
  it('is present', () => {
    expect(files.length).toBeGreaterThan(50);
  });

  for (const file of files) {
    const rel = path.relative(corpusDir, file);
    it(`loads ${rel}`, async () => {
      const spec = await loadSpec(file);
      expect(spec.root.name).toBe(path.basename(file, '.tla'));
      expect(spec.root.definitions.length + spec.root.variables.length).toBeGreaterThan(0);
      for (const name of spec.root.extends) expect(spec.modules.has(name), `EXTENDS ${name}`).toBe(true);
      // Every expression and definition has a place in its file.
      const lines = fs.readFileSync(file, 'utf8').split('\n').length;
      expect(misplaced(spec.root.definitions, file, lines)).toEqual([]);
      expect(misplaced(spec.root.assumptions, file, lines)).toEqual([]);
      // Printing every definition and parsing it back gives the same AST (modulo places).
      const printed = spec.root.definitions.map(printDefinition).join('\n');
      const reparsed = await parseBody(printed);
      expect(stripLocs(reparsed.definitions)).toEqual(stripLocs(spec.root.definitions));
    });
  }

  for (const [folder, module] of [
    ['expr-23-unicode-alloc', 'UnicodeAlloc'],
    ['expr-24-unicode-tictactoe', 'TicTacToe'],
  ] as const) {
    it(`reads ${folder} in Unicode as its ASCII transliteration`, async () => {
      const unicode = await loadSpec(path.join(corpusDir, folder, `${module}.tla`));
      const ascii = await loadSpec(path.join(corpusDir, folder, 'ascii', `${module}.tla`));
      expect(unicode.root.definitions.length).toBeGreaterThan(3);
      expect(stripLocs(unicode.root)).toEqual(stripLocs(ascii.root));
    });
  }
});
