// The process tree of `buffy run --workers N`, with real processes: the workers die with their
// parent (even when it is SIGKILLed) and free their ports; a Ctrl-C (SIGINT to the terminal's
// process group) stops the cluster cleanly; `buffy node --exit-with-stdin` stops when its
// standard input closes.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { BUFFY, childPids, killAll, portFree, processGone, startBuffy, waitUntil } from './processes.ts';

const APP = fileURLToPath(new URL('./fixtures/word-tally.ts', import.meta.url));
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'buffy-tree-'));
const onLinux = process.platform === 'linux';
/** How long the workers may take to notice that their parent is gone and exit (measured: 1-2.5 s). */
const GONE_WITHIN_MS = 10_000;

afterAll(async () => {
  await killAll();
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** Starts `buffy run --workers 3` with a tcp: source on `port` (0: any free one), waits until
 * the cluster runs; `ports`: the source's, the control port and the three data ports. */
async function startLocalCluster(name: string, port: number, detached = false) {
  const p = startBuffy(name, ['run', APP, '--workers', '3', '--source', `tcp:127.0.0.1:${port}`], tmp, {
    detached,
  });
  await p.waitFor(/cluster 'local-\d+' started: 3 workers/, 60_000);
  const source = await p.waitFor(/source tcp:127\.0\.0\.1:\d+ listening on 127\.0\.0\.1:(\d+)/, 30_000);
  const ports = [Number(source[1])];
  for (const l of p.lines) {
    const m = /(?:control|data) listening on 127\.0\.0\.1:(\d+)/.exec(l);
    if (m) ports.push(Number(m[1]));
  }
  expect(ports, p.lines.join('\n')).toHaveLength(5);
  return { p, ports };
}

describe.skipIf(!onLinux)('buffy run --workers 3: the workers end with their parent', () => {
  it('SIGKILL of the parent: every worker exits within the bound, its ports are free, a re-run works', async () => {
    const { p, ports } = await startLocalCluster('tree/killed', 0);
    const workers = childPids(p.child.pid!, ['node', '--exit-with-stdin']);
    expect(workers, p.lines.join('\n')).toHaveLength(3);
    const t0 = Date.now();
    p.child.kill('SIGKILL');
    await p.exited;
    await waitUntil('every worker gone', () => workers.every(processGone), GONE_WITHIN_MS);
    const took = Date.now() - t0;
    expect(took).toBeLessThan(GONE_WITHIN_MS);
    for (const q of ports) expect(await portFree(q), `port ${q}`).toBe(true);

    // The user's next run on the same source port starts (no "address is already in use").
    const again = await startLocalCluster('tree/again', ports[0]!);
    expect(again.ports[0]).toBe(ports[0]);
    again.p.child.kill('SIGTERM');
    expect(await again.p.exited, again.p.lines.join('\n')).toBe(0);
    expect(again.p.lines.join('\n')).not.toMatch(/already in use/);
  }, 120_000);

  it("a Ctrl-C (SIGINT to the parent's process group) stops the cluster cleanly, once", async () => {
    const { p } = await startLocalCluster('tree/ctrl-c', 0, true);
    const workers = childPids(p.child.pid!, ['node', '--exit-with-stdin']);
    expect(workers, p.lines.join('\n')).toHaveLength(3);
    process.kill(-p.child.pid!, 'SIGINT');
    const code = await p.exited;
    const out = p.lines.join('\n');
    expect(code, out).toBe(0);
    expect(out).toMatch(/stopping the cluster: SIGINT on worker 'w1'/);
    expect(out).not.toMatch(/again: exiting now/);
    expect(out).toMatch(/cluster summary: \{"exitCode":0/);
    expect(workers.every(processGone)).toBe(true);
  }, 120_000);
});

describe('buffy node --exit-with-stdin', () => {
  it('stops and exits when its standard input closes', async () => {
    const child = spawn(
      process.execPath,
      [
        BUFFY,
        'node',
        APP,
        '--name',
        'solo',
        '--initializer',
        '--workers',
        '1',
        '--control',
        '127.0.0.1:0',
        '--source',
        'tcp:127.0.0.1:0',
        '--exit-with-stdin',
      ],
      { cwd: tmp, stdio: ['pipe', 'ignore', 'pipe'] },
    );
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      await waitUntil('the worker started', () => /\] started/.test(err), 30_000);
      // One worker: "1 worker", not "1 workers".
      expect(err).toMatch(/waiting for 1 worker of cluster 'buffy'/);
      const t0 = Date.now();
      child.stdin!.end();
      const code = await exited;
      expect(Date.now() - t0).toBeLessThan(GONE_WITHIN_MS);
      expect(err).toMatch(
        /\[solo\] the process that started this worker is gone \(its standard input closed\); stopping/,
      );
      expect(err).toMatch(/stopping the cluster: the process that started worker 'solo' is gone/);
      expect(code, err).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  }, 60_000);
});
