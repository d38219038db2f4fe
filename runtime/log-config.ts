// The log level and format of runtime/log.ts, without loading the logger (the CLI parses its
// --log-level / --log-format options with these on every start, and pino is loaded only by
// processes that log).
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const LOG_FORMATS = ['text', 'json', 'auto'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export class LogConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LogConfigError';
  }
}

export interface LoggerOptions {
  /** Who logs: a worker's name (`w2`, `w2 (initializer)`), or a command's (`buffy send`). */
  readonly worker: string;
  readonly level?: LogLevel;
  readonly format?: LogFormat;
  /** Where lines go (default: the process's stderr, file descriptor 2). */
  readonly stream?: NodeJS.WritableStream;
  /** Whether `stream` is a terminal, for `auto` (default: process.stderr.isTTY). */
  readonly isTerminal?: boolean;
  /** The environment to read BUFFY_LOG_LEVEL / BUFFY_LOG_FORMAT from (default process.env). */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

export function parseLogLevel(text: string, where: string): LogLevel {
  if ((LOG_LEVELS as readonly string[]).includes(text)) return text as LogLevel;
  throw new LogConfigError(`${where}: log level "${text}" is not one of ${LOG_LEVELS.join(', ')}`);
}

export function parseLogFormat(text: string, where: string): LogFormat {
  if ((LOG_FORMATS as readonly string[]).includes(text)) return text as LogFormat;
  throw new LogConfigError(`${where}: log format "${text}" is not one of ${LOG_FORMATS.join(', ')}`);
}

/** The level and concrete format (text or json) these options and environment give. */
export function resolveLogConfig(o: Omit<LoggerOptions, 'worker'> = {}): {
  level: LogLevel;
  format: 'text' | 'json';
} {
  const env = o.env ?? process.env;
  const level =
    o.level ?? (env.BUFFY_LOG_LEVEL ? parseLogLevel(env.BUFFY_LOG_LEVEL, 'BUFFY_LOG_LEVEL') : 'info');
  const asked =
    o.format ?? (env.BUFFY_LOG_FORMAT ? parseLogFormat(env.BUFFY_LOG_FORMAT, 'BUFFY_LOG_FORMAT') : 'auto');
  const terminal = o.isTerminal ?? (o.stream === undefined ? process.stderr.isTTY === true : false);
  return { level, format: asked === 'auto' ? (terminal ? 'text' : 'json') : asked };
}
