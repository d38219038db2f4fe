// The coordinator's decisions, free of sockets and clocks (one implementation, two shells).
//
// What the coordinator decides about exactly-once and membership, as one transport-free object:
// which registration is a new member, the same process back, or a restarted process (a new
// incarnation of a known member); the source rewinds (a gap report: the source again from the
// committed offset + 1, once per quiet period; restarted members: every source from the
// tracker's rewind points once their membership round is done); and the committed offsets,
// from the workers' durable watermarks through the SourceCommitTracker
// (runtime/engine/source-commit.ts, which runs machines/source-commit.ts).
//
// It sends nothing: every call returns the commands the shell carries out. Its shells are
// runtime/cluster/coordinator.ts (control connections over TCP, timers, the membership rounds'
// messages and the drain) and runtime/sim/cluster.ts (simulated control connections and control
// faults). Time is the injected `nowMs`.

import { SourceCommitTracker } from '../engine/source-commit.ts';
import type { Offsets, SourceCommitMutation } from '../engine/source-commit.ts';
import type { DeliveryRecorder } from '../sim/record.ts';

/** How long a rewind makes later gap reports of the same source redundant. */
export const REWIND_QUIET_MS = 1000;

/** What the shell must do. */
export type CoordinatorCommand =
  /** Tell the source worker to re-read every source of `to` from its offset. */
  | { readonly t: 'rewind'; readonly to: Offsets; readonly why: string }
  /** Tell the source worker the committed offsets advanced to these. */
  | { readonly t: 'committed'; readonly committed: Offsets }
  /** Restarted members the stopped sources cannot replay for: the cluster must stop (exit 1). */
  | { readonly t: 'cannotReplay'; readonly workers: readonly string[] }
  /** A decision that failed and fell back: say it (an error for the operator). */
  | { readonly t: 'error'; readonly message: string };

/** A registration: a new member, a known one back in the same process, or in a new one. */
export type Registration = 'joined' | 'rejoined' | 'restarted';

export interface CoordinatorCoreOptions {
  /** The application's number of sources (what a rewind covers). */
  readonly sources: number;
  /** Milliseconds now (monotonic is best): the rewinds' quiet periods. */
  readonly nowMs: () => number;
  /** Where the tracker's errors say they come from. */
  readonly where: string;
  /** A deliberately broken tracker (the simulator's mutation tests). */
  readonly mutation?: SourceCommitMutation;
  /** The quiet period after a rewind; default REWIND_QUIET_MS. */
  readonly quietMs?: number;
  /** Trace validation: the tracker records its steps here (runtime/sim/record.ts). */
  readonly recorder?: DeliveryRecorder;
}

export class CoordinatorCore {
  private readonly incarnations = new Map<string, string>();
  private tracker: SourceCommitTracker | null = null;
  /** What the tracker was told the sources read (it only accepts increases). */
  private readThrough: number[] = [];
  /** What the source worker was last told as committed ({} before the first advance). */
  private announcedNow: Record<number, number> = {};
  private readonly lastRewind = new Map<number, { to: number; atMs: number }>();
  /** Restarted members that need a rewind once their membership round is done. */
  private readonly rewindFor = new Set<string>();

  constructor(private readonly o: CoordinatorCoreOptions) {}

  // ---- membership ----

  /** A worker registered with this incarnation: new, back in the same process, or restarted
   * (a known member's new incarnation: a rewind is due when its round is done). */
  register(worker: string, incarnation: string): Registration {
    const before = this.incarnations.get(worker);
    this.incarnations.set(worker, incarnation);
    if (before === undefined) return 'joined';
    if (before === incarnation) return 'rejoined';
    this.rewindFor.add(worker);
    return 'restarted';
  }

  /** Whether the worker registered (and was not forgotten since). */
  isMember(worker: string): boolean {
    return this.incarnations.has(worker);
  }

  /** A worker that went away before the cluster was complete: it is no member. */
  forget(worker: string): void {
    this.incarnations.delete(worker);
    this.rewindFor.delete(worker);
  }

  /** Whether restarted members wait for a round to be done. */
  restartsPending(): boolean {
    return this.rewindFor.size > 0;
  }

  /**
   * A membership round is done: the restarted members that are up get their rewind (every
   * source from the least of their rewind points). `sourcesStopped`: the sources were stopped
   * for a shutdown and cannot replay. Without exactly-once (or before the tracker is formed)
   * nothing is rewound.
   */
  roundDone(o: {
    readonly isUp: (worker: string) => boolean;
    readonly exactlyOnce: boolean;
    readonly sourcesStopped: boolean;
  }): CoordinatorCommand[] {
    if (this.rewindFor.size === 0) return [];
    const who = [...this.rewindFor].filter(o.isUp);
    this.rewindFor.clear();
    const t = o.exactlyOnce ? this.tracker : null;
    if (who.length === 0 || !t) return [];
    if (o.sourcesStopped) return [{ t: 'cannotReplay', workers: who }];
    const out: CoordinatorCommand[] = [];
    const to: Record<number, number> = {};
    // A worker that takes part in no source (it owns no partition) has nothing to replay.
    const taking = new Set(t.workers());
    for (const w of who) {
      if (!taking.has(w)) continue;
      try {
        for (const [s, v] of Object.entries(t.workerRestarted(w)))
          to[Number(s)] = Math.min(to[Number(s)] ?? Infinity, v);
        // The tracker's sources read again from its rewind points: what it is told they read
        // starts again there (else it would not hear of the replay until it passed the old
        // read, and would keep nothing meanwhile).
        this.readThrough = [...t.state.read];
      } catch (err) {
        out.push({ t: 'error', message: `exactly-once: worker '${w}' restarted: ${(err as Error).message}` });
        Object.assign(to, this.rewindPoints(null));
      }
    }
    const r = this.rewind(
      to,
      `worker${who.length > 1 ? 's' : ''} ${who.map((w) => `'${w}'`).join(', ')} restarted`,
    );
    if (r) out.push(r);
    return out;
  }

  // ---- exactly-once ----

  /** Forms the tracker over the workers that take part in the sources (once). */
  formTracker(participants: readonly string[]): void {
    if (this.tracker) return;
    this.tracker = new SourceCommitTracker({
      sources: this.o.sources,
      workers: [...participants],
      where: this.o.where,
      ...(this.o.mutation ? { mutation: this.o.mutation } : {}),
      ...(this.o.recorder ? { recorder: this.o.recorder } : {}),
    });
    this.readThrough = new Array<number>(this.o.sources).fill(-1);
  }

  get formed(): boolean {
    return this.tracker !== null;
  }

  /** The tracker's committed offsets of every source ({} before it is formed). */
  committed(): Offsets {
    return this.tracker ? this.tracker.committed() : {};
  }

  /** What the source worker was last told as committed ({} before the first advance). */
  announced(): Offsets {
    return { ...this.announcedNow };
  }

  /** The sources read through at least `through` (a lower bound is enough: only increases count). */
  read(source: number, through: number): void {
    if (!this.tracker || source >= this.readThrough.length || through <= this.readThrough[source]!) return;
    this.tracker.read(source, through);
    this.readThrough[source] = through;
  }

  /**
   * A worker's durable watermarks. Each is a lower bound of what the sources read (the tracker
   * is told so); a `committed` command when the committed offsets advanced. A worker that takes
   * part in no source is ignored; a report the tracker refuses throws (say it, go on).
   */
  report(worker: string, marks: Offsets): CoordinatorCommand[] {
    const t = this.tracker;
    if (!t || !t.workers().includes(worker)) return [];
    for (const [s, v] of Object.entries(marks)) this.read(Number(s), v);
    const advanced = t.report(worker, marks);
    if (Object.keys(advanced).length === 0) return [];
    this.announcedNow = { ...t.committed() };
    return [{ t: 'committed', committed: this.announced() }];
  }

  /**
   * A worker is missing `source` from `offset`: the source again from its committed offset + 1,
   * unless a rewind that covers the offset was asked for less than a quiet period ago (batches
   * sent before it still arrive with gaps; the replay follows them).
   */
  gap(worker: string, source: number, offset: number): CoordinatorCommand | null {
    const last = this.lastRewind.get(source);
    if (last && last.to <= offset && this.o.nowMs() - last.atMs < (this.o.quietMs ?? REWIND_QUIET_MS))
      return null;
    return this.rewind(
      this.rewindPoints(source),
      `worker '${worker}' is missing source ${source} from offset ${offset}`,
    );
  }

  /** The committed offset + 1 (as announced) of each source (of `only`, when given). */
  private rewindPoints(only: number | null): Record<number, number> {
    const to: Record<number, number> = {};
    for (let s = 0; s < this.o.sources; s++)
      if (only === null || s === only) to[s] = (this.announcedNow[s] ?? -1) + 1;
    return to;
  }

  /** A rewind starts its sources' quiet periods (whether or not the shell can deliver it). */
  private rewind(to: Record<number, number>, why: string): CoordinatorCommand | null {
    const now = this.o.nowMs();
    for (const [s, v] of Object.entries(to)) this.lastRewind.set(Number(s), { to: v, atMs: now });
    return Object.keys(to).length > 0 ? { t: 'rewind', to, why } : null;
  }
}
