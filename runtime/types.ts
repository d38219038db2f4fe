// The runtime's seams: the interfaces that the engine, the connectors and the cluster layer
// share. Nothing here does I/O; implementations live in runtime/system.ts (clock, random,
// memory store), runtime/connectors/* (connectors), runtime/engine/* (the worker engine and
// the remote batch codec) and runtime/net, runtime/cluster (the cluster layer).
//
// Stability: these shapes are the contract between helpers. Add fields and functions; do not
// rename or remove.

// This module imports nothing: the application API (runtime/api) and the engine
// (runtime/engine/types.ts: `WorkerEngine`, `WorkerEngineOptions`) build on it, never the reverse.

// ---------------------------------------------------------------------------------------------
// Determinism seams: time, timers, randomness, storage. The engine never calls Date.now,
// performance.now, setTimeout or Math.random itself; it is handed a Clock and a Random.

/** A timer handle returned by `Clock.setTimer`; opaque to callers. */
export type TimerHandle = number;

export interface Clock {
  /** Wall-clock time in milliseconds since the epoch (fractional allowed). Comparable across
   * processes on one host; used for message birth times and source-to-sink latency. */
  nowMs(): number;
  /** Monotonic time in nanoseconds (never goes back). */
  nowNs(): bigint;
  /** Monotonic time in milliseconds, fractional (cheap: no bigint allocation). */
  monotonicMs(): number;
  /** Calls `fn` once after `delayMs` milliseconds. */
  setTimer(delayMs: number, fn: () => void): TimerHandle;
  clearTimer(handle: TimerHandle): void;
}

export interface Random {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform integer in [0, 2^32). */
  nextU32(): number;
  /** Uniform integer in [0, bound), bound >= 1. */
  nextInt(bound: number): number;
}

/** One write of an atomic batch: put bytes under a key, or delete the key (`value: null`). */
export interface StoreOp {
  readonly key: string;
  readonly value: Uint8Array | null;
}

/** Durable key -> bytes storage. `writeBatch` is atomic: after a crash either every op of the
 * batch is visible or none is. Only an in-memory store exists so far (runtime/system.ts). */
export interface Store {
  get(key: string): Promise<Uint8Array | undefined>;
  writeBatch(ops: readonly StoreOp[]): Promise<void>;
  /** Every entry whose key starts with `prefix`, in ascending key order. */
  scan(prefix: string): AsyncIterable<readonly [string, Uint8Array]>;
  close(): Promise<void>;
}

/** Structured fields of a log record, beside the worker's name (runtime/log.ts): the step, the
 * connection or peer a line is about, figures. */
export interface LogFields {
  readonly step?: string;
  readonly connection?: string;
  readonly peer?: string;
  readonly [field: string]: string | number | boolean | undefined;
}

export interface Logger {
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /** Detail for debugging (shown with --log-level debug); optional for simple loggers. */
  debug?(message: string, fields?: LogFields): void;
}

// ---------------------------------------------------------------------------------------------
// Message identity. A message id is (source id, offset, sub): the source's numeric id (its
// declaration index in the application), the offset the source gave it, and a path number
// that says which descendant of that source message it is. Stateless 1:1 steps (map, filter)
// keep the id; a step that emits several outputs for one input (flatMap, a state step) gives
// output i the id (source, offset, childSub(sub, i)). The three fields travel as numbers in
// columnar batches, never as a string per message; `formatMessageId` materialises one when a
// person needs to read it (dead letters, logs). See runtime/engine/ids.ts.

export interface MessageId {
  readonly source: number;
  readonly offset: number;
  readonly sub: number;
}

// ---------------------------------------------------------------------------------------------
// Connectors. Raw payloads are bytes or strings (a line of a text file is a string; a TCP frame
// is bytes). Connectors are created from URIs by scheme: `file:PATH`, `stdout:`, `tcp:HOST:PORT`,
// `memory:` (see runtime/connectors/index.ts, `registerConnector`).

export type RawPayload = Uint8Array | string;

/** A batch of raw payloads from a source. Message i has offset `offsets[i]` when `offsets` is
 * given, otherwise `firstOffset + i`. Offsets of one source increase strictly. */
export interface SourceBatch {
  readonly payloads: readonly RawPayload[];
  readonly firstOffset: number;
  readonly offsets?: readonly number[];
  /** Where reading resumes after the batch's last message (a file source: the byte position
   * after its last line), for exactly-once resume and rewind; see SourcePosition. */
  readonly endPosition?: number;
  /**
   * When each message reached the source (ms, the context's `clock.nowMs()`; one per payload):
   * a source that is pushed messages and buffers them (`tcp:`) says so, and source-to-sink
   * latency counts the time they waited there. Without it latency starts when the engine takes
   * the batch.
   */
  readonly receivedMs?: readonly number[];
}

/** Where a source (re)starts: the first message to emit has offset `offset`, and reading
 * starts at `position` (a file source: a byte position at the start of a line; a source without
 * positions ignores it and re-reads up to `offset`). */
export interface SourcePosition {
  readonly offset: number;
  readonly position: number;
}

export interface SourceContext {
  /** The application's name for this source (e.g. `lines`). */
  readonly sourceName: string;
  readonly workerName: string;
  readonly clock: Clock;
  readonly log: Logger;
  /** Hands a batch to the engine. The returned promise resolves when the engine has room for
   * more: the source must await it before emitting again (this is the backpressure). */
  emit(batch: SourceBatch): Promise<void>;
  /** Aborted when the engine asks the source to stop. */
  readonly signal: AbortSignal;
  /** Exactly-once (runtime/engine/exactly-once.ts): where to start (the committed offset + 1),
   * and report `endPosition` on each batch. Absent: from the beginning, no positions. */
  readonly resume?: SourcePosition;
}

export interface SourceConnector {
  readonly uri: string;
  /** Runs the source: emits batches until the input is exhausted or `stop()` is called;
   * resolves then. Rejects on an I/O error (with a message naming the URI). */
  run(ctx: SourceContext): Promise<void>;
  /** Asks the source to stop emitting; resolves once it has stopped. Idempotent. */
  stop(): Promise<void>;
  /** Exactly-once: the next batch emitted (after the one being emitted, if any) starts at
   * `to` again (a replay after a gap or a restart downstream). Sources without it cannot be
   * rewound; the engine says so when asked to. */
  rewind?(to: SourcePosition): void;
  /** Exactly-once: every message up to `offset` is durable everywhere downstream; the source
   * may tell its external system (the TCP source acknowledges its sender). */
  commit?(offset: number): void;
}

/** A batch for a sink: encoded payloads, plus the ids and birth times of the messages. */
export interface SinkBatch {
  /** Empty when the sink said `wantsPayloads: false`; then `count` says how many messages. */
  readonly payloads: readonly RawPayload[];
  /** Number of messages (payloads.length unless payloads were skipped). */
  readonly count?: number;
  readonly ids?: MessageIdColumns;
  /** Exactly-once, written from the outbox: the outputs' ids are this worker's output ids
   * firstOutputId, firstOutputId + 1, ... (the same after a crash; a `tcp:...?ids=1` sink sends
   * them, so `buffy receive --check` can drop repeats and find gaps). */
  readonly firstOutputId?: number;
}

export interface MessageIdColumns {
  readonly source: readonly number[];
  readonly offset: readonly number[];
  readonly sub: readonly number[];
}

export interface SinkConnector {
  readonly uri: string;
  /** False for sinks that discard payloads (the engine then skips encoding). Default true. */
  readonly wantsPayloads?: boolean;
  /** Writes a batch; a returned promise means "wait before writing more" (backpressure). */
  write(batch: SinkBatch): Promise<void> | void;
  flush(): Promise<void>;
  close(): Promise<void>;
  /** Present on sinks that can be exactly-once (a `file:` sink opened with
   * ConnectorContext.exactlyOnce): the engine writes them from its outbox and records their
   * length. A sink without it is at-least-once across a crash. */
  readonly resumable?: ResumableSink;
}

/** A sink the engine can bring back to a recorded length and whose length it can record. */
export interface ResumableSink {
  /** Cuts the target back to `bytes` (what the last recorded progress covered; 0: empty).
   * Called once, at recovery, before any write. */
  truncate(bytes: number): Promise<void>;
  /** Resolves, once everything written so far is in the target (and on disk with `fsync`),
   * with the target's length in bytes. */
  settle(fsync: boolean): Promise<number>;
  /** Present on a target that truncate() makes exact (a file): the bytes written to it so far,
   * counted synchronously at each write (written or still buffered). The engine then writes its
   * outputs at once, records this length in the commit of the states that produced them (after
   * settle), and recovery cuts the target back to it: no outbox (docs/exactly-once.md). */
  length?(): number;
}

export interface ConnectorContext {
  readonly workerName: string;
  readonly clock: Clock;
  readonly log: Logger;
  /** The engine runs exactly-once: a `file:` sink keeps its file (the engine truncates it to
   * its recorded length) instead of starting it afresh. */
  readonly exactlyOnce?: boolean;
}

/** A parsed connector URI: `tcp:127.0.0.1:9000` -> scheme `tcp`, rest `127.0.0.1:9000`. */
export interface ConnectorUri {
  readonly raw: string;
  readonly scheme: string;
  readonly rest: string;
}

export interface ConnectorFactory {
  createSource?(uri: ConnectorUri, ctx: ConnectorContext): SourceConnector;
  createSink?(uri: ConnectorUri, ctx: ConnectorContext): SinkConnector;
}

// ---------------------------------------------------------------------------------------------
// Dead letters: a message whose decoder or user function threw. Written as JSON lines.

export interface DeadLetter {
  readonly worker: string;
  readonly step: string;
  /** `formatMessageId` of the message. */
  readonly messageId: string;
  readonly error: string;
  /** The start of the payload (at most ~200 characters), as text. */
  readonly payloadExcerpt: string;
  readonly timeMs: number;
}

export interface DeadLetterSink {
  write(letter: DeadLetter): void;
  /** Letters written so far. */
  readonly count: number;
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Partitioning. Every state step declares a key function; key -> partition by a stable hash
// (runtime/engine/partition.ts `partitionOfKey`), partition -> worker by the table every worker
// holds. In embedded mode one worker owns every partition.

export interface PartitionTable {
  readonly partitionCount: number;
  /** owners[p] is the name of the worker that owns partition p (length = partitionCount). */
  readonly owners: readonly string[];
}

// ---------------------------------------------------------------------------------------------
// Remote batches: messages on their way to a state step owned by another worker. Plain data,
// columnar (one array per field, index i = message i). `encodeRemoteBatch` /
// `decodeRemoteBatch` in runtime/engine/remote-batch.ts turn one into a single Uint8Array
// (length-prefixed binary, no JSON per message) and back.

export interface RemoteBatch {
  /** Name of the target state step. */
  readonly step: string;
  /** Name of the sending worker. */
  readonly fromWorker: string;
  readonly source: readonly number[];
  readonly offset: readonly number[];
  readonly sub: readonly number[];
  /** Birth time (Clock.nowMs at the source) of each message, for latency. */
  readonly bornMs: readonly number[];
  readonly partition: readonly number[];
  /** The message values encoded by the step's input codec. */
  readonly payloads: readonly RawPayload[];
  /** Tracing: per message, the hash of the visit that sent it (0: not traced); absent when no
   * message is traced (runtime/tracing). */
  readonly trace?: readonly number[];
  /** Exactly-once: per source, the range of the source batch these messages come from: this
   * batch holds the messages of offsets (from, through] of that source that belong to the
   * receiver (possibly none), and the previous batch of that source on this stream ended at
   * `from`. Absent when the sender does not run exactly-once. */
  readonly ranges?: readonly SourceRange[];
  /** Exactly-once, state -> state (runtime/engine/chain.ts): this batch is entry `seq` (0, 1,
   * ...) of the sender's outbox for (this step, the receiver); it is resent until acknowledged. */
  readonly seq?: number;
  /** Exactly-once, state -> state: no messages; the sender's store holds entries up to `ack` of
   * the receiver's outbox for (this step, the sender): they may leave it. */
  readonly ack?: number;
}

/** Offsets (from, through] of source `source` (from = -1: from the first message). */
export interface SourceRange {
  readonly source: number;
  readonly from: number;
  readonly through: number;
}

/** How the engine hands a batch to another worker; awaiting the promise is the backpressure. */
export interface RemoteOutlet {
  send(worker: string, batch: RemoteBatch): Promise<void> | void;
}

// ---------------------------------------------------------------------------------------------
// What a worker engine reports: latency samples and counters (its interface, `WorkerEngine`, is in
// runtime/engine/types.ts, next to the application it runs).

export interface LatencyRecorder {
  /** Records one source-to-sink latency in microseconds. */
  recordUs(latencyUs: number): void;
  /** Records `count` messages of the same latency (messages born together); optional. */
  recordUsWithCount?(latencyUs: number, count: number): void;
}

export interface EngineMetrics {
  /** Messages read from sources by this worker. */
  readonly ingested: number;
  /** Messages written to sinks by this worker. */
  readonly sunk: number;
  readonly deadLetters: number;
  readonly remoteSent: number;
  readonly remoteReceived: number;
  /** Messages applied to state per state step. */
  readonly stateApplied: Readonly<Record<string, number>>;
}
