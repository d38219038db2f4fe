// Cluster behaviour around failures and signals, with real `buffy node` processes on loopback.
import { afterAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, killAll, startBuffy } from './processes.ts';
import type { Proc } from './processes.ts';

const APP = fileURLToPath(new URL('../../examples/word-count.ts', import.meta.url));
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'buffy-failures-'));

afterAll(async () => {
  await killAll();
});

/** Starts a 3-worker cluster (tcp source on w1, counting sinks) and waits until it runs; `args`
 * are each worker's command line (to start it again). */
async function startCluster(
  cluster: string,
  controlPort = 0,
  extra: string[] = [],
): Promise<{ w: Proc[]; args: string[][]; control: string; source: string }> {
  const common = ['--workers', '3', '--cluster', cluster, '--sink', 'count:', '--param', 'top=0', ...extra];
  const dl = (n: string) => ['--dead-letters', path.join(tmp, `${cluster}-${n}.jsonl`)];
  const a1 = [
    'node',
    APP,
    '--name',
    'w1',
    '--initializer',
    '--control',
    `127.0.0.1:${controlPort}`,
    '--source',
    'tcp:127.0.0.1:0',
    ...dl('w1'),
    ...common,
  ];
  const w1 = startBuffy(`${cluster}/w1`, a1);
  const control = (await w1.waitFor(/control listening on (127\.0\.0\.1:\d+)/))[1]!;
  const a2 = ['node', APP, '--name', 'w2', '--control', control, ...dl('w2'), ...common];
  const a3 = ['node', APP, '--name', 'w3', '--control', control, ...dl('w3'), ...common];
  const w2 = startBuffy(`${cluster}/w2`, a2);
  const w3 = startBuffy(`${cluster}/w3`, a3);
  await w1.waitFor(new RegExp(`cluster '${cluster}' started`));
  const source = (await w1.waitFor(/source tcp:127\.0\.0\.1:0 listening on (127\.0\.0\.1:\d+)/))[1]!;
  return { w: [w1, w2, w3], args: [a1, a2, a3], control, source };
}

/** Lines of words, so that every worker owns some of them. */
function corpus(name: string, n: number): string {
  const file = path.join(tmp, `${name}.txt`);
  fs.writeFileSync(
    file,
    Array.from({ length: n }, (_, i) => `alpha${i % 31} beta${i % 7} w${i}`).join('\n') + '\n',
  );
  return file;
}

describe('cluster failures and signals', () => {
  it('SIGTERM to the initializer stops the whole cluster cleanly (exit 0 everywhere)', async () => {
    const { w } = await startCluster('sigterm');
    w[0]!.child.kill('SIGTERM');
    expect(await Promise.all(w.map((p) => p.exited))).toEqual([0, 0, 0]);
    expect(w[0]!.lines.join('\n')).toMatch(/stopping the cluster: SIGTERM on worker 'w1'/);
  }, 30_000);

  it('a killed worker: the others keep running; started again with its command it rejoins, and the cluster stops cleanly', async () => {
    const { w, args, control, source } = await startCluster('crash');
    w[2]!.child.kill('SIGKILL');
    await w[0]!.waitFor(/worker 'w3' is down \(.*\); the others keep running/);
    // Nobody stopped.
    await new Promise((r) => setTimeout(r, 300));
    expect(w[0]!.child.exitCode).toBeNull();
    expect(w[1]!.child.exitCode).toBeNull();
    const w3 = startBuffy('crash/w3 again', args[2]!);
    await w[0]!.waitFor(/worker 'w3' registered again \(a restarted process/);
    await w[0]!.waitFor(/cluster 'crash' running again with 'w3' back/);
    // The restarted worker gets its share of new input.
    const send = startBuffy('crash/send', ['send', '--to', source, '--file', corpus('crash', 2000)]);
    expect(await send.exited).toBe(0);
    const shutdown = startBuffy('crash/shutdown', ['shutdown', '--control', control]);
    expect(await shutdown.exited, shutdown.lines.join('\n')).toBe(0);
    expect(await Promise.all([w[0]!.exited, w[1]!.exited, w3.exited])).toEqual([0, 0, 0]);
    const text = w[0]!.lines.join('\n');
    expect(text).toMatch(/worker 'w3' stopped: ingested 0, sunk [1-9]/);
    expect(text).toMatch(/"name":"w3","metrics":\{[^}]*\},"rejoins":1/);
    // w2 closed its channel to the old w3 and has one to the new process.
    expect(w[1]!.lines.join('\n')).toMatch(/closing the data channel with worker 'w3' \(it registered again/);
  }, 60_000);

  it("a worker whose sink's target goes away makes the cluster stop and exit 1 (no silent drops)", async () => {
    // A receiver that takes the first bytes and then hangs up.
    const receiver = net.createServer((s) => s.once('data', () => s.destroy()));
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
    const receiverPort = (receiver.address() as net.AddressInfo).port;
    try {
      const common = ['--workers', '2', '--cluster', 'sinkgone', '--param', 'top=0'];
      const w1 = startBuffy('sinkgone/w1', [
        'node',
        APP,
        '--name',
        'w1',
        '--initializer',
        '--control',
        '127.0.0.1:0',
        '--source',
        'tcp:127.0.0.1:0',
        '--sink',
        'count:',
        '--dead-letters',
        path.join(tmp, 'sinkgone-w1.jsonl'),
        ...common,
      ]);
      const control = (await w1.waitFor(/control listening on (127\.0\.0\.1:\d+)/))[1]!;
      const w2 = startBuffy('sinkgone/w2', [
        'node',
        APP,
        '--name',
        'w2',
        '--control',
        control,
        '--sink',
        `tcp:127.0.0.1:${receiverPort}`,
        '--dead-letters',
        path.join(tmp, 'sinkgone-w2.jsonl'),
        ...common,
      ]);
      await w1.waitFor(/cluster 'sinkgone' started/);
      const source = (await w1.waitFor(/source tcp:127\.0\.0\.1:0 listening on (127\.0\.0\.1:\d+)/))[1]!;
      // Words of many lengths, so that some land on w2; sent slowly, so that they keep coming
      // after the receiver hung up.
      const lines = Array.from({ length: 4000 }, (_, i) => `word${i} other${i % 97} third${i % 13}`);
      const file = path.join(tmp, 'sinkgone.txt');
      fs.writeFileSync(file, `${lines.join('\n')}\n`);
      const send = startBuffy('sinkgone/send', ['send', '--to', source, '--file', file, '--rate', '4000']);
      expect(await w1.exited).toBe(1);
      expect(await w2.exited).toBe(1);
      send.child.kill('SIGTERM');
      const text = w1.lines.join('\n');
      expect(text).toMatch(
        /worker 'w2' failed: sink tcp:127\.0\.0\.1:\d+ of worker 'w2'.*; stopping the cluster/,
      );
      expect(text).toMatch(/"exitCode":1/);
      // Refused batches are reported once, not one line per batch.
      expect(w2.lines.filter((l) => / batch \d+ from worker 'w1' failed/.test(l)).length).toBeLessThanOrEqual(
        1,
      );
    } finally {
      receiver.close();
    }
  }, 30_000);

  it('a killed initializer: the workers keep running and reconnect; started again on its control address it forms the cluster again', async () => {
    const port = await freePort();
    const { w, args } = await startCluster('orphans', port);
    w[0]!.child.kill('SIGKILL');
    await w[1]!.waitFor(
      /lost the control connection to the initializer at 127\.0\.0\.1:\d+ .*keeps running and reconnects/,
    );
    await w[2]!.waitFor(/lost the control connection to the initializer/);
    await new Promise((r) => setTimeout(r, 500));
    expect(w[1]!.child.exitCode).toBeNull();
    const w1 = startBuffy('orphans/w1 again', args[0]!);
    await w1.waitFor(/cluster 'orphans' started: 3 workers/);
    await w[1]!.waitFor(/reconnected to the initializer .*; registering again/);
    const source = (await w1.waitFor(/source tcp:127\.0\.0\.1:0 listening on (127\.0\.0\.1:\d+)/))[1]!;
    const send = startBuffy('orphans/send', ['send', '--to', source, '--file', corpus('orphans', 2000)]);
    expect(await send.exited).toBe(0);
    const shutdown = startBuffy('orphans/shutdown', ['shutdown', '--control', `127.0.0.1:${port}`]);
    expect(await shutdown.exited, shutdown.lines.join('\n')).toBe(0);
    expect(await Promise.all([w1.exited, w[1]!.exited, w[2]!.exited])).toEqual([0, 0, 0]);
    // The workers that kept running closed their channels to the old initializer process.
    expect(w[2]!.lines.join('\n')).toMatch(/closing the data channel with worker 'w1' \(it registered again/);
    expect(w1.lines.join('\n')).toMatch(/worker 'w2' stopped: ingested 0, sunk [1-9]/);
  }, 60_000);

  it('workers give up on an initializer that stays away (--reconnect-timeout) and exit 1, saying why', async () => {
    const { w } = await startCluster('gone', 0, ['--reconnect-timeout', '1500']);
    w[0]!.child.kill('SIGKILL');
    expect(await w[1]!.exited).toBe(1);
    expect(await w[2]!.exited).toBe(1);
    expect(w[1]!.lines.join('\n')).toMatch(
      /cannot reach the initializer again: .*gave up after 1500 ms\); stopping \(exit 1\)/,
    );
  }, 30_000);

  it('workers started before the initializer wait for it', async () => {
    // A free port: bind port 0, note it, release it.
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const control = `127.0.0.1:${port}`;
    const common = [
      '--workers',
      '2',
      '--cluster',
      'early',
      '--sink',
      'count:',
      '--param',
      'top=0',
      '--control',
      control,
    ];
    const w2 = startBuffy('early/w2', [
      'node',
      APP,
      '--name',
      'w2',
      '--dead-letters',
      path.join(tmp, 'early-w2.jsonl'),
      ...common,
    ]);
    await w2.waitFor(/waiting for the initializer/);
    const w1 = startBuffy('early/w1', [
      'node',
      APP,
      '--name',
      'w1',
      '--initializer',
      '--source',
      'tcp:127.0.0.1:0',
      '--dead-letters',
      path.join(tmp, 'early-w1.jsonl'),
      ...common,
    ]);
    await w1.waitFor(/cluster 'early' started: 2 workers/);
    const shutdown = startBuffy('early/shutdown', ['shutdown', '--control', control]);
    expect(await shutdown.exited).toBe(0);
    expect(await Promise.all([w1.exited, w2.exited])).toEqual([0, 0]);
  }, 30_000);

  it('--state: a missing or unwritable directory is an error naming the worker and the path (exit 1)', async () => {
    const ro = path.join(tmp, 'read-only');
    fs.mkdirSync(ro);
    fs.chmodSync(ro, 0o500);
    const base = ['node', APP, '--name', 'w1', '--initializer', '--workers', '1', '--control', '127.0.0.1:0'];
    const missing = startBuffy('state-missing', [...base, '--state', path.join(tmp, 'nowhere', '{worker}')]);
    const readOnly = startBuffy('state-ro', [...base, '--state', ro]);
    const noState = startBuffy('state-durability', [...base, '--durability', 'sync']);
    expect(await missing.exited).toBe(1);
    expect(missing.lines.join('\n')).toContain(
      `worker 'w1' --state ${path.join(tmp, 'nowhere', 'w1')}: the store directory ${path.join(tmp, 'nowhere', 'w1')} does not exist`,
    );
    expect(await noState.exited).toBe(2);
    expect(noState.lines.join('\n')).toMatch(/--durability needs --state DIR/);
    // root may write anywhere: then the read-only case cannot be made.
    if (process.getuid?.() === 0) {
      readOnly.child.kill('SIGKILL');
      await readOnly.exited;
      return;
    }
    expect(await readOnly.exited, readOnly.lines.join('\n')).toBe(1);
    expect(readOnly.lines.join('\n')).toMatch(
      new RegExp(`worker 'w1' --state ${ro}.*(writable|permission)`, 'i'),
    );
  }, 30_000);

  it('a control port in use is an error naming the address (exit 1)', async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      const p = startBuffy('busy', [
        'node',
        APP,
        '--name',
        'w1',
        '--initializer',
        '--workers',
        '2',
        '--control',
        `127.0.0.1:${port}`,
      ]);
      expect(await p.exited).toBe(1);
      expect(p.lines.join('\n')).toContain(
        `--control: cannot listen on 127.0.0.1:${port}: the address is already in use`,
      );
    } finally {
      blocker.close();
    }
  }, 30_000);

  it('bad flags are usage errors (exit 2) that name the flag', async () => {
    const cases: Array<[string[], RegExp]> = [
      [
        ['node', APP, '--name', 'w1', '--workers', 'three', '--control', '127.0.0.1:1'],
        /--workers must be an integer/,
      ],
      [
        ['node', APP, '--name', '1bad', '--workers', '2', '--control', '127.0.0.1:1'],
        /--name must start with a letter/,
      ],
      [['node', APP, '--name', 'w1', '--workers', '2'], /--control is required/],
      [
        ['node', APP, '--name', 'w1', '--workers', '2', '--control', 'nowhere'],
        /--control: expected HOST:PORT, got 'nowhere'/,
      ],
      [['send', '--to', '127.0.0.1:1', '--file', 'f', '--rate', 'fast'], /--rate must be a positive number/],
      [['receive'], /--listen is required/],
      [['shutdown', '--control', '127.0.0.1:99999'], /--control: port 99999 is out of range/],
    ];
    const procs = cases.map(([args], i) => startBuffy(`flags-${i}`, args));
    const codes = await Promise.all(procs.map((p) => p.exited));
    cases.forEach(([, pattern], i) => {
      expect(procs[i]!.lines.join('\n'), `case ${i}`).toMatch(pattern);
      expect(codes[i], `case ${i}: ${procs[i]!.lines.join('\n')}`).toBe(2);
    });
  }, 30_000);
});
