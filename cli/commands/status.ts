/** `ckbuild status [experiment…]`: what is running, what failed and why; refreshes from the executor. */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { chooseExecutor } from '../../core/executors/index.js';
import { reconcile } from '../../core/reconcile.js';
import { Recorder } from '../../core/recorder.js';
import type { Json } from '../../core/json.js';
import type { Plan, PlannedRun } from '../../core/plan.js';
import { ruleRegistry } from '../../rules/index.js';
import { type ParsedArgs, flag, UsageError, value } from '../args.js';
import { planFile, requestedExecutor } from '../load.js';
import { bold, cyan, dim, formatDuration, green, out, red, renderDiagnostics, table, yellow } from '../output.js';
import { commitManifest, executorsFor } from './build.js';

export function experimentFiles(positionals: string[]): string[] {
  if (positionals.length > 0) return positionals;
  try {
    return readdirSync('experiments')
      .filter((name) => /\.ya?ml$/.test(name))
      .sort()
      .map((name) => join('experiments', name));
  } catch {
    throw new UsageError('usage: ckbuild status [experiment.yaml…] (no experiments/ folder here)');
  }
}

export async function statusCommand(args: ParsedArgs): Promise<number> {
  const files = experimentFiles(args.positionals);
  const json = flag(args, '--json');
  const reports: Json[] = [];
  let exit = 0;
  for (const file of files) {
    const result = await planFile(file);
    if (!result.plan) {
      renderDiagnostics(result.diagnostics);
      exit = 2;
      continue;
    }
    const executors = executorsFor(chooseExecutor(requestedExecutor(value(args, '--executor')), result.plan.local), result.plan);
    const recorder = new Recorder(result.plan, ruleRegistry, () => new Date());
    const { plan, findings } = await reconcile(result.plan, executors, recorder);
    await executors.primary.close();
    recorder.persist(true);
    const outcomes = new Map(findings.flatMap((finding) => (finding.kind === 'finished' ? [[finding.run.id, finding.state.status] as const] : [])));
    await commitManifest(plan, { outcomes, manifestChanged: recorder.changed }, flag(args, '--no-commit'));
    if (json) reports.push(statusJson(plan));
    else printStatus(plan);
  }
  if (json) out(JSON.stringify(reports.length === 1 ? reports[0] : reports, null, 2));
  return exit;
}

function statusOf(run: PlannedRun): string {
  if (run.state === 'up-to-date') return 'succeeded';
  if (run.record && run.record.status !== 'planned') return run.record.status;
  return run.reasons.some((r) => r.kind === 'changed') ? 'changed' : 'not run';
}

function keyMetric(run: PlannedRun): string {
  const metrics = run.record?.metrics;
  if (!metrics) return '';
  const preferred = Object.keys(metrics).find((k) => /accuracy/.test(k)) ?? Object.keys(metrics).find((k) => /loss/.test(k)) ?? Object.keys(metrics)[0];
  if (!preferred) return '';
  const valueOf = metrics[preferred];
  return typeof valueOf === 'number' ? `${preferred}=${Number(valueOf.toPrecision(4))}` : `${preferred}=${String(valueOf)}`;
}

function statusJson(plan: Plan): Json {
  const counts: Record<string, number> = {};
  const runs = plan.runs.map((run) => {
    const status = statusOf(run);
    counts[status] = (counts[status] ?? 0) + 1;
    return {
      id: run.id,
      name: run.name,
      key: run.key,
      step: run.step,
      labels: run.labels,
      status,
      detail: run.record?.detail ?? null,
      job_id: run.record?.job_id ?? null,
      executor: run.record?.executor ?? null,
      elapsed_s: run.record?.elapsed_s ?? null,
      metrics: run.record?.metrics ?? null,
    };
  });
  return { experiment: plan.experiment.document.experiment_name, counts, runs } as unknown as Json;
}

function printStatus(plan: Plan): void {
  const rows = plan.runs.map((run) => {
    const status = statusOf(run);
    const painted = status === 'succeeded' ? green(status) : ['running', 'queued', 'submitted'].includes(status) ? cyan(status) : status === 'not run' || status === 'changed' ? dim(status) : red(status);
    const varying = Object.entries(run.labels)
      .filter(([k]) => k !== 'trial_id')
      .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
      .join(' ');
    return [run.name, run.key.slice(0, 12), run.step, varying, painted + (run.record?.detail && status !== 'succeeded' ? dim(` ${run.record.detail}`) : ''), formatDuration(run.record?.elapsed_s), keyMetric(run)];
  });
  out(bold(plan.experiment.document.experiment_name));
  for (const line of table(['NAME', 'KEY', 'STEP', 'PARAMETERS', 'STATUS', 'TIME', 'METRIC'], rows)) out(line);
  const counts = new Map<string, number>();
  for (const run of plan.runs) counts.set(statusOf(run), (counts.get(statusOf(run)) ?? 0) + 1);
  out([...counts.entries()].map(([s, n]) => `${n} ${s}`).join(', ') + ` — ${plan.runs.length} runs`);
  if (plan.runs.some((run) => run.record && ['failed', 'oom', 'timeout', 'diverged', 'blocked'].includes(run.record.status))) {
    out(yellow('rerun `ckbuild <experiment>` to retry what did not succeed (and what depends on it)'));
  }
}
