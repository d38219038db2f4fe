// `buffy sim` (cli/sim.ts), in process: the seed and the event-log hash printed, the same seed
// the same hash, exit 0 for a pass, 1 for a failure with the command that replays it, 2 for bad
// usage; --shrink writes a schedule file that --schedule replays (the same failure, the same hash).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../cli/main.ts';
import { simulate } from '../../runtime/sim/cluster.ts';
import { MemoryRecorder } from '../../runtime/sim/record.ts';

async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((out += String(s)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((err += String(s)), true));
  const saved = process.exitCode;
  try {
    const code = await main(argv);
    return { code, out, err };
  } finally {
    process.exitCode = saved;
    vi.restoreAllMocks();
  }
}

const APP = 'examples/word-count.ts';
const common = ['--workers', '3', '--param', 'partitions=16', '--lines', '120'];
const hashOf = (out: string): string => /hash ([0-9a-f]{16})/.exec(out)![1]!;
const dir = mkdtempSync(path.join(tmpdir(), 'buffy-sim-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('buffy sim', () => {
  it('passes (exit 0), printing the seed, the faults injected, the hash; the same seed gives the same hash', async () => {
    const a = await cli(['sim', APP, ...common, '--seed', '4', '--faults', 'all']);
    expect(a.err).toBe('');
    expect(a.code).toBe(0);
    expect(a.out).toMatch(/^seed 4: 3 workers, 120 input lines, exactly-once on, faults drop,dup,/);
    expect(a.out).toMatch(/injected: /);
    expect(a.out).toMatch(/verdict: PASS/);
    const b = await cli(['sim', APP, ...common, '--seed', '4', '--faults', 'all']);
    expect(hashOf(b.out)).toBe(hashOf(a.out));
  });

  it('fails (exit 1) with the replay command; --shrink writes a file that --schedule replays', async () => {
    const file = path.join(dir, 'failure.json');
    const argv = ['sim', APP, ...common, '--seed', '1', '--faults', 'crash,restart', '--no-exactly-once'];
    const r = await cli([...argv, '--shrink', '--out', file]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/verdict: FAIL/);
    expect(r.out).toContain(
      'replay: buffy sim examples/word-count.ts --workers 3 --seed 1 --faults crash,restart --lines 120 --param partitions=16 --no-exactly-once',
    );
    expect(r.out).toMatch(/shrunk in \d+ runs to \d+ fault events and \d+ input lines/);
    const written = JSON.parse(readFileSync(file, 'utf8')) as { hash: string; lines: number };
    expect(written.lines).toBeLessThanOrEqual(120);
    const replay = await cli(['sim', '--schedule', file]);
    expect(replay.code).toBe(1);
    expect(hashOf(replay.out)).toBe(written.hash);
    expect(replay.out).toContain(`replay: buffy sim --schedule ${file}`);
  });

  it('--seeds A..B runs each seed, prints the figures, and --keep writes each failing seed’s schedule file', async () => {
    const keep = path.join(dir, 'kept');
    const argv = ['sim', APP, '--workers', '3', '--param', 'partitions=16', '--lines', '60'];
    const r = await cli([
      ...argv,
      '--faults',
      'crash,restart',
      '--no-exactly-once',
      '--seeds',
      '1..3',
      '--keep',
      keep,
    ]);
    expect(r.code).toBe(1);
    const m =
      /^3 seeds, (\d) failed \(([\d, ]+)\); [\d.]+ s wall: [\d.]+ seeds\/s, [\d.]+ simulated s per wall s, \d+ events\/s; [\d.]+ s CPU \(this process, every thread\): [\d.]+ seeds per CPU s, [\d.]+ simulated s per CPU s$/m.exec(
        r.out,
      );
    expect(m, r.out).not.toBeNull();
    for (const seed of m![2]!.split(', ')) {
      const file = path.join(keep, `sim-failure-seed${seed}.json`);
      const replay = await cli(['sim', '--schedule', file]);
      expect(replay.code).toBe(1);
      expect(hashOf(replay.out)).toBe((JSON.parse(readFileSync(file, 'utf8')) as { hash: string }).hash);
    }
    const clean = await cli([...argv, '--seeds', '5..6']);
    expect(clean.code).toBe(0);
    expect(clean.out).toMatch(/^2 seeds, 0 failed; /m);
  });

  it('bad usage exits 2 and says what was wrong', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['sim', APP, '--faults', 'drop,bogus'], /--faults: unknown fault "bogus"; known: drop, dup,/],
      [['sim', APP, '--workers', '0'], /--workers 0: must be an integer from 1 to 64/],
      [['sim', APP, '--steps', '5', '--sim-seconds', '2'], /--steps and --sim-seconds: give one of them/],
      [['sim'], /missing the app/],
      [['sim', APP, '--seeds', '5..2'], /--seeds 5\.\.2: must be A\.\.B with A <= B/],
      [['sim', '--schedule', path.join(dir, 'absent.json')], /--schedule .*absent\.json: cannot read it/],
      [['sim', 'examples/no-such-app.ts'], /no such application file/],
    ];
    for (const [argv, msg] of cases) {
      const r = await cli(argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.err).toMatch(msg);
    }
  });
});

describe('buffy sim --validate and buffy validate-log', () => {
  it('--validate checks every protocol and says what the validation cost', async () => {
    const r = await cli(['sim', APP, ...common, '--seed', '2', '--faults', 'all', '--validate']);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/^seed 2: trace validation: Delivery: \d+ instances, \d+ steps .*0 violations/m);
    expect(r.out).toMatch(/^seed 2: trace validation: Ack: 1 instances, \d+ steps .*0 violations/m);
    expect(r.out).toMatch(/^seed 2: trace validation: Recovery: \d+ instances, \d+ steps .*0 violations/m);
    expect(r.out).toMatch(/^seed 2: validation of all protocols: \d+ ms, \d+% of the run's \d+ ms$/m);
  });

  it('validate-log: a run recorded as JSON lines validates; a forged commit exits 1 naming it', async () => {
    const recorder = new MemoryRecorder();
    await simulate({
      appPath: APP,
      params: { partitions: '16' },
      workers: 3,
      seed: 3,
      lines: 120,
      faults: ['drop', 'crash', 'restart'],
      recorder,
    });
    const lines = recorder.records.map((r) => JSON.stringify({ ...r, t: r.n }));
    const clean = path.join(dir, 'clean.jsonl');
    writeFileSync(clean, `${lines.join('\n')}\n`);
    const ok = await cli(['validate-log', clean]);
    expect(ok.code, ok.out).toBe(0);
    expect(ok.out).toMatch(/^1 logs, \d+ records: trace validation: Delivery: .*0 violations/);
    expect(ok.out).toMatch(/^trace validation: Ack: .*0 violations/m);
    expect(ok.out).toMatch(/^trace validation: Recovery: .*0 violations/m);
    // The tracker says it committed an offset beyond what its source read.
    const at = recorder.records.findIndex((r) => r.p === 'ack' && r.ev === 'SourceCommit');
    expect(at).toBeGreaterThan(0);
    const forged = recorder.records.map((r, i) =>
      JSON.stringify(i === at && r.p === 'ack' ? { ...r, committed: r.read + 5, t: r.n } : { ...r, t: r.n }),
    );
    const bad = path.join(dir, 'forged.jsonl');
    writeFileSync(bad, `${forged.join('\n')}\n`);
    const no = await cli(['validate-log', bad]);
    expect(no.code).toBe(1);
    expect(no.out).toMatch(/is not a step of Ack's next-state relation[\s\S]*SourceCommit/);
  });
});
