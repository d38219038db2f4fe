// Where the compiled CLI is, and whether it is current. Used by the launcher (bin/buffy.mjs) to
// choose between dist/ and the TypeScript sources, and by the build (bin/build.mjs).
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { URL, fileURLToPath } from 'node:url';

/** The package root: the folder holding package.json, bin/ and dist/. */
export const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** What the build reads: the compiled folders and the files copied into dist/ (tla/lib, specs). */
export const BUILD_INPUTS = [
  'cli',
  'runtime',
  'tla',
  'machines',
  'conformance',
  'specs',
  'tsconfig.json',
  'tsconfig.build.json',
];

/** Written last by the build; its mtime is the time the build started. */
export const STAMP = join('dist', '.build-stamp');

/** The compiled entry of the CLI. */
export const DIST_MAIN = join('dist', 'cli', 'main.js');

/** The newest mtime (ms) under `path` that is later than `than`, or undefined if none is. Stops
 * at the first such file. */
function newerThan(path, than) {
  let st;
  try {
    st = statSync(path);
  } catch {
    return undefined;
  }
  if (st.mtimeMs > than) return st.mtimeMs;
  if (!st.isDirectory()) return undefined;
  for (const name of readdirSync(path)) {
    const t = newerThan(join(path, name), than);
    if (t !== undefined) return t;
  }
  return undefined;
}

/**
 * Whether dist/ holds a build of the current sources. An installed package has no sources (only
 * dist/), so its dist/ is current by definition. In a checkout, dist/ is current when no build
 * input (file or folder: an added or deleted file changes its folder's mtime) changed since the
 * build started.
 */
export function compiledIsCurrent(root = ROOT) {
  if (!existsSync(join(root, DIST_MAIN))) return false;
  if (!existsSync(join(root, 'cli', 'main.ts'))) return true;
  let built;
  try {
    built = statSync(join(root, STAMP)).mtimeMs;
  } catch {
    return false;
  }
  return BUILD_INPUTS.every((input) => newerThan(join(root, input), built) === undefined);
}
