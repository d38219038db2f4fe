// End to end on real processes: word count on `buffy run --workers 3` (every worker has a
// store: exactly-once) fed by `buffy send` (acknowledged, --resume-file) and read by
// `buffy receive --check` through a `tcp:...?ids=1` sink. The initializer, which runs the tcp:
// source, is killed with SIGKILL mid-stream and started again by `buffy run` on the same
// address: `buffy send` reconnects, resends from the committed offset and exits 0; the receiver
// sees every output once (no gap) and the final counts equal the input's.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { childPids, freePort, killAll, startBuffy } from './processes.ts';

const APP = fileURLToPath(new URL('../../examples/word-count.ts', import.meta.url));
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'buffy-send-cluster-'));
const onLinux = process.platform === 'linux';

afterAll(async () => {
  await killAll();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

describe.skipIf(!onLinux)('buffy send -> buffy run --workers 3 -> buffy receive --check', () => {
  it('the initializer is SIGKILLed mid-stream: the sender resumes, no output is lost, the counts are exact', async () => {
    const LINES = 40_000;
    const words = ['alpha', 'beta', 'gamma', 'delta', 'eps', 'zeta', 'eta'];
    const input = Array.from(
      { length: LINES },
      (_, i) => `${words[i % 7]} ${words[(i * 3) % 7]} ${words[(i * 5 + 1) % 7]}`,
    );
    const file = path.join(tmp, 'in.txt');
    fs.writeFileSync(file, input.join('\n') + '\n');
    const out = path.join(tmp, 'got.txt');
    const recv = startBuffy('cluster/receive', [
      'receive',
      '--listen',
      '127.0.0.1:0',
      '--out',
      out,
      '--check',
    ]);
    const sinkAddr = (await recv.waitFor(/listening on (127\.0\.0\.1:\d+)/))[1]!;
    const sourcePort = await freePort();
    const run = startBuffy(
      'cluster/run',
      [
        'run',
        APP,
        '--workers',
        '3',
        '--source',
        `tcp:127.0.0.1:${sourcePort}?end-after=1`,
        '--sink',
        `tcp:${sinkAddr}?ids=1`,
        '--param',
        'top=0',
      ],
      tmp,
    );
    await run.waitFor(new RegExp(`source tcp:\\S+ listening on 127\\.0\\.0\\.1:${sourcePort}`), 90_000);
    const resumeFile = path.join(tmp, 'resume.json');
    const send = startBuffy('cluster/send', [
      'send',
      '--to',
      `127.0.0.1:${sourcePort}`,
      '--file',
      file,
      '--rate',
      '8000',
      '--resume-file',
      resumeFile,
    ]);
    const acked = (): number =>
      fs.existsSync(resumeFile)
        ? (JSON.parse(fs.readFileSync(resumeFile, 'utf8')) as { acknowledged: number }).acknowledged
        : -1;
    for (let i = 0; i < 3000 && acked() < LINES / 4; i++) await sleep(10);
    expect(acked()).toBeGreaterThanOrEqual(LINES / 4);
    expect(acked()).toBeLessThan(LINES - 1);
    const [w1] = childPids(run.child.pid!, ['--name', 'w1', '--exit-with-stdin']);
    expect(w1, run.lines.join('\n')).toBeDefined();
    process.kill(w1!, 'SIGKILL');
    expect(await send.exited, send.lines.join('\n')).toBe(0);
    const said = send.lines.join('\n');
    expect(said).toMatch(/connecting again$/m);
    expect(said).toMatch(new RegExp(`^sent ${LINES} messages \\(.*; all acknowledged`, 'm'));
    expect(await run.exited, run.lines.join('\n')).toBe(0);
    expect(run.lines.join('\n')).toMatch(/restarted 'w1' 1 time/);
    await sleep(200);
    recv.child.kill('SIGTERM');
    expect(await recv.exited, recv.lines.join('\n')).toBe(0);
    expect(recv.lines.join('\n')).toMatch(
      new RegExp(`buffy receive --check: ${LINES * 3} distinct outputs from 3 workers; .*; no gap$`, 'm'),
    );
    // Each word's last update is its count in the input.
    const expected = new Map<string, number>();
    for (const l of input) for (const w of l.split(' ')) expected.set(w, (expected.get(w) ?? 0) + 1);
    const got = new Map<string, number>();
    for (const l of fs.readFileSync(out, 'utf8').split('\n')) {
      if (l === '') continue;
      const [w, n] = l.split(' ');
      got.set(w!, Math.max(got.get(w!) ?? 0, Number(n)));
    }
    expect(got).toEqual(expected);
  }, 180_000);
});
