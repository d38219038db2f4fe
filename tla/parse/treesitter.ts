// Loading of the tree-sitter runtime (wasm) and the TLA+ grammar, once per process.
import { createRequire } from 'node:module';
import path from 'node:path';
import { Language, Parser } from 'web-tree-sitter';
import type { Tree } from 'web-tree-sitter';

let parserPromise: Promise<Parser> | null = null;

/** Path of the tree-sitter-tlaplus grammar wasm, resolved from this file (independent of cwd). */
export function grammarWasmPath(): string {
  const require = createRequire(import.meta.url);
  const pkgJson = require.resolve('@tlaplus/tree-sitter-tlaplus/package.json');
  return path.join(path.dirname(pkgJson), 'tree-sitter-tlaplus.wasm');
}

async function createParser(): Promise<Parser> {
  await Parser.init();
  const language = await Language.load(grammarWasmPath());
  const parser = new Parser();
  parser.setLanguage(language);
  return parser;
}

/** The shared TLA+ parser; the first call loads the wasm, later calls reuse it. */
export function getParser(): Promise<Parser> {
  if (!parserPromise) {
    parserPromise = createParser();
    // A failed load is not cached, so a later call can retry.
    parserPromise.catch(() => {
      parserPromise = null;
    });
  }
  return parserPromise;
}

/** Parses TLA+ source text into a tree-sitter concrete syntax tree. */
export async function parseCst(text: string): Promise<Tree> {
  const parser = await getParser();
  const tree = parser.parse(text);
  if (!tree) throw new Error('tree-sitter returned no tree for the TLA+ source');
  return tree;
}
