/**
 * Watch mode's core part (the CLI's `ckbuild watch` owns the watcher, timers and printing): what
 * to watch for a plan, and what changed between two plans of one experiment, as data.
 *
 *   watchedPaths(plan) — the experiment, every file the plan read (datasets, task scripts, recipes,
 *     base configs, prepare-step inputs, the manifest), the local config (watched even while it
 *     does not exist, so creating it counts) and ckbuild's templates.
 *   planDelta(before, after) — per run: became stale (a new key nobody has recorded), came back to
 *     a recorded key (reusable), added, removed, or a state change under the same key; and which
 *     runs need their artifacts regenerated (exactly the stale runs whose key is new to this plan).
 */
import { join } from 'node:path';
import { LOCAL_CONFIG_FILE } from './localConfig.js';
import { templatesDir } from './paths.js';
import { type Change, diffIdentity, type Plan, type PlannedRun, type RunState } from './plan.js';
import type { RunRecord } from './manifest.js';
import { identityFields } from './records.js';

export interface DeltaRun {
  id: string;
  name: string;
  key: string;
  state: RunState;
  /** For a run whose key changed: which ingredients differ from the previous plan's run. */
  changes?: Change[];
  /** The previous state, for a run whose key stayed but whose state changed. */
  from?: RunState;
}

export interface PlanDelta {
  /** Runs whose key changed to one that nothing has recorded: they would run. */
  stale: DeltaRun[];
  /** Runs whose key changed back to one recorded as done or in progress: nothing would run. */
  reusable: DeltaRun[];
  added: DeltaRun[];
  removed: Array<{ id: string; name: string; key: string }>;
  /** Same key, other state (a build finished them, their outputs were deleted…). */
  restated: DeltaRun[];
  /** Ids of the runs whose artifacts must be regenerated: stale, with a key the previous plan lacked. */
  regenerate: Set<string>;
}

/** The paths whose change should trigger an iteration for this plan. */
export function watchedPaths(plan: Plan): string[] {
  const paths = new Set<string>([plan.experiment.file, ...plan.files, join(plan.experiment.projectDir, LOCAL_CONFIG_FILE), templatesDir]);
  return [...paths].sort();
}

/** Whether a path is one of ckbuild's templates (changing one changes artifacts but no key). */
export function isTemplatePath(path: string): boolean {
  return path === templatesDir || path.startsWith(`${templatesDir}/`);
}

function deltaRun(run: PlannedRun, extra: Partial<DeltaRun> = {}): DeltaRun {
  return { id: run.id, name: run.name, key: run.key, state: run.state, ...extra };
}

/** What changed from `before` to `after`; with no `before` (the first plan), every stale run is to regenerate. */
export function planDelta(before: Plan | undefined, after: Plan): PlanDelta {
  const delta: PlanDelta = { stale: [], reusable: [], added: [], removed: [], restated: [], regenerate: new Set() };
  if (!before) {
    for (const run of after.runs) if (run.state === 'stale') delta.regenerate.add(run.id);
    return delta;
  }
  const previousKeys = new Set(before.runs.map((run) => run.key));
  for (const run of after.runs) {
    const was = before.byId.get(run.id);
    if (!was) {
      delta.added.push(deltaRun(run));
    } else if (was.key !== run.key) {
      const changes = diffIdentity(identityFields(was) as RunRecord, run);
      (run.state === 'stale' ? delta.stale : delta.reusable).push(deltaRun(run, { changes }));
    } else if (was.state !== run.state) {
      delta.restated.push(deltaRun(run, { from: was.state }));
    }
    if (run.state === 'stale' && (!was || was.key !== run.key) && !previousKeys.has(run.key)) delta.regenerate.add(run.id);
  }
  for (const run of before.runs) if (!after.byId.has(run.id)) delta.removed.push({ id: run.id, name: run.name, key: run.key });
  return delta;
}

export function isEmptyDelta(delta: PlanDelta): boolean {
  return delta.stale.length + delta.reusable.length + delta.added.length + delta.removed.length + delta.restated.length === 0;
}
