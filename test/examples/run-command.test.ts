import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const launcher = fileURLToPath(new URL('./fixtures/run-cli.mjs', import.meta.url));
const endlessApp = fileURLToPath(new URL('./fixtures/endless-app.ts', import.meta.url));
const wordCountApp = fileURLToPath(new URL('../../examples/word-count.ts', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'buffy-run-test-'));
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

interface Done {
  code: number | null;
  stdout: string;
  stderr: string;
}

function start(args: string[]): { child: ChildProcess; done: Promise<Done>; stderr: () => string } {
  const child = spawn(process.execPath, [launcher, ...args], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<Done>((resolve) =>
    child.once('exit', (code) => resolve({ code, stdout, stderr })),
  );
  return { child, done, stderr: () => stderr };
}

describe('buffy run', () => {
  it('runs word count embedded, writes every update to a file sink, prints the summary', async () => {
    const text = 'The cat, the hat.\nA cat!\n';
    writeFileSync(join(dir, 'in.txt'), text);
    const r = await start([
      'run',
      wordCountApp,
      '--source',
      'file:in.txt',
      '--sink',
      'file:out.txt',
      '--param',
      'top=2',
    ]).done;
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(readFileSync(join(dir, 'out.txt'), 'utf8')).toBe('the 1\ncat 1\nthe 2\nhat 1\na 1\ncat 2\n');
    expect(r.stdout).toMatch(/source messages: 2 /);
    expect(r.stdout).toMatch(/sink messages: 6 /);
    expect(r.stdout).toMatch(/1\. cat\s+2\n\s+2\. the\s+2/);
  });

  it('exits 2 with a message naming the flag on bad usage', async () => {
    const bad = await start(['run', wordCountApp, '--param', 'top=many']).done;
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/buffy run: --param top \(given "many"\)/);
    const missing = await start(['run', join(dir, 'nope.ts')]).done;
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/nope\.ts: no such application file/);
    const workers = await start(['run', wordCountApp, '--workers', '0']).done;
    expect(workers.code).toBe(2);
    expect(workers.stderr).toMatch(/--workers 0: must be an integer from 1 to 64/);
  });

  it('sends a throwing message to the dead-letter file and keeps going', async () => {
    const app = join(dir, 'throwing-app.mts');
    const api = fileURLToPath(new URL('../../runtime/api/app.ts', import.meta.url));
    const codec = fileURLToPath(new URL('../../runtime/api/codec.ts', import.meta.url));
    writeFileSync(
      app,
      `import { defineApp } from ${JSON.stringify(api)};
import { stringCodec } from ${JSON.stringify(codec)};
export default (o) => {
  const app = defineApp('thrower');
  app.source('in', { uri: o.source, decode: stringCodec })
    .map('check', (l) => { if (l === 'bad') throw new Error('no bad lines'); return l; })
    .sink('out', { uri: o.sink, encode: stringCodec });
  return app.build();
};
`,
    );
    writeFileSync(join(dir, 'dl.txt'), 'one\nbad\nthree\n');
    const r = await start([
      'run',
      app,
      '--source',
      'file:dl.txt',
      '--sink',
      'file:dl-out.txt',
      '--dead-letters',
      'dead.jsonl',
    ]).done;
    expect(r.code).toBe(0);
    expect(readFileSync(join(dir, 'dl-out.txt'), 'utf8')).toBe('one\nthree\n');
    const letters = readFileSync(join(dir, 'dead.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({
      worker: 'embedded',
      step: 'check',
      messageId: '0:1',
      error: 'Error: no bad lines',
      payloadExcerpt: 'bad',
    });
    expect(r.stderr).toMatch(
      /warning: step "check" on worker "embedded" failed on message 0:1 \(Error: no bad lines\)/,
    );
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`stops gracefully on ${signal}: sources stop, sinks flush, exit 0, nothing lost`, async () => {
      const out = join(dir, `endless-${signal}.txt`);
      const run = start(['run', endlessApp, '--sink', `file:${out}`]);
      const deadline = Date.now() + 20_000;
      while (!run.stderr().includes('endless: running') && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 20));
      run.child.kill(signal);
      const r = await run.done;
      expect(r.code).toBe(0);
      expect(r.stderr).toMatch(new RegExp(`${signal}: stopping sources, draining, flushing sinks`));
      const lines = readFileSync(out, 'utf8').split('\n');
      expect(lines.pop()).toBe('');
      const sunk = Number(/sink messages: ([\d,]+)/.exec(r.stdout)![1]!.replace(/,/g, ''));
      expect(lines.length).toBe(sunk);
      // Every source line "a b c", "b c", "c" was processed whole: counts of a:b:c are 1:2:3.
      const last = new Map(lines.map((l) => l.split(' ') as [string, string]));
      const a = Number(last.get('a'));
      expect(a).toBeGreaterThan(0);
      expect([Number(last.get('b')), Number(last.get('c'))]).toEqual([2 * a, 3 * a]);
    });
  }
});
