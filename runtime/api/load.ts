// Loads an application module: its default export is `(options: AppOptions) => Application`.
//
// An application is an ES module, whatever its folder's package.json says: `.ts`, `.mts`, `.js`
// and `.mjs` apps load from any folder (one with no package.json, or a CommonJS package); `.cts`
// and `.cjs` ones are refused. Before the first import, `prepareImport` sets up what it needs:
//   - run from the compiled package (dist/), a TypeScript app needs tsx, registered then (so
//     commands that load no TypeScript app never pay for it);
//   - a module hook makes a `.ts` or `.js` app itself an ES module (tsx and Node would follow the
//     package type, and a CommonJS app cannot import the package, an ES module);
//   - run from the TypeScript sources (a checkout without a current build), the hook resolves
//     the app's `import ... from 'buffy'` to these same sources (the `buffy-source` condition of
//     package.json's exports), not to dist/: the app and the engine share one copy of the API.
import { existsSync } from 'node:fs';
import { register } from 'node:module';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { AppConfigError, isApplication } from './app.ts';
import { AppOptionsError } from './options.ts';
import type { Application } from './app.ts';
import type { AppOptions } from './options.ts';

export class AppLoadError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AppLoadError';
  }
}

/** True when this file runs as TypeScript (tsx or vitest), false when compiled (dist/). */
const FROM_SOURCES = import.meta.url.endsWith('.ts');
const TYPESCRIPT = /\.(ts|mts|cts|tsx)$/;

/** The module hook (see the top of this file). `loader` is this module's URL: an import whose
 * parent it is, is an app. */
const HOOKS = `
let loader, sourceCondition;
export function initialize(data) { loader = data.loader; sourceCondition = data.sourceCondition; }
export async function resolve(specifier, context, next) {
  if (sourceCondition && (specifier === 'buffy' || specifier.startsWith('buffy/'))) {
    context = { ...context, conditions: [...context.conditions, 'buffy-source'] };
  }
  const r = await next(specifier, context);
  if (context.parentURL === loader && /\\.(tsx?|js)$/.test(new URL(r.url).pathname)) return { ...r, format: 'module' };
  return r;
}
`;

let tsxRegistered = FROM_SOURCES;
let hooksRegistered = false;

async function prepareImport(abs: string): Promise<void> {
  const typescript = TYPESCRIPT.test(abs);
  if (typescript && !tsxRegistered) {
    const tsx = await import('tsx/esm/api');
    tsx.register();
    tsxRegistered = true;
  }
  // Hooks run last-registered first: this one must come after tsx to see its answer.
  if (!hooksRegistered) {
    register(`data:text/javascript,${encodeURIComponent(HOOKS)}`, {
      data: { loader: import.meta.url, sourceCondition: FROM_SOURCES },
    });
    hooksRegistered = true;
  }
}

const ESM_ADVICE = 'name it .ts, .mts, .js or .mjs';

/** The modules imported so far, by absolute path. Node's module map keeps them anyway (a second
 * import of a file returns the same module); asking it again costs a round trip through the
 * module hooks (another thread, with tsx), which `buffy sim --seeds` paid for every seed. */
const imported = new Map<string, { default?: unknown }>();

export async function loadApp(appPath: string, options: AppOptions): Promise<Application> {
  const abs = resolve(appPath);
  if (!existsSync(abs)) throw new AppLoadError(`${appPath}: no such application file`);
  if (/\.c[jt]s$/.test(abs)) {
    throw new AppLoadError(
      `${appPath}: an application is an ES module, and this file is CommonJS: ${ESM_ADVICE}`,
    );
  }
  let mod: { default?: unknown };
  try {
    const known = imported.get(abs);
    if (known) mod = known;
    else {
      await prepareImport(abs);
      mod = (await import(pathToFileURL(abs).href)) as { default?: unknown };
      imported.set(abs, mod);
    }
  } catch (err) {
    const message = (err as Error).message;
    const hint =
      /require\(\)? ?(of )?ES Module|require\(esm\)|exports is not defined|Cannot use import statement/i.test(
        message,
      )
        ? ` (an application is an ES module: ${ESM_ADVICE})`
        : '';
    throw new AppLoadError(`${appPath}: cannot load the module: ${message}${hint}`, { cause: err });
  }
  const factory = mod.default;
  if (typeof factory !== 'function') {
    throw new AppLoadError(
      `${appPath}: the default export must be a function (options: AppOptions) => Application, got ${typeof factory}`,
    );
  }
  let app: unknown;
  try {
    app = await (factory as (o: AppOptions) => unknown)(options);
  } catch (err) {
    // Errors that already name the app, step or parameter pass through as they are.
    if (err instanceof AppConfigError || err instanceof AppOptionsError) throw err;
    const message = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    throw new AppLoadError(`${appPath}: the application factory (its default export) threw: ${message}`, {
      cause: err,
    });
  }
  if (!isApplication(app)) {
    throw new AppLoadError(
      `${appPath}: the default export did not return an Application; end the factory with app.build()`,
    );
  }
  return app;
}
