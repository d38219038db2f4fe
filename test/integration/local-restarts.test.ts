// `buffy run --workers 3` starts a worker that dies again with its command (the initializer on
// its control address), gives every worker a store under a temporary directory and removes it
// after a clean end. Real processes: the test SIGKILLs a worker of the run.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { childPids, killAll, startBuffy } from './processes.ts';

const APP = fileURLToPath(new URL('../../examples/word-count.ts', import.meta.url));
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'buffy-restarts-'));
const onLinux = process.platform === 'linux';

afterAll(async () => {
  await killAll();
  fs.rmSync(tmp, { recursive: true, force: true });
});

function corpus(name: string, n: number): string {
  const file = path.join(tmp, `${name}.txt`);
  fs.writeFileSync(
    file,
    Array.from({ length: n }, (_, i) => `gamma${i % 23} delta${i % 5} v${i}`).join('\n') + '\n',
  );
  return file;
}

describe.skipIf(!onLinux)('buffy run --workers 3: a worker that dies is started again', () => {
  for (const victim of ['w3', 'w1']) {
    it(`SIGKILL of ${victim === 'w1' ? 'the initializer' : 'a worker'} (${victim}): started again, the run goes on and ends cleanly, the stores are removed`, async () => {
      const p = startBuffy(
        `restarts/${victim}`,
        ['run', APP, '--workers', '3', '--source', 'tcp:127.0.0.1:0', '--sink', 'count:', '--param', 'top=0'],
        tmp,
      );
      const stores = (await p.waitFor(/worker stores under (\S+) \(removed after a clean end\)/, 30_000))[1]!;
      expect(fs.readdirSync(stores).sort()).toEqual(['w1', 'w2', 'w3']);
      await p.waitFor(/cluster 'local-\d+' started: 3 workers/, 60_000);
      const [pid] = childPids(p.child.pid!, ['--name', victim, '--exit-with-stdin']);
      expect(pid, p.lines.join('\n')).toBeDefined();
      process.kill(pid!, 'SIGKILL');
      await p.waitFor(
        new RegExp(
          `worker '${victim}' was killed by SIGKILL; starting it again with its command \\(restart 1 of at most 5\\)`,
        ),
      );
      if (victim === 'w1') {
        // The initializer comes back on the same control address and forms the cluster again.
        await p.waitFor(/reconnected to the initializer .*registering again/, 30_000);
        await waitForCount(p.lines, /cluster 'local-\d+' started: 3 workers/, 2);
      } else {
        await p.waitFor(/cluster 'local-\d+' running again with 'w3' back/, 30_000);
      }
      const sources = p.lines
        .map((l) => /source tcp:127\.0\.0\.1:0 listening on (127\.0\.0\.1:\d+)/.exec(l)?.[1])
        .filter((a): a is string => a !== undefined);
      const send = startBuffy(`restarts/${victim}/send`, [
        'send',
        '--to',
        sources.at(-1)!,
        '--file',
        corpus(victim, 1000),
      ]);
      expect(await send.exited, send.lines.join('\n')).toBe(0);
      p.child.kill('SIGTERM');
      const code = await p.exited;
      const text = p.lines.join('\n');
      expect(code, text).toBe(0);
      expect(text).toMatch(new RegExp(`restarted '${victim}' 1 time`));
      expect(text).toMatch(/cluster summary: \{"exitCode":0/);
      expect(fs.existsSync(stores)).toBe(false);
    }, 120_000);
  }
});

async function waitForCount(
  lines: readonly string[],
  pattern: RegExp,
  n: number,
  timeoutMs = 30_000,
): Promise<void> {
  const start = Date.now();
  while (lines.filter((l) => pattern.test(l)).length < n) {
    if (Date.now() - start > timeoutMs)
      throw new Error(
        `fewer than ${n} lines matching ${pattern} within ${timeoutMs} ms:\n${lines.join('\n')}`,
      );
    await new Promise((r) => setTimeout(r, 50));
  }
}
