// A peer that breaks the protocol: after a valid HELLO it sends an ACK for a frame never sent,
// DATA beyond the credit it was granted, DATA from the future, a HELLO resuming from a frame
// never sent, a corrupt, truncated or unknown frame. The endpoint resets the connection with a
// log line naming the connection, the peer, the frame and its byte offset, and nothing is
// delivered; fast-check also cuts and corrupts a valid stream at every byte.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ackFrame, dataHeader, encodeHello, PROTOCOL_VERSION } from '../../../runtime/net/channel.ts';
import { ChannelEndpoint } from '../../../runtime/net/endpoint.ts';
import { encodeFrame } from '../../../runtime/net/framing.ts';

const local = { cluster: 'c1', app: 'wc', worker: 'w1' };
const peer = { protocolVersion: PROTOCOL_VERSION, cluster: 'c1', app: 'wc', worker: 'w2' };
const CONNECTION = 'data channel w1 <- 127.0.0.1:5555';

function helloFrom(resume = 0, limit = 4, limitBytes = 1000): Uint8Array {
  return encodeFrame(encodeHello(peer, { ack: resume, limit, limitBytes }));
}

function data(seq: number, body: Uint8Array = new Uint8Array(8), messages = 1): Uint8Array {
  return Buffer.concat([dataHeader(seq, messages, body.length), body]);
}

interface Run {
  readonly logs: string[];
  readonly delivered: number[];
  readonly ep: ChannelEndpoint;
}

/** An endpoint fed `chunks` from the peer; `sendFirst` batches are queued before (not yet in its machine). */
function endpointFed(chunks: readonly Uint8Array[], sendFirst = 0): Run {
  const logs: string[] = [];
  const delivered: number[] = [];
  const ep = new ChannelEndpoint(
    { local, connection: CONNECTION, windowFrames: 2, windowBytes: 64 },
    { onBatch: (b) => void delivered.push(b.seq), log: (m) => logs.push(m) },
  );
  ep.attach({ write: () => undefined, close: () => undefined });
  for (let i = 0; i < sendFirst; i++) ep.send(new Uint8Array(4), 1);
  for (const c of chunks) ep.receiveBytes(c);
  return { logs, delivered, ep };
}

describe('a peer that breaks the protocol', () => {
  const hello = helloFrom();
  // `bad`: which of the frames after the HELLO is the offending one (its offset is logged).
  const cases: Array<{ what: string; after: Uint8Array[]; bad: number; text: RegExp }> = [
    {
      what: 'an ACK for a frame never sent',
      bad: 0,
      after: [ackFrame({ ack: 3, limit: 9, limitBytes: 99 })],
      text: /ACK for frame 3, but the last frame sent is 0/,
    },
    {
      what: 'DATA beyond the credit granted',
      bad: 2,
      after: [data(1), data(2), data(3)],
      text: /DATA frame 3 .* exceeds the credit granted \(up to frame 2/,
    },
    {
      what: 'DATA beyond the byte credit',
      bad: 0,
      after: [data(1, new Uint8Array(65))],
      text: /DATA frame 1 \(1 messages, 65 bytes\) exceeds the credit granted/,
    },
    {
      what: 'DATA from the future',
      bad: 1,
      after: [data(1), data(3)],
      text: /DATA frame 3 from the future: the next frame in order is 2/,
    },
    {
      what: 'DATA without messages',
      bad: 0,
      after: [data(1, new Uint8Array(4), 0)],
      text: /DATA frame 1 holds no messages/,
    },
    {
      what: 'an unknown frame type',
      bad: 0,
      after: [encodeFrame(Uint8Array.from([9, 1, 2]))],
      text: /unknown frame type 9/,
    },
    {
      what: 'a truncated ACK',
      bad: 0,
      after: [encodeFrame(Uint8Array.from([3, 0, 0, 0]))],
      text: /ACK frame of 4 bytes, expected 25/,
    },
    { what: 'a second HELLO', after: [helloFrom()], bad: 0, text: /second HELLO/ },
  ];
  for (const c of cases) {
    it(`${c.what}: reset, logged with the peer, the frame and its byte offset`, () => {
      // All in one chunk, as a socket read may bring it: the DATA frames enter the core together.
      const r = endpointFed([Buffer.concat([hello, ...c.after])]);
      expect(r.ep.closed?.error).toBe(true);
      expect(r.logs).toHaveLength(1);
      const at = hello.length + c.after.slice(0, c.bad).reduce((n, f) => n + f.length, 0);
      expect(r.logs[0]).toContain(`(frame at byte offset ${at})`);
      expect(r.logs[0]).toContain(`${CONNECTION} (worker 'w2'): protocol error: `);
      expect(r.logs[0]).toMatch(c.text);
      expect(r.logs[0]).toMatch(/; resetting the connection$/);
    });
  }

  it('a HELLO resuming from a frame never sent', () => {
    const r = endpointFed([helloFrom(5)], 2);
    expect(r.ep.closed?.error).toBe(true);
    expect(r.logs[0]).toMatch(
      /the peer resumes after frame 5, but the last frame sent is 0 \(frame at byte offset 0\)/,
    );
  });

  it('a valid stream cut or corrupted at any byte: never a throw, never a delivery out of order or twice', () => {
    const stream = Buffer.concat([hello, data(1), data(2), ackFrame({ ack: 0, limit: 4, limitBytes: 100 })]);
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: stream.length - 1 }),
        fc.integer({ min: 0, max: 255 }),
        fc.boolean(),
        (at, byte, cut) => {
          const bytes = Uint8Array.from(stream);
          if (!cut) bytes[at] = byte;
          const r = endpointFed([cut ? bytes.subarray(0, at) : bytes]);
          r.ep.transportClosed('socket closed');
          expect(r.ep.closed).not.toBeNull();
          // Whatever arrived is a prefix of 1, 2, each once.
          expect([1, 2].slice(0, r.delivered.length)).toEqual(r.delivered);
          for (const l of r.logs) expect(l).toContain(CONNECTION);
        },
      ),
      { numRuns: 500 },
    );
  });
});
