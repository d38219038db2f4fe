// Flows: the notation (parse, print, restrictions), the traversals a flow allows, the flow of an
// application's topology, and a flow as a TLA+ module. See runtime/flow/README.md.
export type {
  Flow,
  NameFlow,
  RelayFlow,
  SeqFlow,
  ForkFlow,
  ChoiceFlow,
  InclusiveFlow,
  GroupFlow,
} from './ast.ts';
export { flowEquals, isGroup, itemsOf, name, relay, seq, workerTypes } from './ast.ts';
export { FlowSyntaxError, checkRestrictions, parseFlow } from './parse.ts';
export { printFlow } from './print.ts';
export { DEFAULT_MAX_TRAVERSALS, FlowLimitError, flowTraversals, subsetsBetween } from './semantics.ts';
export type { Traversal } from './traversal.ts';
export { TraversalError, assertTraversal, canonicalKey, formatTraversal, successors } from './traversal.ts';
export { TopologyFlowError, topologyFlow } from './topology.ts';
export { compareFlows } from './compare.ts';
export type { FlowComparison } from './compare.ts';
export { flowTlaModule } from './tla-module.ts';
export type { FlowTlaModule } from './tla-module.ts';
