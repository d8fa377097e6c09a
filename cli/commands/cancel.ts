/** `ckbuild cancel <experiment> [runs…]`: cancel queued or running jobs (scancel on SLURM). */
import { buildPlan } from '../../core/build.js';
import { createExecutor, type ExecutorName } from '../../core/executors/index.js';
import { writeManifest } from '../../core/manifest.js';
import { ruleRegistry } from '../../rules/index.js';
import { type ParsedArgs, flag, UsageError } from '../args.js';
import { planFile } from '../load.js';
import { out, renderDiagnostics } from '../output.js';
import { matches } from '../select.js';
import { commitManifest } from './build.js';

export async function cancelCommand(args: ParsedArgs): Promise<number> {
  const [file, ...patterns] = args.positionals;
  if (!file) throw new UsageError('usage: ckbuild cancel <experiment.yaml> [run…]');
  const result = await planFile(file);
  if (!result.plan) {
    renderDiagnostics(result.diagnostics);
    return 2;
  }
  const plan = result.plan;
  const targets = plan.runs.filter((run) => run.state === 'in-progress' && run.record?.job_id && (patterns.length === 0 || patterns.some((p) => matches(run, p))));
  if (targets.length === 0) {
    out('nothing to cancel: no selected run is queued or running');
    return 0;
  }
  const byExecutor = new Map<string, typeof targets>();
  for (const run of targets) byExecutor.set(run.record!.executor ?? 'local', [...(byExecutor.get(run.record!.executor ?? 'local') ?? []), run]);
  for (const [name, runs] of byExecutor) {
    const executor = createExecutor(name as ExecutorName, plan.local, { experiment: plan.experiment.document.experiment_name });
    await executor.cancel(runs.map((run) => ({ run, handle: { executor: name, jobId: run.record!.job_id!, host: run.record!.host, pid: run.record!.pid } })));
    for (const run of runs) out(`cancelled ${run.id} (${name} ${run.record!.job_id})`);
  }
  // Let the executors report the outcome, then record it.
  await new Promise((resolve) => setTimeout(resolve, 1500));
  const executorName = [...byExecutor.keys()][0] as ExecutorName;
  const refreshed = await buildPlan(plan, { executor: createExecutor(executorName, plan.local, { experiment: plan.experiment.document.experiment_name }), rules: ruleRegistry, reconcileOnly: true, wait: false });
  for (const run of targets) {
    if (run.record && ['queued', 'running', 'submitted'].includes(run.record.status)) {
      plan.manifest.runs.set(run.key, { ...run.record, status: 'cancelled', detail: 'cancelled by the user', finished_at: new Date().toISOString() });
    }
  }
  const changed = writeManifest(plan.manifestPath, plan.manifest) || refreshed.manifestChanged;
  await commitManifest(plan, { outcomes: new Map(targets.map((run) => [run.id, 'cancelled'])), manifestChanged: changed }, flag(args, '--no-commit'));
  return 0;
}
