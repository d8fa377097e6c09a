/**
 * Bringing an experiment up to date, as a pipeline of stages, each a function of the previous
 * stage's value:
 *
 *   plan (plan.ts) → reconcile (reconcile.ts) → select (targets.ts) → generate (generate.ts)
 *     → execute (schedule.ts), every transition recorded as it happens (recorder.ts)
 *
 * The CLI composes them: `plan` and `explain` stop after reconcile without persisting, a dry run
 * stops after generate, `status` and `cancel` reconcile only. Core never prints: progress leaves
 * as events, the outcome as a value.
 */
import type { Diagnostic } from './diagnostics.js';
import type { EventSink } from './events.js';
import { generateRun, type GeneratedRun } from './generate.js';
import type { RunStatus } from './manifest.js';
import type { Plan, PlannedRun } from './plan.js';
import type { Reconciled } from './reconcile.js';
import type { RuleRegistry } from './rule.js';
import { execute, type ExecuteOptions, type Execution } from './schedule.js';
import { selectTargets, type Targets } from './targets.js';

export interface Generation {
  runs: Map<string, GeneratedRun>;
  diagnostics: Diagnostic[];
}

/** Writes the run directories of the targets; a directory that cannot be written is a diagnostic. */
export function generateTargets(plan: Plan, targets: Targets, rules: Pick<RuleRegistry, 'get'>, emit: EventSink = () => {}): Generation {
  const runs = new Map<string, GeneratedRun>();
  const diagnostics: Diagnostic[] = [];
  for (const run of targets.runs) {
    let result: GeneratedRun;
    try {
      result = generateRun(run, plan, rules.get(run.rule)!);
    } catch (error) {
      // The runs root is unwritable or full, a path component is a file…
      const message = error instanceof Error ? error.message : String(error);
      diagnostics.push({ severity: 'error', code: 'generate-failed', file: plan.experiment.file, line: 0, column: 0, field: run.id, message: `cannot write the run directory ${run.runDir}: ${message}` });
      break;
    }
    runs.set(run.id, result);
    diagnostics.push(...result.diagnostics);
    emit({ type: 'generated', id: run.id, name: run.name, runDir: run.runDir, changed: result.changed });
  }
  return { runs, diagnostics };
}

export interface BuildOptions extends ExecuteOptions {
  rules: Pick<RuleRegistry, 'get'>;
  /** Which stale runs to bring up to date (their stale upstream runs come along). Default: all. */
  select?: (run: PlannedRun) => boolean;
}

export interface BuildResult extends Execution {
  generated: number;
  diagnostics: Diagnostic[];
}

/** select → generate → execute, from a reconciled plan. */
export async function build(reconciled: Reconciled, options: BuildOptions): Promise<BuildResult> {
  const plan = reconciled.plan;
  const targets = selectTargets(plan, options.select);
  if (targets.runs.length > 0) options.executors.primary.prepare?.();
  const generation = generateTargets(plan, targets, options.rules, options.onEvent);
  if (generation.diagnostics.some((d) => d.severity === 'error')) {
    options.recorder.persist(true);
    return { ...nothingExecuted(plan), generated: generation.runs.size, diagnostics: generation.diagnostics };
  }
  const execution = await execute(plan, targets, generation.runs, reconciled.inFlight, options);
  return { ...execution, generated: generation.runs.size, diagnostics: generation.diagnostics };
}

function nothingExecuted(plan: Plan): Execution {
  return { outcomes: new Map<string, RunStatus>(), inFlight: new Map(), submitted: new Set(), cancelled: false, upToDate: new Set(plan.runs.filter((run) => run.state === 'up-to-date').map((run) => run.id)), notStarted: [] };
}
