// `buffy run` with an app that cannot be loaded: one clear usage error (exit 2), embedded or
// as a local cluster, and no worker processes started for nothing.
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { killAll, startBuffy } from './processes.ts';

const APP = fileURLToPath(new URL('../../examples/word-count.ts', import.meta.url));
const TALLY = fileURLToPath(new URL('./fixtures/word-tally.ts', import.meta.url));
const THROWS = fileURLToPath(new URL('../runtime/api/fixtures/factory-throws.ts', import.meta.url));

afterAll(async () => {
  await killAll();
});

describe('buffy run: an app that cannot be built', () => {
  for (const workers of ['1', '2']) {
    it(`an unknown --param is one usage error naming it (--workers ${workers})`, async () => {
      const p = startBuffy(`run-errors/param-${workers}`, [
        'run',
        APP,
        '--workers',
        workers,
        '--param',
        'tpo=3',
      ]);
      expect(await p.exited).toBe(2);
      expect(p.lines).toEqual([
        'buffy run: --param tpo: unknown parameter; this application takes top, partitions',
      ]);
    }, 30_000);

    it(`a sink URI with an unknown scheme is one usage error (--workers ${workers})`, async () => {
      const p = startBuffy(`run-errors/sink-${workers}`, [
        'run',
        APP,
        '--workers',
        workers,
        '--sink',
        'nope:x',
      ]);
      expect(await p.exited).toBe(2);
      expect(p.lines).toEqual([
        'buffy run: sink "nope:x": no connector for scheme "nope:"; known: count:, file:, memory:, stdout:, tcp:',
      ]);
    }, 30_000);

    for (const [flag, uri, message] of [
      ['--sink', 'tcp:nohost', "buffy run: sink 'tcp:nohost': expected HOST:PORT, got 'nohost'"],
      [
        '--source',
        'tcp:127.0.0.1:99999',
        "buffy run: source 'tcp:127.0.0.1:99999': port 99999 is out of range 0..65535",
      ],
      ['--sink', 'stdout:x', 'buffy run: sink "stdout:x": stdout: takes no argument; write "stdout:"'],
    ] as const) {
      it(`a bad ${uri} URI is one usage error before anything starts (--workers ${workers})`, async () => {
        const p = startBuffy(`run-errors/uri-${uri}-${workers}`, [
          'run',
          TALLY,
          '--workers',
          workers,
          flag,
          uri,
        ]);
        expect(await p.exited).toBe(2);
        expect(p.lines).toEqual([message]);
      }, 30_000);
    }

    it(`a factory that throws names the file (--workers ${workers})`, async () => {
      const p = startBuffy(`run-errors/factory-${workers}`, ['run', THROWS, '--workers', workers]);
      expect(await p.exited).toBe(2);
      expect(p.lines).toEqual([
        `buffy run: ${THROWS}: the application factory (its default export) threw: RangeError: the factory could not read its settings`,
      ]);
    }, 30_000);
  }
});

describe('buffy node: a bad connector URI', () => {
  it('is a usage error (exit 2) before the worker listens or joins', async () => {
    const p = startBuffy('run-errors/node-uri', [
      'node',
      TALLY,
      '--name',
      'w1',
      '--initializer',
      '--workers',
      '2',
      '--control',
      '127.0.0.1:0',
      '--sink',
      'tcp:127.0.0.1:',
    ]);
    expect(await p.exited).toBe(2);
    expect(p.lines).toHaveLength(1);
    expect(p.lines[0]).toMatch(/^buffy node: sink 'tcp:127\.0\.0\.1:': /);
  }, 30_000);
});
