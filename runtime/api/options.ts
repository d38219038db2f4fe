// Options an application factory receives: `--source URI`, `--sink URI`, `--param k=v`
// (repeatable). `buffy run` and `buffy node` both build them with `parseAppOptions` /
// `toAppOptions`; an app module default-exports `(options: AppOptions) => Application`.
import { z } from 'zod';
import type { Application } from './app.ts';

export interface AppOptions {
  /** Overrides the app's default source URI (for its first source). */
  readonly source?: string;
  /** Overrides the app's default sink URI (for its sinks). */
  readonly sink?: string;
  readonly params: Readonly<Record<string, string>>;
}

export type AppFactory = (options: AppOptions) => Application;

export class AppOptionsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AppOptionsError';
  }
}

const uriSchema = z
  .string()
  .regex(
    /^[A-Za-z][A-Za-z0-9+.-]*:/,
    'must be a connector URI such as file:PATH, stdout:, tcp:HOST:PORT, memory:NAME',
  );
const paramSchema = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_.-]*=/, 'must be KEY=VALUE with KEY of letters, digits, _ . -');

/** Raw flag values as commander hands them over. */
export const rawAppOptionsSchema = z.object({
  source: uriSchema.optional(),
  sink: uriSchema.optional(),
  param: z.array(paramSchema).optional(),
});

function firstIssue(err: z.ZodError): string {
  const issue = err.issues[0]!;
  const path = issue.path;
  const flag = path.length > 0 ? `--${String(path[0])}` : 'options';
  return `${flag}: ${issue.message}`;
}

/** Validates flag values (`{ source?, sink?, param?: string[] }`) into AppOptions. */
export function toAppOptions(raw: { source?: unknown; sink?: unknown; param?: unknown }): AppOptions {
  const r = rawAppOptionsSchema.safeParse(raw);
  if (!r.success) throw new AppOptionsError(firstIssue(r.error));
  const params: Record<string, string> = {};
  for (const p of r.data.param ?? []) {
    const eq = p.indexOf('=');
    const k = p.slice(0, eq);
    if (Object.prototype.hasOwnProperty.call(params, k)) {
      throw new AppOptionsError(`--param ${p}: parameter "${k}" is given twice`);
    }
    params[k] = p.slice(eq + 1);
  }
  return {
    ...(r.data.source !== undefined ? { source: r.data.source } : {}),
    ...(r.data.sink !== undefined ? { sink: r.data.sink } : {}),
    params,
  };
}

/** Parses `--source URI --sink URI --param k=v ...` (also `--flag=value`). Unknown flags and
 * missing values are errors naming the flag. */
export function parseAppOptions(argv: readonly string[]): AppOptions {
  const raw: { source?: string; sink?: string; param: string[] } = { param: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    let flag = arg;
    let value: string | undefined;
    const eq = arg.indexOf('=');
    if (arg.startsWith('--') && eq > 2) {
      flag = arg.slice(0, eq);
      value = arg.slice(eq + 1);
    }
    if (flag !== '--source' && flag !== '--sink' && flag !== '--param') {
      throw new AppOptionsError(
        `${arg}: unknown option; expected --source URI, --sink URI or --param KEY=VALUE`,
      );
    }
    if (value === undefined) {
      value = argv[++i];
      if (value === undefined) throw new AppOptionsError(`${flag}: missing value`);
    }
    if (flag === '--param') raw.param.push(value);
    else if (raw[flag === '--source' ? 'source' : 'sink'] !== undefined) {
      throw new AppOptionsError(`${flag}: given twice`);
    } else raw[flag === '--source' ? 'source' : 'sink'] = value;
  }
  return toAppOptions(raw);
}

/** Validates an app's params with its own zod object schema; errors name the parameter. With
 * an object schema, a parameter it does not declare is an error listing the known ones (a typo
 * such as `--param tpo=3` would otherwise be ignored without a word). */
export function parseParams<S extends z.ZodType>(
  schema: S,
  params: Readonly<Record<string, string>>,
): z.output<S> {
  if (schema instanceof z.ZodObject) {
    const known = Object.keys(schema.shape as Record<string, unknown>);
    for (const k of Object.keys(params)) {
      if (!known.includes(k)) {
        throw new AppOptionsError(
          `--param ${k}: unknown parameter; this application takes ${known.length > 0 ? known.join(', ') : 'no parameters'}`,
        );
      }
    }
  }
  const r = schema.safeParse(params);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const name = issue.path.length > 0 ? String(issue.path[0]) : '?';
  const given = Object.prototype.hasOwnProperty.call(params, name) ? ` (given "${params[name]}")` : '';
  throw new AppOptionsError(`--param ${name}${given}: ${issue.message}`);
}
