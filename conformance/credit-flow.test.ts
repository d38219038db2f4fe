// The CreditFlow conformance suite: traces generated from specs/CreditFlow.tla at test time
// drive the real channel core (runtime/net/channel.ts); every edge of the model's graph must
// be replayed with matching states. Deliberately broken variants must fail with a readable
// diff, and runs of the runtime recorded step by step must validate as behaviours of the spec.
import { describe, expect, it, beforeAll } from 'vitest';
import path from 'node:path';
import os from 'node:os';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { afterAll } from 'vitest';
import { loadModel, type CheckModel } from '../tla/index.ts';
import { SeededRandom } from '../runtime/net/test-transport.ts';
import {
  formatDivergence,
  formatSuiteReport,
  replayTrace,
  runSuite,
  validateRun,
  type SpecState,
} from './harness.ts';
import {
  CREDIT_FLOW_MUTATIONS,
  SPECS_DIR,
  creditFlowAdapter,
  creditFlowSuite,
  senderCredit,
  type CreditFlowMutation,
  type CreditFlowRuntime,
} from './credit-flow.ts';

const traceDir = mkdtempSync(path.join(os.tmpdir(), 'buffy-credit-flow-test-'));
afterAll(() => rmSync(traceDir, { recursive: true, force: true }));

const capacity3Cfg = path.join(
  path.dirname(new URL(import.meta.url).pathname),
  'models/CreditFlow-capacity3.cfg',
);

describe('conformance: CreditFlow on the real channel core', () => {
  it('replays every edge of the model graph with matching states', async () => {
    const r = await runSuite(creditFlowSuite(), { traceDir });
    if (r.divergence) throw new Error(formatDivergence(r.divergence));
    expect(r.edgesTotal).toBeGreaterThan(0);
    expect(r.edgesCovered).toBe(r.edgesTotal);
    expect(r.tracesReplayed).toBe(r.traces);
    expect(r.steps).toBeGreaterThanOrEqual(r.edgesTotal);
    expect(formatSuiteReport(r)).toMatch(/CONFORMS$/);
  });

  const expectations: Record<CreditFlowMutation, { variable: string; text: RegExp }> = {
    // Without its duplicate check the receiver core hands message 1 to the application twice.
    'duplicate-data': { variable: 'buffer', text: /buffer\n\s+expected: <<1>>\n\s+actual:\s+<<1, 1>>/ },
    // Credit goes back before the consumer took the message.
    'eager-grant': { variable: 'buffer', text: /expected: <<1>>\n\s+actual:\s+<<>>/ },
    // The sender never gets its first window.
    'lose-grant': { variable: 'credit', text: /credit\n\s+expected: 2\n\s+actual:\s+0/ },
  };

  for (const mutation of CREDIT_FLOW_MUTATIONS) {
    it(`fails with a readable diff when broken: ${mutation}`, async () => {
      const r = await runSuite(creditFlowSuite({ mutation }), { traceDir });
      expect(r.divergence).not.toBeNull();
      const d = r.divergence!;
      expect(d.diffs.map((x) => x.variable)).toContain(expectations[mutation].variable);
      const text = formatDivergence(d);
      expect(text).toMatch(expectations[mutation].text);
      expect(text).toContain(`trace ${d.trace} of ${d.traces}`);
      expect(text).toContain(`step ${d.step} of ${d.steps}: ${d.action}`);
      expect(formatSuiteReport(r)).toMatch(/DIVERGED$/);
      expect(r.edgesCovered).toBeLessThan(r.edgesTotal);
      // The diverging trace was written out and replays to the same divergence.
      expect(d.traceFile).not.toBeNull();
      const itf: unknown = JSON.parse(readFileSync(d.traceFile!, 'utf8'));
      const again = replayTrace(creditFlowAdapter({ msgs: 4, capacity: 2, mutation }), itf);
      expect(again.divergence?.step).toBe(d.step);
      expect(again.divergence?.diffs).toEqual(d.diffs);
    });
  }

  it('conforms on every edge at Capacity 3 and 4, where the grant rule holds grants back', async () => {
    const r3 = await runSuite(creditFlowSuite({ cfgFile: capacity3Cfg }), { traceDir });
    if (r3.divergence) throw new Error(formatDivergence(r3.divergence));
    expect(r3.edgesCovered).toBe(r3.edgesTotal);
    const dir = mkdtempSync(path.join(traceDir, 'capacity-4-'));
    const cfg = path.join(dir, 'CreditFlow-4-4.cfg');
    writeFileSync(cfg, 'CONSTANTS\n  Msgs = 4\n  Capacity = 4\nSPECIFICATION Spec\n');
    const r4 = await runSuite(creditFlowSuite({ cfgFile: cfg }), { traceDir });
    if (r4.divergence) throw new Error(formatDivergence(r4.divergence));
    expect(r4.edgesCovered).toBe(r4.edgesTotal);
    expect(r4.edgesTotal).toBeGreaterThan(100);
  });

  it('reports, with the step and the variables, a spec that grants more eagerly than the core', async () => {
    // Without the grant rule the spec grants whenever anything is owed; at Capacity 3 the core
    // holds such a grant back, and the suite must say where.
    const text = readFileSync(`${SPECS_DIR}CreditFlow.tla`, 'utf8');
    const rule = '               /\\ (owed * 2 >= Capacity \\/ buffer = <<>>)\n';
    expect(text).toContain(rule);
    const dir = mkdtempSync(path.join(traceDir, 'eager-grant-'));
    writeFileSync(path.join(dir, 'CreditFlow.tla'), text.replace(rule, ''));
    const r = await runSuite(
      { ...creditFlowSuite({ cfgFile: capacity3Cfg }), specFile: path.join(dir, 'CreditFlow.tla') },
      { traceDir },
    );
    const d = r.divergence;
    expect(d).not.toBeNull();
    expect(d!.action).toBe('GrantCredit');
    expect(d!.diffs.map((x) => x.variable).sort()).toEqual(['owed', 'wire']);
    expect(d!.before).toMatch(/owed = 1/);
  });
});

// ---------------------------------------------------------------------------------------
// The reverse direction: runs of the runtime, chosen by a seed, recorded through the
// refinement mapping and validated against the spec with the step labeller.

type Op = 'Send' | 'Receive' | 'Consume' | 'GrantCredit';

/** What the runtime can do next: its own state decides (the producer waits for credit). */
function runtimeOps(rt: CreditFlowRuntime, msgs: number): Op[] {
  const ops: Op[] = [];
  if (rt.nextMessage <= msgs && senderCredit(rt) > 0) ops.push('Send');
  if (rt.wire.length > 0) ops.push('Receive');
  if (rt.inbox.length > 0) ops.push('Consume');
  if (rt.taken > 0) ops.push('GrantCredit');
  return ops;
}

function recordRun(
  msgs: number,
  capacity: number,
  seed: number,
  mutation?: CreditFlowMutation,
): { states: SpecState[]; ops: Op[] } {
  const adapter = creditFlowAdapter({ msgs, capacity, ...(mutation ? { mutation } : {}) });
  const rng = new SeededRandom(seed);
  const rt = adapter.create({});
  const states = [adapter.abstract(rt)];
  const done: Op[] = [];
  for (let i = 0; i < 200; i++) {
    const ops = runtimeOps(rt, msgs);
    if (ops.length === 0) break;
    const op = ops[rng.below(ops.length)]!;
    adapter.perform(rt, { name: op, args: {} });
    done.push(op);
    states.push(adapter.abstract(rt));
  }
  return { states, ops: done };
}

describe('trace validation: recorded runs of the channel core are behaviours of CreditFlow', () => {
  let cm2: CheckModel;
  let cm3: CheckModel;
  beforeAll(async () => {
    cm2 = await loadModel(`${SPECS_DIR}CreditFlow.tla`, `${SPECS_DIR}CreditFlow.cfg`);
    cm3 = await loadModel(`${SPECS_DIR}CreditFlow.tla`, capacity3Cfg);
  });

  it('validates seeded runs (Capacity 2 and 3) step by step, each labelled with its action', () => {
    for (const [cm, msgs, capacity] of [
      [cm2, 4, 2],
      [cm3, 3, 3],
    ] as const) {
      const seen = new Set<string>();
      for (let seed = 1; seed <= 20; seed++) {
        const { states, ops } = recordRun(msgs, capacity, seed);
        const v = validateRun(cm, states);
        if (!v.ok) throw new Error(`seed ${seed}: ${v.message}`);
        expect(v.labels).toHaveLength(ops.length);
        v.labels.forEach((l) => seen.add(l));
        // Every run ends with all messages consumed and all credit back at the sender.
        const last = states[states.length - 1]!;
        expect(last.consumed).toBe(msgs);
        expect(last.credit).toBe(capacity);
      }
      for (const a of ['Send()', 'Receive()', 'Consume()', 'GrantCredit()']) expect([...seen]).toContain(a);
      // At Capacity 3 a GrantCredit operation sometimes finds the grant rule unmet: the core
      // grants nothing, a stuttering step of the spec.
      if (capacity === 3) expect(seen.has('(stutter)')).toBe(true);
    }
  });

  it('validates runs where one runtime step does several spec actions (queued sends, immediate acks)', () => {
    // As the engine uses the channel: the producer hands over every message at once (the core
    // queues what it has no credit for and sends it when a grant arrives: Receive ; Send ; ...),
    // and the consumer reports each message as soon as it takes it (Consume ; GrantCredit).
    for (const [cm, msgs, capacity] of [
      [cm2, 4, 2],
      [cm3, 3, 3],
    ] as const) {
      const compound = new Set<string>();
      for (let seed = 1; seed <= 10; seed++) {
        const adapter = creditFlowAdapter({ msgs, capacity });
        const rng = new SeededRandom(seed);
        const rt = adapter.create({});
        const states = [adapter.abstract(rt)];
        for (let m = 1; m <= msgs; m++) {
          adapter.perform(rt, { name: 'Send', args: {} });
          states.push(adapter.abstract(rt));
        }
        for (let i = 0; i < 200; i++) {
          const ops = [
            ...(rt.wire.length > 0 ? ['deliver'] : []),
            ...(rt.inbox.length > 0 ? ['consume'] : []),
          ];
          if (ops.length === 0) break;
          if (ops[rng.below(ops.length)] === 'deliver') {
            adapter.perform(rt, { name: 'Receive', args: {} });
          } else {
            adapter.perform(rt, { name: 'Consume', args: {} });
            adapter.perform(rt, { name: 'GrantCredit', args: {} });
          }
          states.push(adapter.abstract(rt));
        }
        expect(states[states.length - 1]!.consumed).toBe(msgs);
        const v = validateRun(cm, states, { maxSpecSteps: capacity + 1 });
        if (!v.ok) throw new Error(`seed ${seed}: ${v.message}`);
        v.labels.filter((l) => l.includes(';')).forEach((l) => compound.add(l));
        // One spec step at a time is not enough for this runtime: the queued sends go out with the grant.
        const strict = validateRun(cm, states, { maxSpecSteps: 1 });
        expect(strict.ok).toBe(false);
        if (!strict.ok) expect(strict.message).toMatch(/is not a step of the next-state relation/);
      }
      expect([...compound]).toContain(`Receive() ; ${Array(capacity).fill('Send()').join(' ; ')}`);
      expect([...compound]).toContain('Consume() ; GrantCredit()');
    }
  });

  it('rejects a run of a broken runtime, naming the step and what changed', () => {
    const { states } = recordRun(4, 2, 7, 'lose-grant');
    const v = validateRun(cm2, states);
    expect(v.ok).toBe(false);
    if (v.ok) return;
    expect(v.step).toBe(1);
    expect(v.message).toMatch(
      /recorded step 1 \(state 0 -> state 1\) is not a step of the next-state relation of Spec/,
    );
    expect(v.message).toMatch(/wire: <<\[n \|-> 2, type \|-> "credit"\]>> -> <<>>/);
    expect(v.message).toMatch(/actions enabled in the from-state: Receive\(\)/);
  });

  it('rejects a run that does not start in an initial state', () => {
    const { states } = recordRun(4, 2, 3);
    const v = validateRun(cm2, states.slice(1));
    expect(v.ok).toBe(false);
    if (!v.ok) expect(v.message).toMatch(/recorded state 0 does not satisfy the initial predicate Init/);
  });
});
