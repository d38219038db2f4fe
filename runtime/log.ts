// Workers' logs: a structured logger (pino) behind the runtime's `Logger` seam (runtime/types.ts).
// A shell-side module (it writes to a file descriptor): the engine and the protocol cores get a
// `Logger` passed in and never import this file.
//
// Two formats, one set of fields:
// - `json`: one JSON object per line, `{"level":"warn","time":"2026-12-02T01:02:03.456Z",
//   "worker":"w2","step":"counts","connection":"w1->w2","msg":"..."}`, for log pipelines;
// - `text`: the readable line people read on a terminal, `[w2] warning: ... (step counts)`.
// `auto` (the default) is `text` on a terminal and `json` otherwise. The level and the format
// come from the options, else from BUFFY_LOG_LEVEL / BUFFY_LOG_FORMAT (which `buffy --log-level`
// and `--log-format` set, so the workers a command starts inherit them).
//
// Writes are synchronous: a process that logs why it cannot go on and then exits has written the
// line before it exits.
import { Writable } from 'node:stream';
import { pino, type Logger as PinoLogger } from 'pino';
import type { LogFields, Logger } from './types.ts';
import {
  LOG_FORMATS,
  LOG_LEVELS,
  LogConfigError,
  parseLogFormat,
  parseLogLevel,
  resolveLogConfig,
  type LogFormat,
  type LoggerOptions,
  type LogLevel,
} from './log-config.ts';

export { LOG_FORMATS, LOG_LEVELS, LogConfigError, parseLogFormat, parseLogLevel, resolveLogConfig };
export type { LogFormat, LoggerOptions, LogLevel };

const TEXT_PREFIX: Readonly<Record<string, string>> = {
  debug: 'debug: ',
  info: '',
  warn: 'warning: ',
  error: 'error: ',
};

/** The text form of one log record: `[worker] warning: message (step counts, connection x)`. */
export function formatTextLine(rec: Readonly<Record<string, unknown>>): string {
  const extra: string[] = [];
  for (const [k, v] of Object.entries(rec)) {
    if (k === 'level' || k === 'time' || k === 'worker' || k === 'msg') continue;
    extra.push(`${k} ${typeof v === 'string' ? v : JSON.stringify(v)}`);
  }
  const tail = extra.length > 0 ? ` (${extra.join(', ')})` : '';
  return `[${String(rec.worker)}] ${TEXT_PREFIX[String(rec.level)] ?? ''}${String(rec.msg)}${tail}\n`;
}

/** A writable that turns pino's JSON lines into text lines on `out`, synchronously. */
class TextDestination extends Writable {
  constructor(private readonly out: NodeJS.WritableStream | null) {
    super({ decodeStrings: false });
  }
  /** pino calls write(string) for each record; it must not buffer (see the header). */
  override write(chunk: unknown): boolean {
    const s = String(chunk);
    for (const line of s.split('\n')) {
      if (line === '') continue;
      let rec: Record<string, unknown>;
      try {
        rec = JSON.parse(line) as Record<string, unknown>;
      } catch {
        rec = { level: 'info', worker: '?', msg: line };
      }
      const text = formatTextLine(rec);
      if (this.out) this.out.write(text);
      else writeFd2(text);
    }
    return true;
  }
}

function writeFd2(text: string): void {
  // process.stderr is synchronous for files and terminals, and for pipes on POSIX.
  process.stderr.write(text);
}

class JsonDestination extends Writable {
  constructor(private readonly out: NodeJS.WritableStream | null) {
    super({ decodeStrings: false });
  }
  override write(chunk: unknown): boolean {
    const s = String(chunk);
    if (this.out) this.out.write(s);
    else writeFd2(s);
    return true;
  }
}

/** A `Logger` that writes through pino with the worker's name on every record. */
export function createLogger(o: LoggerOptions): Logger {
  const { level, format } = resolveLogConfig(o);
  const out = o.stream ?? null;
  const destination = format === 'text' ? new TextDestination(out) : new JsonDestination(out);
  const base: PinoLogger = pino(
    {
      level,
      base: { worker: o.worker },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
  const emit = (fn: 'debug' | 'info' | 'warn' | 'error', message: string, fields?: LogFields): void => {
    if (fields) base[fn](fields, message);
    else base[fn](message);
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
  };
}
