---------------------------- MODULE UndirectedGraphs ----------------------------
(***************************************************************************)
(* Buffy's own version of the community module UndirectedGraphs. A graph   *)
(* is a record [node |-> N, edge |-> E] where each edge is the set of its  *)
(* two end nodes (a one-element set is a loop). Connectivity is computed   *)
(* by growing the set of reachable nodes to a fixpoint (linear in the      *)
(* graph), not by enumerating paths.                                       *)
(***************************************************************************)
LOCAL INSTANCE Naturals
LOCAL INSTANCE FiniteSets
LOCAL INSTANCE Sequences

IsUndirectedGraph(G) ==
  /\ G = [node |-> G.node, edge |-> G.edge]
  /\ \A e \in G.edge : e \subseteq G.node /\ Cardinality(e) \in {1, 2}

\* An undirected graph without loops.
IsLoopFreeUndirectedGraph(G) ==
  /\ IsUndirectedGraph(G)
  /\ \A e \in G.edge : Cardinality(e) = 2

\* The subgraphs of G: some of its nodes, some of its edges between them.
UndirectedSubgraph(G) ==
  {H \in [node : SUBSET G.node, edge : SUBSET G.edge] : IsUndirectedGraph(H)}

\* The simple paths of G: non-empty sequences of distinct nodes, each
\* consecutive pair joined by an edge.
SimplePath(G) ==
  {p \in UNION {[1..n -> G.node] : n \in 1..Cardinality(G.node)} :
     /\ \A i, j \in 1..Len(p) : i # j => p[i] # p[j]
     /\ \A i \in 1..(Len(p) - 1) : {p[i], p[i + 1]} \in G.edge}

\* The nodes of G reachable from the nodes in S (S included).
LOCAL ReachableInUndirectedGraph(S, G) ==
  LET RECURSIVE Grow(_)
      Grow(R) == LET next == R \cup {n \in G.node : \E m \in R : {m, n} \in G.edge}
                 IN IF next = R THEN R ELSE Grow(next)
  IN Grow(S)

\* Whether some path of G joins m and n (a node is joined to itself).
AreConnectedIn(m, n, G) == n \in ReachableInUndirectedGraph({m}, G)

\* Whether every two nodes of G are joined by a path.
IsStronglyConnected(G) ==
  \/ G.node = {}
  \/ ReachableInUndirectedGraph({CHOOSE n \in G.node : TRUE}, G) = G.node

\* The sets of nodes of the connected components of G.
ConnectedComponents(G) == {ReachableInUndirectedGraph({n}, G) : n \in G.node}
=============================================================================
