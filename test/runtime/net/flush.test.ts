import { describe, expect, it } from 'vitest';
import { TestNetwork } from '../../../runtime/net/test-transport.ts';
import type { EndpointOptions } from '../../../runtime/net/endpoint.ts';
import type { DataBatch } from '../../../runtime/net/channel.ts';

function opts(worker: string): EndpointOptions {
  return { local: { cluster: 'c1', app: 'wc', worker }, connection: `test ${worker}` };
}

function openLink() {
  const net = new TestNetwork({ seed: 7, splitChunks: false });
  const got: number[] = [];
  const link = net.link(opts('w1'), opts('w2'), {}, { onBatch: (b: DataBatch) => void got.push(b.body[0]!) });
  net.run();
  expect(link.a.core.state).toBe('open');
  expect(link.b.core.state).toBe('open');
  return { net, link, got };
}

const microtask = () => new Promise<void>((resolve) => queueMicrotask(resolve));

describe('ChannelEndpoint.flush', () => {
  it('without it, the batches of one turn go out together at its end', async () => {
    const { net, link, got } = openLink();
    link.a.send(Uint8Array.of(1, 0, 0), 1);
    link.a.send(Uint8Array.of(2, 0, 0), 1);
    expect(net.pendingBytes).toBe(0);
    await microtask();
    expect(net.pendingBytes).toBeGreaterThan(0);
    net.run();
    expect(got).toEqual([1, 2]);
  });

  it('puts what was sent on the wire at once, in order, and the end of the turn adds nothing', async () => {
    const { net, link, got } = openLink();
    link.a.send(Uint8Array.of(1, 0, 0), 1);
    link.a.send(Uint8Array.of(2, 0, 0), 1);
    link.a.flush();
    const written = net.pendingBytes;
    // Two DATA frames: a 13-byte DATA header after the 4-byte frame header, then the body.
    expect(written).toBe(2 * (4 + 13 + 3));
    await microtask();
    expect(net.pendingBytes).toBe(written);
    link.a.send(Uint8Array.of(3, 0, 0), 1);
    link.a.flush();
    expect(net.pendingBytes).toBe(written + 4 + 13 + 3);
    link.a.flush(); // nothing queued: nothing written
    expect(net.pendingBytes).toBe(written + 4 + 13 + 3);
    net.run();
    expect(got).toEqual([1, 2, 3]);
    expect(link.a.core.stats.unackedFrames).toBe(0);
  });
});
