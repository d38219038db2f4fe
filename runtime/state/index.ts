// runtime/state: idempotent, replicable data types (CRDTs) for the state of state steps.
// Guarantees, metadata and compaction of each type: runtime/state/README.md.
export type { CrdtType } from './type.ts';
export { crdtCodec, decodeState, encodeState } from './type.ts';
export { CrdtShapeError } from './shape.ts';
export type { Frontier, Seen } from './seen.ts';
export {
  EMPTY_SEEN,
  compareIds,
  seenAdd,
  seenCompact,
  seenExceptions,
  seenHas,
  seenHasId,
  seenMerge,
} from './seen.ts';
export type { Dots } from './dots.ts';
export type { GCounter, GCounterEntry, PNCounter, PNCounterEntry } from './counters.ts';
export {
  GCounterType,
  counterOrigins,
  PNCounterType,
  gCounterIncrement,
  gCounterValue,
  pnCounterAdd,
  pnCounterValue,
} from './counters.ts';
export type { EntryCounter, EntryCounterOptions } from './entry-counter.ts';
export { EntryCounterType, entryCounter, entryCounterEntries, entryCounterValue } from './entry-counter.ts';
export type { GSet, TwoPSet, TwoPSetOp } from './sets.ts';
export { GSetType, TwoPSetType, gSetAdd, gSetHas, twoPSetApply, twoPSetHas } from './sets.ts';
export type { ORSet, ORSetOp, SeenOptions } from './or-set.ts';
export { DEFAULT_WINDOW, ORSetType, orSet } from './or-set.ts';
export type { Json, LWWRegister, LWWSet, MVRegister, MVSet } from './registers.ts';
export { LWWRegisterType, MVRegisterType, lwwRegister, lwwSet, mvRegister } from './registers.ts';
export type { ORMap, ORMapEntry, ORMapEntryOp, ORMapOp } from './or-map.ts';
export { orMap } from './or-map.ts';
