#!/usr/bin/env node
// The `buffy` command. An installed package runs the compiled CLI in dist/. A checkout runs
// dist/ as well while it is a build of the current sources (`npm ci` builds it: the package's
// `prepare` script), and otherwise the TypeScript sources through tsx, so that an edit takes
// effect without a build step. tsx is loaded only then; a compiled CLI loads it only to import
// an application written in TypeScript (runtime/api/load.ts).
import { compiledIsCurrent } from './dist.mjs';

async function fromSources() {
  const { register } = await import('tsx/esm/api');
  register();
  return import('../cli/main.ts');
}

const { main } = compiledIsCurrent() ? await import('../dist/cli/main.js') : await fromSources();
process.exitCode = await main(process.argv.slice(2));
