/**
 * Target selection: which stale runs this build brings up to date. The selected stale runs and
 * the stale runs they need; two logical runs with one key (identical steps) execute once, the
 * first standing for both.
 */
import type { Plan, PlannedRun } from './plan.js';

export interface Targets {
  /** The runs to execute, in dependency order, one per key. */
  runs: PlannedRun[];
  /** The id of the run that executes for `id`: itself, or the target sharing its key. */
  executing(id: string): string;
  /** Every planned run sharing a target's key, by key (they share its outcome). */
  twins: Map<string, PlannedRun[]>;
}

export function selectTargets(plan: Plan, select?: (run: PlannedRun) => boolean): Targets {
  const selected = plan.runs.filter((run) => run.state === 'stale' && (select?.(run) ?? true));
  const wanted = plan.graph.closureUpstream(selected.map((run) => run.id));
  const targetKeys = new Set<string>();
  const runs = plan.runs.filter((run) => {
    if (!wanted.has(run.id) || run.state !== 'stale' || targetKeys.has(run.key)) return false;
    targetKeys.add(run.key);
    return true;
  });
  const targetIdByKey = new Map(runs.map((run) => [run.key, run.id]));
  const twins = new Map<string, PlannedRun[]>();
  for (const run of plan.runs) if (targetKeys.has(run.key)) twins.set(run.key, [...(twins.get(run.key) ?? []), run]);
  return { runs, twins, executing: (id) => targetIdByKey.get(plan.byId.get(id)?.key ?? '') ?? id };
}
