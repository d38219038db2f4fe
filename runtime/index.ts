// The package's public entry point, `import { ... } from 'buffy'`: what an application module
// needs. An application default-exports `(options: AppOptions) => Application` and is run with
// `buffy run APP` or `buffy node APP`:
//
//   import { defineApp, stringCodec, type AppOptions } from 'buffy';
//   export default (options: AppOptions) => {
//     const app = defineApp('upper');
//     app.source('lines', { uri: options.source ?? 'file:in.txt', decode: stringCodec })
//       .map('upper', (line) => line.toUpperCase())
//       .sink('out', { uri: options.sink ?? 'stdout:', encode: stringCodec });
//     return app.build();
//   };
//
// The TLA+ toolchain's library API is `buffy/tla` (tla/index.ts).

export {
  AppBuilder,
  AppConfigError,
  DEFAULT_PARTITION_COUNT,
  Stream,
  defineApp,
  isApplication,
} from './api/app.ts';
export type {
  AppNode,
  Application,
  Emit,
  FilterNode,
  FinishHook,
  FinishView,
  FlatMapNode,
  Key,
  MapNode,
  SinkNode,
  SinkSpec,
  SourceNode,
  SourceSpec,
  StateHandle,
  StateNode,
  StateSpec,
} from './api/app.ts';
export { bytesCodec, jsonCodec, payloadToString, stringCodec } from './api/codec.ts';
export type { Codec, Decoder, Encoder } from './api/codec.ts';
export { AppOptionsError, parseAppOptions, parseParams, toAppOptions } from './api/options.ts';
export type { AppFactory, AppOptions } from './api/options.ts';
/** The zod that `parseParams` takes schemas of: use this one, so the versions match. */
export { z } from 'zod';

// Idempotent, replicable data types (CRDTs) for the state of state steps (runtime/state/README.md).
export * from './state/index.ts';

// Custom connectors: `registerConnector(scheme, factory)` from the application module makes
// `scheme:...` URIs usable for its sources and sinks.
export { ConnectorError, registerConnector } from './connectors/index.ts';
export type { ConnectorHooks } from './connectors/index.ts';
export type {
  Clock,
  ConnectorContext,
  ConnectorFactory,
  ConnectorUri,
  EngineMetrics,
  Logger,
  MessageId,
  MessageIdColumns,
  RawPayload,
  SinkBatch,
  SinkConnector,
  SourceBatch,
  SourceConnector,
  SourceContext,
} from './types.ts';
