// `buffy receive --check`: the ids that `tcp:...?ids=1` sinks put in front of each output
// (`ID TAB payload`, see frameIds in runtime/connectors/tcp.ts). A repeated id is dropped and
// counted; at the end, per worker, the output ids (`o:W:N`, and `n:W:N`) missing between 1 and
// the highest seen are the gaps. Message ids (`m:...`) are not consecutive: only repeats are
// found among them.

const TAB = 9;

/** Consecutive ids of one worker, from 1: everything below `below` was seen, plus `extra`. */
interface Run {
  below: number;
  readonly extra: Set<number>;
  max: number;
}

export interface IdReport {
  /** Outputs that carried an id (first time seen). */
  readonly distinct: number;
  readonly duplicates: number;
  /** Frames without an id (or with one this check cannot read): written as they are. */
  readonly unlabelled: number;
  /** Missing output ids, as `worker: from..through` ranges. */
  readonly gaps: readonly { readonly worker: string; readonly from: number; readonly through: number }[];
  readonly missing: number;
  /** Human-readable lines: the summary, then up to 20 gaps. */
  readonly lines: readonly string[];
}

export class IdCheck {
  private readonly runs = new Map<string, Run>();
  private readonly messages = new Set<string>();
  private readonly duplicatesBy = new Map<string, number>();
  private distinct = 0;
  private duplicates = 0;
  private unlabelled = 0;

  /** The payload to write (the id taken off), or null for a repeat that is dropped. */
  take(frame: Uint8Array): Uint8Array | null {
    const tab = frame.indexOf(TAB);
    if (tab < 3 || frame[1] !== 0x3a /* ':' */) {
      this.unlabelled++;
      return frame;
    }
    const id = Buffer.from(frame.buffer, frame.byteOffset, tab).toString('utf8');
    const body = frame.subarray(tab + 1);
    const kind = id[0];
    let fresh: boolean;
    let who: string;
    if (kind === 'o' || kind === 'n') {
      const colon = id.lastIndexOf(':');
      const n = Number(id.slice(colon + 1));
      who = id.slice(0, colon);
      if (colon <= 2 || !Number.isSafeInteger(n) || n < 1) {
        this.unlabelled++;
        return frame;
      }
      fresh = this.seeRun(who, n);
    } else if (kind === 'm') {
      who = 'message ids';
      fresh = !this.messages.has(id);
      if (fresh) this.messages.add(id);
    } else {
      this.unlabelled++;
      return frame;
    }
    if (fresh) {
      this.distinct++;
      return body;
    }
    this.duplicates++;
    this.duplicatesBy.set(who, (this.duplicatesBy.get(who) ?? 0) + 1);
    return null;
  }

  private seeRun(who: string, n: number): boolean {
    let r = this.runs.get(who);
    if (r === undefined) {
      r = { below: 1, extra: new Set(), max: 0 };
      this.runs.set(who, r);
    }
    if (n < r.below || r.extra.has(n)) return false;
    if (n > r.max) r.max = n;
    if (n === r.below) {
      r.below++;
      while (r.extra.delete(r.below)) r.below++;
    } else r.extra.add(n);
    return true;
  }

  report(): IdReport {
    const gaps: { worker: string; from: number; through: number }[] = [];
    let missing = 0;
    for (const [who, r] of [...this.runs].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      const seen = [...r.extra].sort((a, b) => a - b);
      let at = r.below;
      for (const n of [...seen, r.max + 1]) {
        if (n > at) {
          gaps.push({ worker: who.slice(2), from: at, through: n - 1 });
          missing += n - at;
        }
        at = n + 1;
      }
    }
    const dup =
      this.duplicates === 0
        ? 'no repeat'
        : `${this.duplicates} repeated ${this.duplicates === 1 ? 'id' : 'ids'} dropped (${[
            ...this.duplicatesBy,
          ]
            .map(([w, n]) => `${w.startsWith('o:') || w.startsWith('n:') ? w.slice(2) : w}: ${n}`)
            .join(', ')})`;
    const workers = this.runs.size;
    const local = [...this.runs.keys()].filter((k) => k.startsWith('n:')).length;
    const lines = [
      `buffy receive --check: ${this.distinct} distinct outputs${workers > 0 ? ` from ${workers} ${workers === 1 ? 'worker' : 'workers'}` : ''}${local > 0 ? ` (${local} numbered by the sink, not by the engine's outbox: not stable across a worker restart)` : ''}${this.messages.size > 0 ? ` (${this.messages.size} by message id: repeats found, gaps cannot be)` : ''}; ${dup}; ${missing === 0 ? 'no gap' : `${missing} missing in ${gaps.length} ${gaps.length === 1 ? 'gap' : 'gaps'}`}${this.unlabelled > 0 ? `; ${this.unlabelled} frames without an id (is the sink tcp:HOST:PORT?ids=1?)` : ''}`,
      ...gaps
        .slice(0, 20)
        .map(
          (g) =>
            `  gap: worker ${g.worker}, output ids ${g.from === g.through ? g.from : `${g.from}..${g.through}`}`,
        ),
      ...(gaps.length > 20 ? [`  ... and ${gaps.length - 20} more gaps`] : []),
    ];
    return {
      distinct: this.distinct,
      duplicates: this.duplicates,
      unlabelled: this.unlabelled,
      gaps,
      missing,
      lines,
    };
  }
}
