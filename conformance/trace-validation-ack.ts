// Trace validation of the ack tracker (issue 8): the commit tracker's records (runtime/sim/
// record.ts, TrackerRecord: runtime/engine/source-commit.ts as the coordinator's core runs it,
// in buffy node and in the simulator) mapped onto specs/Ack.tla's variables through the Ack
// adapter's refinement mapping (conformance/ack.ts: offset = the tracker's committed, read =
// its read, kept = its kept offsets), and every step checked with the checker's step labeller.
// The design and its limits: docs/trace-validation.md, "Ack".
//
// One protocol instance per source of the application: every record of the tracker about it,
// across the coordinator's restarts (each a new tracker, `start`). Offsets: the spec's message
// m is the runtime's offset m - 1.
//
// The spec has one worker; the runtime has several per source, and their acknowledgements are
// their durable watermarks (progress reports). The spec's worker is the set of the tracker's
// registered workers: a message is durable there (the spec's dur, and its outbox: the sink is
// not observed) once every registered worker's reported watermark covers it, as the tracker's
// records say what each reported; acknowledged (SourceReceiveAck) when it leaves the tracker's
// kept offsets. A release of an offset no report covers has no SourceReceiveAck in the spec.
//
//   offset     max(F, committed) + 1, F: the committed offset when the tracker last restarted
//   read       max(F, read) + 1
//   kept       the tracker's kept offsets above F, + 1
//   dur        every offset every registered worker reported durable (growing only), once read
//   outbox     dur (the sink is not observed: nothing is ever sunk; a behaviour of the spec)
//   mem, toAck, toW, acksW
//              empty between the tracker's events: the worker's steps for a message (SourceSend,
//              WorkerReceive, WorkerPersist, WorkerAck) are placed just before the tracker
//              learns of them, when the report reaches it (they are concurrent with the
//              source's own steps, and nothing of the source depends on them before)
//   sunk, toSink, acksS   empty
//   crashes    CrashWorker + CrashSource per worker restart the tracker was told of (the
//              runtime's rewind: read = committed, nothing kept), CrashSource per new tracker
//
// A tracker event that is several spec steps becomes several states, the last being the
// tracker's recorded state: SourceRead of k offsets, the worker's steps and SourceReceiveAck
// per offset released, SourceCommit per offset committed. Constants from the records: Msgs =
// the most offsets the source read, MaxCrashes = the crash steps.
import { labelStep, parseExpression, type CheckModel, type State } from '../tla/index.ts';
import { labelStepLikely } from '../tla/check/label.ts';
import type { Expr } from '../tla/ast.ts';
import { setOf, type Value } from '../tla/values.ts';
import type { ProtocolRecord, TrackerRecord } from '../runtime/sim/record.ts';
import type { InstanceValidation, StepCause, TraceViolation } from './trace-validation.ts';
import { diagnoseStep, fittedModel, safeEquals, showState } from './trace-validation-check.ts';

type Nums = ReadonlySet<number>;

/** Ack.tla's variables as plain data (outbox is dur; sunk, toSink and acksS are empty). */
interface AckAbstract {
  readonly offset: number;
  readonly read: number;
  readonly kept: Nums;
  readonly mem: Nums;
  readonly dur: Nums;
  readonly toAck: Nums;
  readonly toW: Nums;
  readonly acksW: Nums;
  readonly crashes: number;
}

/** The action a step is expected to be (its name, and the message for a parameterised one). */
interface Expected {
  readonly name: string;
  readonly m?: number;
}

interface Mapped {
  readonly states: AckAbstract[];
  readonly causes: (StepCause | null)[];
  readonly expected: (Expected | null)[];
  /** What a step's record says beyond its state (shown with a violation). */
  readonly notes: Map<number, string>;
  /** Steps whose record no state can express (they fail, with their note). */
  readonly forced: Set<number>;
  readonly msgs: number;
}

type Rec = TrackerRecord & { readonly n: number; readonly end: string };

const EMPTY: Nums = new Set();

function initial(): AckAbstract {
  return {
    offset: 0,
    read: 0,
    kept: EMPTY,
    mem: EMPTY,
    dur: EMPTY,
    toAck: EMPTY,
    toW: EMPTY,
    acksW: EMPTY,
    crashes: 0,
  };
}

const plus = (s: Nums, m: number): Nums => {
  const out = new Set(s);
  out.add(m);
  return out;
};
const minus = (s: Nums, m: number): Nums => {
  const out = new Set(s);
  out.delete(m);
  return out;
};

function sameSet(a: Nums, b: Nums): boolean {
  if (a === b) return true;
  if (a.size !== b.size) return false;
  for (const x of a) if (!b.has(x)) return false;
  return true;
}

function sameAbstract(x: AckAbstract, y: AckAbstract): boolean {
  return (
    x.offset === y.offset &&
    x.read === y.read &&
    x.crashes === y.crashes &&
    sameSet(x.kept, y.kept) &&
    sameSet(x.mem, y.mem) &&
    sameSet(x.dur, y.dur) &&
    sameSet(x.toAck, y.toAck) &&
    sameSet(x.toW, y.toW) &&
    sameSet(x.acksW, y.acksW)
  );
}

/**
 * The most set elements the abstract states of one instance may hold (the sum of the sizes of
 * the sets the steps build): every state holds `kept` and `dur` whole, so a source that reads
 * far ahead of the acknowledgements makes states as large as its read-ahead, one per offset
 * read; past this the instance is not validated (said so), rather than the process running out
 * of memory.
 */
export const ACK_MAX_ELEMENTS = 5_000_000;

/** An instance too large to validate, and why. */
export class TooLarge extends Error {}

/** One source's tracker records (in the run's order) as abstract states of Ack. */
function mapAck(recs: readonly Rec[], maxElements: number): Mapped {
  const states: AckAbstract[] = [];
  const causes: (StepCause | null)[] = [];
  const expected: (Expected | null)[] = [];
  const notes = new Map<number, string>();
  const forced = new Set<number>();
  let cur = initial();
  let msgs = 0;
  /** The committed offset (runtime's) carried across the tracker's restarts. */
  let floor = -1;
  /** The current tracker's registered workers and the watermark each reported (runtime offsets). */
  const marks = new Map<string, number>();
  /** The most every registered worker reported durable, ever (runtime offset). */
  let durable = -1;
  let started = false;
  let cause: StepCause | null = null;
  let elements = 0;
  let widest = 0;

  const emit = (next: AckAbstract, what: Expected | null): void => {
    for (const k of ['kept', 'mem', 'dur', 'toAck', 'toW', 'acksW'] as const)
      if (next[k] !== cur[k]) elements += next[k].size;
    widest = Math.max(widest, next.kept.size);
    if (elements > maxElements)
      throw new TooLarge(
        `its states would hold more than ${maxElements.toLocaleString('en-US')} set elements by record ${cause?.n ?? '?'} ` +
          `(the tracker keeps up to ${widest.toLocaleString('en-US')} offsets at once, and every state holds them all)`,
      );
    states.push(next);
    causes.push(cause);
    expected.push(what);
    cur = next;
  };

  for (const r of recs) {
    cause = { n: r.n, end: r.end, role: r.role, ev: r.ev + (r.worker !== undefined ? ` ${r.worker}` : '') };
    // The tracker's state, mapped.
    const [first, last, count] = r.kept;
    const contiguous = count === 0 || last - first + 1 === count;
    const kept = new Set<number>();
    if (contiguous) for (let o = first; count > 0 && o <= last; o++) if (o > floor) kept.add(o + 1);
    msgs = Math.max(msgs, r.read + 1, r.committed + 1);

    if (!started) {
      // The first record: the tracker's initial state (a fresh one is Init's).
      started = true;
      if (r.mark !== undefined && r.worker !== undefined) marks.set(r.worker, r.mark);
      states.push({ ...initial(), offset: r.committed + 1, read: r.read + 1, kept });
      causes.push(cause);
      expected.push(null);
      cur = states[0]!;
      if (r.ev !== 'start') {
        notes.set(
          0,
          `the first record of the tracker is ${r.ev}, not its start (a log that lost its beginning?)`,
        );
        forced.add(0);
      }
      continue;
    }
    if (r.ev === 'start') {
      // A new tracker (the coordinator restarted): the source again from its committed offset.
      floor = cur.offset - 1;
      marks.clear();
      kept.clear();
      if (contiguous) for (let o = first; count > 0 && o <= last; o++) if (o > floor) kept.add(o + 1);
      emit(
        { ...cur, read: cur.offset, kept: EMPTY, toW: EMPTY, acksW: EMPTY, crashes: cur.crashes + 1 },
        { name: 'CrashSource' },
      );
    } else if (r.ev === 'WorkerRestarted') {
      // A worker restarted (its volatile state lost), and the tracker rewinds its sources to the
      // committed offset: the spec's CrashSource (read = offset, nothing kept).
      emit(
        { ...cur, mem: EMPTY, toAck: EMPTY, toW: EMPTY, acksW: EMPTY, crashes: cur.crashes + 1 },
        { name: 'CrashWorker' },
      );
      emit(
        { ...cur, read: cur.offset, kept: EMPTY, toW: EMPTY, acksW: EMPTY, crashes: cur.crashes + 1 },
        { name: 'CrashSource' },
      );
    } else if (r.worker !== undefined && r.mark !== undefined) {
      const before = marks.get(r.worker);
      marks.set(
        r.worker,
        r.ev === 'WorkerJoined' || before === undefined ? r.mark : Math.max(before, r.mark),
      );
    }
    if (marks.size > 0) durable = Math.max(durable, Math.min(...marks.values()));
    const target = {
      offset: Math.max(floor, r.committed) + 1,
      read: Math.max(floor, r.read) + 1,
      kept,
    };
    const unmappable = contiguous
      ? null
      : `the tracker's kept offsets are not contiguous (first ${first}, last ${last}, ${count} of them): the record cannot say which`;

    // SourceRead, one offset at a time.
    for (let m = cur.read + 1; m <= target.read; m++)
      emit({ ...cur, read: m, kept: plus(cur.kept, m) }, { name: 'SourceRead' });
    // Offsets every worker reported durable: the worker receives and persists them (one group
    // commit), its acknowledgements pending.
    const fresh = [...cur.kept].filter((m) => m <= durable + 1 && !cur.dur.has(m)).sort((a, b) => a - b);
    for (const m of fresh) {
      if (!cur.toW.has(m)) emit({ ...cur, toW: plus(cur.toW, m) }, { name: 'SourceSend', m });
      emit({ ...cur, toW: minus(cur.toW, m), mem: plus(cur.mem, m) }, { name: 'WorkerReceive', m });
    }
    if (fresh.length > 0) {
      const dur = new Set([...cur.dur, ...cur.mem]);
      emit(
        { ...cur, dur, toAck: new Set([...cur.toAck, ...cur.mem]), mem: EMPTY },
        { name: 'WorkerPersist' },
      );
    }
    // Offsets the tracker released: the worker's acknowledgement arrives (a durable offset's
    // duplicate is acknowledged again). One no report covers is released without one.
    const released = [...cur.kept].filter((m) => !target.kept.has(m)).sort((a, b) => a - b);
    for (const m of released) {
      if (!cur.dur.has(m)) {
        emit({ ...cur, kept: minus(cur.kept, m) }, null);
        notes.set(
          states.length - 1,
          `the tracker released offset ${m - 1}, which not every registered worker reported durable (${[...marks].map(([w, k]) => `${w} ${k}`).join(', ') || 'no worker registered'})`,
        );
        continue;
      }
      if (!cur.toAck.has(m)) {
        if (!cur.toW.has(m)) emit({ ...cur, toW: plus(cur.toW, m) }, { name: 'SourceSend', m });
        emit({ ...cur, toW: minus(cur.toW, m), toAck: plus(cur.toAck, m) }, { name: 'WorkerReceive', m });
      }
      emit({ ...cur, toAck: minus(cur.toAck, m), acksW: plus(cur.acksW, m) }, { name: 'WorkerAck', m });
      emit({ ...cur, acksW: minus(cur.acksW, m), kept: minus(cur.kept, m) }, { name: 'SourceReceiveAck', m });
    }
    // SourceCommit, one offset at a time.
    for (let o = cur.offset + 1; o <= target.offset; o++) {
      const why = cur.kept.has(o)
        ? `offset ${o - 1} is committed while the tracker still keeps it (not every worker reported it durable)`
        : o > cur.read
          ? `offset ${o - 1} is committed but the tracker says the source read only through ${cur.read - 1}`
          : null;
      emit({ ...cur, offset: o }, { name: 'SourceCommit' });
      if (why !== null) notes.set(states.length - 1, why);
    }
    // Whatever else the record says (the tracker's state as it is), as one more step.
    const final = { ...cur, ...target };
    if (unmappable !== null) {
      emit(final, null);
      notes.set(states.length - 1, unmappable);
      forced.add(states.length - 1);
    } else if (!sameAbstract(cur, final)) emit(final, null);
    else if (states.length > 0 && causes[causes.length - 1] !== cause) emit(cur, null); // a stuttering step
  }
  return { states, causes, expected, notes, forced, msgs };
}

// ---------------------------------------------------------------------------------------
// The model, with constants fitted to the run.

function ackModel(msgs: number, maxCrashes: number): Promise<CheckModel> {
  return fittedModel('Ack', [
    ['Msgs', msgs],
    ['MaxCrashes', maxCrashes],
    ['AckEarly', false],
    ['CommitEarly', false],
  ]);
}

/** Each action's expression, parsed once (the message `m` bound per step). */
const ACTIONS = [
  'SourceRead',
  'SourceSend(m)',
  'SourceReceiveAck(m)',
  'SourceCommit',
  'WorkerReceive(m)',
  'WorkerPersist',
  'WorkerAck(m)',
  'CrashWorker',
  'CrashSource',
];
let parsed: Promise<Map<string, Expr>> | null = null;
function actionExprs(): Promise<Map<string, Expr>> {
  parsed ??= (async () => {
    const out = new Map<string, Expr>();
    for (const text of ACTIONS) out.set(text.replace('(m)', ''), await parseExpression(text));
    return out;
  })();
  return parsed;
}

/** Abstract states as the checker's, each set's TLA+ value built once per set object. */
function specStates(): (a: AckAbstract) => State {
  const cache = new WeakMap<Nums, Value>();
  const empty = setOf([]);
  const v = (s: Nums): Value => {
    if (s.size === 0) return empty;
    let x = cache.get(s);
    if (x === undefined) cache.set(s, (x = setOf([...s])));
    return x;
  };
  // The order of Ack's VARIABLES.
  return (a) => [
    a.offset,
    a.read,
    v(a.kept),
    v(a.mem),
    v(a.dur),
    v(a.toAck),
    v(a.dur),
    empty,
    v(a.toW),
    v(a.acksW),
    empty,
    empty,
    a.crashes,
  ];
}

/**
 * Action labels with the message runs folded (`SourceSend(m=1..20)`): Ack's parameterised
 * actions are enabled for many messages at once.
 */
export function compactLabels(labels: readonly string[]): string[] {
  const out: string[] = [];
  let run: { name: string; from: number; to: number } | null = null;
  const flush = (): void => {
    if (run) out.push(`${run.name}(m=${run.from === run.to ? run.from : `${run.from}..${run.to}`})`);
    run = null;
  };
  for (const l of labels) {
    const k = /^(\w+)\(m=(\d+)\)$/.exec(l);
    if (!k) {
      flush();
      out.push(l);
      continue;
    }
    const m = Number(k[2]);
    if (run && run.name === k[1] && m === run.to + 1) run.to = m;
    else {
      flush();
      run = { name: k[1]!, from: m, to: m };
    }
  }
  flush();
  return out;
}

function checkAck(
  cm: CheckModel,
  instance: string,
  m: Mapped,
  actions: Record<string, number>,
  exprs: ReadonlyMap<string, Expr>,
): { steps: number; stutters: number; violation: TraceViolation | null } {
  const vars = cm.model.variables;
  const toSpec = specStates();
  const violation = (i: number, prev: State | null, t: State): TraceViolation => {
    const d = prev ? diagnoseStep(cm, prev, t) : { changed: [], enabled: [], closest: [] };
    const note = m.notes.get(i);
    const e = m.expected[i];
    return {
      spec: 'Ack',
      instance,
      step: i,
      cause: m.causes[i] ?? null,
      before: prev ? showState(vars, prev) : null,
      after: showState(vars, t),
      changed: d.changed,
      enabled: compactLabels(d.enabled),
      closest: d.closest,
      ...(note !== undefined || e
        ? {
            note: [note, e ? `the mapping expected ${e.name}${e.m !== undefined ? `(m = ${e.m})` : ''}` : '']
              .filter(Boolean)
              .join('; '),
          }
        : {}),
    };
  };
  const first = toSpec(m.states[0]!);
  const inits: State[] = [];
  cm.model.initStates(cm.init.expr, cm.init.ctx, (s) => inits.push(s));
  if (m.forced.has(0) || !inits.some((s) => s.every((v, i) => safeEquals(v, first[i]!))))
    return { steps: 0, stutters: 0, violation: violation(0, null, first) };
  let stutters = 0;
  let prev = first;
  for (let i = 1; i < m.states.length; i++) {
    if (sameAbstract(m.states[i - 1]!, m.states[i]!) && !m.forced.has(i)) {
      stutters++;
      continue;
    }
    const t = toSpec(m.states[i]!);
    const e = m.expected[i];
    let labels: { name: string }[] = [];
    if (!m.forced.has(i)) {
      const expr = e ? exprs.get(e.name) : undefined;
      if (e && expr) {
        const ctx = e.m === undefined ? cm.next.ctx : cm.model.bind(cm.next.ctx, 'm', e.m);
        labels = labelStepLikely(cm.model, { expr, ctx }, cm.next, prev, t);
      } else labels = labelStep(cm, prev, t);
    }
    if (labels.length === 0) return { steps: i, stutters, violation: violation(i, prev, t) };
    const k = labels[0]!.name;
    actions[k] = (actions[k] ?? 0) + 1;
    prev = t;
  }
  return { steps: m.states.length - 1, stutters, violation: null };
}

/** The Ack instances of a run's records: one per source, the tracker's records in order. */
function ackInstances(records: readonly ProtocolRecord[]): Map<string, Rec[]> {
  const out = new Map<string, Rec[]>();
  for (const r of records) {
    if (r.p !== 'ack') continue;
    const key = `ack source ${r.source}`;
    let a = out.get(key);
    if (!a) out.set(key, (a = []));
    a.push(r);
  }
  for (const a of out.values()) a.sort((x, y) => x.n - y.n);
  return out;
}

export interface AckValidation {
  readonly instances: readonly InstanceValidation[];
  /** Instances not validated: too large for explicit states (ACK_MAX_ELEMENTS), and why. */
  readonly notValidated: readonly {
    readonly instance: string;
    readonly records: number;
    readonly why: string;
  }[];
  readonly steps: number;
  readonly violations: readonly TraceViolation[];
  readonly elapsedMs: number;
}

/** Validates the tracker's records of a run (every source) against specs/Ack.tla. */
export async function validateAckRecords(
  records: readonly ProtocolRecord[],
  o: { readonly maxElements?: number } = {},
): Promise<AckValidation> {
  const t0 = performance.now();
  const instances: InstanceValidation[] = [];
  const notValidated: { instance: string; records: number; why: string }[] = [];
  const violations: TraceViolation[] = [];
  let steps = 0;
  const byInstance = ackInstances(records);
  if (byInstance.size === 0)
    return { instances, notValidated, steps, violations, elapsedMs: performance.now() - t0 };
  const exprs = await actionExprs();
  for (const [instance, recs] of byInstance) {
    let m: Mapped;
    try {
      m = mapAck(recs, o.maxElements ?? ACK_MAX_ELEMENTS);
    } catch (err) {
      if (!(err instanceof TooLarge)) throw err;
      notValidated.push({ instance, records: recs.length, why: err.message });
      continue;
    }
    const constants = { Msgs: m.msgs, MaxCrashes: m.states[m.states.length - 1]!.crashes };
    const cm = await ackModel(constants.Msgs, constants.MaxCrashes);
    const actions: Record<string, number> = {};
    const r = checkAck(cm, instance, m, actions, exprs);
    steps += r.steps;
    if (r.violation) violations.push(r.violation);
    instances.push({
      spec: 'Ack',
      instance,
      records: recs.length,
      steps: r.steps,
      stutters: r.stutters,
      constants,
      actions,
      violation: r.violation,
    });
  }
  return { instances, notValidated, steps, violations, elapsedMs: performance.now() - t0 };
}

/** One line: instances, steps, actions, time. */
export function formatAckSummary(r: AckValidation): string {
  const byAction: Record<string, number> = {};
  let stutters = 0;
  for (const i of r.instances) {
    stutters += i.stutters;
    for (const [k, n] of Object.entries(i.actions)) byAction[k] = (byAction[k] ?? 0) + n;
  }
  const acts = Object.entries(byAction)
    .sort((a, b) => b[1] - a[1])
    .map(([k, n]) => `${k} ${n}`)
    .join(', ');
  const skipped = r.notValidated.map((x) => `; ${x.instance} (${x.records} records) NOT validated: ${x.why}`);
  return (
    `trace validation: Ack: ${r.instances.length} instances, ${r.steps} steps (${stutters} stuttering; ${acts || 'no actions'}), ` +
    `${r.violations.length} violations, ${Math.round(r.elapsedMs)} ms${skipped.join('')}`
  );
}
