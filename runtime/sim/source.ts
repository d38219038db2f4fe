// The simulator's connectors (issue 8): a replayable synthetic source and the sinks on the
// simulated disk, under the `sim:` scheme so that an application's own `--source`/`--sink`
// options point it at them.
//
//   sim:RUN            a source: the lines of run RUN's SimStream, from the resume offset on,
//                      rewindable to any offset (SourceConnector.rewind), its commits recorded
//   sim:RUN/NAME       a sink: the file NAME on run RUN's SimDisk, one per worker in a cluster
//                      (NAME.WORKER), resumable (the engine truncates it at recovery)
//
// A run registers its context (stream, disk) under RUN with `registerSimRun`, and unregisters
// it at the end. Offsets are the line numbers (0, 1, ...); the position is the offset too (a
// synthetic stream needs no byte positions: a rewind to offset n re-reads from line n).
import { registerConnector, ConnectorError } from '../connectors/index.ts';
import type {
  ConnectorUri,
  Random,
  SinkConnector,
  SourceConnector,
  SourceContext,
  SourcePosition,
} from '../types.ts';
import { SimFileSink } from './disk.ts';
import type { SimDisk } from './disk.ts';

/** A seeded stream of text lines (words from a small vocabulary): the same seed, the same lines. */
export function syntheticLines(random: Random, count: number, maxWords = 8): string[] {
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const n = random.nextInt(maxWords + 1);
    const ws: string[] = [];
    for (let j = 0; j < n; j++) ws.push(VOCABULARY[random.nextInt(VOCABULARY.length)]!);
    out.push(ws.join(' '));
  }
  return out;
}

const VOCABULARY = [
  'the',
  'of',
  'and',
  'to',
  'a',
  'in',
  'is',
  "don't",
  'river',
  'stone',
  'ünï',
  'x1',
  'y2',
  'zebra',
  'quay',
  'ferry',
];

/** What a run's source connectors share: the lines and what happened to them. */
export class SimStream {
  /** Every batch emitted: [worker, first offset, count] (replays included), for the event log. */
  emitted = 0;
  /** The highest offset the connector was told is committed (SourceConnector.commit). */
  committed = -1;
  /** Called with (worker, through) for each batch emitted: the control plane's SourceRead. */
  onRead: ((worker: string, through: number) => void) | null = null;
  private readonly live = new Set<SimLineSource>();

  /** `intervalMs`: simulated ms between batches (on the source worker's clock): a stream that
   * arrives over time, so that faults meet it in flight. */
  constructor(
    readonly lines: readonly string[],
    readonly batchLines: number,
    readonly intervalMs = 0,
  ) {
    if (!Number.isInteger(batchLines) || batchLines < 1)
      throw new RangeError(`sim stream: batchLines must be a positive integer, got ${batchLines}`);
    if (!(intervalMs >= 0)) throw new RangeError(`sim stream: intervalMs must be >= 0, got ${intervalMs}`);
  }

  /** The sources of a worker's dead incarnation stop at once (their emits never return). */
  killSourcesOf(worker: string): void {
    for (const s of this.live) if (s.worker === worker) s.kill();
  }

  attach(s: SimLineSource): void {
    this.live.add(s);
  }
  detach(s: SimLineSource): void {
    this.live.delete(s);
  }
}

/** The synthetic source: emits `lines` in batches from the resume offset; `rewind` seeks. */
export class SimLineSource implements SourceConnector {
  private stopped = false;
  private dead = false;
  private seek: SourcePosition | null = null;
  worker = '';

  constructor(
    readonly uri: string,
    private readonly stream: SimStream,
  ) {}

  rewind(to: SourcePosition): void {
    if (!Number.isSafeInteger(to.offset) || to.offset < 0)
      throw new RangeError(`source "${this.uri}": rewind to offset ${to.offset}: not a natural number`);
    this.seek = to;
  }

  commit(offset: number): void {
    if (offset > this.stream.committed) this.stream.committed = offset;
  }

  kill(): void {
    this.dead = true;
  }

  private runs = 0;

  async run(ctx: SourceContext): Promise<void> {
    this.worker = ctx.workerName;
    this.stream.attach(this);
    // The first run of a connector starts at the committed offset + 1 the engine recovered
    // (SourceContext.resume): what is before it is committed, and the external system may be
    // told so. (Later runs, after a rewind, start at a kept batch end, which says nothing.)
    if (this.runs++ === 0 && ctx.resume) this.commit(ctx.resume.offset - 1);
    try {
      let next = ctx.resume?.offset ?? 0;
      const lines = this.stream.lines;
      for (;;) {
        if (this.seek) {
          next = this.seek.offset;
          this.seek = null;
        }
        if (this.stopped || this.dead || ctx.signal.aborted || next >= lines.length) break;
        const n = Math.min(this.stream.batchLines, lines.length - next);
        const first = next;
        next += n;
        this.stream.emitted++;
        this.stream.onRead?.(this.worker, first + n - 1);
        await ctx.emit({ payloads: lines.slice(first, first + n), firstOffset: first, endPosition: next });
        if (this.dead) await new Promise<never>(() => {});
        if (this.stream.intervalMs > 0)
          await new Promise<void>((r) => ctx.clock.setTimer(this.stream.intervalMs, r));
      }
      if (this.dead) await new Promise<never>(() => {});
    } finally {
      this.stream.detach(this);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
  }
}

/** A run's context, found by the connectors through the URI. */
export interface SimRunContext {
  readonly stream: SimStream;
  readonly disk: SimDisk;
  /** The sinks opened (path -> sink), for the checks. */
  readonly sinks: Map<string, SimFileSink>;
}

const runs = new Map<string, SimRunContext>();

export function registerSimRun(id: string, ctx: SimRunContext): void {
  ensureSimConnector();
  if (runs.has(id)) throw new Error(`sim run "${id}" is registered already`);
  runs.set(id, ctx);
}

export function unregisterSimRun(id: string): void {
  runs.delete(id);
}

function runOf(uri: ConnectorUri, role: string): { ctx: SimRunContext; name: string | null } {
  const slash = uri.rest.indexOf('/');
  const id = slash < 0 ? uri.rest : uri.rest.slice(0, slash);
  const ctx = runs.get(id);
  if (!ctx)
    throw new ConnectorError(
      `${role} "${uri.raw}": no simulation run "${id}" (sim: connectors exist only inside buffy sim)`,
    );
  return { ctx, name: slash < 0 ? null : uri.rest.slice(slash + 1) };
}

let registered = false;

/** Registers the `sim:` scheme (once). */
export function ensureSimConnector(): void {
  if (registered) return;
  registered = true;
  registerConnector(
    'sim',
    {
      createSource(uri): SourceConnector {
        const { ctx, name } = runOf(uri, 'source');
        if (name !== null) throw new ConnectorError(`source "${uri.raw}": a sim source is sim:RUN`);
        return new SimLineSource(uri.raw, ctx.stream);
      },
      createSink(uri, cctx): SinkConnector {
        const { ctx, name } = runOf(uri, 'sink');
        if (name === null || name === '')
          throw new ConnectorError(`sink "${uri.raw}": a sim sink is sim:RUN/NAME`);
        const file = ctx.disk.openFile(name, cctx.workerName);
        // As a `file:` sink does: without exactly-once the file starts afresh at each open (a
        // restarted worker loses what it wrote before); with it the engine truncates it to its
        // recorded length at recovery.
        if (!cctx.exactlyOnce) void file.truncate(0);
        const sink = new SimFileSink(uri.raw, file);
        ctx.sinks.set(name, sink);
        return sink;
      },
    },
    {
      perWorkerSink: (uri, worker) => `${uri.raw}.${worker}`,
    },
  );
}
