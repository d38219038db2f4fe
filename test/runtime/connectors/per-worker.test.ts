// The workers of a cluster never share a file: the naming rule (perWorkerPath), the app as a
// worker runs it (appForClusterWorker), and URI checks that make a bad address a usage error.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { defineApp } from '../../../runtime/api/app.ts';
import { stringCodec } from '../../../runtime/api/codec.ts';
import { perWorkerPath } from '../../../runtime/connectors/file.ts';
import {
  ConnectorError,
  appForClusterWorker,
  checkAppConnectors,
} from '../../../runtime/connectors/index.ts';
import { registerTcpConnector } from '../../../runtime/connectors/tcp.ts';

registerTcpConnector();

describe('perWorkerPath', () => {
  it('puts the worker name before the extension of the last path segment', () => {
    expect(perWorkerPath('out/c.txt', 'w1')).toBe('out/c.w1.txt');
    expect(perWorkerPath('out/c', 'w2')).toBe('out/c.w2');
    expect(perWorkerPath('c.tar.gz', 'w3')).toBe('c.tar.w3.gz');
    expect(perWorkerPath('/abs/dir.d/.hidden', 'w1')).toBe('/abs/dir.d/.hidden.w1');
    expect(perWorkerPath('dir.d/file', 'w1')).toBe('dir.d/file.w1');
  });

  it('replaces {worker} instead, when the path has it', () => {
    expect(perWorkerPath('out/{worker}/c.txt', 'w1')).toBe('out/w1/c.txt');
    expect(perWorkerPath('out/c-{worker}-{worker}.txt', 'node-7')).toBe('out/c-node-7-node-7.txt');
  });

  const segment = fc.stringMatching(/^[A-Za-z0-9_.-]{1,12}$/);
  const workerName = fc.stringMatching(/^[A-Za-z][A-Za-z0-9_-]{0,8}$/);

  it('gives distinct workers distinct files, in the same folder', () => {
    fc.assert(
      fc.property(
        fc.array(segment, { minLength: 0, maxLength: 3 }),
        segment,
        workerName,
        workerName,
        (dirs, file, a, b) => {
          fc.pre(a !== b && !file.includes('{worker}'));
          const p = [...dirs, file].join('/');
          const pa = perWorkerPath(p, a);
          const pb = perWorkerPath(p, b);
          expect(pa).not.toBe(pb);
          expect(pa).not.toBe(p);
          const folder = (x: string) => x.slice(0, x.lastIndexOf('/') + 1);
          expect(folder(pa)).toBe(folder(p));
          expect(pa.slice(folder(pa).length)).toContain(a);
        },
      ),
    );
  });
});

function appWith(sinks: string[]) {
  const app = defineApp('sinks');
  const lines = app.source('in', { uri: 'memory:in', decode: stringCodec });
  sinks.forEach((uri, i) => lines.sink(`s${i}`, { uri, encode: stringCodec }));
  return app.build();
}

describe('appForClusterWorker', () => {
  it('rewrites file: sinks only, and leaves the rest of the app as it was', () => {
    const app = appWith(['file:out/c.txt', 'count:', 'stdout:', 'file:out/{worker}.log']);
    const { app: w2, rewritten } = appForClusterWorker(app, 'w2');
    expect(rewritten).toEqual([
      { step: 's0', uri: 'file:out/c.txt', workerUri: 'file:out/c.w2.txt' },
      { step: 's3', uri: 'file:out/{worker}.log', workerUri: 'file:out/w2.log' },
    ]);
    expect(w2.sinks.map((s) => s.uri)).toEqual(['file:out/c.w2.txt', 'count:', 'stdout:', 'file:out/w2.log']);
    expect(w2.nodes.map((n) => n.id)).toEqual(app.nodes.map((n) => n.id));
    expect(w2.nodes.every((n, i) => n.kind === 'sink' || n === app.nodes[i])).toBe(true);
    expect(w2.sinks.every((s) => w2.nodes[s.id] === s)).toBe(true);
    expect(app.sinks[0]!.uri).toBe('file:out/c.txt');
  });

  it('returns the same app when nothing needs a per-worker name', () => {
    const app = appWith(['count:', 'tcp:127.0.0.1:9']);
    expect(appForClusterWorker(app, 'w1')).toEqual({ app, rewritten: [] });
  });
});

describe('checkAppConnectors: the rest of a URI is checked before anything starts', () => {
  for (const [uri, message] of [
    ['tcp:nohost', "sink 'tcp:nohost': expected HOST:PORT, got 'nohost'"],
    ['tcp:127.0.0.1:99999', 'port 99999'],
    ['file:', 'missing path'],
    ['stdout:x', 'stdout: takes no argument'],
  ] as const) {
    it(`a sink "${uri}" is a ConnectorError (a usage error)`, () => {
      let err: unknown;
      try {
        checkAppConnectors(appWith([uri]));
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ConnectorError);
      expect((err as Error).message).toContain(message);
    });
  }

  it('a good app passes', () => {
    expect(() => checkAppConnectors(appWith(['tcp:127.0.0.1:9000', 'file:x.txt', 'stdout:']))).not.toThrow();
  });
});
