/**
 * The DAG of runs. Edges point from an upstream run to the runs that need it. Dangling needs and
 * cycles are diagnostics naming the runs involved, and the topological order is what identity
 * and execution walk.
 */
import { Graph, alg } from '@dagrejs/graphlib';
import type { ExpandedRun } from '../rules/types.js';
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

/** Kahn's algorithm keeping the expansion order among ready runs, so plans read top to bottom. */
function stableTopologicalOrder(ids: string[], graph: Graph): string[] {
  const position = new Map(ids.map((id, index) => [id, index]));
  const remaining = new Map(ids.map((id) => [id, (graph.predecessors(id) ?? []).length]));
  const ready = ids.filter((id) => remaining.get(id) === 0);
  const order: string[] = [];
  while (ready.length > 0) {
    ready.sort((a, b) => position.get(a)! - position.get(b)!);
    const id = ready.shift()!;
    order.push(id);
    for (const next of (graph.successors(id) ?? []).map(String)) {
      const left = remaining.get(next)! - 1;
      remaining.set(next, left);
      if (left === 0) ready.push(next);
    }
  }
  return order;
}
