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
  /** The place of a run in `order`, by id (undefined for a run not in the graph). */
  indexOf(id: string): number | undefined;
  upstreamOf(id: string): string[];
  downstreamOf(id: string): string[];
  /** Every run that transitively depends on one of `ids`, the `ids` included. */
  closureDownstream(ids: Iterable<string>): Set<string>;
  /** Every run that `ids` transitively need, the `ids` included. */
  closureUpstream(ids: Iterable<string>): Set<string>;
}

/**
 * Adjacency lists in expansion order, by run position (a sweep's graph is built on every plan:
 * plain arrays are ~5× faster than a general graph library here, and one map from id to position
 * instead of a map per list halves what is left; a run that needs nothing, as every fine-tune of a
 * sweep, has no list at all). graphlib is only consulted when the order cannot be completed, to
 * name the cycles (Tarjan's strongly connected components) in its stable way.
 */
/** A graph as buildGraph makes it, with what its caller walks and asks instead of maps of its own. */
export interface BuiltGraph {
  graph: RunGraph;
  /** The position in `runs` of each run of graph.order. */
  positions: number[];
}

/** An expansion's runs and the place of each by id (Expansion.positionOf), which the graph looks runs up by. */
export function buildGraph(expansion: { runs: readonly ExpandedRun[]; positionOf: ReadonlyMap<string, number> }, source: SourceFile): { diagnostics: Diagnostic[] } & (BuiltGraph | { graph?: undefined }) {
  const diagnostics: Diagnostic[] = [];
  const { runs, positionOf: position } = expansion;
  const upstream: Array<number[] | undefined> = new Array(runs.length);
  const downstream: Array<number[] | undefined> = new Array(runs.length);
  runs.forEach((run, i) => {
    for (const role in run.needs) {
      const up = run.needs[role]!;
      const j = position.get(up);
      if (j === undefined) {
        diagnostics.push(diagnosticAt(source, run.origins.self ?? [], `run \`${run.id}\` needs \`${up}\` (as ${role}), which is not part of this experiment`, { code: 'dangling-reference' }));
        continue;
      }
      // A list is made with its first entry: `[]` then push reserves 17 slots, and most runs have
      // one upstream run or one dependent (100,000 runs: 15 MB less kept for the plan's life).
      const needs = upstream[i];
      if (needs === undefined) upstream[i] = [j];
      else if (needs.includes(j)) continue; // two roles, one upstream run: one edge
      else needs.push(j);
      const dependents = downstream[j];
      if (dependents === undefined) downstream[j] = [i];
      else dependents.push(i);
    }
  });
  const ids = runs.map((r) => r.id);
  const order = stableTopologicalOrder(upstream, downstream);
  if (order.length < runs.length) diagnostics.push(...cycleDiagnostics(runs, upstream, source));
  if (diagnostics.length > 0) return { diagnostics };
  const idsOf = (list: readonly number[] | undefined): string[] => (list ? list.map((i) => ids[i]!) : []);
  const orderIndex = new Int32Array(runs.length);
  order.forEach((at, index) => (orderIndex[at] = index));
  return {
    graph: graphFrom(
      order.map((i) => ids[i]!),
      (id) => idsOf(upstream[position.get(id) ?? -1]),
      (id) => idsOf(downstream[position.get(id) ?? -1]),
      (id) => {
        const at = position.get(id);
        return at === undefined ? undefined : orderIndex[at];
      },
    ),
    positions: order,
    diagnostics,
  };
}

/**
 * A graph from its order and functions that list a run's upstream and downstream runs afresh on
 * each call (a saved plan keeps its edges as index arrays, core/planBase.ts).
 */
export function graphFrom(order: string[], upstreamOf: (id: string) => string[], downstreamOf: (id: string) => string[], indexOf: (id: string) => number | undefined): RunGraph {
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
    indexOf,
    upstreamOf,
    downstreamOf,
    closureDownstream: (start) => closure(start, downstreamOf),
    closureUpstream: (start) => closure(start, upstreamOf),
  };
}

/** Every dependency cycle, named run by run, at the first run's line. */
function cycleDiagnostics(runs: readonly ExpandedRun[], upstream: ReadonlyArray<readonly number[] | undefined>, source: SourceFile): Diagnostic[] {
  const graph = new Graph({ directed: true });
  for (const run of runs) graph.setNode(run.id);
  runs.forEach((run, i) => {
    for (const up of upstream[i] ?? []) graph.setEdge(runs[up]!.id, run.id);
  });
  return alg.findCycles(graph).map((cycle) => {
    const names = [...cycle].reverse();
    const first = runs.find((r) => r.id === names[0]);
    return diagnosticAt(source, first?.origins.self ?? [], `dependency cycle: ${[...names, names[0]].join(' → ')}`, { code: 'cycle' });
  });
}

/**
 * Kahn's algorithm keeping the expansion order among ready runs, so plans read top to bottom: the
 * positions of the runs in order. The ready set is a binary min-heap on expansion position: a
 * sweep has thousands of runs ready at once, and re-sorting them at every step would be quadratic.
 */
function stableTopologicalOrder(upstream: ReadonlyArray<readonly number[] | undefined>, downstream: ReadonlyArray<readonly number[] | undefined>): number[] {
  const count = upstream.length;
  const remaining = new Int32Array(count);
  for (let i = 0; i < count; i++) remaining[i] = upstream[i]?.length ?? 0;
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
  for (let i = 0; i < count; i++) if (remaining[i] === 0) push(i);
  const order: number[] = [];
  while (heap.length > 0) {
    const at = pop();
    order.push(at);
    for (const next of downstream[at] ?? []) if (--remaining[next]! === 0) push(next);
  }
  return order;
}
