// Real processes: `buffy trace-receiver --listen 127.0.0.1:0` receives a worker's reports,
// `buffy trace stats` / `buffy trace show` query it; `buffy flow check` on the word count
// example; the receiver stops on SIGTERM with its figures.
import { afterAll, describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';
import { DEFAULT_TEXT, splitWords } from '../../examples/word-count.ts';
import { killAll, startBuffy } from '../integration/processes.ts';
import { traceHash } from '../../runtime/tracing/hash.ts';
import { HttpTraceSink } from '../../runtime/tracing/http.ts';

afterAll(killAll);
const wordCount = fileURLToPath(new URL('../../examples/word-count.ts', import.meta.url));

describe('buffy trace-receiver, trace, flow (processes)', () => {
  it('receives, answers queries, stops on SIGTERM', async () => {
    const rx = startBuffy('receiver', ['trace-receiver', '--listen', '127.0.0.1:0', '--app', wordCount]);
    const m = await rx.waitFor(
      /trace receiver listening on 127\.0\.0\.1:(\d+); flow lines;split;counts;updates/,
      60_000,
    );
    const addr = `127.0.0.1:${m[1]}`;
    const sink = new HttpTraceSink(addr);
    const h = [traceHash('0:4', 'lines', 'w1', 0, [])];
    h.push(traceHash('0:4', 'split', 'w1', 0, [h[0]!]));
    h.push(traceHash('0:4/0', 'counts', 'w2', 1, [h[1]!]));
    h.push(traceHash('0:4/0/0', 'updates', 'w2', 0, [h[2]!]));
    const ids = ['0:4', '0:4', '0:4/0', '0:4/0/0'];
    ['lines', 'split', 'counts', 'updates'].forEach((t, i) =>
      sink.report({
        messageId: ids[i]!,
        workerType: t,
        instanceId: i < 2 ? 'w1' : 'w2',
        stateIndex: i === 2 ? 1 : 0,
        hash: h[i]!,
        predecessorHashes: i === 0 ? [] : [h[i - 1]!],
      }),
    );
    await sink.flush();
    expect(sink.failedPosts).toBe(0);
    const stats = startBuffy('stats', ['trace', 'stats', '--receiver', addr]);
    expect(await stats.exited).toBe(0);
    expect(stats.lines.join('\n')).toMatch(
      /messages held: 1, reports: 4, traversals: 1, violations: 0[\s\S]*1 {2}lines;split;counts;updates/,
    );
    const show = startBuffy('show', ['trace', 'show', '0:4/0', '--receiver', addr]);
    expect(await show.exited).toBe(0);
    expect(show.lines).toContain('    counts on w2, message 0:4/0');
    rx.child.kill('SIGTERM');
    expect(await rx.exited).toBe(0);
    expect(rx.lines.join('\n')).toContain('messages held: 1, reports: 4');
  }, 120_000);

  it('flow check and flow show on the word count example', async () => {
    const ok = startBuffy('check', ['flow', 'check', wordCount, '--flow', 'lines;split;counts;updates']);
    expect(await ok.exited).toBe(0);
    expect(ok.lines.join('\n')).toContain(
      'word-count: flow lines;split;counts;updates matches the topology (1 traversal)',
    );
    const bad = startBuffy('check', ['flow', 'check', wordCount, '--flow', 'lines;[split|counts];updates']);
    expect(await bad.exited).toBe(1);
    const usage = startBuffy('check', ['flow', 'check', wordCount, '--flow', '[lines||split]']);
    expect(await usage.exited).toBe(2);
    expect(usage.lines.join('\n')).toMatch(/may not begin with a fork/);
  }, 120_000);

  it('buffy run --trace checks an embedded run, or sends to a receiver with --trace-to', async () => {
    const embedded = startBuffy('run', ['run', wordCount, '--trace', '1/10', '--param', 'top=0']);
    expect(await embedded.exited).toBe(0);
    expect(embedded.lines.join('\n')).toMatch(
      /trace \(1\/10\): flow: lines;split;counts;updates\nmessages held: \d+, reports: \d+, traversals: \d+, violations: 0/,
    );
    // A predicate: the lines at offsets 0-4 and 10 of the bundled text, and every word of them.
    const picked = startBuffy('run', ['run', wordCount, '--trace', 'offsets:0-4,10', '--param', 'top=0']);
    expect(await picked.exited).toBe(0);
    const lines = readFileSync(DEFAULT_TEXT, 'utf8').split(/\r?\n/);
    const words = [0, 1, 2, 3, 4, 10].reduce((n, i) => n + splitWords(lines[i] ?? '').length, 0);
    expect(picked.lines.join('\n')).toMatch(
      new RegExp(
        `trace \\(offsets:0-4,10\\): flow: lines;split;counts;updates\nmessages held: 6, reports: \\d+, traversals: ${words}, violations: 0`,
      ),
    );
    const rx = startBuffy('receiver', ['trace-receiver', '--listen', '127.0.0.1:0']);
    const m = await rx.waitFor(/listening on 127\.0\.0\.1:(\d+)/, 60_000);
    const sent = startBuffy('run', [
      'run',
      wordCount,
      '--trace',
      'all',
      '--trace-to',
      `127.0.0.1:${m[1]}`,
      '--param',
      'top=0',
    ]);
    expect(await sent.exited).toBe(0);
    expect(sent.lines.join('\n')).toContain(`trace reports sent to 127.0.0.1:${m[1]}`);
    const stats = startBuffy('stats', ['trace', 'stats', '--receiver', `127.0.0.1:${m[1]}`]);
    expect(await stats.exited).toBe(0);
    expect(stats.lines.join('\n')).toMatch(
      /flow: \(none: traversals are not checked\)\nmessages held: \d{3,}/,
    );
    rx.child.kill('SIGTERM');
    expect(await rx.exited).toBe(0);
    const bad = startBuffy('run', ['run', wordCount, '--trace', '10%']);
    expect(await bad.exited).toBe(2);
    expect(bad.lines.join('\n')).toContain('expected off, all, 1/N');
    const lone = startBuffy('node', [
      'node',
      wordCount,
      '--name',
      'x',
      '--workers',
      '2',
      '--control',
      '127.0.0.1:1',
      '--data',
      '127.0.0.1:0',
      '--trace',
      'all',
    ]);
    expect(await lone.exited).toBe(2);
    expect(lone.lines.join('\n')).toContain('--trace SAMPLING and --trace-to HOST:PORT go together');
  }, 180_000);

  it('word count on a local cluster of 3 worker processes, 1 in 10: every sampled traversal checks, as embedded', async () => {
    const cluster = startBuffy('cluster', [
      'run',
      wordCount,
      '--workers',
      '3',
      '--trace',
      '1/10',
      '--param',
      'top=0',
    ]);
    expect(await cluster.exited).toBe(0);
    const out = cluster.lines.join('\n');
    const m = /messages held: (\d+), reports: (\d+), traversals: (\d+), violations: 0/.exec(out);
    expect(m, out).not.toBeNull();
    expect(out).toMatch(new RegExp(`\\s${m![3]}  lines;split;counts;updates`));
    // The same logical messages are sampled as in an embedded run: the same figures.
    const embedded = startBuffy('run', ['run', wordCount, '--trace', '1/10', '--param', 'top=0']);
    expect(await embedded.exited).toBe(0);
    expect(embedded.lines.join('\n')).toContain(m![0]);
  }, 180_000);

  it('a forking app on 3 worker processes, every message traced: the fork is one traversal, and it checks', async () => {
    const forkApp = fileURLToPath(new URL('../flow/fixtures/fork-app.ts', import.meta.url));
    const text = fileURLToPath(new URL('../../data/word-count-sample.txt', import.meta.url));
    const flow = 'lines;[split;counts;updates||length;lengths]';
    const run = startBuffy('fork', [
      'run',
      forkApp,
      '--workers',
      '3',
      '--trace',
      'all',
      '--source',
      `file:${text}`,
      '--param',
      `flow=${flow}`,
    ]);
    expect(await run.exited).toBe(0);
    const out = run.lines.join('\n');
    expect(out).toMatch(/violations: 0/);
    expect(out).toMatch(/\s\d+ {2}lines;\[length;lengths\|\|split;counts;updates\]/);
  }, 180_000);
});
