// The trace receiver over HTTP on loopback: a worker posts its reports, `buffy trace show` and
// `buffy trace stats` query them.
import { Command } from 'commander';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { registerTraceCommands } from '../../cli/trace.ts';
import wordCount from '../../examples/word-count.ts';
import { clearMemoryConnectors, setMemorySource } from '../../runtime/connectors/index.ts';
import { MemoryDeadLetterSink } from '../../runtime/engine/dead-letters.ts';
import { singleWorkerTable } from '../../runtime/engine/partition.ts';
import { createWorkerEngine } from '../../runtime/engine/worker.ts';
import { parseFlow } from '../../runtime/flow/parse.ts';
import { HttpTraceSink, parseReportLines, startReceiverServer } from '../../runtime/tracing/http.ts';
import { TraceReceiver } from '../../runtime/tracing/receiver.ts';
import { createSystemClock } from '../../runtime/system.ts';
import type { Logger } from '../../runtime/types.ts';

const silent: Logger = { info: () => undefined, warn: () => undefined, error: () => undefined };
afterEach(() => {
  clearMemoryConnectors();
  process.exitCode = undefined;
  vi.restoreAllMocks();
});

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((out += String(s)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((err += String(s)), true));
  const program = new Command('buffy').exitOverride();
  registerTraceCommands(program);
  process.exitCode = undefined;
  await program.parseAsync(args, { from: 'user' });
  const code = typeof process.exitCode === 'number' ? process.exitCode : 0;
  vi.restoreAllMocks();
  return { code, out, err };
}

describe('trace receiver over HTTP', () => {
  it('a worker posts its reports; show and stats query them; a violation exits 1', async () => {
    const receiver = new TraceReceiver({ flow: parseFlow('lines;split;counts;updates') });
    const server = await startReceiverServer(receiver, '127.0.0.1', 0);
    try {
      const sink = new HttpTraceSink(`127.0.0.1:${server.port}`, { batchReports: 50 });
      setMemorySource('h-in', ['to be or not to be', '', 'that is the question'], 2);
      const app = wordCount({ source: 'memory:h-in', sink: 'count:', params: { top: '0', partitions: '8' } });
      const engine = createWorkerEngine({
        app,
        workerName: 'solo',
        partitions: singleWorkerTable('solo', 8),
        clock: createSystemClock(),
        log: silent,
        deadLetters: new MemoryDeadLetterSink(),
        remote: { send: () => undefined },
        tracing: { sampling: { mode: 'all' }, sink, withState: true },
      });
      await engine.start();
      await engine.sourcesDone();
      await engine.stop();
      await sink.flush();
      expect(sink.failedPosts).toBe(0);
      const addr = `127.0.0.1:${server.port}`;
      const show = await cli('trace', 'show', '0:0/3', '--receiver', addr);
      expect(show.code).toBe(0);
      expect(show.out).toContain('message 0:0: 6 traversals');
      expect(show.out).toContain('  lines;split;counts;updates');
      expect(show.out).toMatch(/counts on solo, message 0:0\/\d/);
      const stats = await cli('trace', 'stats', '--receiver', addr);
      expect(stats.code).toBe(0);
      expect(stats.out).toContain('messages held: 3, reports: ');
      expect(stats.out).toMatch(/ +10 {2}lines;split;counts;updates\n +1 {2}lines;split!/);
      // "that is the question": four words, four traversals.
      expect(receiver.checkMessage('0:2')!.traversals.length).toBe(4);
      // A report of a step the flow does not have.
      const res = await fetch(`http://${addr}/reports`, {
        method: 'POST',
        body: `${JSON.stringify({ messageId: '0:9', workerType: 'lines', instanceId: 'x', stateIndex: 0, hash: 7, predecessorHashes: [] })}\n${JSON.stringify({ messageId: '0:9', workerType: 'sneaky', instanceId: 'x', stateIndex: 0, hash: 8, predecessorHashes: [7] })}\n`,
      });
      expect(res.status).toBe(200);
      const bad = await cli('trace', 'stats', '--receiver', addr);
      expect(bad.code).toBe(1);
      expect(bad.out).toContain('lines;sneaky   VIOLATION');
      const badShow = await cli('trace', 'show', '0:9', '--receiver', addr);
      expect(badShow.out).toContain('VIOLATION: the flow allows no such traversal: lines;sneaky (ends 0:9)');
      expect((await cli('trace', 'show', '7:7', '--receiver', addr)).code).toBe(1);
      // Malformed reports are refused with the line and field.
      const refused = await fetch(`http://${addr}/reports`, {
        method: 'POST',
        body: '{"messageId":"0:1"}\nnot json\n',
      });
      expect(refused.status).toBe(400);
      expect(((await refused.json()) as { error: string }).error).toMatch(/line 1: field "workerType"/);
      expect(server.invalidReports()).toBe(2);
    } finally {
      await server.close();
    }
  });

  it('usage errors exit 2; an absent receiver exits 1 and says how to start one', async () => {
    expect((await cli('trace', 'stats', '--receiver', 'nonsense')).code).toBe(2);
    const gone = await cli('trace', 'stats', '--receiver', '127.0.0.1:1');
    expect(gone.code).toBe(1);
    expect(gone.err).toMatch(/no trace receiver at http:\/\/127.0.0.1:1.*buffy trace-receiver --listen/);
    expect(parseReportLines('\n\n').reports).toEqual([]);
  });
});
