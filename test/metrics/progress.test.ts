// `buffy run`'s live progress line: on a terminal (a pseudo-terminal made by util-linux's
// `script`) the run rewrites one line with its counters; with stderr a pipe, nothing of it.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { progressLine } from '../../cli/progress.ts';
import { APP, SAMPLE } from './cluster.ts';
import { BUFFY } from '../integration/processes.ts';

const m = (ingested: number, sunk: number, deadLetters = 0) => ({
  ingested,
  sunk,
  deadLetters,
  remoteSent: 0,
  remoteReceived: 0,
  stateApplied: {},
});

describe('progressLine', () => {
  it('shows totals, rates over the interval and elapsed time', () => {
    expect(progressLine(m(1500, 24000, 2), m(1000, 16000), 500, 2500)).toBe(
      'read 1,500 (1,000/s), sunk 24,000 (16,000/s), dead letters 2, 2.5 s',
    );
    expect(progressLine(m(10, 20), null, 500, 500)).toBe('read 10, sunk 20, dead letters 0, 0.5 s');
  });
});

const haveScript = spawnSync('script', ['--version'], { stdio: 'ignore' }).status === 0;
if (!haveScript)
  console.warn('test/metrics/progress.test.ts: the terminal case is skipped, no `script` (util-linux)');

describe('buffy run progress', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'buffy-progress-'));
  const corpus = path.join(dir, 'big.txt');
  // Long enough (~2.5 s on a quiet machine, ~70 MB) that several 500 ms progress ticks land in it.
  fs.writeFileSync(corpus, fs.readFileSync(SAMPLE, 'utf8').repeat(200));
  const args = ['run', APP, '--source', `file:${corpus}`, '--dead-letters', path.join(dir, 'dl.jsonl')];

  it.skipIf(!haveScript)(
    'is shown on a terminal',
    () => {
      const cmd = [process.execPath, BUFFY, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
      const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { encoding: 'utf8', timeout: 60_000 });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/\rread [\d,]+( \([\d,]+\/s\))?, sunk [\d,]+/);
      expect(r.stdout).toContain('word-count: done');
    },
    70_000,
  );

  it('is not shown when stderr is not a terminal', () => {
    const r = spawnSync(process.execPath, [BUFFY, ...args], { encoding: 'utf8', timeout: 60_000 });
    fs.rmSync(dir, { recursive: true, force: true });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).not.toContain('\r');
    expect(r.stdout + r.stderr).not.toMatch(/read [\d,]+.*sunk/);
  }, 70_000);
});

describe('buffy run --workers 2 progress', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'buffy-progress-cluster-'));
  const corpus = path.join(dir, 'big.txt');
  fs.writeFileSync(corpus, fs.readFileSync(SAMPLE, 'utf8').repeat(100));
  const args = [
    'run',
    APP,
    '--workers',
    '2',
    '--source',
    `file:${corpus}`,
    '--sink',
    'count:',
    '--dead-letters',
    path.join(dir, 'dl.jsonl'),
  ];

  it.skipIf(!haveScript)(
    'is shown on a terminal, summed over the workers',
    () => {
      const cmd = [process.execPath, BUFFY, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
      const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { encoding: 'utf8', timeout: 90_000 });
      expect(r.status, r.stdout).toBe(0);
      const lines = [
        ...r.stdout.matchAll(/\rread ([\d,]+)[^\r]*?, sunk ([\d,]+)[^\r]*?, (\d) of 2 workers up/g),
      ];
      expect(lines.length, r.stdout).toBeGreaterThan(0);
      // Both workers up, by the initializer's view, while the input flows: the sinks' count
      // (words, summed over the workers) runs ahead of the lines read.
      const moving = lines.filter((l) => l[3] === '2' && Number(l[1]!.replace(/,/g, '')) > 0);
      expect(moving.length, r.stdout).toBeGreaterThan(0);
      for (const l of moving)
        expect(Number(l[2]!.replace(/,/g, ''))).toBeGreaterThan(Number(l[1]!.replace(/,/g, '')));
      // The workers' log lines are written over the progress line, never after it on one line.
      expect(r.stdout.split('\u001b[K').join('')).not.toMatch(/workers up(?![\r\n]|$)/);
    },
    100_000,
  );

  it('is not shown when stderr is not a terminal', () => {
    const r = spawnSync(process.execPath, [BUFFY, ...args], { encoding: 'utf8', timeout: 90_000 });
    fs.rmSync(dir, { recursive: true, force: true });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).not.toContain('\r');
    expect(r.stderr).not.toContain('workers up');
  }, 100_000);
});
