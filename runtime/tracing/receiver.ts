// The trace receiver: stores trace reports (bounded), rebuilds each logical message's
// traversals and checks them against the flow.
//
// Reports are grouped by the root of their message id (`source:offset`): a message and all its
// descendants. Visits are linked by predecessor hashes into a DAG with one source. A visit
// whose successors received one message id (the same message handed to several steps) is a
// fork: a traversal takes all of them. A visit whose successors received several ids (a
// flatMap's or state step's outputs: new logical messages) starts one traversal per output:
// word count's `split` of a line of k words gives k traversals lines;split;counts;updates.
import type { Flow } from '../flow/ast.ts';
import type { Traversal } from '../flow/traversal.ts';
import { formatTraversal } from '../flow/traversal.ts';
import { FlowChecker } from './flow-checker.ts';
import type { TraceReport, TraceSink } from './report.ts';
import { rootOf } from './report.ts';

export interface ReceiverOptions {
  /** The flow traversals are checked against (none: rebuilt, not checked). */
  readonly flow?: Flow;
  /** Logical messages (roots) kept; the oldest is evicted past it (default 10,000). */
  readonly maxMessages?: number;
  /** Reports kept per logical message; more are dropped and counted (default 1,000). */
  readonly maxReportsPerMessage?: number;
  /** Traversals rebuilt per logical message at most (default 1,000). */
  readonly maxTraversalsPerMessage?: number;
}

export interface RebuiltTraversal {
  readonly traversal: Traversal;
  /** Per node: the message ended at that visit (`!` in the printed path). */
  readonly ended: readonly boolean[];
  /** Per node: the message id the visit received. */
  readonly messageIds: readonly string[];
  /** Per node: the worker (instance) that reported the visit. */
  readonly instanceIds: readonly string[];
  /** The traversal in flow notation, ended visits marked `!`. */
  readonly path: string;
}

export interface Violation {
  /** The root message id (`source:offset`). */
  readonly messageId: string;
  /** The ids of the messages the offending traversal ends with. */
  readonly leafIds: readonly string[];
  /** The offending path, in flow notation (or the problem when no traversal could be built). */
  readonly path: string;
  readonly reason: string;
}

export interface MessageCheck {
  readonly messageId: string;
  readonly traversals: readonly RebuiltTraversal[];
  readonly violations: readonly Violation[];
}

export interface ReceiverStats {
  readonly messages: number;
  readonly reports: number;
  readonly evictedMessages: number;
  readonly evictedReports: number;
  readonly droppedReports: number;
  readonly duplicateReports: number;
  readonly traversals: number;
  readonly violations: number;
  /** Traversals per path (flow notation, ended visits marked `!`), most frequent first. */
  readonly paths: readonly {
    readonly path: string;
    readonly count: number;
    readonly allowed: boolean | null;
  }[];
}

interface Root {
  readonly byHash: Map<number, TraceReport>;
}

class TooMany extends Error {}

export class TraceReceiver implements TraceSink {
  private readonly roots = new Map<string, Root>();
  private readonly checker: FlowChecker | null;
  private readonly maxMessages: number;
  private readonly maxReports: number;
  private readonly maxTraversals: number;
  private reportCount = 0;
  evictedMessages = 0;
  evictedReports = 0;
  droppedReports = 0;
  duplicateReports = 0;

  constructor(opts: ReceiverOptions = {}) {
    this.checker = opts.flow ? new FlowChecker(opts.flow) : null;
    this.maxMessages = positive(opts.maxMessages ?? 10_000, 'maxMessages');
    this.maxReports = positive(opts.maxReportsPerMessage ?? 1_000, 'maxReportsPerMessage');
    this.maxTraversals = positive(opts.maxTraversalsPerMessage ?? 1_000, 'maxTraversalsPerMessage');
  }

  get flow(): Flow | undefined {
    return this.checker?.flow;
  }

  report(r: TraceReport): void {
    const id = rootOf(r.messageId);
    let root = this.roots.get(id);
    if (root === undefined) {
      if (this.roots.size >= this.maxMessages) this.evictOldest();
      root = { byHash: new Map() };
      this.roots.set(id, root);
    }
    if (root.byHash.has(r.hash)) {
      this.duplicateReports++;
      return;
    }
    if (root.byHash.size >= this.maxReports) {
      this.droppedReports++;
      return;
    }
    root.byHash.set(r.hash, r);
    this.reportCount++;
  }

  private evictOldest(): void {
    const [id, root] = this.roots.entries().next().value as [string, Root];
    this.roots.delete(id);
    this.evictedMessages++;
    this.evictedReports += root.byHash.size;
    this.reportCount -= root.byHash.size;
  }

  /** Root ids of the logical messages held, oldest first. */
  messageIds(): string[] {
    return [...this.roots.keys()];
  }

  /** Rebuilds and checks the traversals of one logical message (any id of it), or null. */
  checkMessage(messageId: string): MessageCheck | null {
    const id = rootOf(messageId);
    const root = this.roots.get(id);
    if (!root) return null;
    const violations: Violation[] = [];
    const reports = [...root.byHash.values()];
    const problem = (reason: string, leafIds: string[] = []): MessageCheck => ({
      messageId: id,
      traversals: [],
      violations: [{ messageId: id, leafIds, path: reason, reason }],
    });
    const sources = reports.filter((r) => r.predecessorHashes.length === 0);
    for (const r of reports) {
      for (const p of r.predecessorHashes) {
        if (!root.byHash.has(p)) {
          return problem(
            `visit of ${r.workerType} (${r.messageId} on ${r.instanceId}) names predecessor #${p.toString(16)}, which no report holds (lost, or over the per-message bound)`,
            [r.messageId],
          );
        }
      }
    }
    if (sources.length !== 1) {
      return problem(
        `${sources.length} visits without predecessors (${sources.map((s) => `${s.workerType} ${s.messageId}`).join(', ') || 'none: a cycle'}); a traversal has exactly one source`,
      );
    }
    let traversals: RebuiltTraversal[];
    try {
      traversals = this.rebuild(root, sources[0]!);
    } catch (err) {
      if (err instanceof TooMany) {
        return problem(`more than ${this.maxTraversals} traversals; raise maxTraversalsPerMessage`);
      }
      throw err;
    }
    if (this.checker) {
      for (const t of traversals) {
        if (this.checker.allows(t.traversal, t.ended)) continue;
        const leafIds = t.messageIds.filter((_, i) => !t.traversal.preds.some((p) => p.includes(i)));
        violations.push({
          messageId: id,
          leafIds: [...new Set(leafIds)],
          path: t.path,
          reason: t.ended.some(Boolean)
            ? `the message ended at ${t.traversal.types.filter((_, i) => t.ended[i]).join(', ')} where the flow allows no end${this.checker.untruncatable > 0 ? ` (${this.checker.untruncatable} of the flow's traversals are too large for their truncations to be listed)` : ''}`
            : 'the flow allows no such traversal',
        });
      }
    }
    return { messageId: id, traversals, violations };
  }

  /** Every traversal of the message: at each visit, all successors that received one id. */
  private rebuild(root: Root, source: TraceReport): RebuiltTraversal[] {
    const succ = new Map<number, TraceReport[]>();
    for (const r of root.byHash.values()) {
      for (const p of r.predecessorHashes) {
        let l = succ.get(p);
        if (!l) succ.set(p, (l = []));
        l.push(r);
      }
    }
    const memo = new Map<number, Set<number>[]>();
    const expand = (r: TraceReport): Set<number>[] => {
      const known = memo.get(r.hash);
      if (known) return known;
      const next = succ.get(r.hash) ?? [];
      let out: Set<number>[];
      if (next.length === 0) out = [new Set([r.hash])];
      else {
        const groups = new Map<string, TraceReport[]>();
        for (const s of next) {
          let g = groups.get(s.messageId);
          if (!g) groups.set(s.messageId, (g = []));
          g.push(s);
        }
        out = [];
        for (const g of groups.values()) {
          let acc: Set<number>[] = [new Set([r.hash])];
          for (const s of g) {
            const parts = expand(s);
            const nextAcc: Set<number>[] = [];
            for (const a of acc) for (const p of parts) nextAcc.push(new Set([...a, ...p]));
            if (nextAcc.length > this.maxTraversals) throw new TooMany();
            acc = nextAcc;
          }
          out.push(...acc);
          if (out.length > this.maxTraversals) throw new TooMany();
        }
      }
      memo.set(r.hash, out);
      return out;
    };
    return expand(source).map((set) => {
      const nodes = [...set].map((h) => root.byHash.get(h)!);
      const at = new Map(nodes.map((r, i) => [r.hash, i]));
      const traversal: Traversal = {
        types: nodes.map((r) => r.workerType),
        preds: nodes.map((r) => r.predecessorHashes.filter((p) => at.has(p)).map((p) => at.get(p)!)),
      };
      const ended = nodes.map((r) => r.ended === true);
      const path = formatTraversal({
        types: traversal.types.map((t, i) => (ended[i] ? `${t}!` : t)),
        preds: traversal.preds,
      });
      return {
        traversal,
        ended,
        messageIds: nodes.map((r) => r.messageId),
        instanceIds: nodes.map((r) => r.instanceId),
        path,
      };
    });
  }

  /** Checks every message held; the violations found. */
  checkAll(): Violation[] {
    return this.messageIds().flatMap((id) => this.checkMessage(id)!.violations);
  }

  stats(): ReceiverStats {
    const paths = new Map<string, { count: number; allowed: boolean | null }>();
    let traversals = 0;
    let violations = 0;
    for (const id of this.messageIds()) {
      const c = this.checkMessage(id)!;
      violations += c.violations.length;
      const bad = new Set(c.violations.map((v) => v.path));
      for (const t of c.traversals) {
        traversals++;
        const e = paths.get(t.path) ?? { count: 0, allowed: this.checker ? !bad.has(t.path) : null };
        e.count++;
        paths.set(t.path, e);
      }
      if (c.traversals.length === 0) {
        for (const v of c.violations) {
          const e = paths.get(v.path) ?? { count: 0, allowed: false };
          e.count++;
          paths.set(v.path, e);
        }
      }
    }
    return {
      messages: this.roots.size,
      reports: this.reportCount,
      evictedMessages: this.evictedMessages,
      evictedReports: this.evictedReports,
      droppedReports: this.droppedReports,
      duplicateReports: this.duplicateReports,
      traversals,
      violations,
      paths: [...paths]
        .map(([path, e]) => ({ path, ...e }))
        .sort((a, b) => b.count - a.count || (a.path < b.path ? -1 : 1)),
    };
  }
}

function positive(n: number, what: string): number {
  if (!(Number.isSafeInteger(n) && n >= 1))
    throw new RangeError(`TraceReceiver: ${what} must be a positive integer, got ${n}`);
  return n;
}
