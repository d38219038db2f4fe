import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { AppConfigError, defineApp, isApplication } from '../../../runtime/api/app.ts';
import { jsonCodec, stringCodec } from '../../../runtime/api/codec.ts';
import { AppOptionsError, parseAppOptions, parseParams, toAppOptions } from '../../../runtime/api/options.ts';

const counter = {
  key: (w: string) => w,
  init: () => ({ n: 0 }),
  update: (s: { n: number }, _w: string, emit: (n: number) => void) => {
    emit(s.n + 1);
    return { n: s.n + 1 };
  },
};

describe('application API validation', () => {
  it('builds a valid topology with merged pipelines and a fork', () => {
    const app = defineApp('merge', { partitions: 8 });
    const counts = app.state('counts', { ...counter, codec: stringCodec });
    app.source('a', { uri: 'memory:a', decode: stringCodec }).into(counts);
    const b = app
      .source('b', { uri: 'memory:b', decode: stringCodec })
      .map('upper', (s: string) => s.toUpperCase());
    b.into('counts');
    b.sink('raw', { uri: 'count:', encode: stringCodec });
    counts.output
      .filter('big', (n: number) => n > 1)
      .sink('out', { uri: 'stdout:', encode: (n: number) => String(n) });
    const built = app.build();
    expect(isApplication(built)).toBe(true);
    expect(built.partitionCount).toBe(8);
    expect(built.sources.map((s) => [s.name, s.sourceId])).toEqual([
      ['a', 0],
      ['b', 1],
    ]);
    const st = built.states[0]!;
    expect(st.inputs.map((i) => built.nodes[i]!.name).sort()).toEqual(['a', 'upper']);
    expect(
      built.nodes
        .find((n) => n.name === 'upper')!
        .next.map((i) => built.nodes[i]!.name)
        .sort(),
    ).toEqual(['counts', 'raw']);
  });

  it.each([
    ['a bad app name', () => defineApp('9lives'), /application name: value must start with a letter/],
    ['a bad partition count', () => defineApp('x', { partitions: 0 }), /app "x": field "partitions"/],
    [
      'a source without URI scheme',
      () => defineApp('x').source('in', { uri: 'data.txt', decode: stringCodec }),
      /app "x", source "in": field "uri" must be a connector URI/,
    ],
    [
      'a source without decoder',
      () => defineApp('x').source('in', { uri: 'memory:x' } as never),
      /app "x", source "in": field "decode" must be a decoder function or a codec/,
    ],
    [
      'a state step without key function',
      () => defineApp('x').state('s', { init: () => 0, update: () => undefined } as never),
      /app "x", state step "s": field "key" must be a function/,
    ],
    [
      'a state step with a broken codec',
      () => defineApp('x').state('s', { ...counter, codec: { name: 'c', encode: 1 } } as never),
      /app "x", state step "s": field "codec.encode" must be a function/,
    ],
    [
      'a map step whose function is missing',
      () =>
        defineApp('x')
          .source('in', { uri: 'memory:x', decode: stringCodec })
          .map('m', undefined as never),
      /app "x", map step "m": function: value must be a function/,
    ],
    [
      'a duplicated name',
      () => {
        const a = defineApp('x');
        a.source('in', { uri: 'memory:x', decode: stringCodec }).map('in', (s: string) => s);
      },
      /the name "in" is used twice/,
    ],
    [
      'into an undeclared state step',
      () => defineApp('x').source('in', { uri: 'memory:x', decode: stringCodec }).into('counts'),
      /into\("counts"\) names no state step/,
    ],
  ])('rejects %s, naming the field', (_what, f, message) => {
    expect(f).toThrow(AppConfigError);
    expect(f).toThrow(message);
  });

  it('rejects incomplete topologies at build()', () => {
    expect(() => defineApp('x').build()).toThrow(/has no source/);
    const dangling = defineApp('d');
    dangling.source('in', { uri: 'memory:x', decode: stringCodec }).map('m', (s: string) => s);
    expect(() => dangling.build()).toThrow(/map "m": its output goes nowhere/);
    const unfed = defineApp('u');
    unfed
      .source('in', { uri: 'memory:x', decode: stringCodec })
      .sink('out', { uri: 'count:', encode: stringCodec });
    unfed
      .state('lonely', { ...counter, codec: jsonCodec<string>() })
      .output.sink('o2', { uri: 'count:', encode: String });
    expect(() => unfed.build()).toThrow(/state step "lonely": nothing feeds it/);
    const twice = defineApp('t');
    twice
      .source('in', { uri: 'memory:x', decode: stringCodec })
      .sink('out', { uri: 'count:', encode: stringCodec });
    twice.build();
    expect(() => twice.build()).toThrow(/build\(\) called twice/);
  });

  it('rejects a cycle through a shared state step', () => {
    const app = defineApp('cyc');
    const st = app.state('s', { ...counter, codec: jsonCodec<string>() });
    app.source('in', { uri: 'memory:x', decode: stringCodec }).into(st);
    st.output.map('again', (n: number) => String(n)).into(st);
    expect(() => app.build()).toThrow(/loops back into "s"/);
  });
});

describe('app options', () => {
  it('parses --source, --sink and repeated --param (also --flag=value)', () => {
    expect(
      parseAppOptions(['--source', 'file:a.txt', '--param', 'top=5', '--sink=stdout:', '--param=x=a=b']),
    ).toEqual({
      source: 'file:a.txt',
      sink: 'stdout:',
      params: { top: '5', x: 'a=b' },
    });
    expect(parseAppOptions([])).toEqual({ params: {} });
  });

  it.each([
    [['--sauce', 'x:'], /--sauce: unknown option/],
    [['--source'], /--source: missing value/],
    [['--source', 'nope'], /--source: must be a connector URI/],
    [['--param', 'novalue'], /--param: must be KEY=VALUE/],
    [['--param', 'a=1', '--param', 'a=2'], /parameter "a" is given twice/],
    [['--sink', 'count:', '--sink', 'stdout:'], /--sink: given twice/],
  ])('rejects %j naming the flag', (argv, message) => {
    expect(() => parseAppOptions(argv)).toThrow(AppOptionsError);
    expect(() => parseAppOptions(argv)).toThrow(message);
  });

  it('validates commander-style values with toAppOptions', () => {
    expect(toAppOptions({ param: ['k=v'] })).toEqual({ params: { k: 'v' } });
    expect(() => toAppOptions({ sink: 42 })).toThrow(/--sink/);
  });

  it("validates an app's params with its schema, naming the parameter and the value", () => {
    const schema = z.object({ top: z.coerce.number().int().min(1).default(10) });
    expect(parseParams(schema, {})).toEqual({ top: 10 });
    expect(parseParams(schema, { top: '3' })).toEqual({ top: 3 });
    expect(() => parseParams(schema, { top: 'many' })).toThrow(/--param top \(given "many"\)/);
    expect(() => parseParams(schema, { tpo: '3' })).toThrow(
      '--param tpo: unknown parameter; this application takes top',
    );
  });
});
