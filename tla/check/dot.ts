// The state graph as GraphViz DOT (`buffy check --dump-graph FILE`), in the form TLC's
// `-dump dot,actionlabels FILE` writes: one box per distinct state labelled with its variables
// (initial states filled), one edge per distinct (successor, action) labelled with the action's
// name, and the states of each breadth-first level on one rank. Node names are the states'
// fingerprints as signed 64-bit integers, as TLC names them (the values differ: each checker
// has its own fingerprint function).
import type { ActionLabel, State } from '../eval/index.ts';
import { toTla } from '../values.ts';
import type { StateGraph } from './engine.ts';

/** DOT's quoted string: backslashes and quotes escaped, line breaks as \n. */
function quote(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
}

/** The state as TLC prints it: `x = v` for one variable, else `/\ x = v` lines. */
export function stateText(vars: readonly string[], s: State): string {
  if (vars.length === 1) return `${vars[0]} = ${toTla(s[0]!)}`;
  return vars.map((v, i) => `/\\ ${v} = ${toTla(s[i]!)}`).join('\n');
}

export function stateGraphDot(
  vars: readonly string[],
  g: StateGraph<State, ActionLabel>,
  fingerprint: (s: State) => bigint,
): string {
  const n = g.states.length;
  const id = g.states.map((s) => BigInt.asIntN(64, fingerprint(s)).toString());
  // Breadth-first levels from the initial states.
  const level = new Int32Array(n).fill(-1);
  const order: number[] = [];
  for (const i of g.init) {
    if (level[i] === -1) {
      level[i] = 0;
      order.push(i);
    }
  }
  for (let h = 0; h < order.length; h++) {
    const i = order[h]!;
    for (const j of g.succ[i] ?? []) {
      if (level[j] === -1) {
        level[j] = level[i]! + 1;
        order.push(j);
      }
    }
  }
  const out: string[] = [
    'strict digraph DiskGraph {',
    'node [shape=box,style=rounded]',
    'nodesep=0.35;',
    'subgraph cluster_graph {',
    'color="white";',
  ];
  const written = new Uint8Array(n);
  const node = (i: number, initial: boolean): void => {
    if (written[i]) return;
    written[i] = 1;
    const text = quote(stateText(vars, g.states[i]!));
    out.push(
      initial ? `${id[i]} [label=${text},style = filled]` : `${id[i]} [label=${text},tooltip=${text}];`,
    );
  };
  const isInit = new Uint8Array(n);
  for (const i of g.init) isInit[i] = 1;
  for (const i of order) {
    node(i, isInit[i] === 1);
    const edges = g.labelled?.[i] ?? (g.succ[i] ?? []).map((to) => ({ to, label: null }));
    for (const e of edges) {
      const name = e.label ? quote(e.label.name) : null;
      out.push(`${id[i]} -> ${id[e.to]}${name ? ` [label=${name},color="black",fontcolor="black"]` : ''};`);
      node(e.to, isInit[e.to] === 1);
    }
  }
  const ranks: number[][] = [];
  for (const i of order) (ranks[level[i]!] ??= []).push(i);
  for (const r of ranks) out.push(`{rank = same; ${r.map((i) => `${id[i]};`).join('')}}`);
  out.push('}', '}');
  return out.join('\n') + '\n';
}
