--------------------------------- MODULE Graphs ---------------------------------
(***************************************************************************)
(* Buffy's own version of the community module Graphs (directed graphs). A *)
(* graph is a record [node |-> N, edge |-> E] with E a set of pairs         *)
(* <<from, to>> of nodes. Reachability is computed by growing the set of   *)
(* reached nodes to a fixpoint, not by enumerating paths.                  *)
(***************************************************************************)
LOCAL INSTANCE Naturals
LOCAL INSTANCE FiniteSets
LOCAL INSTANCE Sequences

IsDirectedGraph(G) ==
  /\ G = [node |-> G.node, edge |-> G.edge]
  /\ G.edge \subseteq (G.node \X G.node)

\* The subgraphs of G: some of its nodes and some of its edges between them.
DirectedSubgraph(G) ==
  {H \in [node : SUBSET G.node, edge : SUBSET (G.node \X G.node)] :
     IsDirectedGraph(H) /\ H.edge \subseteq G.edge}

\* G with every edge reversed.
Transpose(G) == [node |-> G.node, edge |-> {<<e[2], e[1]>> : e \in G.edge}]

\* The simple paths of G: non-empty sequences of distinct nodes, each
\* consecutive pair an edge.
SimplePath(G) ==
  {p \in UNION {[1..n -> G.node] : n \in 1..Cardinality(G.node)} :
     /\ \A i, j \in 1..Len(p) : i # j => p[i] # p[j]
     /\ \A i \in 1..(Len(p) - 1) : <<p[i], p[i + 1]>> \in G.edge}

\* The nodes reachable from the nodes in S by following edges (S included).
LOCAL ReachableInDirectedGraph(S, G) ==
  LET RECURSIVE Grow(_)
      Grow(R) == LET next == R \cup {e[2] : e \in {f \in G.edge : f[1] \in R}}
                 IN IF next = R THEN R ELSE Grow(next)
  IN Grow(S)

\* Whether a path of G leads from m to n (every node is connected to itself).
AreConnectedIn(m, n, G) == n \in ReachableInDirectedGraph({m}, G)

\* The function telling, for every two nodes m and n, whether n is reachable from m.
ConnectionsIn(G) ==
  LET reach == [m \in G.node |-> ReachableInDirectedGraph({m}, G)]
  IN [p \in G.node \X G.node |-> p[2] \in reach[p[1]]]

\* Whether every node of G is reachable from every node.
IsStronglyConnected(G) ==
  \A m \in G.node : ReachableInDirectedGraph({m}, G) = G.node

(***************************************************************************)
(* G is a tree whose edges point towards the root r: r has no outgoing     *)
(* edge, every other node has exactly one, and r is reachable from every   *)
(* node.                                                                   *)
(***************************************************************************)
IsTreeWithRoot(G, r) ==
  /\ IsDirectedGraph(G)
  /\ \A e \in G.edge : /\ e[1] # r
                       /\ \A f \in G.edge : (e[1] = f[1]) => (e = f)
  /\ \A n \in G.node : AreConnectedIn(n, r, G)
=============================================================================
