// State-step transitions: a failed update leaves no trace; the state index counts changes only.
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { defineApp } from '../../../runtime/api/app.ts';
import type { StateSpec } from '../../../runtime/api/app.ts';
import { jsonCodec, stringCodec } from '../../../runtime/api/codec.ts';
import {
  clearMemoryConnectors,
  memorySinkPayloads,
  setMemorySource,
} from '../../../runtime/connectors/index.ts';
import { MemoryDeadLetterSink } from '../../../runtime/engine/dead-letters.ts';
import { freezeState, StateShapeError } from '../../../runtime/engine/frozen-state.ts';
import { startEmbedded } from '../../../runtime/engine/embedded.ts';
import { partitionOfKey } from '../../../runtime/engine/partition.ts';
import { createSystemClock } from '../../../runtime/system.ts';
import type { Logger } from '../../../runtime/types.ts';

const clock = createSystemClock();
const silent: Logger = { info: () => undefined, warn: () => undefined, error: () => undefined };
afterEach(() => clearMemoryConnectors());

type Msg = { k: string; n: number };

/** Runs `k:n` lines through one state step with `spec`; returns sink payloads, dead letters,
 * final states and the engine. */
async function runState<S>(
  tag: string,
  lines: readonly string[],
  spec: StateSpec<Msg, S, string>,
  partitions = 4,
) {
  setMemorySource(`${tag}-in`, lines, 3);
  const app = defineApp('state-updates', { partitions });
  app
    .source('in', { uri: `memory:${tag}-in`, decode: stringCodec })
    .map('parse', (l: string) => ({ k: l.split(':')[0]!, n: Number(l.split(':')[1]) }))
    .state('st', { ...spec, codec: jsonCodec<Msg>() })
    .sink('out', { uri: `memory:${tag}-out`, encode: stringCodec });
  const dead = new MemoryDeadLetterSink();
  const run = startEmbedded(app.build(), { clock, log: silent, deadLetters: dead });
  const summary = await run.done;
  const states = new Map<string, S>();
  for (const [k, s] of run.engine.finishView().states<S>('st')) states.set(String(k), s);
  return { out: memorySinkPayloads(`${tag}-out`).map(String), dead: dead.letters, states, run, summary };
}

const linesArb = fc.array(
  fc
    .tuple(fc.constantFrom('a', 'b', 'c', 'd', 'e'), fc.integer({ min: 0, max: 20 }))
    .map(([k, n]) => `${k}:${n}`),
  { maxLength: 60 },
);

describe('a failed update leaves no trace', () => {
  it('changing the state in place and then throwing changes nothing (flat and nested state)', async () => {
    await fc.assert(
      fc.asyncProperty(linesArb, async (lines) => {
        clearMemoryConnectors();
        type S = { total: number; seen: number[] };
        const r = await runState<S>('fail', lines, {
          key: (m) => m.k,
          init: () => ({ total: 0, seen: [] }),
          update: (s, m, emit) => {
            if (m.n % 7 === 6) {
              // A buggy update: changes its state, emits, then throws.
              emit(`${m.k} bogus`);
              s.total += 1000;
              s.seen.push(-1);
              throw new Error('unlucky');
            }
            const next = { total: s.total + m.n, seen: [...s.seen, m.n] };
            emit(`${m.k}=${next.total}`);
            return next;
          },
        });
        const expected = new Map<string, S>();
        let failures = 0;
        const outputs: string[] = [];
        for (const l of lines) {
          const [k, v] = l.split(':');
          const n = Number(v);
          if (n % 7 === 6) {
            failures++;
            continue;
          }
          const prev = expected.get(k!) ?? { total: 0, seen: [] };
          const next = { total: prev.total + n, seen: [...prev.seen, n] };
          expected.set(k!, next);
          outputs.push(`${k}=${next.total}`);
        }
        expect(r.states).toEqual(expected);
        expect(r.out).toEqual(outputs);
        expect(r.dead.length).toBe(failures);
        expect(r.summary.metrics.stateApplied.st).toBe(lines.length - failures);
      }),
      { numRuns: 60 },
    );
  });

  it('an in-place change is refused at once, naming the step; the message is dead-lettered', async () => {
    const r = await runState<{ n: number }>('mutate', ['a:1', 'a:2'], {
      key: (m) => m.k,
      init: () => ({ n: 0 }),
      update: (s, _m, emit) => {
        s.n++;
        emit(`n=${s.n}`);
        return s;
      },
    });
    expect(r.out).toEqual([]);
    expect(r.dead.map((d) => d.step)).toEqual(['st', 'st']);
    expect(r.dead[0]!.error).toMatch(/TypeError.*read.only|TypeError.*not extensible|Cannot assign/i);
    expect(r.states.size).toBe(0);
  });

  it('a state that is not plain data is refused with the step and path named', async () => {
    const r = await runState<{ seen: Set<number> }>('shape', ['a:1'], {
      key: (m) => m.k,
      init: () => ({ seen: new Set<number>() }),
      update: (s) => s,
    });
    expect(r.dead).toHaveLength(1);
    expect(r.dead[0]!.error).toContain('StateShapeError');
    expect(r.dead[0]!.error).toContain('step "st" holds a Set at state.seen');
    expect(r.states.size).toBe(0);
  });

  it('an update returning undefined is an error that says what to return', async () => {
    const r = await runState<number>('undef', ['a:1'], {
      key: (m) => m.k,
      init: () => 0,
      update: () => undefined as unknown as number,
    });
    expect(r.dead[0]!.error).toContain('update of state step "st" returned undefined');
  });
});

describe('the state index counts state changes, not messages', () => {
  it('identity transitions (same state returned, nothing emitted) leave the index unchanged', async () => {
    await fc.assert(
      fc.asyncProperty(linesArb, async (lines) => {
        clearMemoryConnectors();
        // n = 0: identity; n odd: a new state without output; n even > 0: same state, one output.
        const r = await runState<number>('index', lines, {
          key: (m) => m.k,
          init: () => 0,
          update: (s, m, emit) => {
            if (m.n === 0) return s;
            if (m.n % 2 === 1) return s + m.n;
            emit(`${m.k} ${s}`);
            return s;
          },
        });
        const changes = new Array<number>(4).fill(0);
        const seen = new Set<string>();
        for (const l of lines) {
          const [k, v] = l.split(':');
          const n = Number(v);
          const isNew = !seen.has(k!);
          seen.add(k!);
          if (isNew || n !== 0) changes[partitionOfKey(k!, 4)]!++;
        }
        for (let p = 0; p < 4; p++) expect(r.run.engine.stateIndexOf('st', p)).toBe(changes[p]);
        expect(r.summary.metrics.stateApplied.st).toBe(lines.length);
      }),
      { numRuns: 60 },
    );
  });
});

describe('freezeState', () => {
  it('freezes nested plain data, stops at frozen objects, and names the path of a bad value', () => {
    const s = freezeState({ a: [{ b: 1 }], c: null }, 'x');
    expect(Object.isFrozen(s.a[0])).toBe(true);
    expect(freezeState(5, 'x')).toBe(5);
    expect(() => freezeState({ a: [1, new Map()] }, 'x')).toThrow(StateShapeError);
    expect(() => freezeState({ a: [1, new Map()] }, 'x')).toThrow('holds a Map at state.a[1]');
    expect(() => freezeState({ f: () => 1 }, 'x')).toThrow('holds a function at state.f');
  });
});
