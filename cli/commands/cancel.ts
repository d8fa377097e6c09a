/** `ckbuild cancel <experiment> [runs…]`: cancel queued or running jobs (scancel on SLURM). */
import { hostname } from 'node:os';
import { buildPlan } from '../../core/build.js';
import { chooseExecutor, createExecutor, executorFactory, type ExecutorName } from '../../core/executors/index.js';
import { ACTIVE_STATUSES, type RunStatus } from '../../core/manifest.js';
import type { Plan } from '../../core/plan.js';
import { ruleRegistry } from '../../rules/index.js';
import { type ParsedArgs, flag, UsageError, value } from '../args.js';
import { planFile, requestedExecutor } from '../load.js';
import { err, out, renderDiagnostics, yellow } from '../output.js';
import { matches } from '../select.js';
import { commitManifest } from './build.js';

/** Refreshes every run in flight from the executor that started it; returns whether the manifest changed. */
async function refresh(plan: Plan, executorName: string | undefined): Promise<boolean> {
  const experiment = plan.experiment.document.experiment_name;
  const executor = createExecutor(chooseExecutor(executorName, plan.local), plan.local, { experiment });
  const result = await buildPlan(plan, { executor, rules: ruleRegistry, reconcileOnly: true, wait: false, executorFor: executorFactory(plan.local, { experiment }) });
  return result.manifestChanged;
}

export async function cancelCommand(args: ParsedArgs): Promise<number> {
  const [file, ...patterns] = args.positionals;
  if (!file) throw new UsageError('usage: ckbuild cancel <experiment.yaml> [run…]');
  const result = await planFile(file);
  if (!result.plan) {
    renderDiagnostics(result.diagnostics);
    return 2;
  }
  const plan = result.plan;
  // First learn what is really still in flight: a job may have finished since the last look.
  let changed = await refresh(plan, requestedExecutor(value(args, '--executor')));
  const active = plan.runs.filter((run) => run.record && ACTIVE_STATUSES.has(run.record.status) && run.record.job_id && (patterns.length === 0 || patterns.some((p) => matches(run, p))));
  if (active.length === 0) {
    out('nothing to cancel: no selected run is queued or running');
    await commitManifest(plan, { outcomes: new Map(), manifestChanged: changed }, flag(args, '--no-commit'));
    return 0;
  }
  const here = hostname();
  const signalled = [];
  for (const run of active) {
    const record = run.record!;
    const executor = (record.executor ?? 'local') as ExecutorName;
    if (executor === 'local' && record.host && record.host !== here) {
      err(`${yellow('warning')}: ${run.id} runs on ${record.host}, not here; cancel it from there`);
      continue;
    }
    const handle = { executor, jobId: record.job_id!, host: record.host, pid: record.pid };
    await createExecutor(executor, plan.local, { experiment: plan.experiment.document.experiment_name }).cancel([{ run, handle }]);
    signalled.push(run);
  }
  // Let the executors report the outcome, then record what they say.
  await new Promise((resolve) => setTimeout(resolve, 1500));
  changed = (await refresh(plan, requestedExecutor(value(args, '--executor')))) || changed;
  const outcomes = new Map<string, RunStatus>();
  for (const run of signalled) {
    const status: RunStatus = run.record?.status ?? 'running';
    outcomes.set(run.id, status);
    out(`${status === 'cancelled' ? 'cancelled' : `asked to cancel (now ${status})`} ${run.id} (${run.record?.executor ?? 'local'} ${run.record?.job_id ?? ''})`);
  }
  await commitManifest(plan, { outcomes, manifestChanged: changed }, flag(args, '--no-commit'));
  return 0;
}
