// The flow of an application's topology: every source starts a message, every step passes it to
// each of its downstream steps (the engine pushes a batch to all of them: a fork), and sinks end
// it. The engine never joins: a step fed by two streams sees one arrival per stream, so a
// topology's flow is the topology unfolded into a tree from each source (a choice between the
// sources when there are several).
import type { Application } from '../api/app.ts';
import type { Flow } from './ast.ts';
import { name, seq } from './ast.ts';

/** The largest unfolded flow derived (worker-type occurrences); a topology with many diamonds
 * unfolds exponentially. */
export const MAX_DERIVED_NAMES = 100_000;

export class TopologyFlowError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TopologyFlowError';
  }
}

export function topologyFlow(app: Application): Flow {
  let names = 0;
  const unfold = (id: number): Flow => {
    const node = app.nodes[id]!;
    if (++names > MAX_DERIVED_NAMES) {
      throw new TopologyFlowError(
        `app "${app.name}": its topology unfolds into more than ${MAX_DERIVED_NAMES} steps (paths through steps fed by several streams multiply); declare its flow instead of deriving it`,
      );
    }
    const here = name(node.name);
    if (node.next.length === 0) return here;
    if (node.next.length === 1) return seq([here, unfold(node.next[0]!)]);
    return seq([here, { kind: 'fork', branches: node.next.map(unfold) }]);
  };
  const flows = app.sources.map((s) => unfold(s.id));
  if (flows.length === 1) return flows[0]!;
  return { kind: 'choice', branches: flows };
}
