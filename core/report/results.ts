/**
 * The results of an experiment as data: one tidy row per (run, task, epoch), every swept
 * parameter and the seed beside the metrics, read from the plan (what the experiment asks for)
 * and the manifest (what its runs recorded). Everything the report writes is derived from this,
 * so the CSV, the markdown and the charts never disagree.
 */
import { canonicalJson, type Json, type JsonObject } from '../json.js';
import type { RunRecord } from '../manifest.js';
import type { Plan, PlannedRun } from '../plan.js';
import type { Curve } from '../rule.js';

/** Labels that say where a run sits in the experiment but are not parameters of the design. */
const BOOKKEEPING_LABELS = new Set(['trial_id', 'stage', 'seed', 'member', 'task', 'epoch', 'model', 'cell', 'vis_label', 'step']);

export interface ResultRow {
  run: string;
  name: string;
  key: string;
  step: string;
  /** The recorded status, or `not run` when the manifest has no record of this key. */
  status: string;
  /** base, finetuned, or a named checkpoint; empty for steps that are not evaluations. */
  model: string;
  task: string;
  epoch: number | null;
  seed: number | null;
  /** The fine-tune this row belongs to (itself, or the one an evaluation tests). */
  trial: string | null;
  /**
   * What makes this configuration itself, the seed aside: the fine-tune's parameters without its
   * seed (so seeds of one configuration average together, and two configurations never do, even
   * when they differ only in what no label shows: a dataset, a prompt), or the run itself.
   */
  config: string;
  params: Record<string, Json>;
  metrics: JsonObject;
  gpuHours: number | null;
  elapsedS: number | null;
  curves: Record<string, Curve>;
  note: string | null;
}

export interface PrimaryMetric {
  name: string;
  higherIsBetter: boolean;
  /** Whether the experiment declared it (report.primary_metric) or ckbuild chose it. */
  declared: boolean;
}

export interface Results {
  experiment: string;
  question: string | null;
  /** Parameters that take more than one value across the fine-tunes, in first-seen order. */
  swept: string[];
  seeds: number[];
  rows: ResultRow[];
  primary: PrimaryMetric | null;
}

export function collectResults(plan: Plan, declaredPrimary?: string): Results {
  const finetunes = plan.runs.filter((run) => run.step === 'finetune');
  const candidates: string[] = [];
  for (const run of finetunes) for (const name of Object.keys(run.labels)) if (!BOOKKEEPING_LABELS.has(name) && !candidates.includes(name)) candidates.push(name);
  const valueOf = (run: PlannedRun, name: string): Json => run.params[name] ?? run.labels[name] ?? null;
  const swept = candidates.filter((name) => new Set(finetunes.map((run) => JSON.stringify(valueOf(run, name)))).size > 1 || finetunes.length === 1);
  const rows = plan.runs.map((run) => rowOf(run, plan, swept, valueOf));
  const seeds = [...new Set(rows.filter((row) => row.step === 'finetune' && row.seed !== null).map((row) => row.seed!))].sort((a, b) => a - b);
  const document = plan.experiment.document as { question?: string };
  return { experiment: plan.experiment.document.experiment_name, question: document.question ?? null, swept, seeds, rows, primary: primaryMetric(rows, declaredPrimary) };
}

function rowOf(run: PlannedRun, plan: Plan, swept: string[], valueOf: (run: PlannedRun, name: string) => Json): ResultRow {
  const record: RunRecord | undefined = run.record;
  const trial = trialOf(run, plan);
  const params: Record<string, Json> = {};
  for (const name of swept) params[name] = trial ? valueOf(trial, name) : null;
  const seed = trial && typeof trial.params.seed === 'number' ? trial.params.seed : null;
  const model = run.step === 'evaluate' ? (typeof run.labels.model === 'string' ? run.labels.model : trial ? 'finetuned' : 'base') : '';
  return {
    run: run.id,
    name: run.name,
    key: run.key,
    step: run.step,
    status: record?.status ?? 'not run',
    model,
    task: typeof run.labels.task === 'string' ? run.labels.task : '',
    epoch: typeof run.labels.epoch === 'number' ? run.labels.epoch : null,
    seed,
    trial: trial?.id ?? null,
    config: trial ? configIdentity(trial) : run.id,
    params,
    metrics: record?.metrics ?? {},
    gpuHours: record?.gpu_hours ?? null,
    elapsedS: record?.elapsed_s ?? null,
    curves: record?.curves ?? {},
    note: record?.metrics_note ?? (record && record.status !== 'succeeded' ? (record.detail ?? null) : null),
  };
}

function configIdentity(trial: PlannedRun): string {
  const { seed: _seed, ...rest } = trial.params;
  return canonicalJson({ rule: trial.rule, params: rest, inputs: Object.fromEntries(Object.entries(trial.inputs).map(([role, input]) => [role, input.sha256])), upstream: Object.fromEntries(Object.entries(trial.upstream).map(([role, up]) => [role, up.key])) });
}

/** The fine-tune a run belongs to: itself, or the nearest fine-tune upstream (through merges and exports). */
function trialOf(run: PlannedRun, plan: Plan): PlannedRun | undefined {
  const seen = new Set<string>();
  const queue = [run];
  while (queue.length > 0) {
    const current = queue.shift()!;
    if (current.step === 'finetune') return current;
    if (seen.has(current.id)) continue;
    seen.add(current.id);
    for (const upstream of Object.values(current.upstream)) {
      const next = plan.byId.get(upstream.id);
      if (next) queue.push(next);
    }
  }
  return undefined;
}

const LOWER_IS_BETTER = /loss|error|mae|rmse|perplexity|stderr|brier|ece/i;

/**
 * The metric that says which configuration is best: the one the experiment declares, else the
 * headline inspect reported for most evaluations (balanced accuracy for a binary target, as the
 * earlier toolkit ranked), else the final training loss.
 */
function primaryMetric(rows: readonly ResultRow[], declared?: string): PrimaryMetric | null {
  if (declared) return { name: declared, higherIsBetter: !LOWER_IS_BETTER.test(declared), declared: true };
  const evaluations = rows.filter((row) => row.step === 'evaluate');
  if (evaluations.some((row) => typeof row.metrics.balanced_accuracy === 'number')) return { name: 'balanced_accuracy', higherIsBetter: true, declared: false };
  const votes = new Map<string, number>();
  for (const row of evaluations) if (typeof row.metrics.headline === 'string') votes.set(row.metrics.headline, (votes.get(row.metrics.headline) ?? 0) + 1);
  const headline = [...votes].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))[0]?.[0];
  const accuracy = headline ?? evaluations.flatMap((row) => Object.keys(row.metrics)).filter((name) => name.endsWith('_accuracy')).sort()[0];
  if (accuracy) return { name: accuracy, higherIsBetter: !LOWER_IS_BETTER.test(accuracy), declared: false };
  if (rows.some((row) => typeof row.metrics.final_loss === 'number')) return { name: 'final_loss', higherIsBetter: false, declared: false };
  return null;
}

/** Every metric name the rows recorded, sorted: the CSV's metric columns. */
export function metricNames(rows: readonly ResultRow[]): string[] {
  return [...new Set(rows.flatMap((row) => Object.keys(row.metrics)))].sort();
}

export interface GroupStat {
  /** The swept parameters' values this group shares (the seed varies inside it). */
  params: Record<string, Json>;
  task: string;
  epoch: number | null;
  model: string;
  values: number[];
  mean: number;
  std: number | null;
}

/** Mean and sample standard deviation of `metric` over seeds, per (task, epoch, model, swept values). */
export function groupOverSeeds(rows: readonly ResultRow[], metric: string, swept: readonly string[]): GroupStat[] {
  const groups = new Map<string, GroupStat>();
  for (const row of rows) {
    const value = row.metrics[metric];
    if (typeof value !== 'number') continue;
    const params = row.model === 'base' ? Object.fromEntries(swept.map((name) => [name, null])) : row.params;
    const id = JSON.stringify([row.task, row.epoch, row.model, row.config]);
    const group = groups.get(id) ?? { params, task: row.task, epoch: row.epoch, model: row.model, values: [], mean: 0, std: null };
    group.values.push(value);
    groups.set(id, group);
  }
  for (const group of groups.values()) {
    const n = group.values.length;
    group.mean = group.values.reduce((a, b) => a + b, 0) / n;
    group.std = n > 1 ? Math.sqrt(group.values.reduce((sum, v) => sum + (v - group.mean) ** 2, 0) / (n - 1)) : null;
  }
  return [...groups.values()];
}
