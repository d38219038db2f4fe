// Connector registry: URI scheme -> factory. Built in: `file:PATH` (source and sink),
// `stdout:` (sink), `memory:NAME` (source of lines given by tests; sink that keeps payloads),
// `count:` (sink that only counts). `tcp:` comes from `registerTcpConnector()` in
// runtime/connectors/tcp.ts (it imports this module, so importing it here would be a cycle);
// `buffy run` and `buffy node` call it. A scheme may also register a `check` of the rest of a
// URI (run by checkAppConnectors before anything starts, so that a bad address is a usage error)
// and a `perWorkerSink` rewrite for the workers of a cluster (`file:`: one file per worker).
import type {
  ConnectorContext,
  ConnectorFactory,
  ConnectorUri,
  RawPayload,
  SinkBatch,
  SinkConnector,
  SourceConnector,
  SourceContext,
} from '../types.ts';
import type { Application, AppNode, SinkNode } from '../api/app.ts';
import { fileConnector, filePathTextOfUri, perWorkerFileUri } from './file.ts';
import { stdoutConnector, stdoutRestOk } from './stdout.ts';

export class ConnectorError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConnectorError';
  }
}

/** What a scheme may add to its factory. */
export interface ConnectorHooks {
  /** Checks the rest of a URI for a role, before anything starts; throws an Error whose message
   * names the URI and says what is wrong. */
  check?(uri: ConnectorUri, role: 'source' | 'sink'): void;
  /** The sink URI one worker of a cluster opens instead of `uri`, when workers must not share
   * its target (a `file:` sink: one file per worker). */
  perWorkerSink?(uri: ConnectorUri, workerName: string): string;
}

const registry = new Map<string, ConnectorFactory>();
const hooks = new Map<string, ConnectorHooks>();

/** Registers (or replaces) the factory for a scheme (`tcp`, not `tcp:`). */
export function registerConnector(
  scheme: string,
  factory: ConnectorFactory,
  extra: ConnectorHooks = {},
): void {
  if (!/^[a-z][a-z0-9+.-]*$/.test(scheme)) {
    throw new ConnectorError(
      `registerConnector: scheme "${scheme}" must be lowercase letters, digits, + . -`,
    );
  }
  registry.set(scheme, factory);
  hooks.set(scheme, extra);
}

export function registeredSchemes(): string[] {
  return [...registry.keys()].sort();
}

export function parseConnectorUri(raw: string): ConnectorUri {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):(.*)$/s.exec(raw);
  if (!m) {
    throw new ConnectorError(
      `"${raw}" is not a connector URI; expected SCHEME:..., e.g. file:PATH, stdout:, tcp:HOST:PORT`,
    );
  }
  return { raw, scheme: m[1]!.toLowerCase(), rest: m[2]! };
}

function factoryFor(uri: ConnectorUri, role: 'source' | 'sink'): ConnectorFactory {
  const f = registry.get(uri.scheme);
  if (!f) {
    throw new ConnectorError(
      `${role} "${uri.raw}": no connector for scheme "${uri.scheme}:"; known: ${registeredSchemes()
        .map((s) => `${s}:`)
        .join(', ')}`,
    );
  }
  return f;
}

/** Checks that every source and sink URI of an app names a registered connector that can play
 * its role, before anything starts: a typo in a URI is one usage error, not a failure of every
 * worker at start. (The rest of a URI is checked by its connector when it is created.) */
export function checkAppConnectors(app: Pick<Application, 'sources' | 'sinks'>): void {
  for (const [role, nodes] of [
    ['source', app.sources],
    ['sink', app.sinks],
  ] as const) {
    for (const n of nodes) {
      const uri = parseConnectorUri(n.uri);
      const f = factoryFor(uri, role);
      if (!(role === 'source' ? f.createSource : f.createSink)) {
        throw new ConnectorError(
          `${role} "${n.uri}" of step "${n.name}": the ${uri.scheme}: connector cannot be a ${role}`,
        );
      }
      try {
        hooks.get(uri.scheme)?.check?.(uri, role);
      } catch (err) {
        throw new ConnectorError((err as Error).message);
      }
    }
  }
}

/** A sink whose URI a worker of a cluster opens under another name. */
export interface PerWorkerSink {
  readonly step: string;
  readonly uri: string;
  readonly workerUri: string;
}

/**
 * The app as one worker of a cluster runs it: sinks whose scheme asks for it (`file:`) open a
 * per-worker URI (`file:out/c.txt` -> `file:out/c.w1.txt` on worker w1), so that workers never
 * write the same file. Returns the app unchanged when no sink is rewritten.
 */
export function appForClusterWorker(
  app: Application,
  workerName: string,
): { app: Application; rewritten: PerWorkerSink[] } {
  const rewritten: PerWorkerSink[] = [];
  const nodes = app.nodes.map((n): AppNode => {
    if (n.kind !== 'sink') return n;
    const uri = parseConnectorUri(n.uri);
    const workerUri = hooks.get(uri.scheme)?.perWorkerSink?.(uri, workerName);
    if (workerUri === undefined || workerUri === n.uri) return n;
    rewritten.push({ step: n.name, uri: n.uri, workerUri });
    return { ...n, uri: workerUri };
  });
  if (rewritten.length === 0) return { app, rewritten };
  const clustered: Application = Object.freeze({
    ...app,
    nodes,
    sinks: nodes.filter((n): n is SinkNode => n.kind === 'sink'),
  });
  return { app: clustered, rewritten };
}

export function createSource(raw: string, ctx: ConnectorContext): SourceConnector {
  const uri = parseConnectorUri(raw);
  const f = factoryFor(uri, 'source');
  if (!f.createSource)
    throw new ConnectorError(`source "${raw}": the ${uri.scheme}: connector cannot be a source`);
  return f.createSource(uri, ctx);
}

export function createSink(raw: string, ctx: ConnectorContext): SinkConnector {
  const uri = parseConnectorUri(raw);
  const f = factoryFor(uri, 'sink');
  if (!f.createSink) throw new ConnectorError(`sink "${raw}": the ${uri.scheme}: connector cannot be a sink`);
  return f.createSink(uri, ctx);
}

// ----- memory: and count: -----

/** Named in-memory channels for tests: a `memory:NAME` source emits the payloads set with
 * `setMemorySource`; a `memory:NAME` sink appends to `memorySinkPayloads(NAME)`. */
const memorySources = new Map<string, { payloads: readonly RawPayload[]; batchSize: number }>();
const memorySinks = new Map<string, RawPayload[]>();

export function setMemorySource(name: string, payloads: readonly RawPayload[], batchSize = 1024): void {
  memorySources.set(name, { payloads, batchSize });
}

export function memorySinkPayloads(name: string): RawPayload[] {
  let a = memorySinks.get(name);
  if (!a) memorySinks.set(name, (a = []));
  return a;
}

export function clearMemoryConnectors(): void {
  memorySources.clear();
  memorySinks.clear();
}

class MemorySource implements SourceConnector {
  private stopped = false;
  constructor(
    readonly uri: string,
    private readonly name: string,
  ) {}
  async run(ctx: SourceContext): Promise<void> {
    const src = memorySources.get(this.name);
    if (!src)
      throw new ConnectorError(`source "${this.uri}": nothing was set with setMemorySource("${this.name}")`);
    for (let i = 0; i < src.payloads.length && !this.stopped && !ctx.signal.aborted; i += src.batchSize) {
      await ctx.emit({ payloads: src.payloads.slice(i, i + src.batchSize), firstOffset: i });
    }
  }
  async stop(): Promise<void> {
    this.stopped = true;
  }
}

class MemorySink implements SinkConnector {
  private readonly out: RawPayload[];
  constructor(
    readonly uri: string,
    name: string,
  ) {
    this.out = memorySinkPayloads(name);
  }
  write(batch: SinkBatch): void {
    for (const p of batch.payloads) this.out.push(p);
  }
  async flush(): Promise<void> {}
  async close(): Promise<void> {}
}

/** Discards payloads, counts messages. */
export class CountSink implements SinkConnector {
  readonly wantsPayloads = false;
  count = 0;
  constructor(readonly uri: string) {}
  write(batch: SinkBatch): void {
    this.count += batch.count ?? batch.payloads.length;
  }
  async flush(): Promise<void> {}
  async close(): Promise<void> {}
}

registerConnector('memory', {
  createSource: (uri) => new MemorySource(uri.raw, uri.rest),
  createSink: (uri) => new MemorySink(uri.raw, uri.rest),
});
registerConnector('count', { createSink: (uri) => new CountSink(uri.raw) });
registerConnector('file', fileConnector, {
  check: (uri) => void filePathTextOfUri(uri),
  perWorkerSink: perWorkerFileUri,
});
registerConnector('stdout', stdoutConnector, {
  check: (uri, role) => {
    if (role === 'sink') stdoutRestOk(uri);
  },
});
