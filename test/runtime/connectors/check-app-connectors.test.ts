// checkAppConnectors: an app's URIs are checked against the registry before anything starts.
import { describe, expect, it } from 'vitest';
import { defineApp } from '../../../runtime/api/app.ts';
import { stringCodec } from '../../../runtime/api/codec.ts';
import { ConnectorError, checkAppConnectors } from '../../../runtime/connectors/index.ts';

function app(source: string, sink: string) {
  const a = defineApp('uris');
  a.source('in', { uri: source, decode: stringCodec }).sink('out', { uri: sink, encode: stringCodec });
  return a.build();
}

describe('checkAppConnectors', () => {
  it('accepts registered schemes in their roles', () => {
    expect(() => checkAppConnectors(app('file:x.txt', 'count:'))).not.toThrow();
  });

  it('names the URI of an unknown scheme and lists the known ones', () => {
    expect(() => checkAppConnectors(app('file:x.txt', 'nope:x'))).toThrow(ConnectorError);
    expect(() => checkAppConnectors(app('file:x.txt', 'nope:x'))).toThrow(
      /sink "nope:x": no connector for scheme "nope:"; known: .*count:, file:/,
    );
  });

  it('names the step of a connector used in a role it cannot play', () => {
    expect(() => checkAppConnectors(app('count:', 'file:y.txt'))).toThrow(
      'source "count:" of step "in": the count: connector cannot be a source',
    );
  });
});
