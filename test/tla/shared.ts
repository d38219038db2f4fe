// Where the tests find the shared TLA+ corpus: ../shared/tla-corpus beside the checkout (the
// CI has it; a fresh clone does not). BUFFY_SHARED names another shared folder, and
// BUFFY_TLA_CORPUS the corpus folder itself. Tests that need the corpus are registered with
// describeWithCorpus / itWithCorpus: without it they show as skipped with the reason in their
// name, and one note on stderr says what is missing.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'vitest';

export const repoRoot = path.resolve(import.meta.dirname, '..', '..');
export const sharedDir = path.resolve(repoRoot, process.env.BUFFY_SHARED ?? path.join('..', 'shared'));
export const corpusDir = path.resolve(
  repoRoot,
  process.env.BUFFY_TLA_CORPUS ?? path.join(sharedDir, 'tla-corpus'),
);
export const hasCorpus = existsSync(corpusDir);

/** Why corpus tests are skipped (for test names and the note). */
export const NO_CORPUS = `no TLA+ corpus at ${path.relative(repoRoot, corpusDir) || corpusDir} (put the shared folder beside the checkout, or set BUFFY_SHARED or BUFFY_TLA_CORPUS)`;

const noted = new Set<string>();
function note(what: string): void {
  if (noted.has(what)) return;
  noted.add(what);
  console.warn(`skipped ${what}: ${NO_CORPUS}`);
}

/** A describe block that needs the corpus; `body` runs only when it is present. */
export function describeWithCorpus(name: string, body: () => void): void {
  if (hasCorpus) {
    describe(name, body);
    return;
  }
  note(name);
  it.skip(`${name} [skipped: ${NO_CORPUS}]`, () => {});
}

/** A test that needs the corpus. */
export function itWithCorpus(name: string, fn: () => unknown): void {
  if (hasCorpus) {
    it(name, fn);
    return;
  }
  note(name);
  it.skip(`${name} [skipped: ${NO_CORPUS}]`, () => {});
}
