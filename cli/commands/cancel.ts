/** `ckbuild cancel <experiment> [runs…]`: cancel queued or running jobs (scancel on SLURM). */
import { hostname } from 'node:os';
import { chooseExecutor, createExecutor, type ExecutorName } from '../../core/executors/index.js';
import { reconcile } from '../../core/reconcile.js';
import { Recorder } from '../../core/recorder.js';
import { ACTIVE_STATUSES, type RunStatus } from '../../core/manifest.js';
import type { Plan } from '../../core/plan.js';
import { ruleRegistry } from '../../rules/index.js';
import { type ParsedArgs, flag, UsageError, value } from '../args.js';
import { planFile, requestedExecutor } from '../load.js';
import { err, out, renderDiagnostics, yellow } from '../output.js';
import { matches } from '../select.js';
import { commitManifest, executorOptions, executorsFor } from './build.js';

/** Refreshes every run in flight from the executor that started it, and records what it says. */
async function refresh(plan: Plan, executorName: string | undefined): Promise<{ plan: Plan; changed: boolean }> {
  const executors = executorsFor(chooseExecutor(executorName, plan.local, plan.experiment.document), plan);
  const recorder = new Recorder(plan, ruleRegistry, () => new Date());
  const reconciled = await reconcile(plan, executors, recorder);
  await executors.primary.close();
  recorder.persist(true);
  return { plan: reconciled.plan, changed: recorder.changed };
}

export async function cancelCommand(args: ParsedArgs): Promise<number> {
  const [file, ...patterns] = args.positionals;
  if (!file) throw new UsageError('usage: ckbuild cancel <experiment.yaml> [run…]');
  const result = await planFile(file);
  if (!result.plan) {
    renderDiagnostics(result.diagnostics);
    return 2;
  }
  const executorName = requestedExecutor(value(args, '--executor'));
  // First learn what is really still in flight: a job may have finished since the last look.
  const first = await refresh(result.plan, executorName);
  const plan = first.plan;
  const active = plan.runs.filter((run) => run.record && ACTIVE_STATUSES.has(run.record.status) && run.record.job_id && (patterns.length === 0 || patterns.some((p) => matches(run, p))));
  if (active.length === 0) {
    out('nothing to cancel: no selected run is queued or running');
    await commitManifest(plan, { outcomes: new Map(), manifestChanged: first.changed }, flag(args, '--no-commit'));
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
    await createExecutor(executor, plan.local, executorOptions(plan)).cancel([{ run, handle }]);
    signalled.push(run.id);
  }
  // Let the executors report the outcome, then record what they say.
  await new Promise((resolve) => setTimeout(resolve, 1500));
  const second = await refresh(plan, executorName);
  const changed = first.changed || second.changed;
  const outcomes = new Map<string, RunStatus>();
  for (const id of signalled) {
    const record = second.plan.byId.get(id)?.record;
    const status: RunStatus = record?.status ?? 'running';
    outcomes.set(id, status);
    out(`${status === 'cancelled' ? 'cancelled' : `asked to cancel (now ${status})`} ${id} (${record?.executor ?? 'local'} ${record?.job_id ?? ''})`);
  }
  await commitManifest(plan, { outcomes, manifestChanged: changed }, flag(args, '--no-commit'));
  return 0;
}
