// Coverage (TLC's -coverage): per action of the next-state relation, how many states were
// generated through it and how many of those were new distinct states; actions never enabled
// are listed with zero counts. Actions are found as the checker labels steps: the next-state
// relation is split through \/, \E and operator definitions, and a step is labelled with the
// innermost operator it went through.
import type { Expr } from '../ast.ts';
import { formatLoc } from '../errors.ts';
import type { ActionLabel, Ctx } from '../eval/index.ts';
import type { ActionCount } from './engine.ts';
import type { CheckModel } from './model.ts';

export interface CoverageEntry {
  /** The action (operator) name; the initial predicate's name for the initial states. */
  readonly action: string;
  /** Where the action is defined (file:line:col), null when not known. */
  readonly location: string | null;
  /** States generated through the action (TLC's second figure). */
  readonly generated: number;
  /** New distinct states it produced (TLC's first figure). */
  readonly distinct: number;
}

interface ActionSite {
  readonly name: string;
  readonly location: string | null;
}

/** The actions of `next` as the checker labels them, in order of appearance. */
export function actionsOf(cm: CheckModel): ActionSite[] {
  const out: ActionSite[] = [];
  const seen = new Set<string>();
  const leaf = (name: string, location: string | null): void => {
    if (seen.has(name)) return;
    seen.add(name);
    out.push({ name, location });
  };
  const visiting = new Set<Expr>();
  const walk = (e: Expr, ctx: Ctx, name: string, location: string | null): void => {
    if (visiting.has(e)) return;
    visiting.add(e);
    try {
      switch (e.kind) {
        case 'or':
          for (const a of e.args) walk(a, ctx, name, location);
          return;
        case 'quant':
          if (e.quantifier === 'exists') walk(e.body, ctx, name, location);
          else leaf(name, location);
          return;
        case 'name':
        case 'apply':
        case 'moduleRef': {
          const u = cm.model.unfold(e, ctx);
          if (!u) {
            leaf(name, location);
            return;
          }
          const op = e.kind === 'name' ? e.name : e.op;
          walk(u.expr, u.ctx, op, formatLoc(u.expr.loc));
          return;
        }
        default:
          leaf(name, location);
      }
    } finally {
      visiting.delete(e);
    }
  };
  walk(cm.next.expr, cm.next.ctx, cm.next.name, formatLoc(cm.next.expr.loc));
  return out;
}

/** The action a labelled step counts under. */
export function coverageKey(label: ActionLabel): string {
  return label.name;
}

/**
 * The coverage table: the initial states first, then every action found in the next-state
 * relation (zero counts for those never enabled), then any other label the search met.
 */
export function coverageReport(cm: CheckModel, counts: ReadonlyMap<string, ActionCount>): CoverageEntry[] {
  const init = counts.get(INIT_KEY) ?? { generated: 0, distinct: 0 };
  const out: CoverageEntry[] = [
    {
      action: cm.init.name,
      location: formatLoc(cm.init.expr.loc),
      generated: init.generated,
      distinct: init.distinct,
    },
  ];
  const listed = new Set<string>([INIT_KEY]);
  for (const a of actionsOf(cm)) {
    listed.add(a.name);
    const c = counts.get(a.name) ?? { generated: 0, distinct: 0 };
    out.push({ action: a.name, location: a.location, generated: c.generated, distinct: c.distinct });
  }
  for (const [name, c] of counts) {
    if (!listed.has(name))
      out.push({ action: name, location: null, generated: c.generated, distinct: c.distinct });
  }
  return out;
}

/** The key the initial states count under (not a TLA+ identifier, so no action shares it). */
export const INIT_KEY = '<init>';

/** Text lines for the summary, as TLC prints them: `name (location): distinct:generated`. */
export function coverageLines(entries: readonly CoverageEntry[]): string[] {
  const lines = ['Coverage (action: distinct new states : states generated):'];
  for (const e of entries) {
    lines.push(`  ${e.action}${e.location ? ` (${e.location})` : ''}: ${e.distinct}:${e.generated}`);
  }
  const never = entries.slice(1).filter((e) => e.generated === 0);
  if (never.length > 0) lines.push(`Actions never enabled: ${never.map((e) => e.action).join(', ')}`);
  return lines;
}
