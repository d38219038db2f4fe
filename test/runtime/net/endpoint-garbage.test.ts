// Garbage on a data channel (random bytes, random frames, after a valid HELLO or not) never
// throws out of the endpoint and never delivers a batch: the channel closes with an error that
// names the connection, or waits for more bytes.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeHello, FrameType, PROTOCOL_VERSION } from '../../../runtime/net/channel.ts';
import { ChannelEndpoint } from '../../../runtime/net/endpoint.ts';
import { encodeFrame } from '../../../runtime/net/framing.ts';

const local = { cluster: 'c1', app: 'wc', worker: 'w1' };
const peerHello = encodeFrame(
  encodeHello({ protocolVersion: PROTOCOL_VERSION, cluster: 'c1', app: 'wc', worker: 'w2' }),
);

/** Frames whose first byte is a known type, with random bodies: the hardest garbage. */
const frameArb = fc
  .tuple(fc.constantFrom(...Object.values(FrameType), 0, 9), fc.uint8Array({ maxLength: 40 }))
  .map(([type, rest]) => encodeFrame(Uint8Array.from([type, ...rest])));

describe('data channel endpoint under garbage', () => {
  it('random bytes or random frames, with or without a valid HELLO first: no throw, no delivery', () => {
    fc.assert(
      fc.property(
        fc.boolean(),
        fc.array(fc.oneof(fc.uint8Array({ minLength: 1, maxLength: 64 }), frameArb), {
          minLength: 1,
          maxLength: 12,
        }),
        (hello, chunks) => {
          const logs: string[] = [];
          let delivered = 0;
          const ep = new ChannelEndpoint(
            { local, connection: 'data channel w1 <- 127.0.0.1:5555', maxFrameBytes: 1024 },
            { onBatch: () => void delivered++, log: (m) => logs.push(m) },
          );
          ep.attach({ write: () => undefined, close: () => undefined });
          if (hello) ep.receiveBytes(peerHello);
          for (const c of chunks) ep.receiveBytes(c);
          ep.transportClosed('socket closed');
          expect(ep.closed).not.toBeNull();
          // A DATA frame is only accepted after a HELLO and in sequence from 1: random bodies may
          // form one, but never before the HELLO.
          if (!hello) expect(delivered).toBe(0);
          for (const l of logs) expect(l).toMatch(/data channel w1 <- 127\.0\.0\.1:5555|w2/);
        },
      ),
      { numRuns: 400 },
    );
  });
});
