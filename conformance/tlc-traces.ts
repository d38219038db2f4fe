// Traces made by TLC itself (tla2tools.jar, named by TLA2TOOLS_JAR), for the conformance suites'
// `--engine tlc`: TLC explores the model and dumps its state graph (`-dump dot,actionlabels`);
// the states are read back as TLA+ values (TLC's printer syntax), every edge is labelled with
// its action instance by the project's step labeller (TLC's dot labels name the action but not
// its parameters), and traces covering every edge of TLC's graph are cut from it. The suite
// replays them like its own: a runtime that conforms must conform on TLC's graph too, and the
// harness checks that each replayed step is an edge of the built-in checker's graph.
import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  labelKey,
  labelStep,
  traceToItf,
  type ActionLabel,
  type CheckModel,
  type ItfTrace,
  type State,
} from '../tla/index.ts';
import { javaAvailable, parseTlcValue, tlcJar } from '../tla/check/tlc.ts';
import { edgeCoverTraces } from '../tla/check/traces.ts';
import type { Value } from '../tla/values.ts';

export interface TlcTraces {
  readonly traces: ItfTrace[];
  /** TLC's graph: distinct states, and edges labelled with their action instances. */
  readonly states: number;
  readonly edges: number;
  readonly tlcMs: number;
}

/** Why TLC traces cannot be made here, or null when they can. */
export function tlcUnavailable(): string | null {
  if (tlcJar() === null) return 'TLA2TOOLS_JAR does not name a readable tla2tools.jar';
  if (!javaAvailable()) return 'java is not on PATH';
  return null;
}

function unescapeDot(s: string): string {
  return s.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
}

const NODE = /^(-?\d+) \[label="((?:[^"\\]|\\.)*)"(.*)\];?\s*$/;
const EDGE = /^(-?\d+) -> (-?\d+) \[label="((?:[^"\\]|\\.)*)"/;

/** Reads TLC's dot dump: states (by variable, in the model's order), initial ones, and edges. */
export function parseTlcDot(
  text: string,
  variables: readonly string[],
): { states: State[]; init: number[]; edges: { from: number; to: number; action: string }[] } {
  const index = new Map<string, number>();
  const states: State[] = [];
  const init: number[] = [];
  const pendingEdges: { from: string; to: string; action: string }[] = [];
  for (const line of text.split('\n')) {
    const n = NODE.exec(line);
    if (n) {
      const [, id, label, rest] = n;
      if (index.has(id!)) continue;
      const vars = new Map<string, Value>();
      // One conjunct per variable; TLC wraps a long value over several lines.
      for (const conj of unescapeDot(label!).split(/\n(?=\/\\ )/)) {
        const m = /^\/\\ ([A-Za-z_][A-Za-z0-9_]*) = ([\s\S]*)$/.exec(conj.trim());
        if (!m) throw new Error(`TLC's state graph: cannot read the state line '${conj}'`);
        vars.set(m[1]!, parseTlcValue(m[2]!));
      }
      const state = variables.map((v) => {
        const x = vars.get(v);
        if (x === undefined) throw new Error(`TLC's state graph: a state without variable ${v}`);
        return x;
      });
      index.set(id!, states.length);
      if (/style ?= ?filled/.test(rest!)) init.push(states.length);
      states.push(state);
      continue;
    }
    const e = EDGE.exec(line);
    if (e) pendingEdges.push({ from: e[1]!, to: e[2]!, action: unescapeDot(e[3]!) });
  }
  const edges = pendingEdges.map((e) => {
    const from = index.get(e.from);
    const to = index.get(e.to);
    if (from === undefined || to === undefined)
      throw new Error(`TLC's state graph: an edge ${e.from} -> ${e.to} to a state it does not list`);
    return { from, to, action: e.action };
  });
  return { states, init, edges };
}

/** Runs TLC on the model with a state graph dump and cuts edge-cover traces from its graph. */
export async function tlcEdgeCoverTraces(
  cm: CheckModel,
  specFile: string,
  cfgFile: string,
): Promise<TlcTraces> {
  const why = tlcUnavailable();
  if (why !== null) throw new Error(`TLC traces: ${why}`);
  const work = mkdtempSync(path.join(os.tmpdir(), 'buffy-tlc-traces-'));
  try {
    const base = path.basename(specFile);
    copyFileSync(specFile, path.join(work, base));
    copyFileSync(cfgFile, path.join(work, 'model.cfg'));
    const started = Date.now();
    const args = [
      '-XX:+UseParallelGC',
      '-cp',
      path.resolve(tlcJar()!),
      'tlc2.TLC',
      '-workers',
      '1',
      '-config',
      'model.cfg',
      '-metadir',
      path.join(work, 'states'),
      '-dump',
      'dot,actionlabels',
      'graph',
      base,
    ];
    const { code, output } = await new Promise<{ code: number; output: string }>((resolve, reject) => {
      const child = spawn('java', args, { cwd: work, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (b: Buffer) => (out += b.toString('utf8')));
      child.stderr.on('data', (b: Buffer) => (out += b.toString('utf8')));
      child.on('error', reject);
      child.on('close', (c) => resolve({ code: c ?? 1, output: out }));
    });
    if (code !== 0)
      throw new Error(
        `TLC on ${path.basename(specFile)} with ${path.basename(cfgFile)} exited with code ${code}:\n${output.slice(-2000)}`,
      );
    const tlcMs = Date.now() - started;
    const dot = readFileSync(path.join(work, 'graph.dot'), 'utf8');
    const g = parseTlcDot(dot, cm.model.variables);
    // Label every edge with its action instance (TLC names the action, not its parameters).
    const labelled: { to: number; label: ActionLabel }[][] = g.states.map(() => []);
    let edges = 0;
    const seen = new Set<string>();
    for (const e of g.edges) {
      const s = g.states[e.from]!;
      const t = g.states[e.to]!;
      // TLC names a disjunct under a quantifier after the enclosing definition (`Next`).
      const all = labelStep(cm, s, t);
      const named = all.filter((l) => l.name === e.action);
      const labels = named.length > 0 ? named : all;
      if (labels.length === 0)
        throw new Error(`TLC's state graph has a ${e.action} step that is no step of the built-in model`);
      for (const label of labels) {
        const key = `${e.from}|${labelKey(label)}|${e.to}`;
        if (seen.has(key)) continue;
        seen.add(key);
        labelled[e.from]!.push({ to: e.to, label });
        edges++;
      }
    }
    const cover = edgeCoverTraces({ states: g.states, init: g.init, labelled });
    const traces = cover.traces.map((t, i) =>
      traceToItf(cm.model.variables, t, {
        source: specFile,
        initName: cm.init.name,
        description: `TLC trace ${i + 1}`,
      }),
    );
    return { traces, states: g.states.length, edges, tlcMs };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
