// The operators of Buffy's own library modules (tla/lib), evaluated on small arguments whose
// values are worked out by hand from each operator's documented meaning.
import { describe, expect, it } from 'vitest';
import { evalAll, evalFails } from './helpers.ts';

/**
 * Checks each `[expression, expected value in TLA+ syntax]` pair in a module extending `ext`:
 * the two must be equal as TLA+ values (the message shows the value the expression had).
 */
async function expectValues(ext: string, cases: readonly (readonly [string, string])[]): Promise<void> {
  const exprs = cases.flatMap(([e, v]) => [e, `(${e}) = (${v})`]);
  const got = await evalAll(`${ext}, Naturals, Integers, Sequences, FiniteSets, TLC`, exprs);
  cases.forEach(([e, v], i) =>
    expect(`${e} is ${got[2 * i]}: equal to ${v}? ${got[2 * i + 1]}`).toBe(
      `${e} is ${got[2 * i]}: equal to ${v}? TRUE`,
    ),
  );
}

describe('TLAPS and the proof-library modules', () => {
  it('load, and their tactic names are defined (as TRUE)', async () => {
    await expectValues(
      'TLAPS, NaturalsInduction, WellFoundedInduction, FiniteSetTheorems, SequenceTheorems, FunctionTheorems, SequencesExtTheorems, FiniteSetsExtTheorems',
      [
        ['SMT', 'TRUE'],
        ['Zenon', 'TRUE'],
        ['IsaM("blast")', 'TRUE'],
        ['SMTT(10)', 'TRUE'],
        ['PTL', 'TRUE'],
      ],
    );
  });

  it('define the relations their theorems talk about', async () => {
    await expectValues('WellFoundedInduction', [
      ['SetLessThan(3, {<<1, 3>>, <<2, 3>>, <<3, 4>>}, 1..4)', '{1, 2}'],
      ['StrictSubsetOrdering({1})', '{<<{}, {1}>>}'],
      // f[1] = 1, f[i] = 2 * f[i - 1] on 1..3.
      ['FiniteNatInductiveDefConclusion(<<1, 2, 4>>, 1, LAMBDA v, i : 2 * v, 1, 3)', 'TRUE'],
      ['FiniteNatInductiveDefConclusion(<<1, 2, 5>>, 1, LAMBDA v, i : 2 * v, 1, 3)', 'FALSE'],
    ]);
  });
});

describe('Folds', () => {
  it('MapThenFoldSet takes the elements in the order choose gives', async () => {
    await expectValues('Folds, Naturals', [
      // choose = the least element: op(f(1), op(f(2), op(f(3), base))) with op = concatenation.
      [
        'MapThenFoldSet(LAMBDA x, y : x \\o y, <<>>, LAMBDA x : <<x>>, LAMBDA S : CHOOSE x \\in S : \\A y \\in S : x <= y, {3, 1, 2})',
        '<<1, 2, 3>>',
      ],
      [
        'MapThenFoldSet(LAMBDA x, y : x \\o y, <<>>, LAMBDA x : <<x>>, LAMBDA S : CHOOSE x \\in S : \\A y \\in S : x >= y, {3, 1, 2})',
        '<<3, 2, 1>>',
      ],
      [
        'MapThenFoldSet(LAMBDA x, y : x + y, 7, LAMBDA x : x * x, LAMBDA S : CHOOSE x \\in S : TRUE, {})',
        '7',
      ],
    ]);
  });
});

describe('FiniteSetsExt', () => {
  it('folds, sums and extrema', async () => {
    await expectValues('FiniteSetsExt', [
      ['FoldSet(LAMBDA x, y : x + y, 0, 0..10)', '55'],
      ['ReduceSet(LAMBDA x, y : x * y, 1..4, 1)', '24'],
      ['Sum({2, 3, 4})', '9'],
      ['Sum({})', '0'],
      ['Product({2, 3, 4})', '24'],
      ['Product({})', '1'],
      ['Max({3, -1, 7})', '7'],
      ['Min({3, -1, 7})', '-1'],
      ['MapThenSumSet(LAMBDA x : x * x, 1..3)', '14'],
      ['Quantify(1..10, LAMBDA x : x % 3 = 0)', '3'],
      ['kSubset(2, {1, 2, 3})', '{{1, 2}, {1, 3}, {2, 3}}'],
      ['kSubset(0, {1, 2})', '{{}}'],
      ['SymDiff({1, 2}, {2, 3})', '{1, 3}'],
      ['Flatten({{1}, {2, 3}, {}})', '{1, 2, 3}'],
      [
        'Choices({{1, 2}, {3}})',
        '{[s \\in {{1, 2}, {3}} |-> IF s = {3} THEN 3 ELSE 1], [s \\in {{1, 2}, {3}} |-> IF s = {3} THEN 3 ELSE 2]}',
      ],
      ['ChooseUnique(1..5, LAMBDA x : x * x = 16)', '4'],
      // FiniteSetsExt exports Functions' operators, as the community module does.
      ['Range(<<4, 4, 5>>)', '{4, 5}'],
    ]);
  });

  it('kSubset(k, S) is the set of the k-element subsets of S', async () => {
    const exprs = [
      '\\A n \\in 0..5 : \\A k \\in 0..6 : kSubset(k, 1..n) = {T \\in SUBSET (1..n) : Cardinality(T) = k}',
      'Cardinality(kSubset(3, 1..20))',
    ];
    // C(20, 3) = 20 * 19 * 18 / 6
    expect(await evalAll('FiniteSetsExt', exprs)).toEqual(['TRUE', String((20 * 19 * 18) / 6)]);
  });

  it('Max and Min of the empty set are errors', async () => {
    expect((await evalFails('FiniteSetsExt', 'Max({})')).message).toMatch(/CHOOSE/);
    expect((await evalFails('FiniteSetsExt', 'Min({})')).message).toMatch(/CHOOSE/);
  });
});

describe('Functions', () => {
  it('ranges, restrictions and inverses', async () => {
    await expectValues('Functions', [
      ['Range([x \\in 1..3 |-> x % 2])', '{0, 1}'],
      ['Restrict([x \\in 1..3 |-> 2 * x], {1, 3})', '[x \\in {1, 3} |-> 2 * x]'],
      ['RestrictDomain(<<4, 5, 6>>, LAMBDA i : i > 1)', '[i \\in 2..3 |-> i + 3]'],
      ['RestrictValues(<<4, 5, 6>>, LAMBDA v : v # 5)', '[i \\in {1, 3} |-> i + 3]'],
      ['IsRestriction(<<4>>, <<4, 5>>)', 'TRUE'],
      ['IsRestriction(<<5>>, <<4, 5>>)', 'FALSE'],
      ['Inverse(<<10, 20>>, 1..2, {10, 20})', '[v \\in {10, 20} |-> v \\div 10]'],
      ['AntiFunction([x \\in {"a", "b"} |-> IF x = "a" THEN 1 ELSE 2])', '<<"a", "b">>'],
    ]);
  });

  it('injections, surjections, bijections', async () => {
    await expectValues('Functions, FiniteSets', [
      ['IsInjective(<<1, 2, 1>>)', 'FALSE'],
      ['IsInjective(<<3, 1, 2>>)', 'TRUE'],
      ['IsSurjective(<<1, 1>>, 1..2, 1..2)', 'FALSE'],
      ['IsBijection(<<2, 1>>, 1..2, 1..2)', 'TRUE'],
      ['Injection(1..2, 1..2)', '{<<1, 2>>, <<2, 1>>}'],
      // [1..3 -> 1..2] has 8 functions; the two constant ones are not onto.
      ['Cardinality(Surjection(1..3, 1..2))', '6'],
      ['Cardinality(Bijection(1..3, 1..3))', '6'],
      ['Injection(1..3, 1..2)', '{}'],
      ['ExistsInjection(1..3, 1..2)', 'FALSE'],
      ['ExistsInjection({}, {})', 'TRUE'],
      ['ExistsSurjection(1..3, 1..2)', 'TRUE'],
      ['ExistsSurjection({}, {})', 'TRUE'],
      ['ExistsSurjection({1}, {})', 'FALSE'],
      ['ExistsSurjection({}, {1})', 'FALSE'],
      ['ExistsBijection(1..2, {"a", "b"})', 'TRUE'],
    ]);
  });

  it('ExistsInjection/Surjection/Bijection agree with the sets they stand for', async () => {
    const sizes = [0, 1, 2, 3];
    const pairs = sizes.flatMap((a) => sizes.map((b) => [a, b] as const));
    const exprs = pairs.flatMap(([a, b]) => [
      `ExistsInjection(1..${a}, 1..${b}) = (Injection(1..${a}, 1..${b}) # {})`,
      `ExistsSurjection(1..${a}, 1..${b}) = (Surjection(1..${a}, 1..${b}) # {})`,
      `ExistsBijection(1..${a}, 1..${b}) = (Bijection(1..${a}, 1..${b}) # {})`,
    ]);
    const got = await evalAll('Functions', exprs);
    expect(got).toEqual(exprs.map(() => 'TRUE'));
  });

  it('does not depend on names a spec extending it may define (Folds is not exported by Functions)', async () => {
    const got = await evalAll(
      'Functions',
      ['FoldFunction(LAMBDA x, y : x + y, 0, <<1, 2>>)'],
      'MapThenFoldSet(a, b, c, d, e) == "the spec\'s own"',
    );
    expect(got).toEqual(['3']);
  });

  it('folds over functions', async () => {
    await expectValues('Functions', [
      ['FoldFunction(LAMBDA x, y : x + y, 0, <<1, 2, 3>>)', '6'],
      ['FoldFunctionOnSet(LAMBDA x, y : x + y, 0, <<1, 2, 3>>, {1, 3})', '4'],
      ['FoldFunction(LAMBDA x, y : x + y, 5, <<>>)', '5'],
    ]);
  });
});

describe('SequencesExt', () => {
  it('sets and sequences', async () => {
    await expectValues('SequencesExt', [
      ['ToSet(<<1, 2, 1>>)', '{1, 2}'],
      ['SetToSeq({3, 1, 2})', '<<1, 2, 3>>'],
      ['SetToSeq({})', '<<>>'],
      ['SetToSortSeq({1, 2, 3}, LAMBDA a, b : a > b)', '<<3, 2, 1>>'],
      ['SetToSeqs({1, 2})', '{<<1, 2>>, <<2, 1>>}'],
      ['Cardinality(SetToSeqs(1..4))', '24'],
      ['TupleOf({0, 1}, 2)', '{<<0, 0>>, <<0, 1>>, <<1, 0>>, <<1, 1>>}'],
      ['SeqOf({1}, 2)', '{<<>>, <<1>>, <<1, 1>>}'],
      ['BoundedSeq({1, 2}, 1)', '{<<>>, <<1>>, <<2>>}'],
    ]);
  });

  it('element operations', async () => {
    await expectValues('SequencesExt', [
      ['Contains(<<1, 2>>, 2)', 'TRUE'],
      ['Contains(<<>>, 2)', 'FALSE'],
      ['Reverse(<<1, 2, 3>>)', '<<3, 2, 1>>'],
      ['Reverse(<<>>)', '<<>>'],
      ['Remove(<<1, 2, 1, 3>>, 1)', '<<2, 3>>'],
      ['ReplaceAll(<<1, 2, 1>>, 1, 5)', '<<5, 2, 5>>'],
      ['InsertAt(<<1, 2>>, 2, 9)', '<<1, 9, 2>>'],
      ['InsertAt(<<1, 2>>, 3, 9)', '<<1, 2, 9>>'],
      ['ReplaceAt(<<1, 2>>, 2, 9)', '<<1, 9>>'],
      ['RemoveAt(<<1, 2, 3>>, 2)', '<<1, 3>>'],
      ['Cons(0, <<1>>)', '<<0, 1>>'],
      ['Front(<<1, 2, 3>>)', '<<1, 2>>'],
      ['Last(<<1, 2, 3>>)', '3'],
    ]);
  });

  it('prefixes and suffixes', async () => {
    await expectValues('SequencesExt', [
      ['IsPrefix(<<1>>, <<1, 2>>)', 'TRUE'],
      ['IsPrefix(<<2>>, <<1, 2>>)', 'FALSE'],
      ['IsPrefix(<<1, 2, 3>>, <<1, 2>>)', 'FALSE'],
      ['IsPrefix(<<>>, <<>>)', 'TRUE'],
      ['IsStrictPrefix(<<1, 2>>, <<1, 2>>)', 'FALSE'],
      ['IsStrictPrefix(<<1>>, <<1, 2>>)', 'TRUE'],
      ['IsSuffix(<<2, 3>>, <<1, 2, 3>>)', 'TRUE'],
      ['IsSuffix(<<1, 3>>, <<1, 2, 3>>)', 'FALSE'],
      ['IsStrictSuffix(<<1, 2>>, <<1, 2>>)', 'FALSE'],
      ['Prefixes(<<1, 2>>)', '{<<>>, <<1>>, <<1, 2>>}'],
      ['Suffixes(<<1, 2>>)', '{<<>>, <<2>>, <<1, 2>>}'],
      ['CommonPrefixes({<<1, 2>>, <<1, 3>>})', '{<<>>, <<1>>}'],
      ['LongestCommonPrefix({<<1, 2, 3>>, <<1, 2>>, <<1, 2, 4>>})', '<<1, 2>>'],
      ['LongestCommonPrefix({<<1>>, <<2>>})', '<<>>'],
      ['LongestCommonPrefix({<<5, 6>>})', '<<5, 6>>'],
    ]);
  });

  it('folds', async () => {
    await expectValues('SequencesExt', [
      // ((10 - 1) - 2) - 3 and 1 - (2 - (3 - 10)).
      ['FoldLeft(LAMBDA a, b : a - b, 10, <<1, 2, 3>>)', '4'],
      ['FoldRight(LAMBDA a, b : a - b, <<1, 2, 3>>, 10)', '-8'],
      ['FoldLeft(LAMBDA a, b : a - b, 10, <<>>)', '10'],
      ['FoldSeq(LAMBDA a, b : a + b, 0, <<1, 2, 3>>)', '6'],
      ['FlattenSeq(<<<<1, 2>>, <<>>, <<3>>>>)', '<<1, 2, 3>>'],
      ['FlattenSeq(<<>>)', '<<>>'],
    ]);
  });

  it('zips, subsequences and searches', async () => {
    await expectValues('SequencesExt', [
      ['Zip(<<1, 2>>, <<3, 4>>)', '<<<<1, 3>>, <<2, 4>>>>'],
      ['Interleave(<<1, 2>>, <<3, 4>>)', '<<1, 3, 2, 4>>'],
      ['SubSeqs(<<1, 2>>)', '{<<>>, <<1>>, <<2>>, <<1, 2>>}'],
      ['AllSubSeqs(<<1, 2, 3>>)', '{<<>>, <<1>>, <<2>>, <<3>>, <<1, 2>>, <<1, 3>>, <<2, 3>>, <<1, 2, 3>>}'],
      ['IndexFirstSubSeq(<<2, 3>>, <<1, 2, 3, 2, 3>>)', '2'],
      ['IndexFirstSubSeq(<<>>, <<1>>)', '1'],
      ['ReplaceFirstSubSeq(<<9>>, <<2, 3>>, <<1, 2, 3, 2, 3>>)', '<<1, 9, 2, 3>>'],
      ['ReplaceFirstSubSeq(<<9>>, <<4>>, <<1, 2>>)', '<<1, 2>>'],
      ['SelectInSeq(<<1, 2, 3, 2>>, LAMBDA x : x = 2)', '2'],
      ['SelectInSeq(<<1, 2>>, LAMBDA x : x = 5)', '0'],
      ['SelectLastInSeq(<<1, 2, 3, 2>>, LAMBDA x : x = 2)', '4'],
      ['SelectInSubSeq(<<2, 1, 2>>, 2, 3, LAMBDA x : x = 2)', '3'],
      ['SelectLastInSubSeq(<<2, 1, 2>>, 1, 2, LAMBDA x : x = 2)', '1'],
    ]);
  });

  it('IndexFirstSubSeq of a sequence that does not occur is an error', async () => {
    expect((await evalFails('SequencesExt', 'IndexFirstSubSeq(<<4>>, <<1, 2>>)')).message).toMatch(/CHOOSE/);
  });
});

describe('Bitwise', () => {
  it('and, or, xor, shift on naturals', async () => {
    // 6 = 110, 3 = 011, 12 = 1100, 10 = 1010.
    await expectValues('Bitwise', [
      ['6 & 3', '2'],
      ['6 | 3', '7'],
      ['6 ^^ 3', '5'],
      ['12 & 10', '8'],
      ['12 | 10', '14'],
      ['12 ^^ 10', '6'],
      ['0 ^^ 5', '5'],
      ['5 & 0', '0'],
      ['shiftR(13, 2)', '3'],
      ['shiftR(13, 0)', '13'],
    ]);
  });

  it('agree with the binary digits on 0..31', async () => {
    const digit = (x: string, i: number): string => `((${x} \\div ${2 ** i}) % 2)`;
    const bits = [0, 1, 2, 3, 4];
    const exprs = [
      `\\A a, b \\in 0..31 : a & b = ${bits.map((i) => `${digit('a', i)} * ${digit('b', i)} * ${2 ** i}`).join(' + ')}`,
      `\\A a, b \\in 0..31 : a ^^ b = ${bits.map((i) => `((${digit('a', i)} + ${digit('b', i)}) % 2) * ${2 ** i}`).join(' + ')}`,
      `\\A a, b \\in 0..31 : a | b = (a ^^ b) + (a & b)`,
    ];
    expect(await evalAll('Bitwise, Naturals', exprs)).toEqual(['TRUE', 'TRUE', 'TRUE']);
  });
});

describe('UndirectedGraphs', () => {
  const path4 = '[node |-> 1..4, edge |-> {{1, 2}, {2, 3}, {3, 4}}]';
  const split4 = '[node |-> 1..4, edge |-> {{1, 2}, {3, 4}}]';
  it('graphs, connectivity and components', async () => {
    await expectValues('UndirectedGraphs', [
      [`IsUndirectedGraph(${path4})`, 'TRUE'],
      ['IsUndirectedGraph([node |-> 1..2, edge |-> {{1, 3}}])', 'FALSE'],
      ['IsLoopFreeUndirectedGraph([node |-> 1..2, edge |-> {{1}}])', 'FALSE'],
      [`IsStronglyConnected(${path4})`, 'TRUE'],
      [`IsStronglyConnected(${split4})`, 'FALSE'],
      ['IsStronglyConnected([node |-> {}, edge |-> {}])', 'TRUE'],
      ['IsStronglyConnected([node |-> {1}, edge |-> {}])', 'TRUE'],
      [`AreConnectedIn(1, 4, ${path4})`, 'TRUE'],
      [`AreConnectedIn(1, 4, ${split4})`, 'FALSE'],
      [`ConnectedComponents(${split4})`, '{{1, 2}, {3, 4}}'],
      ['SimplePath([node |-> 1..2, edge |-> {{1, 2}}])', '{<<1>>, <<2>>, <<1, 2>>, <<2, 1>>}'],
      // Node subsets (4) with no edge, plus the whole graph.
      ['Cardinality(UndirectedSubgraph([node |-> 1..2, edge |-> {{1, 2}}]))', '5'],
    ]);
  });

  it('IsStronglyConnected agrees with AreConnectedIn on every graph over 4 nodes', async () => {
    const exprs = [
      `\\A E \\in SUBSET ({{a, b} : a, b \\in 1..4} \\ {{1}, {2}, {3}, {4}}) :
         LET G == [node |-> 1..4, edge |-> E]
         IN IsStronglyConnected(G) = \\A m, n \\in 1..4 : \\E p \\in SimplePath(G) : p[1] = m /\\ p[Len(p)] = n`,
    ];
    expect(await evalAll('UndirectedGraphs, Sequences', exprs)).toEqual(['TRUE']);
  });
});

describe('Randomization', () => {
  it('RandomSubset has k elements of S; RandomSetOfSubsets holds at most k subsets of S', async () => {
    await expectValues('Randomization, FiniteSets', [
      ['Cardinality(RandomSubset(3, 1..10))', '3'],
      ['RandomSubset(3, 1..10) \\subseteq 1..10', 'TRUE'],
      ['RandomSubset(2, {"a", "b"})', '{"a", "b"}'],
      ['RandomSubset(0, {})', '{}'],
      ['Cardinality(RandomSetOfSubsets(4, 2, 1..6)) \\in 1..4', 'TRUE'],
      ['\\A T \\in RandomSetOfSubsets(4, 2, 1..6) : T \\subseteq 1..6', 'TRUE'],
      ['RandomSetOfSubsets(3, 6, 1..6)', '{1..6}'],
      ['RandomSetOfSubsets(3, 0, 1..6)', '{{}}'],
    ]);
  });

  it('RandomSubset with k larger than the set is an error', async () => {
    expect((await evalFails('Randomization', 'RandomSubset(3, 1..2)')).message).toMatch(
      /RandomSubset\(k, S\) needs/,
    );
  });
});

describe('TLCExt, Json, SVG', () => {
  it('AssertEq, TLCNoOp, TLCCache', async () => {
    await expectValues('TLCExt', [
      ['AssertEq(<<1>>, <<1>>)', 'TRUE'],
      ['AssertEq(1, 2)', 'FALSE'],
      ['TLCNoOp(3)', '3'],
      ['TLCCache(4, {})', '4'],
    ]);
  });

  it('operators only TLC can evaluate stop with an error naming them', async () => {
    expect((await evalFails('TLCExt', 'Trace')).message).toMatch(/TLCExt!Trace is not supported/);
    expect((await evalFails('TLCExt', 'TLCModelValue("m")')).message).toMatch(
      /TLCExt!TLCModelValue is not supported/,
    );
    expect((await evalFails('Json', 'JsonSerialize("f.json", 1)')).message).toMatch(
      /Json!JsonSerialize is not supported/,
    );
    expect((await evalFails('SVG', 'SVGSerialize(1, "f", 1)')).message).toMatch(
      /SVG!SVGSerialize is not supported/,
    );
  });

  it('SVG elements and their text', async () => {
    await expectValues('SVG', [
      [
        'SVGElemToString(Group(<<Rect(1, 2, 3, 4, <<>>), Text(5, 6, "hi", ("fill" :> "red"))>>, <<>>))',
        '"<g><rect height=\\"4\\" width=\\"3\\" x=\\"1\\" y=\\"2\\"></rect><text fill=\\"red\\" x=\\"5\\" y=\\"6\\">hi</text></g>"',
      ],
      ['Circle(1, 2, 3, ("r" :> "9")).attrs["r"]', '"9"'],
      ['SVGDoc(Line(0, 0, 1, 1, <<>>), 0, 0, 10, 20, <<>>).attrs["viewBox"]', '"0 0 10 20"'],
      ['PointOnLine([x |-> 0, y |-> 0], [x |-> 10, y |-> 20], 2)', '[x |-> 5, y |-> 10]'],
    ]);
  });
});

describe('IOUtils', () => {
  it('atoi and zeroPadN', async () => {
    await expectValues('IOUtils', [
      ['atoi("42")', '42'],
      ['atoi("-7")', '-7'],
      ['atoi("007")', '7'],
      ['zeroPadN(42, 4)', '"0042"'],
      ['zeroPadN(12345, 2)', '"12345"'],
      ['zeroPadN(0, 1)', '"0"'],
    ]);
  });

  it('running programs and file I/O stop with an error naming the operator', async () => {
    expect((await evalFails('IOUtils', 'IOExec(<<"ls">>)')).message).toMatch(
      /IOUtils!IOExec is not supported/,
    );
    expect((await evalFails('IOUtils', 'IODeserialize("f", FALSE)')).message).toMatch(
      /IOUtils!IODeserialize is not supported/,
    );
  });
});

describe('Graphs', () => {
  const cycle = '[node |-> 1..3, edge |-> {<<1, 2>>, <<2, 3>>, <<3, 1>>}]';
  const chain = '[node |-> 1..3, edge |-> {<<1, 2>>, <<2, 3>>}]';
  it('directed graphs, reachability, trees', async () => {
    await expectValues('Graphs', [
      [`IsDirectedGraph(${chain})`, 'TRUE'],
      ['IsDirectedGraph([node |-> 1..2, edge |-> {<<1, 3>>}])', 'FALSE'],
      [`Transpose(${chain})`, '[node |-> 1..3, edge |-> {<<2, 1>>, <<3, 2>>}]'],
      [`IsStronglyConnected(${cycle})`, 'TRUE'],
      [`IsStronglyConnected(${chain})`, 'FALSE'],
      [`AreConnectedIn(1, 3, ${chain})`, 'TRUE'],
      [`AreConnectedIn(3, 1, ${chain})`, 'FALSE'],
      [`ConnectionsIn(${chain})[<<2, 3>>]`, 'TRUE'],
      [`ConnectionsIn(${chain})[<<3, 2>>]`, 'FALSE'],
      ['IsTreeWithRoot([node |-> 1..3, edge |-> {<<2, 1>>, <<3, 1>>}], 1)', 'TRUE'],
      // 3 points away from the root, and 1 has an outgoing edge.
      ['IsTreeWithRoot([node |-> 1..3, edge |-> {<<2, 1>>, <<1, 3>>}], 1)', 'FALSE'],
      ['SimplePath([node |-> 1..2, edge |-> {<<1, 2>>}])', '{<<1>>, <<2>>, <<1, 2>>}'],
      ['Cardinality(DirectedSubgraph([node |-> 1..2, edge |-> {<<1, 2>>}]))', '5'],
    ]);
  });

  it('AreConnectedIn agrees with the simple paths on every graph over 3 nodes', async () => {
    const exprs = [
      `\\A E \\in SUBSET ((1..3) \\X (1..3)) :
         LET G == [node |-> 1..3, edge |-> E]
         IN \\A m, n \\in 1..3 :
              AreConnectedIn(m, n, G) = (m = n \\/ \\E p \\in SimplePath(G) : p[1] = m /\\ p[Len(p)] = n)`,
    ];
    expect(await evalAll('Graphs, Sequences', exprs)).toEqual(['TRUE']);
  });
});

describe('BagsExt', () => {
  it('adds, removes and folds copies', async () => {
    await expectValues('BagsExt, Bags', [
      ['BagAdd(SetToBag({1}), 1)', '(1 :> 2)'],
      ['BagAdd(SetToBag({1}), 2)', '(1 :> 1 @@ 2 :> 1)'],
      ['BagRemove(BagAdd(SetToBag({1}), 1), 1)', '(1 :> 1)'],
      ['BagRemove(SetToBag({1}), 1)', 'EmptyBag'],
      ['BagRemove(SetToBag({1}), 5)', 'SetToBag({1})'],
      ['BagRemoveAll(BagAdd(SetToBag({1, 2}), 1), 1)', '(2 :> 1)'],
      ['SumBag(BagAdd(SetToBag({1, 2}), 2))', '5'],
      ['ProductBag(BagAdd(SetToBag({2, 3}), 2))', '12'],
      ['FoldBag(LAMBDA x, y : x + y, 10, EmptyBag)', '10'],
    ]);
  });
});

describe('CSV', () => {
  it('file operations stop with an error naming the operator', async () => {
    expect((await evalFails('CSV', 'CSVRecords("f.csv")')).message).toMatch(
      /CSV!CSVRecords is not supported/,
    );
  });
});

describe('DyadicRationals', () => {
  it('sums and halves stay reduced', async () => {
    await expectValues('DyadicRationals', [
      ['Add(Half(One), Half(One))', 'One'],
      // 1/4 + 1/2 = 3/4
      ['Add(Half(Half(One)), Half(One))', '[num |-> 3, den |-> 4]'],
      ['Half(Zero)', 'Zero'],
      ['Add(Zero, Half(One))', '[num |-> 1, den |-> 2]'],
      // 3/8 + 5/8 = 1
      ['Add([num |-> 3, den |-> 8], [num |-> 5, den |-> 8])', 'One'],
      ['IsDyadicRational([num |-> 3, den |-> 8])', 'TRUE'],
      ['IsDyadicRational([num |-> 3, den |-> 6])', 'FALSE'],
      ['PrettyPrint([num |-> 3, den |-> 4])', '"3/4"'],
      ['PrettyPrint(Zero)', '"0"'],
      ['PrettyPrint(One)', '"1"'],
    ]);
  });
});
