// Workers' structured logs (runtime/log.ts): JSON lines for pipelines, text lines for people,
// levels, fields, and the CLI options that set them for every process a command starts.
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createLogger, formatTextLine, resolveLogConfig } from '../../runtime/log.ts';
import { startBuffy } from '../integration/processes.ts';

const wordCount = fileURLToPath(new URL('../../examples/word-count.ts', import.meta.url));

function capture(): { stream: PassThrough; lines: () => string[] } {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (c: Buffer) => (text += c.toString('utf8')));
  return { stream, lines: () => text.split('\n').filter((l) => l !== '') };
}

describe('runtime/log.ts', () => {
  it('json: one object per line with level, ISO time, worker, fields and the message', () => {
    const out = capture();
    const log = createLogger({ worker: 'w2', format: 'json', stream: out.stream });
    log.warn('peer w1 went away; reconnecting', { connection: 'w2->w1', attempt: 3 });
    log.info('started');
    const [a, b] = out.lines().map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(a).toMatchObject({ level: 'warn', worker: 'w2', connection: 'w2->w1', attempt: 3 });
    expect(a!.msg).toBe('peer w1 went away; reconnecting');
    expect(Number.isNaN(Date.parse(String(a!.time)))).toBe(false);
    expect(b).toMatchObject({ level: 'info', worker: 'w2', msg: 'started' });
  });

  it('text: the readable line, fields after the message; levels filter', () => {
    const out = capture();
    const log = createLogger({ worker: 'w1', format: 'text', level: 'warn', stream: out.stream });
    log.info('not shown');
    log.debug?.('not shown either');
    log.warn('queue full', { step: 'counts' });
    log.error('sink failed: EPIPE');
    expect(out.lines()).toEqual(['[w1] warning: queue full (step counts)', '[w1] error: sink failed: EPIPE']);
    expect(formatTextLine({ level: 'info', worker: 'x', msg: 'm', n: 2 })).toBe('[x] m (n 2)\n');
  });

  it('auto is text on a terminal, JSON elsewhere; the environment gives defaults; bad values are named', () => {
    expect(resolveLogConfig({ env: {}, isTerminal: true })).toEqual({ level: 'info', format: 'text' });
    expect(resolveLogConfig({ env: {}, isTerminal: false })).toEqual({ level: 'info', format: 'json' });
    expect(
      resolveLogConfig({ env: { BUFFY_LOG_LEVEL: 'error', BUFFY_LOG_FORMAT: 'text' }, isTerminal: false }),
    ).toEqual({
      level: 'error',
      format: 'text',
    });
    expect(() => resolveLogConfig({ env: { BUFFY_LOG_LEVEL: 'loud' } })).toThrow(
      'BUFFY_LOG_LEVEL: log level "loud" is not one of debug, info, warn, error, silent',
    );
  });

  it('a worker whose stderr is not a terminal logs JSON lines; --log-level and --log-format change it', async () => {
    const args = ['node', wordCount, '--name', 'w1', '--workers', '1', '--initializer'];
    const more = [
      '--control',
      '127.0.0.1:0',
      '--data',
      '127.0.0.1:0',
      '--stop-when-done',
      '--param',
      'top=0',
    ];
    const json = startBuffy('json', [...args, ...more, '--log-format', 'auto']);
    expect(await json.exited).toBe(0);
    const records = json.lines
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(records.length).toBeGreaterThan(2);
    expect(
      records.every((r) => r.level === 'info' && typeof r.time === 'string' && typeof r.msg === 'string'),
    ).toBe(true);
    expect(records.some((r) => /^control listening on 127\.0\.0\.1:\d+/.test(String(r.msg)))).toBe(true);

    const quiet = startBuffy('quiet', [...args, ...more, '--log-level', 'warn']);
    expect(await quiet.exited).toBe(0);
    expect(quiet.lines.filter((l) => l.startsWith('[w1'))).toEqual([]);

    const bad = startBuffy('bad', [...args, ...more, '--log-level', 'loud']);
    expect(await bad.exited).toBe(2);
    expect(bad.lines.join('\n')).toContain(
      "argument 'loud' is invalid. Allowed choices are debug, info, warn, error, silent",
    );
  }, 120_000);
});
