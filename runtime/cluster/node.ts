// One worker of a multi-process cluster (`buffy node`). It listens for data channels, registers
// with the initializer over the control connection, receives the partition table and the peer
// list, opens a data channel to every peer (one connection per pair: the worker whose name
// sorts first accepts, the other connects), builds the WorkerEngine with a RemoteOutlet over
// those channels, and follows the initializer's start / stopSources / poll / stop.
// With --initializer it also runs the Coordinator (and registers with it like any worker).

import fs from 'node:fs';
import os from 'node:os';
import { randomBytes } from 'node:crypto';
import { createWorkerEngine } from '../engine/worker.ts';
import type { WorkerEngineImpl } from '../engine/worker.ts';
import { validatePartitionTable } from '../engine/partition.ts';
import { DEFAULT_DEAD_LETTERS, FileDeadLetterSink } from '../connectors/dead-letter-file.ts';
import { appForClusterWorker, checkAppConnectors } from '../connectors/index.ts';
import { perWorkerPath, sinkPathForWorker } from '../connectors/file.ts';
import { loadApp } from '../api/load.ts';
import type { AppOptions } from '../api/options.ts';
import type { Application } from '../api/app.ts';
import { createSystemClock, createStderrLogger } from '../system.ts';
import type { Clock, Logger, TimerHandle } from '../types.ts';
import { openLmdbStore, StoreError } from '../store/lmdb-store.ts';
import type { Durability, LmdbStore } from '../store/lmdb-store.ts';
import { LatencyHistogram, WarmedUpRecorder, formatLatency } from './latency.ts';
import { JsonLinesRecorder } from '../sim/record.ts';
import type { TracingOptions } from '../tracing/tracer.ts';
import {
  DATA_ACK_DELAY_MS,
  DATA_HANDSHAKE_TIMEOUT_MS,
  DATA_IDLE_TIMEOUT_MS,
  type EndpointOptions,
} from '../net/endpoint.ts';
import { connectChannel, formatAddress, listenChannels, parseHostPort } from '../net/tcp-channel.ts';
import type { HostPort } from '../net/tcp-channel.ts';
import { DEFAULT_WINDOW_MESSAGES } from '../net/channel.ts';
import { Coordinator } from './coordinator.ts';
import {
  CONTROL_PROTOCOL_VERSION,
  connectControlRetrying,
  connectHost,
  fromSourceOffsets,
  toSourceOffsets,
} from './control.ts';
import type { ControlConnection, ControlMessage } from './control.ts';
import { registerTcpConnector } from '../connectors/tcp.ts';
import { countOf } from './text.ts';
import { DataPlane } from './data-plane.ts';
import { createWorkerMetering, serveMetrics } from '../metrics/index.ts';

export interface NodeOptions {
  readonly appPath: string;
  readonly appOptions: AppOptions;
  readonly name: string;
  readonly initializer: boolean;
  readonly workers: number;
  readonly control: HostPort;
  readonly data: HostPort;
  readonly cluster: string;
  /** How long a worker keeps trying to reach its initializer (default 30 s). */
  readonly joinTimeoutMs?: number;
  /** Host other workers use to reach this worker's data address (default: see advertisedHost). */
  readonly advertise?: string;
  /** Dead-letter file (`{worker}` -> the worker's name); default out/dead-letters.NAME.jsonl. */
  readonly deadLetters?: string;
  readonly stopWhenSourcesDone?: boolean;
  /** Channel receive window in bytes (default 8 MiB). */
  readonly windowBytes?: number;
  readonly log?: Logger;
  readonly clock?: Clock;
  /** Record source-to-sink latency (reported to the initializer at stop). */
  readonly recordLatency?: boolean;
  /** Append every channel core's protocol steps to this file (JSON lines, runtime/sim/record.ts). */
  readonly protocolLog?: string;
  /** With recordLatency: what reaches the sinks in the first this many ms is not recorded. */
  readonly latencyWarmupMs?: number;
  /** Serve this worker's metrics (Prometheus text at /metrics) on this address. */
  readonly metrics?: HostPort;
  /** Called once the control address is bound (initializer) and once the data address is. */
  readonly onListening?: (what: 'control' | 'data' | 'metrics', address: HostPort) => void;
  /** Trace reports of sampled messages (runtime/tracing); `flush` runs once the engine stopped. */
  readonly tracing?: { readonly options: TracingOptions; flush(): Promise<void> };
  /** `--state DIR` (`{worker}` replaced): the worker's LMDB store; exactly-once is on with it. */
  readonly state?: string;
  readonly durability?: Durability;
  /** How long a worker that lost its initializer keeps trying to reach it (default 120 s). */
  readonly reconnectTimeoutMs?: number;
  /**
   * A data connection on which nothing arrives for this many ms is dropped and re-established
   * (default DATA_IDLE_TIMEOUT_MS, runtime/net/endpoint.ts).
   */
  readonly idleTimeoutMs?: number;
}

export interface NodeHandle {
  /** Resolves with the exit code once the node has stopped. */
  readonly done: Promise<number>;
  /** Asks the cluster to shut down (as `buffy shutdown` would). */
  requestShutdown(reason: string): void;
}

const WINDOW_BYTES = 8 * 1024 * 1024;

/**
 * The host peers should connect to for this worker's data channels: `--advertise` if given,
 * else the `--data` host when it is a specific address, else (listening on every interface)
 * the address this worker reaches the initializer from, or failing that (loopback) the first
 * external IPv4 address of the machine, or loopback.
 */
export function advertisedHost(
  advertise: string | undefined,
  dataHost: string,
  controlLocalAddress: string | undefined,
): string {
  if (advertise) return advertise;
  if (dataHost !== '0.0.0.0' && dataHost !== '::') return dataHost;
  const loopback = (a: string) => a === '::1' || a.startsWith('127.') || a === '::ffff:127.0.0.1';
  if (controlLocalAddress && !loopback(controlLocalAddress))
    return controlLocalAddress.replace(/^::ffff:/, '');
  for (const addrs of Object.values(os.networkInterfaces())) {
    for (const a of addrs ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return connectHost({ host: dataHost, port: 0 }).host;
}

/** Where a worker writes its dead letters: `--dead-letters PATH` (`{worker}` replaced by the
 * worker's name), by default out/dead-letters.NAME.jsonl. */
export function deadLetterPath(path: string | undefined, workerName: string): string {
  return path === undefined
    ? perWorkerPath(DEFAULT_DEAD_LETTERS, workerName)
    : sinkPathForWorker(path, workerName);
}

/** How long a worker that lost its initializer keeps trying to reach it again (default). */
export const RECONNECT_TIMEOUT_MS = 120_000;
/** Durable watermarks go to the coordinator at most this often. */
const PROGRESS_INTERVAL_MS = 20;

/** The directory of a worker's store: `--state DIR`, `{worker}` replaced by the worker's name. */
export function stateDirFor(state: string, workerName: string): string {
  return sinkPathForWorker(state, workerName);
}

/** Opens a worker's store; a missing or unwritable directory is an error naming both. */
export async function openWorkerStore(
  state: string,
  workerName: string,
  app: Application,
  durability: Durability,
): Promise<LmdbStore> {
  const dir = stateDirFor(state, workerName);
  try {
    return await openLmdbStore({
      dir,
      app: app.name,
      // As the embedded runner's store (cli/run.ts): the application has no version of its own yet.
      version: '1',
      partitions: app.partitionCount,
      durability,
      owner: `worker '${workerName}' --state ${dir}`,
    });
  } catch (err) {
    const msg = (err as Error).message;
    throw new StoreError(msg.includes(dir) ? msg : `worker '${workerName}' --state ${dir}: ${msg}`);
  }
}

/**
 * `--protocol-log FILE`: every record written at once (a SIGKILLed worker's log keeps all it
 * did), stamped with the wall clock in ms (the processes of one machine share it), by which
 * `buffy validate-log` merges the logs of a run.
 */
function protocolLogRecorder(file: string): JsonLinesRecorder {
  let fd: number;
  try {
    fd = fs.openSync(file, 'a');
  } catch (err) {
    throw new Error(`--protocol-log ${file}: cannot open it for appending (${(err as Error).message})`, {
      cause: err,
    });
  }
  return new JsonLinesRecorder(
    (line) => fs.writeSync(fd, line),
    () => performance.timeOrigin + performance.now(),
  );
}

/** Starts a node; the returned handle's `done` resolves with the process exit code. */
export async function startNode(o: NodeOptions): Promise<NodeHandle> {
  registerTcpConnector();
  const log = o.log ?? createStderrLogger(o.initializer ? `${o.name} (initializer)` : o.name);
  const clock = o.clock ?? createSystemClock();
  const loaded: Application = await loadApp(o.appPath, o.appOptions);
  checkAppConnectors(loaded);
  // Workers never share a file: a file: sink writes one file per worker (see perWorkerPath).
  const { app, rewritten } = appForClusterWorker(loaded, o.name);
  for (const r of rewritten)
    log.info(`sink "${r.step}" (${r.uri}) writes ${r.workerUri.replace(/^file:/, '')}: one file per worker`);
  const store = o.state ? await openWorkerStore(o.state, o.name, app, o.durability ?? 'batch') : null;
  if (store && app.exactlyOnce === false)
    log.info(
      `the app says exactlyOnce: false: at-least-once, the store ${stateDirFor(o.state!, o.name)} is not used`,
    );
  else if (store)
    log.info(
      `exactly-once: store ${stateDirFor(o.state!, o.name)} (durability ${o.durability ?? 'batch'}); file sinks exactly-once, stdout:, count: and tcp: sinks at-least-once across a crash`,
    );
  else log.info('exactly-once is off: no --state, the state lives in memory and a restart loses it');
  const incarnation = `${process.pid}.${Date.now().toString(36)}.${randomBytes(4).toString('hex')}`;
  const windowBytes = o.windowBytes ?? WINDOW_BYTES;
  const protocolLog = o.protocolLog ? protocolLogRecorder(o.protocolLog) : null;
  const plane = new DataPlane(o.name, log, Math.floor(windowBytes / 2), DEFAULT_WINDOW_MESSAGES / 2);
  const channelOptions: EndpointOptions = {
    local: { cluster: o.cluster, app: app.name, worker: o.name },
    windowBytes,
    maxQueuedBytes: windowBytes,
    // A lost connection loses nothing: the dialling side dials again, the handshake says where
    // to resume, the sender resends (runtime/net/tcp-channel.ts, specs/Delivery.tla).
    reconnect: true,
    // One ACK per few ms instead of one per batch (runtime/net/endpoint.ts ackDelayMs).
    clock,
    ackDelayMs: DATA_ACK_DELAY_MS,
    // A peer that never says HELLO, or goes silent without closing (a partition), loses its
    // connection instead of holding the channel forever; the dialling side dials again.
    handshakeTimeoutMs: DATA_HANDSHAKE_TIMEOUT_MS,
    idleTimeoutMs: o.idleTimeoutMs ?? DATA_IDLE_TIMEOUT_MS,
    ...(protocolLog ? { recorder: protocolLog } : {}),
  };

  const metering = o.metrics
    ? createWorkerMetering({
        app,
        worker: o.name,
        clock,
        channels: () => [...plane.channels].map(([peer, ep]) => [peer, ep.core.stats] as const),
      })
    : null;
  // Exactly-once's commits go through the metered store (counted and timed once per commit).
  const eoStore = store && metering && app.exactlyOnce !== false ? metering.store(store) : store;
  const metricsServer = metering
    ? await serveMetrics(metering.metrics, o.metrics!, clock, `worker '${o.name}' --metrics`)
    : null;
  if (metricsServer) {
    o.onListening?.('metrics', metricsServer.address);
    log.info(`metrics on ${metricsServer.url}`);
  }

  let coordinator: Coordinator | null = null;
  let controlAddress = o.control;
  if (o.initializer) {
    coordinator = new Coordinator({
      cluster: o.cluster,
      app: app.name,
      workers: o.workers,
      partitionCount: app.partitionCount,
      control: o.control,
      initializer: o.name,
      log,
      stopWhenSourcesDone: o.stopWhenSourcesDone ?? false,
      sources: app.sources.length,
      // The commit tracker's steps (Ack) go to the same log as the channels'.
      ...(protocolLog ? { recorder: protocolLog.forCore({ worker: o.name, incarnation: 0 }) } : {}),
    });
    controlAddress = await coordinator.listen();
    o.onListening?.('control', controlAddress);
    metering?.metrics.attachCluster(coordinator);
  }

  plane.server = await listenChannels(
    o.data,
    channelOptions,
    () => ({ log: (m) => log.error(m), onBatch: (b, from, ep) => plane.onBatch(ep, b, from) }),
    (ep, peer) => plane.addChannel(peer.worker, ep),
  );
  const dataAddress = plane.server.address;
  o.onListening?.('data', dataAddress);
  log.info(`data listening on ${formatAddress(dataAddress)}`);

  let control = await connectControlRetrying(
    controlAddress,
    `worker '${o.name}'`,
    (m) => log.error(m),
    o.joinTimeoutMs ?? 30_000,
    (why) => log.info(`waiting for the initializer (${why})`),
  );
  const advertised = formatAddress({
    host: advertisedHost(o.advertise, o.data.host, control.socket.localAddress),
    port: dataAddress.port,
  });
  let engine: WorkerEngineImpl | null = null;
  let engineStarted = false;
  let partitionsText: string | null = null;
  const histogram = o.recordLatency ? new LatencyHistogram() : null;
  const recorder =
    histogram && o.latencyWarmupMs
      ? new WarmedUpRecorder(histogram, () => clock.monotonicMs(), o.latencyWarmupMs)
      : histogram;
  let exit: (code: number) => void = () => {};
  const done = new Promise<number>((resolve) => (exit = resolve));
  let stopping = false;
  let finished = false;
  /** Set once the engine's failure went to the initializer (see whenFailed below). */
  let failureReported = false;
  /** The membership round this worker took part in last, and the peers it was given. */
  let epoch = -1;
  let peers: Extract<ControlMessage, { t: 'assign' }>['peers'] = [];
  const known = new Map<string, { incarnation: string | undefined; data: string }>();
  /** Outgoing dials in progress: peer -> the incarnation dialled. */
  const dialing = new Map<string, string | undefined>();
  /** Exactly-once: the durable watermarks the engine reported last. */
  let durable: Record<number, number> | null = null;
  let progressTimer: TimerHandle | null = null;
  /** When the control connection was lost (reconnecting), and whether a registration was
   * refused because the coordinator still held the earlier one. */
  let lostAt = 0;
  let retryRegistration = false;
  /** Gap reports sent, per source: the offset asked for last (one report per offset). */
  const gapsAsked = new Map<number, number>();

  const finish = async (code: number): Promise<void> => {
    if (finished) return;
    finished = true;
    if (progressTimer !== null) clock.clearTimer(progressTimer);
    await plane.close().catch(() => undefined);
    await metricsServer?.close();
    await store?.close().catch(() => undefined);
    control.end();
    if (coordinator) {
      const r = await coordinator.done;
      for (const w of r.workers) if (w.finish) process.stdout.write(`${w.finish}\n`);
      code = Math.max(code, r.exitCode);
    }
    exit(code);
  };

  const sendProgress = (): void => {
    progressTimer = null;
    if (durable && !control.closed) control.send({ t: 'progress', durable: toSourceOffsets(durable) });
  };
  const onDurable = (marks: Readonly<Record<number, number>>): void => {
    durable = { ...marks };
    progressTimer ??= clock.setTimer(PROGRESS_INTERVAL_MS, sendProgress);
  };
  const onGap = (source: number, offset: number): void => {
    if (gapsAsked.get(source) === offset) return;
    gapsAsked.set(source, offset);
    log.info(
      `source ${source}: a gap before offset ${offset} (batches of an earlier incarnation); asking for a rewind`,
    );
    control.send({ t: 'gap', source, offset });
  };

  const register = (): void => {
    control.send({
      t: 'register',
      protocolVersion: CONTROL_PROTOCOL_VERSION,
      cluster: o.cluster,
      app: app.name,
      worker: o.name,
      data: advertised,
      workers: o.workers,
      incarnation,
      ...(store ? { exactlyOnce: true } : {}),
      ...(durable ? { durable: toSourceOffsets(durable) } : {}),
      ...(metricsServer ? { metrics: formatAddress(connectHost(metricsServer.address)) } : {}),
    });
  };

  const stopAfterLoss = (why: string): void => {
    log.error(why);
    void (async () => {
      try {
        await engine?.stop();
      } catch (err) {
        log.error(`stopping after losing the initializer: ${(err as Error).message}`);
      }
      await finish(1);
    })();
  };

  /** The initializer went away: the engine keeps running; reconnect with backoff, register again. */
  const onControlClosed = (reason: string): void => {
    if (finished || stopping) return;
    if (coordinator) {
      // Our own coordinator is in this process: a lost connection to it is no restart.
      stopAfterLoss(`lost the control connection to this process's coordinator (${reason}); stopping`);
      return;
    }
    const waitMs = o.reconnectTimeoutMs ?? RECONNECT_TIMEOUT_MS;
    const again = retryRegistration;
    retryRegistration = false;
    if (!again) {
      lostAt = Date.now();
      log.warn(
        `lost the control connection to the initializer at ${formatAddress(controlAddress)} (${reason}); this worker keeps running and reconnects (for up to ${Math.round(waitMs / 1000)} s)`,
      );
    }
    const since = lostAt;
    // The first dial after a loss has the whole window (the loss is now); a retry what is left.
    const left = again ? Math.max(1, waitMs - (Date.now() - lostAt)) : waitMs;
    const dial = (): Promise<ControlConnection> =>
      connectControlRetrying(controlAddress, `worker '${o.name}'`, (m) => log.error(m), left);
    (again ? new Promise((r) => setTimeout(r, 500)).then(dial) : dial()).then(
      (c) => {
        if (finished) {
          c.destroy('worker finished');
          return;
        }
        log.info(
          `reconnected to the initializer at ${formatAddress(controlAddress)} after ${((Date.now() - since) / 1000).toFixed(1)} s; registering again`,
        );
        attach(c);
      },
      (err: unknown) =>
        stopAfterLoss(`cannot reach the initializer again: ${(err as Error).message}; stopping (exit 1)`),
    );
  };

  const createEngine = (
    partitions: ReturnType<typeof validatePartitionTable>,
    runSources: boolean,
  ): WorkerEngineImpl => {
    const deadLetters = new FileDeadLetterSink(deadLetterPath(o.deadLetters, o.name), log);
    const engineOptions = {
      app,
      workerName: o.name,
      partitions,
      clock,
      log,
      deadLetters: metering ? metering.deadLetters(deadLetters) : deadLetters,
      remote: metering ? metering.remote(plane) : plane,
      runSources,
      ...(recorder ? { latency: recorder } : {}),
      ...(metering ? { observer: metering.observer } : {}),
      ...(o.tracing ? { tracing: o.tracing.options } : {}),
      ...(eoStore
        ? {
            exactlyOnce: {
              store: eoStore,
              durability: o.durability ?? 'batch',
              onDurable,
              onGap,
              // Trace validation (Recovery): this process's start time tells its incarnation.
              ...(protocolLog
                ? {
                    recorder: protocolLog.forCore({
                      worker: o.name,
                      incarnation: Math.floor(performance.timeOrigin),
                    }),
                  }
                : {}),
            },
          }
        : {}),
    };
    const e = createWorkerEngine(engineOptions);
    metering?.attach(e, partitions.owners);
    plane.engine = e;
    // A failed engine (its sink's target went away, ...) refuses every further batch: tell the
    // initializer at once so the cluster stops and exits 1, instead of dropping batch after batch.
    plane.onLoss = (reason) => {
      if (stopping || finished || failureReported) return;
      failureReported = true;
      log.error(`worker '${o.name}' lost data: ${reason}; asking the initializer to stop the cluster`);
      control.send({ t: 'error', reason: `worker '${o.name}' lost data: ${reason}` });
    };
    void e.whenFailed().then((err) => {
      if (stopping || finished || failureReported) return;
      failureReported = true;
      log.error(`worker '${o.name}' failed: ${err.message}; asking the initializer to stop the cluster`);
      control.send({ t: 'error', reason: `worker '${o.name}' failed: ${err.message}` });
    });
    return e;
  };

  /** assign: check the table, close the channels of restarted peers, build the engine once. */
  const onAssign = (m: Extract<ControlMessage, { t: 'assign' }>): void => {
    const partitions = validatePartitionTable(m.partitions);
    const names = m.peers.map((p) => p.name);
    if (!names.includes(o.name))
      throw new Error(`the initializer's peer list does not include this worker '${o.name}'`);
    const text = JSON.stringify(partitions.owners);
    if (partitionsText !== null && text !== partitionsText)
      throw new Error(
        `the initializer sent another partition table than the one this worker runs with (workers ${names.join(', ')}); a running worker cannot take another`,
      );
    partitionsText = text;
    epoch = m.epoch ?? 0;
    peers = m.peers;
    plane.peers = new Set(names.filter((n) => n !== o.name));
    for (const p of m.peers) {
      if (p.name === o.name) continue;
      const prev = known.get(p.name);
      if (prev && (prev.incarnation !== p.incarnation || prev.data !== p.data))
        plane.replacePeer(p.name, `it registered again from ${p.data}`);
      known.set(p.name, { incarnation: p.incarnation, data: p.data });
    }
    engine ??= createEngine(partitions, m.runSources.includes(o.name));
    control.send({ t: 'assigned', epoch: epoch });
  };

  /** connect: dial the peers that sort after this worker and have no channel; ready once every
   * peer that is up has one. */
  const onConnect = async (m: Extract<ControlMessage, { t: 'connect' }>): Promise<void> => {
    const round = m.epoch;
    const upPeers = peers.filter((p) => p.name !== o.name && p.up !== false);
    for (const p of upPeers) {
      if (p.name < o.name || plane.channels.has(p.name)) continue;
      if (dialing.has(p.name) && dialing.get(p.name) === p.incarnation) continue;
      dialing.set(p.name, p.incarnation);
      const addr = parseHostPort(p.data, `data address of worker '${p.name}'`);
      connectChannel(
        addr,
        { ...channelOptions, expectedPeer: p.name, connection: `data channel ${o.name} -> ${p.name}` },
        { log: (msg) => log.error(msg), onBatch: (b, from, endpoint) => plane.onBatch(endpoint, b, from) },
      ).then(
        (ep) => {
          if (dialing.get(p.name) === p.incarnation) dialing.delete(p.name);
          // The peer restarted again while this dial was under way: this channel is stale.
          if (known.get(p.name)?.incarnation !== p.incarnation) ep.close('a stale dial');
          else plane.addChannel(p.name, ep);
        },
        (err: unknown) => {
          if (dialing.get(p.name) === p.incarnation) dialing.delete(p.name);
          // The peer may have gone down again; the next round dials again.
          log.warn(`cannot open the data channel to worker '${p.name}': ${(err as Error).message}`);
        },
      );
    }
    await Promise.all(upPeers.map((p) => plane.whenChannel(p.name)));
    if (round !== epoch || control.closed) return; // superseded by a later round
    control.send({ t: 'ready', epoch: round });
  };

  const onMessage = (m: ControlMessage): void => {
    switch (m.t) {
      case 'rejected':
        // Registering again after a lost connection, before the coordinator noticed the loss:
        // the connection closes, and the next try (after a pause) finds the name free.
        if (
          engine &&
          /is already registered/.test(m.reason) &&
          Date.now() - lostAt < (o.reconnectTimeoutMs ?? RECONNECT_TIMEOUT_MS)
        ) {
          log.warn(
            `the initializer still holds this worker's earlier registration (${m.reason}); trying again`,
          );
          retryRegistration = true;
          return;
        }
        log.error(`the initializer rejected this worker: ${m.reason}`);
        void (async () => {
          await engine?.stop().catch(() => undefined);
          await finish(1);
        })();
        return;
      case 'assign':
        try {
          onAssign(m);
        } catch (err) {
          log.error(`cannot join the cluster: ${(err as Error).message}`);
          control.send({ t: 'error', reason: `worker '${o.name}' cannot join: ${(err as Error).message}` });
          void finish(1);
        }
        return;
      case 'connect':
        void onConnect(m);
        return;
      case 'start':
        if (engineStarted) return; // a running worker in a later round
        engineStarted = true;
        void (async () => {
          try {
            await engine!.start();
            plane.setStarted();
            log.info('started');
            engine!.sourcesDone().then(
              () => control.send({ t: 'sourcesDone' }),
              (err: unknown) => {
                // A source failure fails the engine: whenFailed (above) said it already.
                if (!failureReported) log.error(`sources failed: ${(err as Error).message}`);
              },
            );
          } catch (err) {
            if (failureReported) return; // the engine's failure was reported already
            log.error(`cannot start: ${(err as Error).message}`);
            control.send({
              t: 'error',
              reason: `worker '${o.name}' cannot start: ${(err as Error).message}`,
            });
          }
        })();
        return;
      case 'stopSources':
        // Sinks stay open and peers' batches are still accepted, so the cluster can drain.
        engine!.stopSources().then(
          () => control.send({ t: 'sourcesStopped' }),
          (err: unknown) => {
            log.error(`stopping the sources: ${(err as Error).message}`);
            control.send({ t: 'sourcesStopped' });
          },
        );
        return;
      case 'poll': {
        control.send({
          t: 'counters',
          round: m.round,
          sentBatches: plane.sentBatches,
          processedBatches: plane.processedBatches,
          busy: plane.busy,
          ...plane.pairCounters(),
          ...(durable ? { durable: toSourceOffsets(durable) } : {}),
        });
        return;
      }
      case 'rewind':
        if (!store || !engine) {
          log.error(
            'asked to rewind the sources, but this worker runs without a store (no exactly-once); ignored',
          );
          return;
        }
        try {
          engine.rewindSources(fromSourceOffsets(m.to));
        } catch (err) {
          log.error(`cannot rewind the sources: ${(err as Error).message}`);
        }
        return;
      case 'commit':
        if (!store || !engine) return;
        try {
          engine.commitSources(fromSourceOffsets(m.committed));
        } catch (err) {
          log.error(`cannot commit the sources: ${(err as Error).message}`);
        }
        return;
      case 'stop':
        if (stopping) return;
        stopping = true;
        void (async () => {
          let code = 0;
          let error: string | undefined;
          try {
            await engine?.stop();
            await o.tracing?.flush();
          } catch (err) {
            code = 1;
            error = (err as Error).message;
            // A failed engine's stop rejects with the failure that was reported already.
            if (!failureReported) log.error(`stop: ${error}`);
          }
          let finishText: string | undefined;
          if (engine && app.onFinish) {
            try {
              const t = app.onFinish(engine.finishView());
              if (typeof t === 'string') finishText = t;
            } catch (err) {
              log.error(`the app's onFinish hook failed: ${(err as Error).message}`);
            }
          }
          const mt = engine?.metrics();
          if (histogram) {
            const cpu = process.cpuUsage();
            log.info(
              `worker '${o.name}' source-to-sink latency: ${formatLatency(histogram.summary())}` +
                (recorder instanceof WarmedUpRecorder
                  ? `; ${countOf(recorder.skipped, 'message')} of the first ${o.latencyWarmupMs} ms not recorded (warm-up)`
                  : '') +
                `; CPU ${Math.round((cpu.user + cpu.system) / 1000)} ms since the process started`,
            );
          }
          control.send({
            t: 'stopped',
            metrics: {
              ingested: mt?.ingested ?? 0,
              sunk: mt?.sunk ?? 0,
              deadLetters: mt?.deadLetters ?? 0,
              remoteSent: mt?.remoteSent ?? 0,
              remoteReceived: mt?.remoteReceived ?? 0,
            },
            ...(finishText !== undefined ? { finish: finishText } : {}),
            ...(error !== undefined ? { error: error.slice(0, 2000) } : {}),
            ...(histogram ? { latency: histogram.toJSON() } : {}),
          });
          await finish(code);
        })();
        return;
      default:
        log.warn(`unexpected control message '${m.t}' from the initializer; ignored`);
    }
  };

  const attach = (c: ControlConnection): void => {
    control = c;
    c.onClose(onControlClosed);
    c.onMessage(onMessage);
    register();
  };
  attach(control);

  return {
    done,
    requestShutdown(reason: string) {
      if (coordinator) coordinator.beginShutdown(reason);
      else if (!control.closed) control.send({ t: 'shutdown', reason });
      else {
        // No initializer to ask: stop this worker on its own.
        log.warn(`${reason}, and the initializer is not reachable: stopping this worker alone`);
        stopping = true;
        void (async () => {
          await engine?.stop().catch((err: unknown) => log.error(`stop: ${(err as Error).message}`));
          await finish(1);
        })();
      }
    },
  };
}
