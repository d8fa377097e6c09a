/**
 * The DAG of runs. Edges point from an upstream run to the runs that need it. Dangling needs and
 * cycles are diagnostics naming the runs involved, and the topological order is what identity
 * and execution walk.
 */
import { Graph, alg } from '@dagrejs/graphlib';
import type { ExpandedRun } from './rule.js';
import type { Diagnostic } from './diagnostics.js';
import { diagnosticAt, type SourceFile } from './source.js';

export interface RunGraph {
  /** Run ids, every upstream before its dependents; ties broken by id for a stable order. */
  order: string[];
  upstreamOf(id: string): string[];
  downstreamOf(id: string): string[];
  /** Every run that transitively depends on one of `ids`, the `ids` included. */
  closureDownstream(ids: Iterable<string>): Set<string>;
  /** Every run that `ids` transitively need, the `ids` included. */
  closureUpstream(ids: Iterable<string>): Set<string>;
}

/**
 * Adjacency lists in expansion order (a sweep's graph is built on every plan: plain maps are ~5×
 * faster than a general graph library here). graphlib is only consulted when the order cannot be
 * completed, to name the cycles (Tarjan's strongly connected components) in its stable way.
 */
export function buildGraph(runs: readonly ExpandedRun[], source: SourceFile): { graph?: RunGraph; diagnostics: Diagnostic[] } {
  const diagnostics: Diagnostic[] = [];
  const upstream = new Map<string, string[]>();
  const downstream = new Map<string, string[]>();
  for (const run of runs) {
    upstream.set(run.id, []);
    downstream.set(run.id, []);
  }
  for (const run of runs) {
    const needs = upstream.get(run.id)!;
    for (const [role, up] of Object.entries(run.needs)) {
      if (!upstream.has(up)) {
        diagnostics.push(diagnosticAt(source, run.origins.self ?? [], `run \`${run.id}\` needs \`${up}\` (as ${role}), which is not part of this experiment`, { code: 'dangling-reference' }));
        continue;
      }
      if (needs.includes(up)) continue; // two roles, one upstream run: one edge
      needs.push(up);
      downstream.get(up)!.push(run.id);
    }
  }
  const ids = runs.map((r) => r.id);
  const order = stableTopologicalOrder(ids, upstream, downstream);
  if (order.length < upstream.size) diagnostics.push(...cycleDiagnostics(runs, upstream, source));
  if (diagnostics.length > 0) return { diagnostics };
  return { graph: graphOf(order, upstream, downstream), diagnostics };
}

/**
 * A graph from its order and adjacency lists, as buildGraph made them: the lists are the caller's
 * and must not change afterwards.
 */
export function graphOf(order: string[], upstream: ReadonlyMap<string, readonly string[]>, downstream: ReadonlyMap<string, readonly string[]>): RunGraph {
  return graphFrom(
    order,
    (id) => [...(upstream.get(id) ?? [])],
    (id) => [...(downstream.get(id) ?? [])],
  );
}

/**
 * A graph from its order and functions that list a run's upstream and downstream runs afresh on
 * each call (a saved plan keeps its edges as index arrays, core/planBase.ts).
 */
export function graphFrom(order: string[], upstreamOf: (id: string) => string[], downstreamOf: (id: string) => string[]): RunGraph {
  const closure = (start: Iterable<string>, next: (id: string) => string[]): Set<string> => {
    const seen = new Set<string>();
    const stack = [...start];
    while (stack.length > 0) {
      const id = stack.pop()!;
      if (seen.has(id)) continue;
      seen.add(id);
      stack.push(...next(id));
    }
    return seen;
  };
  return {
    order,
    upstreamOf,
    downstreamOf,
    closureDownstream: (start) => closure(start, downstreamOf),
    closureUpstream: (start) => closure(start, upstreamOf),
  };
}

/** Every dependency cycle, named run by run, at the first run's line. */
function cycleDiagnostics(runs: readonly ExpandedRun[], upstream: ReadonlyMap<string, string[]>, source: SourceFile): Diagnostic[] {
  const graph = new Graph({ directed: true });
  for (const id of upstream.keys()) graph.setNode(id);
  for (const [id, needs] of upstream) for (const up of needs) graph.setEdge(up, id);
  return alg.findCycles(graph).map((cycle) => {
    const names = [...cycle].reverse();
    const first = runs.find((r) => r.id === names[0]);
    return diagnosticAt(source, first?.origins.self ?? [], `dependency cycle: ${[...names, names[0]].join(' → ')}`, { code: 'cycle' });
  });
}

/**
 * Kahn's algorithm keeping the expansion order among ready runs, so plans read top to bottom.
 * The ready set is a binary min-heap on expansion position: a sweep has thousands of runs ready
 * at once, and re-sorting them at every step would be quadratic.
 */
function stableTopologicalOrder(ids: string[], upstream: ReadonlyMap<string, string[]>, downstream: ReadonlyMap<string, string[]>): string[] {
  const position = new Map(ids.map((id, index) => [id, index]));
  const remaining = new Map(ids.map((id) => [id, upstream.get(id)!.length]));
  const heap: number[] = [];
  // Swaps through a variable: a destructuring swap allocates an array per step (20,000 runs, 9 MB).
  const swap = (a: number, b: number): void => {
    const held = heap[a]!;
    heap[a] = heap[b]!;
    heap[b] = held;
  };
  const push = (value: number): void => {
    heap.push(value);
    for (let i = heap.length - 1; i > 0; ) {
      const parent = (i - 1) >> 1;
      if (heap[parent]! <= heap[i]!) break;
      swap(parent, i);
      i = parent;
    }
  };
  const pop = (): number => {
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      for (let i = 0; ; ) {
        const left = 2 * i + 1;
        const right = left + 1;
        let smallest = i;
        if (left < heap.length && heap[left]! < heap[smallest]!) smallest = left;
        if (right < heap.length && heap[right]! < heap[smallest]!) smallest = right;
        if (smallest === i) break;
        swap(smallest, i);
        i = smallest;
      }
    }
    return top;
  };
  ids.forEach((id, index) => {
    if (remaining.get(id) === 0) push(index);
  });
  const order: string[] = [];
  while (heap.length > 0) {
    const id = ids[pop()]!;
    order.push(id);
    for (const next of downstream.get(id)!) {
      const left = remaining.get(next)! - 1;
      remaining.set(next, left);
      if (left === 0) push(position.get(next)!);
    }
  }
  return order;
}
