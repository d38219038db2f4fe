// The application API: pipelines from sources through stateless steps (map, filter, flatMap)
// and state steps (one state object per key, partitioned by a stable hash of the key) to sinks.
//
//   const app = defineApp('word-count');
//   app.source('lines', { uri: 'file:text.txt', decode: stringCodec })
//     .flatMap('split', (line) => line.split(' '))
//     .state('counts', { key: (w) => w, init: () => 0, codec: stringCodec,
//                        update: (n, w, emit) => { emit(`${w} ${n + 1}`); return n + 1; } })
//     .sink('out', { uri: 'stdout:', encode: stringCodec });
//   export default () => app.build();
//
// Several pipelines may feed one state step: declare it with `app.state(name, spec)` and send
// streams into it with `.into(handle)` or `.into('name')`.
import { z } from 'zod';
import type { EngineMetrics, MessageId, RawPayload } from '../types.ts';
import { asDecoder, asEncoder, jsonCodec } from './codec.ts';
import type { Codec, Decoder, Encoder } from './codec.ts';
import { parseFlow } from '../flow/parse.ts';

/** A bad application definition: says which app, which step and which field. */
export class AppConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AppConfigError';
  }
}

export type Key = string | number;
/** Called by a state step's update function for each output; never store it. */
export type Emit<Out> = (output: Out) => void;

export interface StateSpec<In, S, Out> {
  /** The partition key of an input message (a string or a finite number). */
  key: (input: In) => Key;
  /** The state of a key seen for the first time (never `undefined`). */
  init: (key: Key) => S;
  /** Applies one input and returns the key's next state; calls `emit` zero or more times.
   *
   * State is a value. The engine freezes every state it commits (deeply; plain data only:
   * primitives, plain objects, arrays), so `state` cannot be changed in place: build the next
   * state (`{ ...state, n: state.n + 1 }`, or a number) and return it. The returned state is
   * committed only if `update` returns normally; if it throws, the key's state stays as it was
   * (a new key gets none), its outputs are withdrawn and the message goes to the dead letters.
   * Returning `state` itself and emitting nothing is the identity transition: the partition's
   * state index does not advance. Returning `undefined` is an error.
   *
   * `id` is the message's id (source, offset, sub), deterministic under replay: the key for
   * idempotent updates (runtime/state). The object is reused for the next message: read its
   * fields, never keep it or put it in the state. */
  update: (state: S, input: In, emit: Emit<Out>, key: Key, id: MessageId) => S;
  /** Codec for inputs that cross workers; default JSON. */
  codec?: Codec<In>;
}

export interface SourceSpec<T> {
  uri: string;
  decode: Decoder<T> | Codec<T>;
}

export interface SinkSpec<T> {
  uri: string;
  encode: Encoder<T> | Codec<T>;
}

/** What an app's finish hook sees on a worker once its run has ended. */
export interface FinishView {
  readonly workerName: string;
  readonly elapsedMs: number;
  readonly metrics: EngineMetrics;
  /** The local state entries of a state step: [key, state]. */
  states<S = unknown>(step: string): Iterable<readonly [Key, S]>;
}
export type FinishHook = (view: FinishView) => string | void;

// ----- the compiled topology (plain data the engine runs) -----

interface NodeBase {
  readonly id: number;
  readonly name: string;
  /** ids of downstream nodes */
  readonly next: number[];
}
export interface SourceNode extends NodeBase {
  readonly kind: 'source';
  readonly sourceId: number;
  readonly uri: string;
  readonly decode: Decoder<unknown>;
}
export interface MapNode extends NodeBase {
  readonly kind: 'map';
  readonly fn: (value: unknown) => unknown;
}
export interface FilterNode extends NodeBase {
  readonly kind: 'filter';
  readonly fn: (value: unknown) => boolean;
}
export interface FlatMapNode extends NodeBase {
  readonly kind: 'flatMap';
  readonly fn: (value: unknown) => readonly unknown[] | Iterable<unknown>;
}
export interface StateNode extends NodeBase {
  readonly kind: 'state';
  readonly key: (input: unknown) => Key;
  readonly init: (key: Key) => unknown;
  readonly update: (state: unknown, input: unknown, emit: Emit<unknown>, key: Key, id: MessageId) => unknown;
  readonly codec: Codec<unknown>;
  /** ids of nodes feeding this step */
  readonly inputs: number[];
}
export interface SinkNode extends NodeBase {
  readonly kind: 'sink';
  readonly uri: string;
  readonly encode: Encoder<unknown>;
}
export type AppNode = SourceNode | MapNode | FilterNode | FlatMapNode | StateNode | SinkNode;

export const DEFAULT_PARTITION_COUNT = 128;

/** A built, validated application. */
export interface Application {
  readonly kind: 'buffy-application';
  readonly name: string;
  readonly partitionCount: number;
  /** Every node; `nodes[i].id === i`. */
  readonly nodes: readonly AppNode[];
  readonly sources: readonly SourceNode[];
  readonly states: readonly StateNode[];
  readonly sinks: readonly SinkNode[];
  readonly onFinish?: FinishHook;
  /** The declared flow of the app's messages, in flow notation (runtime/flow/README.md). */
  readonly flow?: string;
  /** False: the app runs at-least-once even where a worker has a store (default true). */
  readonly exactlyOnce?: boolean;
}

export function isApplication(value: unknown): value is Application {
  return (
    typeof value === 'object' && value !== null && (value as { kind?: unknown }).kind === 'buffy-application'
  );
}

// ----- validation -----

const nameSchema = z
  .string({ error: 'must be a string' })
  .regex(/^[A-Za-z][A-Za-z0-9_.-]*$/, 'must start with a letter and hold only letters, digits, _ . -')
  .max(100, 'must be at most 100 characters');
const fnSchema = z.custom<(...args: any[]) => unknown>((v) => typeof v === 'function', {
  message: 'must be a function',
});
const uriSchema = z
  .string({ error: 'must be a string' })
  .regex(
    /^[A-Za-z][A-Za-z0-9+.-]*:/,
    'must be a connector URI such as file:PATH, stdout:, tcp:HOST:PORT, memory:NAME',
  );
const codecSchema = z.object(
  { name: z.string(), encode: fnSchema, decode: fnSchema },
  { error: 'must be a codec' },
);
const decoderSchema = z.union([fnSchema, codecSchema], { error: 'must be a decoder function or a codec' });
const encoderSchema = z.union([fnSchema, codecSchema], { error: 'must be an encoder function or a codec' });

const sourceSpecSchema = z.object({ uri: uriSchema, decode: decoderSchema });
const sinkSpecSchema = z.object({ uri: uriSchema, encode: encoderSchema });
const stateSpecSchema = z.object({
  key: fnSchema,
  init: fnSchema,
  update: fnSchema,
  codec: codecSchema.optional(),
});
const appSettingsSchema = z.object({
  partitions: z.number({ error: 'must be a number' }).int('must be an integer').min(1).max(65536).optional(),
  exactlyOnce: z.boolean({ error: 'must be true or false' }).optional(),
});

/** defineApp's settings: `partitions` (default 128); `exactlyOnce` (default true): false runs
 * the app at-least-once even where a worker has a store (docs/exactly-once.md). */
export interface AppSettings {
  partitions?: number;
  exactlyOnce?: boolean;
}

function check<T>(schema: z.ZodType<T>, value: unknown, where: string): T {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const field = issue.path.length > 0 ? `field "${issue.path.join('.')}"` : 'value';
  throw new AppConfigError(`${where}: ${field} ${issue.message}`);
}

// ----- the builder -----

/** A stream of typed messages in an application under construction. */
export class Stream<T> {
  /** @internal */
  constructor(
    private readonly b: AppBuilder,
    /** @internal */ readonly nodeId: number,
  ) {}

  map<U>(name: string, fn: (value: T) => U): Stream<U> {
    return this.b.addStep(this.nodeId, 'map', name, fn) as Stream<U>;
  }

  filter(name: string, predicate: (value: T) => boolean): Stream<T> {
    return this.b.addStep(this.nodeId, 'filter', name, predicate) as Stream<T>;
  }

  /** One input -> zero or more outputs (an array is fastest; any iterable is accepted). */
  flatMap<U>(name: string, fn: (value: T) => readonly U[] | Iterable<U>): Stream<U> {
    return this.b.addStep(this.nodeId, 'flatMap', name, fn) as Stream<U>;
  }

  /** A state step fed by this stream only (sugar for `app.state` + `into`). */
  state<S, Out>(name: string, spec: StateSpec<T, S, Out>): Stream<Out> {
    const handle = this.b.state(name, spec);
    this.into(handle);
    return handle.output;
  }

  /** Feeds this stream into a state step declared with `app.state` (by handle or by name). */
  into(target: StateHandle<T, any> | string): void {
    this.b.connectInto(this.nodeId, typeof target === 'string' ? target : target.name);
  }

  sink(name: string, spec: SinkSpec<T>): void {
    this.b.addSink(this.nodeId, name, spec as SinkSpec<unknown>);
  }
}

export interface StateHandle<In, Out> {
  readonly name: string;
  /** The stream of the step's outputs. */
  readonly output: Stream<Out>;
  /** Phantom marker for the input type. */
  readonly _input?: (input: In) => void;
}

type MutableNode = { -readonly [K in keyof AppNode]: AppNode[K] } & Record<string, unknown>;

export class AppBuilder {
  private readonly nodes: MutableNode[] = [];
  private readonly names = new Map<string, number>();
  private finish: FinishHook | undefined;
  private declaredFlow: string | undefined;
  private built = false;
  private readonly partitionCount: number;
  private readonly exactlyOnce: boolean | undefined;

  constructor(
    readonly name: string,
    settings: AppSettings = {},
  ) {
    check(nameSchema, name, 'application name');
    const s = check(appSettingsSchema, settings, `app "${name}"`);
    this.partitionCount = s.partitions ?? DEFAULT_PARTITION_COUNT;
    this.exactlyOnce = s.exactlyOnce;
  }

  private where(kind: string, name: unknown): string {
    return `app "${this.name}", ${kind} "${String(name)}"`;
  }

  private claimName(kind: string, name: string): void {
    check(nameSchema, name, `app "${this.name}", ${kind} name "${String(name)}"`);
    if (this.built) throw new AppConfigError(`${this.where(kind, name)}: the application is already built`);
    if (this.names.has(name)) {
      throw new AppConfigError(
        `${this.where(kind, name)}: the name "${name}" is used twice; step names must be unique`,
      );
    }
    this.names.set(name, this.nodes.length);
  }

  private push(node: Record<string, unknown>): number {
    const id = this.nodes.length;
    this.nodes.push({ ...node, id, next: [] } as unknown as MutableNode);
    return id;
  }

  source<T>(name: string, spec: SourceSpec<T>): Stream<T> {
    this.claimName('source', name);
    const s = check(sourceSpecSchema, spec, this.where('source', name));
    const sourceId = this.nodes.filter((n) => n.kind === 'source').length;
    const id = this.push({ kind: 'source', name, sourceId, uri: s.uri, decode: asDecoder(spec.decode) });
    return new Stream<T>(this, id);
  }

  state<In, S, Out>(name: string, spec: StateSpec<In, S, Out>): StateHandle<In, Out> {
    this.claimName('state step', name);
    check(stateSpecSchema, spec, this.where('state step', name));
    const id = this.push({
      kind: 'state',
      name,
      key: spec.key,
      init: spec.init,
      update: spec.update,
      codec: spec.codec ?? jsonCodec<In>(),
      inputs: [],
    });
    return { name, output: new Stream<Out>(this, id) };
  }

  /** Declares the paths a message may take, e.g. `app.flow('lines;split;counts;updates')`
   * (notation: runtime/flow/README.md); `buffy flow check` compares it with the topology. */
  flow(text: string): this {
    try {
      parseFlow(text);
    } catch (err) {
      throw new AppConfigError(`app "${this.name}", flow: ${(err as Error).message}`);
    }
    this.declaredFlow = text;
    return this;
  }

  onFinish(hook: FinishHook): this {
    check(fnSchema, hook, `app "${this.name}", onFinish`);
    this.finish = hook;
    return this;
  }

  /** @internal */
  addStep(from: number, kind: 'map' | 'filter' | 'flatMap', name: string, fn: unknown): Stream<unknown> {
    this.claimName(`${kind} step`, name);
    check(fnSchema, fn, `${this.where(`${kind} step`, name)}: function`);
    this.assertCanContinue(from, name);
    const id = this.push({ kind, name, fn });
    this.nodes[from]!.next.push(id);
    return new Stream<unknown>(this, id);
  }

  /** @internal */
  addSink(from: number, name: string, spec: SinkSpec<unknown>): void {
    this.claimName('sink', name);
    const s = check(sinkSpecSchema, spec, this.where('sink', name));
    this.assertCanContinue(from, name);
    const id = this.push({ kind: 'sink', name, uri: s.uri, encode: asEncoder(spec.encode) });
    this.nodes[from]!.next.push(id);
  }

  /** @internal */
  connectInto(from: number, stateName: string): void {
    const target = this.names.get(stateName);
    const node = target === undefined ? undefined : this.nodes[target];
    if (!node || node.kind !== 'state') {
      throw new AppConfigError(
        `app "${this.name}": into("${stateName}") names no state step; declare it first with app.state("${stateName}", ...)`,
      );
    }
    if (this.built) throw new AppConfigError(`app "${this.name}": the application is already built`);
    this.assertCanContinue(from, stateName);
    this.nodes[from]!.next.push(node.id);
    (node.inputs as number[]).push(from);
  }

  private assertCanContinue(from: number, name: string): void {
    const prev = this.nodes[from]!;
    if (prev.kind === 'sink') {
      throw new AppConfigError(`app "${this.name}", step "${name}": cannot follow sink "${prev.name}"`);
    }
  }

  /** Validates the whole topology and freezes it. */
  build(): Application {
    if (this.built) throw new AppConfigError(`app "${this.name}": build() called twice`);
    const nodes = this.nodes as unknown as AppNode[];
    if (!nodes.some((n) => n.kind === 'source')) {
      throw new AppConfigError(
        `app "${this.name}": has no source; add one with app.source(name, { uri, decode })`,
      );
    }
    for (const n of nodes) {
      if (n.kind === 'state' && n.inputs.length === 0) {
        throw new AppConfigError(
          `${this.where('state step', n.name)}: nothing feeds it; use stream.into("${n.name}")`,
        );
      }
      if (n.kind !== 'sink' && n.next.length === 0) {
        throw new AppConfigError(
          `${this.where(n.kind === 'state' ? 'state step' : n.kind, n.name)}: its output goes nowhere; end the pipeline with .sink(name, { uri, encode }) or .into(stateStep)`,
        );
      }
    }
    this.assertAcyclic(nodes);
    this.built = true;
    for (const n of nodes) Object.freeze(n.next);
    const app: Application = {
      kind: 'buffy-application',
      name: this.name,
      partitionCount: this.partitionCount,
      nodes,
      sources: nodes.filter((n): n is SourceNode => n.kind === 'source'),
      states: nodes.filter((n): n is StateNode => n.kind === 'state'),
      sinks: nodes.filter((n): n is SinkNode => n.kind === 'sink'),
      ...(this.finish ? { onFinish: this.finish } : {}),
      ...(this.declaredFlow !== undefined ? { flow: this.declaredFlow } : {}),
      ...(this.exactlyOnce !== undefined ? { exactlyOnce: this.exactlyOnce } : {}),
    };
    return Object.freeze(app);
  }

  private assertAcyclic(nodes: readonly AppNode[]): void {
    const color = new Uint8Array(nodes.length); // 0 new, 1 on stack, 2 done
    const visit = (id: number): void => {
      color[id] = 1;
      for (const m of nodes[id]!.next) {
        if (color[m] === 1) {
          throw new AppConfigError(
            `app "${this.name}": the pipeline loops back into "${nodes[m]!.name}" from "${nodes[id]!.name}"; topologies must be acyclic`,
          );
        }
        if (color[m] === 0) visit(m);
      }
      color[id] = 2;
    };
    for (const n of nodes) if (color[n.id] === 0) visit(n.id);
  }
}

export function defineApp(name: string, settings: AppSettings = {}): AppBuilder {
  return new AppBuilder(name, settings);
}

/** Excerpt of a payload or value for dead letters and warnings (at most `max` characters). */
export function excerpt(value: unknown, max = 200): string {
  let s: string;
  if (typeof value === 'string') s = value;
  else if (value instanceof Uint8Array)
    s = Buffer.from(value.buffer, value.byteOffset, Math.min(value.byteLength, max * 4)).toString('utf8');
  else {
    try {
      s = JSON.stringify(value) ?? String(value);
    } catch {
      s = String(value);
    }
  }
  return s.length > max ? `${s.slice(0, max)}...` : s;
}

export type { RawPayload };
