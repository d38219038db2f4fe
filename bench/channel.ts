// Channel benchmark: batches through the reliable data channel (runtime/net: the Delivery
// machines, endpoint and TCP shell) over loopback TCP, against the same DATA frames written to a
// raw socket and only reframed on the other side, in one run, the two taking turns. Prints
// batches/s, messages/s and the ratio (the target: the channel at least 0.7x raw).
// Options: --batches N (default 50,000), --messages M per batch (default 100), --bytes B body
// bytes per batch (default 1,000), --runs R (default 3; each figure is the median).
// Then latency: batches paced at --rate B batches/s (default 2,000) for --seconds S (default
// 2), each stamped with its send time, through the channel and through the raw socket (sender
// and receiver in this process, one clock): one-way p50, p99, max, after a warm-up of the same
// length that is not counted (the first batches through a channel pay for compiling its code).
// What the channel adds to a batch's time on the wire, apart from the engines at both ends.
import net from 'node:net';
import { dataHeader } from '../runtime/net/channel.ts';
import { FrameDecoder } from '../runtime/net/framing.ts';
import { connectChannel, listen, listenChannels } from '../runtime/net/tcp-channel.ts';
import { argValue } from './args.ts';

const BATCHES = argValue('--batches', 50_000);
const MESSAGES = argValue('--messages', 100);
const BYTES = argValue('--bytes', 1_000);
const RUNS = argValue('--runs', 3);
const RATE = argValue('--rate', 2_000);
const SECONDS = argValue('--seconds', 2);
const local = { cluster: 'bench', app: 'channel' };

/** Raw: the same DATA frames (header + body), one corked write per batch, reframed by the receiver. */
async function raw(): Promise<number> {
  const body = new Uint8Array(BYTES);
  let received = 0;
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  const server = net.createServer((s) => {
    const d = new FrameDecoder({ connection: 'raw bench' });
    s.on('data', (chunk: Buffer) =>
      d.push(chunk, () => {
        if (++received === BATCHES) done();
      }),
    );
  });
  const addr = await listen(server, { host: '127.0.0.1', port: 0 }, 'raw bench');
  const socket = net.connect(addr.port, addr.host);
  socket.setNoDelay(true);
  await new Promise((r) => socket.once('connect', r));
  const t0 = performance.now();
  for (let i = 0; i < BATCHES; i++) {
    socket.cork();
    socket.write(dataHeader(i + 1, MESSAGES, body.length));
    const ok = socket.write(body);
    socket.uncork();
    if (!ok) await new Promise((r) => socket.once('drain', r));
  }
  await finished;
  const ms = performance.now() - t0;
  socket.destroy();
  await new Promise<void>((r) => server.close(() => r()));
  return ms;
}

/** The reliable channel: connectChannel / listenChannels, backpressure respected. */
async function reliable(): Promise<number> {
  const body = new Uint8Array(BYTES);
  let received = 0;
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  const server = await listenChannels(
    { host: '127.0.0.1', port: 0 },
    { local: { ...local, worker: 'r' } },
    () => ({
      onBatch: () => {
        if (++received === BATCHES) done();
      },
    }),
  );
  const ep = await connectChannel(server.address, { local: { ...local, worker: 's' } });
  const t0 = performance.now();
  for (let i = 0; i < BATCHES; i++) {
    const wait = ep.send(body, MESSAGES);
    if (wait) await wait;
  }
  await finished;
  const ms = performance.now() - t0;
  const stats = ep.core.stats;
  if (stats.sentFrames !== BATCHES) throw new Error(`sent ${stats.sentFrames} of ${BATCHES} batches`);
  ep.close('bench done');
  await server.close();
  return ms;
}

/** Sends `RATE` batches/s for `SECONDS` s, the send time (ms, f64) in each body; the one-way latencies in µs. */
async function paced(
  send: (body: Uint8Array) => Promise<void> | void,
  onDone: Promise<void>,
): Promise<number[]> {
  const total = 2 * RATE * SECONDS;
  const t0 = performance.now();
  for (let i = 0; i < total; i++) {
    const due = t0 + (i * 1000) / RATE;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    const body = new Uint8Array(BYTES);
    new DataView(body.buffer).setFloat64(0, performance.now());
    const w = send(body);
    if (w) await w;
  }
  await onDone;
  return latencies.splice(0).slice(RATE * SECONDS);
}

const latencies: number[] = [];
const stamp = (body: Uint8Array) =>
  latencies.push((performance.now() - new DataView(body.buffer, body.byteOffset).getFloat64(0)) * 1000);

async function rawLatency(): Promise<number[]> {
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  const server = net.createServer((s) => {
    const d = new FrameDecoder({ connection: 'raw latency' });
    s.on('data', (chunk: Buffer) =>
      d.push(chunk, (p) => {
        stamp(p.subarray(13));
        if (latencies.length === 2 * RATE * SECONDS) done();
      }),
    );
  });
  const addr = await listen(server, { host: '127.0.0.1', port: 0 }, 'raw latency');
  const socket = net.connect(addr.port, addr.host);
  socket.setNoDelay(true);
  await new Promise((r) => socket.once('connect', r));
  let seq = 0;
  const out = await paced((body) => {
    socket.cork();
    socket.write(dataHeader(++seq, MESSAGES, body.length));
    socket.write(body);
    socket.uncork();
  }, finished);
  socket.destroy();
  await new Promise<void>((r) => server.close(() => r()));
  return out;
}

async function reliableLatency(): Promise<number[]> {
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  const server = await listenChannels(
    { host: '127.0.0.1', port: 0 },
    { local: { ...local, worker: 'r' } },
    () => ({
      onBatch: (b) => {
        stamp(b.body);
        if (latencies.length === 2 * RATE * SECONDS) done();
      },
    }),
  );
  const ep = await connectChannel(server.address, { local: { ...local, worker: 's' } });
  const out = await paced((body) => ep.send(body, MESSAGES), finished);
  ep.close('bench done');
  await server.close();
  return out;
}

function percentile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const rawMs: number[] = [];
const relMs: number[] = [];
for (let r = 0; r < RUNS; r++) {
  rawMs.push(await raw());
  relMs.push(await reliable());
}
const fmt = (ms: number) =>
  `${Math.round(BATCHES / (ms / 1000)).toLocaleString('en-US')} batches/s, ${Math.round(
    (BATCHES * MESSAGES) / (ms / 1000),
  ).toLocaleString('en-US')} messages/s`;
console.log(
  `channel bench: ${BATCHES.toLocaleString('en-US')} batches of ${MESSAGES} messages / ${BYTES} bytes over loopback TCP, median of ${RUNS}`,
);
console.log(`  raw socket, same frames       ${fmt(median(rawMs))}`);
console.log(`  reliable channel (Delivery)   ${fmt(median(relMs))}`);
console.log(`  ratio reliable / raw          ${(median(rawMs) / median(relMs)).toFixed(2)}x`);

const latRaw = await rawLatency();
const latRel = await reliableLatency();
const lat = (xs: number[]) =>
  `p50 ${Math.round(percentile(xs, 0.5))} us  p99 ${Math.round(percentile(xs, 0.99))} us  max ${Math.round(percentile(xs, 1))} us`;
console.log(`latency, ${RATE.toLocaleString('en-US')} batches/s for ${SECONDS} s, one way:`);
console.log(`  raw socket, same frames       ${lat(latRaw)}`);
console.log(`  reliable channel (Delivery)   ${lat(latRel)}`);
