// Loads an application module: its default export is `(options: AppOptions) => Application`.
import { existsSync } from 'node:fs';
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

export async function loadApp(appPath: string, options: AppOptions): Promise<Application> {
  const abs = resolve(appPath);
  if (!existsSync(abs)) throw new AppLoadError(`${appPath}: no such application file`);
  let mod: { default?: unknown };
  try {
    mod = (await import(pathToFileURL(abs).href)) as { default?: unknown };
  } catch (err) {
    const message = (err as Error).message;
    const hint = /require\(\)? ?(of )?ES Module|require\(esm\)/i.test(message)
      ? ' (the file is loaded as CommonJS: name it .mts, or put it in a package whose package.json says "type": "module")'
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
