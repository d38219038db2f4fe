// A worker's lifecycle (docs/exactly-once.md, "Recovery") as an XState v5 machine:
//   starting -> recovering (open and check the store, load states, watermarks, outbox, sink
//   progress; truncate file sinks) -> replaying (write the outbox to the sinks again; resume the
//   sources from their committed offsets) -> running -> stopping -> stopped,
// and `failed` (with the reason) from any state but `stopped`. A crash is the process's death,
// from any state: nothing here models it; the next process starts again in `starting`. A worker
// without a store goes through recovering and replaying with nothing to do.
//
// The engine (runtime/engine/worker.ts) sends one event per phase; a guard that refuses one (an
// event out of order) is a bug the engine reports.
import { assign, setup } from 'xstate';

export const WORKER_LIFECYCLE_STATES = [
  'starting',
  'recovering',
  'replaying',
  'running',
  'stopping',
  'stopped',
  'failed',
] as const;
export type WorkerLifecycleState = (typeof WORKER_LIFECYCLE_STATES)[number];

export type WorkerLifecycleEvent =
  | { readonly type: 'Recover' }
  | { readonly type: 'Replay' }
  | { readonly type: 'Run' }
  | { readonly type: 'Stop' }
  | { readonly type: 'Stopped' }
  | { readonly type: 'Fail'; readonly reason: string };

export const WORKER_LIFECYCLE_EVENTS = ['Recover', 'Replay', 'Run', 'Stop', 'Stopped', 'Fail'] as const;

export interface WorkerLifecycleContext {
  /** Why the worker failed (set in `failed`). */
  readonly reason: string | null;
}

const fail = {
  Fail: { target: '#WorkerLifecycle.failed', actions: 'setReason' },
} as const;

export const workerLifecycleMachine = setup({
  types: {
    context: {} as WorkerLifecycleContext,
    events: {} as WorkerLifecycleEvent,
  },
  actions: {
    setReason: assign(({ event }) => (event.type === 'Fail' ? { reason: event.reason } : {})),
  },
}).createMachine({
  id: 'WorkerLifecycle',
  context: { reason: null },
  initial: 'starting',
  states: {
    starting: { on: { Recover: 'recovering', Stop: 'stopping', ...fail } },
    recovering: { on: { Replay: 'replaying', Stop: 'stopping', ...fail } },
    replaying: { on: { Run: 'running', Stop: 'stopping', ...fail } },
    running: { on: { Stop: 'stopping', ...fail } },
    stopping: { on: { Stopped: 'stopped', ...fail } },
    stopped: { type: 'final' },
    failed: { type: 'final' },
  },
});
