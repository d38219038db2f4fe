// Exactly-once across crashes, with real processes: `buffy run examples/word-count.ts --state DIR`
// into a file sink is killed with SIGKILL at seeded random moments and run again with the same
// command until it ends. The final counts must equal a fault-free run's, and the file sink must
// hold each update `word n` once for every n from 1 to the word's final count: no duplicate, no
// gap, whatever the moments of the kills.
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateCorpus } from '../../bench/corpus.ts';
import { createSeededRandom } from '../../runtime/system.ts';
import { killAll, startBuffy } from './processes.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const dir = mkdtempSync(path.join(tmpdir(), 'buffy-eo-crash-'));
afterAll(async () => {
  await killAll();
  rmSync(dir, { recursive: true, force: true });
});

/** word -> its updates' counts, in file order. */
function updates(file: string): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line === '') continue;
    const sp = line.lastIndexOf(' ');
    const w = line.slice(0, sp);
    const n = Number(line.slice(sp + 1));
    if (!Number.isInteger(n)) throw new Error(`${file}: a torn line ${JSON.stringify(line)}`);
    let l = out.get(w);
    if (l === undefined) out.set(w, (l = []));
    l.push(n);
  }
  return out;
}

function run(input: string, output: string, state: string, extra: string[] = []) {
  return startBuffy(
    'word-count',
    [
      'run',
      'examples/word-count.ts',
      '--source',
      `file:${input}`,
      '--sink',
      `file:${output}`,
      '--state',
      state,
      '--param',
      'top=0',
      '--dead-letters',
      path.join(dir, 'dead.jsonl'),
      ...extra,
    ],
    root,
  );
}

describe('exactly-once embedded word count under SIGKILL', () => {
  for (const [seed, durability] of [
    [7, 'batch'],
    [11, 'sync'],
  ] as const) {
    it(`seed ${seed}, durability ${durability}: same counts as a fault-free run, each update once`, async () => {
      const input = path.join(dir, `in-${seed}.txt`);
      writeFileSync(input, generateCorpus({ words: 150_000, seed }));
      const clean = run(input, path.join(dir, `clean-${seed}.txt`), path.join(dir, `clean-state-${seed}`));
      await clean.waitFor(/exactly-once: store/, 30_000);
      const t0 = Date.now();
      expect(await clean.exited).toBe(0);
      // Kills come within a quarter of the fault-free run's time after the store opens, so that
      // six of them leave work for the last run whatever the machine's speed.
      const windowMs = Math.max(40, Math.floor((Date.now() - t0) / 4));
      const want = updates(path.join(dir, `clean-${seed}.txt`));

      const out = path.join(dir, `out-${seed}.txt`);
      const state = path.join(dir, `state-${seed}`);
      const random = createSeededRandom(seed);
      let kills = 0;
      let killedWithOutput = 0; // 1 when the last run started over partial output
      for (let attempt = 0; ; attempt++) {
        expect(attempt).toBeLessThan(40);
        const before = existsSync(out) ? readFileSync(out).length : 0;
        const p = run(input, out, state, ['--durability', durability]);
        // Kill at a random moment once the store is open (up to 6 kills, then let it finish).
        if (kills < 6) {
          await p.waitFor(/exactly-once: store/, 30_000);
          const delayMs = 1 + random.nextInt(windowMs);
          const timer = new Promise<'timer'>((res) => setTimeout(() => res('timer'), delayMs));
          let first = await Promise.race([timer, p.exited]);
          // The last kill waits for output if none was written yet (a loaded machine can be
          // slow to write any within the window): the last run must resume over output.
          while (kills === 5 && first === 'timer' && (existsSync(out) ? readFileSync(out).length : 0) === 0)
            first = await Promise.race([
              new Promise<'timer'>((res) => setTimeout(() => res('timer'), 5)),
              p.exited,
            ]);
          if (first === 'timer' && p.child.exitCode === null) {
            p.child.kill('SIGKILL');
            expect(await p.exited).toBe(137);
            kills++;
            continue;
          }
        }
        // The last run resumes a store that earlier runs left with output written.
        if (before > 0) killedWithOutput++;
        expect(await p.exited, p.lines.join('\n')).toBe(0);
        break;
      }
      expect(kills).toBeGreaterThanOrEqual(3);
      expect(killedWithOutput).toBeGreaterThanOrEqual(1);
      const got = updates(out);
      expect(got.size).toBe(want.size);
      for (const [w, ns] of want) {
        const final = ns.at(-1)!;
        expect(got.get(w)?.at(-1), w).toBe(final);
        // Each n from 1 to the final count exactly once, in order.
        expect(got.get(w), w).toEqual(Array.from({ length: final }, (_, i) => i + 1));
      }
    }, 180_000);
  }
});

describe('buffy run --state: usage and refused stores', () => {
  it("a store of another application is refused, naming the worker and the store's path (exit 1)", async () => {
    const input = path.join(dir, 'small.txt');
    writeFileSync(input, 'a b\nb c\n');
    const state = path.join(dir, 'foreign-state');
    const first = run(input, path.join(dir, 'small-out.txt'), state);
    expect(await first.exited).toBe(0);
    // The same directory for another app (its name differs: examples/word-count is "word-count").
    const other = startBuffy(
      'other',
      [
        'run',
        'test/integration/fixtures/eo-other-app.ts',
        '--state',
        state,
        '--dead-letters',
        path.join(dir, 'd2.jsonl'),
      ],
      root,
    );
    expect(await other.exited).toBe(1);
    const text = other.lines.join('\n');
    expect(text).toContain(`worker "embedded": store ${path.join(state, 'store.mdb')}`);
    expect(text).toMatch(/application "word-count", not "eo-other"/);
  });

  it('--durability without --state, or a bad level: usage errors (exit 2)', async () => {
    const a = startBuffy('a', ['run', 'examples/word-count.ts', '--durability', 'sync'], root);
    expect(await a.exited).toBe(2);
    expect(a.lines.join('\n')).toMatch(/--durability needs --state DIR/);
    const b = startBuffy(
      'b',
      ['run', 'examples/word-count.ts', '--state', path.join(dir, 's'), '--durability', 'fast'],
      root,
    );
    expect(await b.exited).toBe(2);
    expect(b.lines.join('\n')).toMatch(/--durability fast: must be one of sync, batch, none/);
  });
});
