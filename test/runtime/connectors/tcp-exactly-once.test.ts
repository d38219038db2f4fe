// End to end through the real engine (embedded, exactly-once over a MemoryStore): `buffy send`
// (sendFile) into a tcp: source, word counts into a `tcp:...?ids=1` sink, `buffy receive
// --check` (startReceiver with check). The engine passes SourceContext.resume and calls
// commit(offset), so the sender ends only once everything is durable; the sink goes through
// the outbox and every output carries the worker's output id: no repeat, no gap.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { defineApp } from '../../../runtime/api/app.ts';
import type { Application } from '../../../runtime/api/app.ts';
import { stringCodec } from '../../../runtime/api/codec.ts';
import { registerTcpConnector } from '../../../runtime/connectors/tcp.ts';
import { MemoryDeadLetterSink } from '../../../runtime/engine/dead-letters.ts';
import { runEmbedded } from '../../../runtime/engine/embedded.ts';
import { sendFile, startReceiver } from '../../../runtime/cluster/tools.ts';
import { MemoryStore, createSystemClock } from '../../../runtime/system.ts';
import type { Logger } from '../../../runtime/types.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'buffy-tcp-eo-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
registerTcpConnector();

const clock = createSystemClock();
const logs: string[] = [];
const log: Logger = { info: (m) => logs.push(m), warn: (m) => logs.push(m), error: (m) => logs.push(m) };

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

function countApp(source: string, sink: string): Application {
  const app = defineApp('tcp-counts', { partitions: 4 });
  app
    .source('lines', { uri: source, decode: stringCodec })
    .flatMap('split', (l: string) => l.split(' ').filter((w) => w !== ''))
    .state('count', {
      key: (w: string) => w,
      init: () => 0,
      update: (n: number, w: string, emit: (o: string) => void) => {
        emit(`${w} ${n + 1}`);
        return n + 1;
      },
      codec: stringCodec,
    })
    .sink('out', { uri: sink, encode: stringCodec });
  return app.build();
}

describe('tcp source and sink under exactly-once (embedded engine)', () => {
  it('the sender ends acknowledged; every output arrives once with its output id, no gap', async () => {
    const lines = Array.from({ length: 3000 }, (_, i) => `w${i % 7} w${i % 3} x`);
    const file = path.join(tmp, 'words.txt');
    fs.writeFileSync(file, lines.join('\n') + '\n');
    const out = path.join(tmp, 'out.txt');
    const receiver = await startReceiver({
      listen: { host: '127.0.0.1', port: 0 },
      out,
      log: () => {},
      check: true,
    });
    const port = await freePort();
    const running = runEmbedded(
      countApp(`tcp:127.0.0.1:${port}?end-after=1`, `tcp:127.0.0.1:${receiver.address.port}?ids=1`),
      {
        clock,
        log,
        deadLetters: new MemoryDeadLetterSink(log),
        exactlyOnce: { store: new MemoryStore(), durability: 'none' },
      },
    );
    for (let i = 0; i < 500 && !logs.some((l) => l.includes(`listening on 127.0.0.1:${port}`)); i++)
      await new Promise((r) => setTimeout(r, 10));
    const sent = await sendFile({
      to: { host: '127.0.0.1', port },
      file,
      batch: 200,
      connectTimeoutMs: 10_000,
    });
    expect(sent).toMatchObject({ messages: 3000, acknowledged: true });
    const summary = await running;
    expect(summary.stoppedEarly).toBe(false);
    await new Promise((r) => setTimeout(r, 100));
    const counts = await receiver.close();
    const expected: string[] = [];
    const c = new Map<string, number>();
    for (const l of lines)
      for (const w of l.split(' ')) {
        c.set(w, (c.get(w) ?? 0) + 1);
        expected.push(`${w} ${c.get(w)}`);
      }
    const got = fs
      .readFileSync(out, 'utf8')
      .split('\n')
      .filter((l) => l !== '');
    expect(got.slice().sort()).toEqual(expected.slice().sort());
    expect(counts.check).toMatchObject({
      distinct: expected.length,
      duplicates: 0,
      missing: 0,
      unlabelled: 0,
    });
    // Output ids from the outbox (o:W:N), not numbers of the sink's own.
    expect(counts.check!.lines[0]).toMatch(/ from 1 worker; no repeat; no gap$/);
    expect(logs.join('\n')).toMatch(/lines are acknowledged once durable downstream/);
  }, 60_000);
});
