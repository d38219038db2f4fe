import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Flow } from '../../runtime/flow/ast.ts';
import { flowEquals, isGroup, relay, seq } from '../../runtime/flow/ast.ts';
import { FlowSyntaxError, parseFlow } from '../../runtime/flow/parse.ts';
import { printFlow } from '../../runtime/flow/print.ts';
import { FlowLimitError, flowTraversals } from '../../runtime/flow/semantics.ts';
import type { Traversal } from '../../runtime/flow/traversal.ts';
import { assertTraversal, canonicalKey, formatTraversal } from '../../runtime/flow/traversal.ts';
import { permutation, renumber, smallFlow } from './arbitrary.ts';

/** A traversal written by hand: edges "A0>B1" (worker type, then the node's number). */
function dag(...edges: string[]): Traversal {
  const types: string[] = [];
  const preds: number[][] = [];
  const node = (s: string): number => {
    const m = /^([A-Za-z]+)(\d+)$/.exec(s);
    if (!m) throw new Error(`bad node ${s}`);
    const i = Number(m[2]);
    types[i] = m[1]!;
    preds[i] ??= [];
    return i;
  };
  for (const e of edges) {
    const [a, b] = e.split('>');
    const i = node(a!);
    if (b !== undefined) preds[node(b)]!.push(i);
  }
  return { types, preds };
}

const keys = (s: string): string[] => [...flowTraversals(parseFlow(s)).keys()].sort();
const expectTraversals = (s: string, ...ts: Traversal[]): void =>
  expect(keys(s)).toEqual(ts.map(canonicalKey).sort());

describe('flow notation: meaning (hand-worked traversals)', () => {
  it('a sequence is a path', () => {
    expectTraversals(
      'lines;split;counts;updates',
      dag('lines0>split1', 'split1>counts2', 'counts2>updates3'),
    );
  });
  it('a fork takes every branch and the next worker joins them', () => {
    expectTraversals('A;[B||C];D', dag('A0>B1', 'A0>C2', 'B1>D3', 'C2>D3'));
  });
  it('a choice takes one branch', () => {
    expectTraversals('A;[B|C;E];D', dag('A0>B1', 'B1>D2'), dag('A0>C1', 'C1>E2', 'E2>D3'));
  });
  it('an inclusive choice takes min..max branches in parallel', () => {
    expectTraversals(
      'A;[B|C|E](2,3)',
      dag('A0>B1', 'A0>C2'),
      dag('A0>B1', 'A0>E2'),
      dag('A0>C1', 'A0>E2'),
      dag('A0>B1', 'A0>C2', 'A0>E3'),
    );
    expectTraversals('A;[B](0,1);C', dag('A0>C1'), dag('A0>B1', 'B1>C2'));
  });
  it('@ joins the ends at the origin again', () => {
    expectTraversals('A;[B||C];@;D', dag('A0>B1', 'A0>C2', 'B1>A3', 'C2>A3', 'A3>D4'));
    // Inside a branch, @ after a worker returns to the group's origin.
    expectTraversals('A;[B;@||C];D', dag('A0>B1', 'B1>A2', 'A0>C3', 'A2>D4', 'C3>D4'));
    // After a choice the one branch taken relays back.
    expectTraversals('A;[B|C];@', dag('A0>B1', 'B1>A2'), dag('A0>C1', 'C1>A2'));
    // The origin of a group nested in a branch is the worker before it in that branch.
    expectTraversals('A;[X;[B||C];@||E]', dag('A0>X1', 'X1>B2', 'X1>C3', 'B2>X4', 'C3>X4', 'A0>E5'));
  });
  it('X;@;Y is X;Y, and an @ whose ends are only its origin adds nothing', () => {
    expect(keys('A;B;@;C')).toEqual(keys('A;B;C'));
    expect(keys('A;[B](0,1);@;C')).toEqual([...keys('A;C'), ...keys('A;B;A;C')].sort());
  });
  it('a flow may begin with a choice, each branch a different source', () => {
    expectTraversals('[A|B];C', dag('A0>C1'), dag('B0>C1'));
  });
});

describe('flow notation: errors say where, what was expected and which rule', () => {
  const cases: [string, number, RegExp][] = [
    ['[A||B];C', 1, /may not begin with a fork/],
    ['A|[B||C]', 3, /may not begin with a fork/],
    ['[B|C](1,2);D', 1, /may not begin with an inclusive choice/],
    ['@;A', 1, /may not begin with "@"/],
    ['A;;B', 3, /expected a worker type, "@" or "\["/],
    ['A;[B||C|D]', 8, /mixed at one level/],
    ['A;[B||C](1,2)', 9, /not to a fork/],
    ['A;[@||B]', 4, /may not begin a branch/],
    ['A;[B|C](0,3)', 11, /greater than the 2 branches/],
    ['A;[B|C](2,1)', 9, /greater than max/],
    ['A;[B|C](0,0)', 11, /max must be at least 1/],
    ['[B;@|C];D', 4, /no origin/],
    ['A;@;@', 5, /relay directly after a relay/],
    ['A;[B', 5, /expected "\]" to close the "\[" at column 3/],
    ['A;B]', 4, /without its "\["/],
    ['A;$', 3, /unexpected character "\$"/],
    ['', 1, /expected a worker type/],
  ];
  for (const [text, column, re] of cases) {
    it(JSON.stringify(text), () => {
      let err: unknown;
      try {
        parseFlow(text);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(FlowSyntaxError);
      const e = err as FlowSyntaxError;
      expect(e.column).toBe(column);
      expect(e.message).toMatch(re);
      expect(e.message).toContain('(rule: ');
      expect(e.message).toContain(`\n  ${' '.repeat(column - 1)}^`);
    });
  }
});

describe('flow notation: laws', () => {
  it('print then parse gives the flow back, and printing is a fixed point', () => {
    fc.assert(
      fc.property(smallFlow({ maxDepth: 3 }), (f) => {
        const s = printFlow(f);
        const g = parseFlow(s);
        expect(flowEquals(g, f)).toBe(true);
        expect(printFlow(g)).toBe(s);
      }),
      { numRuns: 300 },
    );
  });

  it('spaces and plain brackets do not change a flow', () => {
    fc.assert(
      fc.property(smallFlow(), (f) => {
        const s = printFlow(f);
        const spaced = s.replace(/(;|\|\||\||\[|\]|,|\(|\))/g, ' $1 ');
        expect(flowEquals(parseFlow(spaced), f)).toBe(true);
        expect(
          flowEquals(
            parseFlow(`[${s.split(';')[0]}];${s.split(';').slice(1).join(';')}`.replace(/;$/, '')),
            f,
          ),
        ).toBe(s.split(';')[0]!.indexOf('[') < 0);
      }),
      { numRuns: 200 },
    );
  });

  it('every traversal has one source and no cycle, and keys do not depend on node numbering', () => {
    fc.assert(
      fc.property(
        smallFlow().chain((f) => {
          const ts = [...flowTraversals(f).values()];
          return fc
            .tuple(fc.constant(ts), fc.nat(ts.length - 1))
            .chain(([ts2, i]) => fc.tuple(fc.constant(ts2[i]!), permutation(ts2[i]!.types.length)));
        }),
        ([t, perm]) => {
          assertTraversal(t);
          expect(canonicalKey(renumber(t, perm))).toBe(canonicalKey(t));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('keys tell apart traversals that colour refinement alone would not', () => {
    // Same multiset of (type, predecessor types) per node, different shape.
    const a = dag('A0>B1', 'A0>B2', 'B1>C3', 'B2>D4');
    const b = dag('A0>B1', 'A0>B2', 'B1>C3', 'B1>D4');
    expect(canonicalKey(a)).not.toBe(canonicalKey(b));
    expect(canonicalKey(dag('A0>B1', 'A0>B2'))).not.toBe(canonicalKey(dag('A0>B1', 'B1>B2')));
  });

  it('X;@;Y is X;Y at the top level (adding @ after a worker changes nothing)', () => {
    fc.assert(
      fc.property(smallFlow(), fc.nat(), (f, at) => {
        const items = f.kind === 'seq' ? f.items : [f];
        const names = items.flatMap((it, i) =>
          it.kind === 'name' && items[i + 1]?.kind !== 'relay' ? [i] : [],
        );
        fc.pre(names.length > 0);
        const i = names[at % names.length]!;
        const g = seq([...items.slice(0, i + 1), { ...relay }, ...items.slice(i + 1)]);
        expect([...flowTraversals(g).keys()].sort()).toEqual([...flowTraversals(f).keys()].sort());
      }),
      { numRuns: 200 },
    );
  });

  it('@ may not be added or removed inside a fork or choice: adding one after a worker in a branch changes the traversals', () => {
    // The branch's traversals gain a relay node back to the group's origin.
    const addRelayInBranch = (f: Flow, pick: number): Flow | null => {
      const sites: ((f: Flow) => Flow)[] = [];
      const walk = (g: Flow, rebuild: (x: Flow) => Flow, inBranch: boolean): void => {
        const items = g.kind === 'seq' ? g.items : [g];
        items.forEach((it, i) => {
          const put = (x: Flow): Flow => rebuild(seq([...items.slice(0, i), x, ...items.slice(i + 1)]));
          if (it.kind === 'name' && inBranch && items[i + 1]?.kind !== 'relay') {
            sites.push(() => rebuild(seq([...items.slice(0, i + 1), { ...relay }, ...items.slice(i + 1)])));
          }
          if (isGroup(it)) {
            it.branches.forEach((b, k) =>
              walk(b, (nb) => put({ ...it, branches: it.branches.map((x, j) => (j === k ? nb : x)) }), true),
            );
          }
        });
      };
      walk(f, (x) => x, false);
      return sites.length === 0 ? null : sites[pick % sites.length]!(f);
    };
    fc.assert(
      fc.property(smallFlow(), fc.nat(), (f, pick) => {
        const g = addRelayInBranch(f, pick);
        fc.pre(g !== null);
        let gt: string[];
        try {
          gt = [...flowTraversals(g!).keys()].sort();
        } catch (e) {
          // A relay in a branch of a group that begins the flow has no origin: refused.
          expect((e as Error).message).toMatch(/no origin/);
          return;
        }
        expect(gt).not.toEqual([...flowTraversals(f).keys()].sort());
      }),
      { numRuns: 200 },
    );
  });

  it('the number of traversals is bounded', () => {
    const wide = `A;${Array.from({ length: 8 }, (_, i) => `[B${i}|C${i}|D${i}](1,3)`).join(';')}`;
    expect(() => flowTraversals(parseFlow(wide), { maxTraversals: 1000 })).toThrow(FlowLimitError);
  });

  it('formats a tree traversal in flow notation', () => {
    expect(formatTraversal(dag('A0>B1', 'A0>C2', 'C2>D3'))).toBe('A;[B||C;D]');
    expect(formatTraversal(dag('A0>B1', 'A0>C2', 'B1>D3', 'C2>D3'))).toBe(
      '{A#0->B#1, A#0->C#2, B#1->D#3, C#2->D#3}',
    );
  });
});
