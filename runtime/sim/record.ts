// Protocol records (issue 8, trace validation): what the runtime's protocol cores say about
// each step they take, as plain data, for a checker above the runtime (conformance/
// trace-validation.ts) to map through the refinement mappings and check against the specs.
// The runtime only records: nothing here knows of tla/ or conformance/.
//
// A core records only when its shell passes it a recorder (the `recorder` option of the
// channel core, runtime/net/channel.ts); without one nothing is built or copied. Records are
// JSON-serialisable so that a real process can write them as JSON lines
// (`buffy node --protocol-log FILE`) and the simulator can keep them in memory.
//
// Delivery (specs/Delivery.tla), per channel core: after every event its sender or receiver
// machine processes, the machine's context as the spec's variables need it and what the event
// made the machine put out (frames to write, acknowledgements); and each batch the core hands
// its application. `end` names the core (its worker and the peer's), `link` the pair of cores
// that talk to each other (the shell that joins them knows it; 'peer' pairs them by worker).

/** The sender machine's state after an event (machines/delivery-sender.ts). */
export interface SenderRecord {
  readonly p: 'delivery';
  readonly role: 'sender';
  /** The machine event: Send, Transmit, Retransmit, ReceiveAck, Connect, Break. */
  readonly ev: string;
  readonly next: number;
  readonly acked: number;
  readonly tx: number;
  readonly limit: number;
  readonly up: boolean;
  /** The kept (unacknowledged) frames: first and last sequence number and how many (0: none). */
  readonly kept: readonly [number, number, number];
  /** Sequence numbers of the DATA frames the event put out (to be written), in order. */
  readonly wrote: readonly number[];
  /** A violation of the protocol the machine reported (the core closes the connection). */
  readonly violation?: string;
}

/** The receiver machine's state after an event (machines/delivery-receiver.ts). */
export interface ReceiverRecord {
  readonly p: 'delivery';
  readonly role: 'receiver';
  /** The machine event: ReceiveData, Consume, Acknowledge, Connect, Break. */
  readonly ev: string;
  readonly delivered: number;
  readonly consumed: number;
  readonly up: boolean;
  /** Acknowledgements the event put out: [ack, frame limit]; `hello` for the handshake's. */
  readonly acks: readonly (readonly [number, number])[];
  readonly hello?: readonly [number, number];
  readonly violation?: string;
}

/** A batch the core handed its application (by sequence number). */
export interface DeliverRecord {
  readonly p: 'delivery';
  readonly role: 'app';
  readonly ev: 'deliver';
  readonly seq: number;
}

/**
 * `peer`: the core learned its peer's process incarnation (its first HELLO); `restart`: the
 * peer came back as a new incarnation and the core started both directions afresh (new
 * machines: a new protocol instance from here).
 */
export interface RestartRecord {
  readonly p: 'delivery';
  readonly role: 'core';
  readonly ev: 'peer' | 'restart';
  /** The peer's worker and process incarnation (its HELLO's). */
  readonly worker: string;
  readonly incarnation: number;
}

export type DeliveryStepRecord = SenderRecord | ReceiverRecord | DeliverRecord | RestartRecord;

// Recovery (specs/Recovery.tla), per stateful worker: the exactly-once core
// (runtime/engine/exactly-once.ts) records each event its recovery-worker machine takes and
// what the machine queued for it (conformance/trace-validation-recovery.ts maps them per
// (worker, stream)). Marks are the machine's, by stream (runtime offsets; -1: none). `image`
// is a fingerprint of the store as this worker's writes leave it (an order-independent hash of
// every key and value the shell wrote, deletions removed; hex): the shell computes it only
// when it records, from the ops of each commit, and at recovery from what it loaded, so that a
// recovered store can be told to be (or not be) the image of a commit.

/** What recovery loaded from the store, then the machine's Recover. */
export interface RecoverRecord {
  readonly p: 'recovery';
  readonly role: 'worker';
  readonly ev: 'Recover';
  readonly marks: Readonly<Record<number, number>>;
  readonly nextOutput: number;
  readonly outboxFloor: number;
  /** The fingerprint of every key and value loaded (the whole store). */
  readonly image: string;
}

/** An engine batch's source ranges and the machine's decision for each. */
export interface ReceiveRecord {
  readonly p: 'recovery';
  readonly role: 'worker';
  readonly ev: 'WorkerReceive';
  /** [stream, from, through] per range: offsets (from, through]. */
  readonly ranges: readonly (readonly [number, number, number])[];
  /** Per range: the mark above which it applies (`admit`), or 'd' (duplicate) or 'g' (gap). */
  readonly decisions: readonly (number | 'd' | 'g')[];
}

/** A commit started: what its one store write holds (the machine's `persist`). */
export interface PersistRecord {
  readonly p: 'recovery';
  readonly role: 'worker';
  readonly ev: 'WorkerPersist';
  readonly marks: Readonly<Record<number, number>>;
  readonly firstOutput: number;
  readonly outputs: number;
  readonly nextOutput: number;
  readonly outboxFloor: number;
  /** The store's fingerprint once this write has landed. */
  readonly image: string;
}

/** The write the last WorkerPersist started is durable (the machine's Persisted). */
export interface PersistedRecord {
  readonly p: 'recovery';
  readonly role: 'worker';
  readonly ev: 'Persisted';
}

/** Durable marks reported upstream (the machine's `ack`). */
export interface WorkerAckRecord {
  readonly p: 'recovery';
  readonly role: 'worker';
  readonly ev: 'WorkerAck';
  readonly marks: Readonly<Record<number, number>>;
}

/** Outbox outputs handed to their sinks (`sendOut`), or acknowledged by them (`sinkAcked`). */
export interface SinkRecord {
  readonly p: 'recovery';
  readonly role: 'worker';
  readonly ev: 'WorkerSendOut' | 'WorkerReceiveSinkAck';
  readonly from: number;
  readonly through: number;
}

export type RecoveryStepRecord =
  RecoverRecord | ReceiveRecord | PersistRecord | PersistedRecord | WorkerAckRecord | SinkRecord;

// Ack (specs/Ack.tla), the source role: the source worker's commit tracker
// (runtime/engine/source-commit.ts, run by the coordinator's core). After each step its machine
// takes, per source the step concerns: the tracker's committed offset, how far the source read,
// and the offsets it keeps (read, not yet acknowledged by every worker). Offsets are the
// source's, from 0 (-1: none). `start` is a tracker created (the coordinator started: nothing
// committed in it yet, or the committed offsets given), one record per source.

/** The tracker's state for one source after a step of its machine (machines/source-commit.ts). */
export interface TrackerRecord {
  readonly p: 'ack';
  readonly role: 'tracker';
  /** `start`, or the machine event: SourceRead, SourceReceiveAck, SourceCommit, WorkerJoined, WorkerRestarted. */
  readonly ev:
    'start' | 'SourceRead' | 'SourceReceiveAck' | 'SourceCommit' | 'WorkerJoined' | 'WorkerRestarted';
  readonly source: number;
  /** The worker the event was about (an acknowledgement's, a registration's). */
  readonly worker?: string;
  /**
   * SourceReceiveAck: the durable watermark the worker reported (what it says is durable
   * there); WorkerJoined: the mark it starts with. Absent for a one-by-one acknowledgement.
   */
  readonly mark?: number;
  readonly committed: number;
  readonly read: number;
  /** The kept offsets: first, last and how many (0: none). */
  readonly kept: readonly [number, number, number];
}

export type AckStepRecord = TrackerRecord;

/** Every protocol's step records. */
export type StepRecord = DeliveryStepRecord | AckStepRecord | RecoveryStepRecord;

/** Where a record comes from: the core (its worker, its peer) and the link joining a pair of cores. */
export interface RecordOrigin {
  /** The core's worker. */
  readonly end: string;
  /** The worker at the other end of the channel. */
  readonly peer: string;
  /** Names one pair of cores (the two ends of a channel) within a run. */
  readonly link: string;
  /** The core's process incarnation (HELLO's; 0 when the shell has none). */
  readonly inc: number;
  /**
   * Which core of its process (a recorder shared by all of them numbers them); then `link` is
   * empty and `peer` may be '?' until the core's `peer` record: the two ends of a channel pair
   * up by their workers and incarnations.
   */
  readonly core?: number;
}

/**
 * A record as stored: its origin, its place in the run (`n`; in a process's log, in that
 * process's), the time a real process's shell stamped (`t`, ms), and the step.
 */
export type ProtocolRecord = StepRecord & RecordOrigin & { readonly n: number; readonly t?: number };

/**
 * What a protocol core is given (a channel core, the commit tracker): it calls `record` after
 * each step (only when given one). A recorder shared by several cores has `forCore`, which each
 * core calls once with its identity.
 */
export interface DeliveryRecorder {
  record(r: StepRecord): void;
  forCore?(core: { readonly worker: string; readonly incarnation: number }): DeliveryRecorder;
}

/**
 * Collects records in order, from every core of a run (the simulator: one process, one order).
 * `forCore` gives the recorder one core is passed.
 */
export class MemoryRecorder {
  readonly records: ProtocolRecord[] = [];

  forCore(origin: RecordOrigin): DeliveryRecorder {
    return {
      // Object.assign, not a spread: an object spread followed by keys the spread did not
      // have takes V8's slow path (about 1.5 us here, against 0.13).
      record: (r) => {
        this.records.push(Object.assign({}, r, origin, { n: this.records.length }));
      },
    };
  }
}

/**
 * Writes each record as one JSON line through `write` (a real process: `--protocol-log FILE`);
 * `n` counts this process's records, `t` is the time `now()` gives (ms, comparable between
 * the processes of one machine), by which the logs of several processes are merged.
 */
export class JsonLinesRecorder implements DeliveryRecorder {
  private n = 0;
  private cores = 0;

  constructor(
    private readonly write: (line: string) => void,
    private readonly now: () => number,
  ) {}

  /** Not for records itself: every core calls `forCore` first. */
  record(): void {
    throw new Error('JsonLinesRecorder: a core records through forCore()');
  }

  forCore(core: { readonly worker: string; readonly incarnation: number }): DeliveryRecorder {
    const origin: RecordOrigin = {
      end: core.worker,
      peer: '?',
      link: '',
      inc: core.incarnation,
      core: ++this.cores,
    };
    return {
      record: (r) => {
        this.write(JSON.stringify(Object.assign({}, r, origin, { n: this.n++, t: this.now() })) + '\n');
      },
    };
  }
}
