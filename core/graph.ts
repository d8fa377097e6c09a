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

export function buildGraph(runs: readonly ExpandedRun[], source: SourceFile): { graph?: RunGraph; diagnostics: Diagnostic[] } {
  const graph = new Graph({ directed: true });
  const diagnostics: Diagnostic[] = [];
  for (const run of runs) graph.setNode(run.id);
  for (const run of runs) {
    for (const [role, upstream] of Object.entries(run.needs)) {
      if (!graph.hasNode(upstream)) {
        diagnostics.push(diagnosticAt(source, run.origins.self ?? [], `run \`${run.id}\` needs \`${upstream}\` (as ${role}), which is not part of this experiment`, { code: 'dangling-reference' }));
        continue;
      }
      graph.setEdge(upstream, run.id);
    }
  }
  const cycles = alg.findCycles(graph);
  for (const cycle of cycles) {
    const names = [...cycle].reverse();
    const first = runs.find((r) => r.id === names[0]);
    diagnostics.push(diagnosticAt(source, first?.origins.self ?? [], `dependency cycle: ${[...names, names[0]].join(' → ')}`, { code: 'cycle' }));
  }
  if (diagnostics.length > 0) return { diagnostics };
  const order = stableTopologicalOrder(runs.map((r) => r.id), graph);
  const upstreamOf = (id: string): string[] => (graph.predecessors(id) ?? []).map(String);
  const downstreamOf = (id: string): string[] => (graph.successors(id) ?? []).map(String);
  const closure = (ids: Iterable<string>, next: (id: string) => string[]): Set<string> => {
    const seen = new Set<string>();
    const stack = [...ids];
    while (stack.length > 0) {
      const id = stack.pop()!;
      if (seen.has(id)) continue;
      seen.add(id);
      stack.push(...next(id));
    }
    return seen;
  };
  return {
    graph: {
      order,
      upstreamOf,
      downstreamOf,
      closureDownstream: (ids) => closure(ids, downstreamOf),
      closureUpstream: (ids) => closure(ids, upstreamOf),
    },
    diagnostics,
  };
}

/**
 * Kahn's algorithm keeping the expansion order among ready runs, so plans read top to bottom.
 * The ready set is a binary min-heap on expansion position: a sweep has thousands of runs ready
 * at once, and re-sorting them at every step would be quadratic.
 */
function stableTopologicalOrder(ids: string[], graph: Graph): string[] {
  const position = new Map(ids.map((id, index) => [id, index]));
  const remaining = new Map(ids.map((id) => [id, (graph.predecessors(id) ?? []).length]));
  const heap: number[] = [];
  const push = (value: number): void => {
    heap.push(value);
    for (let i = heap.length - 1; i > 0; ) {
      const parent = (i - 1) >> 1;
      if (heap[parent]! <= heap[i]!) break;
      [heap[parent], heap[i]] = [heap[i]!, heap[parent]!];
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
        [heap[smallest], heap[i]] = [heap[i]!, heap[smallest]!];
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
    for (const next of (graph.successors(id) ?? []).map(String)) {
      const left = remaining.get(next)! - 1;
      remaining.set(next, left);
      if (left === 0) push(position.get(next)!);
    }
  }
  return order;
}
