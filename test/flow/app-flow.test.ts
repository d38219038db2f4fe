import { describe, expect, it } from 'vitest';
import wordCount from '../../examples/word-count.ts';
import { AppConfigError, defineApp } from '../../runtime/api/app.ts';
import { stringCodec } from '../../runtime/api/codec.ts';
import { compareFlows } from '../../runtime/flow/compare.ts';
import { parseFlow } from '../../runtime/flow/parse.ts';
import { printFlow } from '../../runtime/flow/print.ts';
import { topologyFlow } from '../../runtime/flow/topology.ts';
import forkApp from './fixtures/fork-app.ts';

describe('flows of applications', () => {
  it('an app declares its flow beside its pipelines; a bad flow is refused with the app and the column', () => {
    const app = forkApp({ params: { flow: 'lines;[split;counts;updates||length;lengths]' } });
    expect(app.flow).toBe('lines;[split;counts;updates||length;lengths]');
    expect(() => defineApp('x').flow('a;;b')).toThrow(AppConfigError);
    expect(() => defineApp('x').flow('a;;b')).toThrow(/app "x", flow: flow "a;;b", column 3/);
  });

  it("derives the topology's flow: forks where a stream feeds several steps, a choice between sources", () => {
    expect(printFlow(topologyFlow(wordCount({ params: {} })))).toBe('lines;split;counts;updates');
    expect(printFlow(topologyFlow(forkApp({ params: {} })))).toBe(
      'lines;[split;counts;updates||length;lengths]',
    );
    const two = defineApp('two');
    const s = two.state('s', { key: (x: string) => x, init: () => 0, update: (n: number) => n + 1 });
    two.source('a', { uri: 'memory:a', decode: stringCodec }).into(s);
    two
      .source('b', { uri: 'memory:b', decode: stringCodec })
      .map('m', (x: string) => x)
      .into(s);
    s.output.sink('out', { uri: 'count:', encode: (n: unknown) => String(n) });
    // The engine does not join: s is reached once per stream, so the tree has s twice.
    expect(printFlow(topologyFlow(two.build()))).toBe('[a;s;out|b;m;s;out]');
  });

  it('compares a declared flow with the topology both ways', () => {
    const topo = topologyFlow(forkApp({ params: {} }));
    expect(compareFlows(parseFlow('lines;[length;lengths||split;counts;updates]'), topo).ok).toBe(true);
    // Declares a choice where the topology forks: neither side's traversals are the other's.
    const r = compareFlows(parseFlow('lines;[split;counts;updates|length;lengths]'), topo);
    expect(r.ok).toBe(false);
    expect(r.notAllowed).toHaveLength(1);
    expect(r.notRealisable).toHaveLength(2);
    // A join the engine cannot produce, and a worker type that is no step.
    const j = compareFlows(parseFlow('lines;[split||length];counts;updates;lengths;nosuch'), topo);
    expect(j.ok).toBe(false);
    expect(j.unknownTypes).toEqual(['nosuch']);
    // Allowing more than the topology does is not realisable either.
    const more = compareFlows(parseFlow('lines;[split;counts;updates|length;lengths](1,2)'), topo);
    expect(more.notAllowed).toHaveLength(0);
    expect(more.notRealisable).toHaveLength(2);
  });
});
