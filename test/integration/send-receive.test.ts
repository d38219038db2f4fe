// `buffy send` and `buffy receive` as real processes when the other side misbehaves: a receiver
// that closes mid-stream makes send exit 1 with one line saying how far it got; nothing listening
// is one line with one prefix; a framing error is logged once by receive.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, killAll, startBuffy } from './processes.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'buffy-send-'));
const LINES = 400_000;
const big = path.join(tmp, 'big.txt');
fs.writeFileSync(big, Array.from({ length: LINES }, (_, i) => `message ${i}`).join('\n') + '\n');

afterAll(async () => {
  await killAll();
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** A receiver that reads `bytes` bytes, then half-closes (`end`) or resets (`destroy`). */
async function closingReceiver(
  bytes: number,
  how: 'end' | 'destroy',
): Promise<{ port: number; close(): void }> {
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    let got = 0;
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => {
      got += chunk.length;
      if (got >= bytes) {
        socket.pause();
        if (how === 'end') socket.end();
        else socket.destroy();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
  return { port: (server.address() as net.AddressInfo).port, close: () => server.close() };
}

const SENT_LINE =
  /: (\d+) messages sent, (\d+) of them handed to the network; a tcp: source sends no acknowledgements, so how many were processed is unknown/;

describe('buffy send: the receiver goes away mid-stream', () => {
  for (const how of ['end', 'destroy'] as const) {
    it(`exits 1 with one line saying how many messages were sent (peer ${how === 'end' ? 'half-closes' : 'resets'})`, async () => {
      const r = await closingReceiver(200_000, how);
      try {
        const send = startBuffy(`send/${how}`, [
          'send',
          '--no-acks',
          '--to',
          `127.0.0.1:${r.port}`,
          '--file',
          big,
        ]);
        expect(await send.exited).toBe(1);
        expect(send.lines, send.lines.join('\n')).toHaveLength(1);
        const line = send.lines[0]!;
        expect(line.startsWith('buffy send: ')).toBe(true);
        expect(line).not.toMatch(/buffy send: buffy send/);
        expect(line).toMatch(
          how === 'end'
            ? new RegExp(`^buffy send: 127\\.0\\.0\\.1:${r.port} closed its side of the connection: `)
            : /^buffy send: the connection to 127\.0\.0\.1:\d+ (failed|closed)/,
        );
        const m = SENT_LINE.exec(line);
        expect(m, line).not.toBeNull();
        const [sent, flushed] = [Number(m![1]), Number(m![2])];
        expect(sent).toBeGreaterThan(0);
        expect(sent).toBeLessThan(LINES);
        expect(flushed).toBeLessThanOrEqual(sent);
      } finally {
        r.close();
      }
    }, 60_000);
  }

  it('nothing listening: one line, one prefix, exit 1', async () => {
    const port = await freePort();
    const send = startBuffy('send/refused', ['send', '--to', `127.0.0.1:${port}`, '--file', big]);
    expect(await send.exited).toBe(1);
    expect(send.lines).toHaveLength(1);
    expect(send.lines[0]).toMatch(new RegExp(`^buffy send: cannot connect to 127\\.0\\.0\\.1:${port}: `));
  }, 30_000);

  it('a whole file to a receiver that reads it all: exit 0 and the count', async () => {
    const recv = startBuffy('send/receive', [
      'receive',
      '--listen',
      '127.0.0.1:0',
      '--out',
      path.join(tmp, 'got.txt'),
    ]);
    const addr = (await recv.waitFor(/listening on (127\.0\.0\.1:\d+)/))[1]!;
    const send = startBuffy('send/whole', ['send', '--no-acks', '--to', addr, '--file', big]);
    expect(await send.exited, send.lines.join('\n')).toBe(0);
    expect(send.lines.join('\n')).toMatch(new RegExp(`^sent ${LINES} messages \\(`));
    recv.child.kill('SIGTERM');
    expect(await recv.exited).toBe(0);
    expect(recv.lines.join('\n')).toMatch(new RegExp(`received ${LINES} frames .* over 1 connection$`));
    expect(fs.readFileSync(path.join(tmp, 'got.txt'), 'utf8')).toBe(fs.readFileSync(big, 'utf8'));
  }, 60_000);
});

describe('buffy receive: a framing error', () => {
  it('is logged once, and the receiver goes on', async () => {
    const recv = startBuffy('receive/framing', [
      'receive',
      '--listen',
      '127.0.0.1:0',
      '--out',
      path.join(tmp, 'r.txt'),
    ]);
    const addr = (await recv.waitFor(/listening on 127\.0\.0\.1:(\d+)/))[1]!;
    // One good frame, then a header announcing 4 GiB - 1 (above the frame limit), then the end.
    const good = Buffer.from('ok');
    const header = Buffer.alloc(4);
    header.writeUInt32BE(good.length);
    const bad = Buffer.from([0xff, 0xff, 0xff, 0xff, 1, 2, 3]);
    await new Promise<void>((resolve, reject) => {
      const s = net.connect({ host: '127.0.0.1', port: Number(addr) }, () => {
        s.end(Buffer.concat([header, good, bad]));
      });
      s.on('error', () => undefined);
      s.on('close', () => resolve());
      setTimeout(() => reject(new Error('the receiver did not close the connection')), 10_000).unref();
    });
    recv.child.kill('SIGTERM');
    expect(await recv.exited).toBe(0);
    const errors = recv.lines.filter((l) => /connection from 127\.0\.0\.1:\d+/.test(l));
    expect(errors, recv.lines.join('\n')).toHaveLength(1);
    expect(recv.lines.join('\n')).toMatch(/received 1 frame \(3 bytes\) over 1 connection$/);
    expect(fs.readFileSync(path.join(tmp, 'r.txt'), 'utf8')).toBe('ok\n');
  }, 30_000);
});
