// Where the output of `buffy run --workers N` goes, with real processes: a file: sink writes one
// file per worker (none shared, none lost), a stdout: sink's lines never mix, dead letters go to
// one file per worker, and the run says where it all went. Every total is compared with the same
// app run embedded (one process).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { killAll, startBuffy } from './processes.ts';

const APP = fileURLToPath(new URL('./fixtures/word-tally.ts', import.meta.url));
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'buffy-outputs-'));

afterAll(async () => {
  await killAll();
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** Deterministic text: `lines` lines of words from a vocabulary of `vocabulary` words. */
function text(lines: number, vocabulary: number, extra: (i: number) => string[] = () => []): string {
  let x = 12345;
  const next = () => (x = (x * 1103515245 + 12345) % 2147483648);
  const out: string[] = [];
  for (let i = 0; i < lines; i++) {
    const words = Array.from({ length: 1 + (next() % 12) }, () => `w${next() % vocabulary}`);
    out.push([...words, ...extra(i)].join(' '));
  }
  return out.join('\n') + '\n';
}

const sorted = (lines: string[]) => [...lines].sort();
const linesOf = (file: string) => fs.readFileSync(file, 'utf8').split('\n').slice(0, -1);

/** Runs `buffy run APP ...` in `cwd`; resolves with its exit code, stdout and stderr lines. */
async function run(name: string, cwd: string, args: string[]) {
  const p = startBuffy(name, ['run', APP, ...args], cwd);
  const stdout: string[] = [];
  let rest = '';
  p.child.stdout!.on('data', (d: Buffer) => {
    rest += d.toString();
    const parts = rest.split('\n');
    rest = parts.pop()!;
    stdout.push(...parts);
  });
  const code = await p.exited;
  if (rest) stdout.push(rest);
  return { code, stdout, lines: p.lines };
}

function freshDir(name: string, input: string): string {
  const dir = path.join(tmp, name);
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'input.txt'), input);
  return dir;
}

describe('buffy run --workers 3: sinks and dead letters of a local cluster', () => {
  // 4,000 lines, about 20,000 updates, some hundreds of kilobytes of output.
  const input = text(4000, 300);
  let embedded: string[] = [];

  beforeAll(async () => {
    const dir = freshDir('embedded', input);
    const r = await run('embedded', dir, ['--source', 'file:input.txt', '--sink', 'file:out/e.txt']);
    expect(r.code, r.lines.join('\n')).toBe(0);
    embedded = linesOf(path.join(dir, 'out/e.txt'));
    expect(embedded.length).toBeGreaterThan(15_000);
  }, 60_000);

  it('a file: sink writes one file per worker: every update arrives, none corrupt, and the run names the files', async () => {
    const dir = freshDir('file-sink', input);
    const r = await run('file-sink', dir, [
      '--workers',
      '3',
      '--source',
      'file:input.txt',
      '--sink',
      'file:out/c.txt',
    ]);
    expect(r.code, r.lines.join('\n')).toBe(0);
    const files = ['out/c.w1.txt', 'out/c.w2.txt', 'out/c.w3.txt'];
    expect(r.lines).toContain(`buffy run: sink "updates" wrote one file per worker: ${files.join(', ')}`);
    expect(fs.existsSync(path.join(dir, 'out/c.txt'))).toBe(false);
    const perWorker = files.map((f) => linesOf(path.join(dir, f)));
    // The partitions are spread: every worker wrote some updates.
    for (const lines of perWorker) expect(lines.length).toBeGreaterThan(0);
    const all = perWorker.flat();
    expect(all.filter((l) => !/^w\d+ \d+$/.test(l))).toEqual([]);
    expect(all.length).toBe(embedded.length);
    expect(sorted(all)).toEqual(sorted(embedded));
  }, 60_000);

  it('buffy node: two workers on one host given the same file: sink write a file each', async () => {
    const dir = freshDir('node-sink', input);
    const common = ['--workers', '2', '--cluster', 'same-path', '--sink', 'file:out/n.txt'];
    const alpha = startBuffy(
      'node-sink/alpha',
      [
        'node',
        APP,
        '--name',
        'alpha',
        '--initializer',
        '--control',
        '127.0.0.1:0',
        '--source',
        'file:input.txt',
        '--stop-when-done',
        ...common,
      ],
      dir,
    );
    const control = (await alpha.waitFor(/control listening on (127\.0\.0\.1:\d+)/))[1]!;
    const beta = startBuffy(
      'node-sink/beta',
      ['node', APP, '--name', 'beta', '--control', control, ...common],
      dir,
    );
    expect(await alpha.exited, alpha.lines.join('\n')).toBe(0);
    expect(await beta.exited, beta.lines.join('\n')).toBe(0);
    expect(alpha.lines.join('\n')).toContain(
      'sink "updates" (file:out/n.txt) writes out/n.alpha.txt: one file per worker',
    );
    expect(beta.lines.join('\n')).toContain(
      'sink "updates" (file:out/n.txt) writes out/n.beta.txt: one file per worker',
    );
    const files = ['out/n.alpha.txt', 'out/n.beta.txt'].map((f) => linesOf(path.join(dir, f)));
    for (const lines of files) expect(lines.length).toBeGreaterThan(0);
    expect(sorted(files.flat())).toEqual(sorted(embedded));
    expect(fs.existsSync(path.join(dir, 'out/n.txt'))).toBe(false);
  }, 60_000);

  it("a stdout: sink: the workers' lines come through whole, every one of them", async () => {
    const dir = freshDir('stdout-sink', input);
    const r = await run('stdout-sink', dir, [
      '--workers',
      '3',
      '--source',
      'file:input.txt',
      '--sink',
      'stdout:',
    ]);
    expect(r.code, r.lines.join('\n')).toBe(0);
    const updates = r.stdout.filter((l) => !l.startsWith('['));
    expect(updates.filter((l) => !/^w\d+ \d+$/.test(l))).toEqual([]);
    expect(sorted(updates)).toEqual(sorted(embedded));
  }, 60_000);

  it('dead letters: one file per worker (--dead-letters PATH, and by default under out/), counted at the end', async () => {
    // Every 10th line carries a word the update refuses ("bad0" .. "bad9").
    const withBad = text(1500, 100, (i) => (i % 10 === 0 ? [`bad${(i / 10) % 10}`] : []));
    const refused = withBad.split(/\s+/).filter((w) => w.startsWith('bad')).length;
    expect(refused).toBe(150);

    const dir = freshDir('dead-letters', withBad);
    const r = await run('dead-letters', dir, [
      '--workers',
      '3',
      '--source',
      'file:input.txt',
      '--dead-letters',
      'letters/dl.jsonl',
    ]);
    expect(r.code, r.lines.join('\n')).toBe(0);
    const counts = new Map<string, number>();
    for (const w of ['w1', 'w2', 'w3']) {
      const file = path.join(dir, `letters/dl.${w}.jsonl`);
      if (!fs.existsSync(file)) continue;
      const letters = linesOf(file).map(
        (l) => JSON.parse(l) as { worker: string; step: string; error: string },
      );
      for (const l of letters) {
        expect(l.worker).toBe(w);
        expect(l.step).toBe('counts');
        expect(l.error).toMatch(/refusing the word "bad\d"/);
      }
      counts.set(w, letters.length);
    }
    expect([...counts.values()].reduce((a, b) => a + b, 0)).toBe(refused);
    const listed = [...counts].map(([w, n]) => `letters/dl.${w}.jsonl (${n})`).join(', ');
    expect(r.lines).toContain(`buffy run: ${refused} dead letters: ${listed}`);

    // Without --dead-letters: under out/ (git-ignored), one file per worker.
    const byDefault = freshDir('dead-letters-default', withBad);
    const d = await run('dead-letters-default', byDefault, ['--workers', '2', '--source', 'file:input.txt']);
    expect(d.code, d.lines.join('\n')).toBe(0);
    const defaults = ['w1', 'w2']
      .map((w) => path.join(byDefault, `out/dead-letters.${w}.jsonl`))
      .filter((f) => fs.existsSync(f));
    expect(defaults.map((f) => linesOf(f).length).reduce((a, b) => a + b, 0)).toBe(refused);
    expect(fs.readdirSync(byDefault).sort()).toEqual(['input.txt', 'out']);
  }, 90_000);

  it('embedded, the default dead-letter file is out/dead-letters.jsonl, and the summary names it', async () => {
    const dir = freshDir('dead-letters-embedded', 'good bad1 good\nbad2\n');
    const r = await run('dead-letters-embedded', dir, ['--source', 'file:input.txt']);
    expect(r.code, r.lines.join('\n')).toBe(0);
    expect(linesOf(path.join(dir, 'out/dead-letters.jsonl'))).toHaveLength(2);
    expect(fs.readdirSync(dir).sort()).toEqual(['input.txt', 'out']);
    expect(r.stdout).toContain('  dead letters: 2 (in out/dead-letters.jsonl)');
  }, 30_000);
});
