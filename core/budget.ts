/**
 * Budgets (seed §4): before anything is submitted, the GPU-hours of the runs about to start are
 * estimated and compared with `protocol.budget_gpu_hours` (and `budget_dollars`, priced by the
 * local config's `gpu_hour_cost`). The estimate of a run prefers what an earlier run of the same
 * logical id actually consumed (calibration), then the rule's own estimate, then its time limit.
 */
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { FinishedRun, Rule } from './rule.js';
import type { Diagnostic } from './diagnostics.js';
import type { Experiment } from './experiment/model.js';
import { mergedResources } from './generate.js';
import type { LocalConfig } from './localConfig.js';
import { readManifest, type RunRecord } from './manifest.js';
import type { Plan, PlannedRun } from './plan.js';
import { diagnosticAt } from './source.js';

export interface BudgetCheck {
  /** Absent when the experiment has no budget that applies: estimating reads every finished record beside it. */
  estimatedGpuHours?: number;
  over: boolean;
  message?: string;
}

export function parseWallTime(text: string | undefined): number | undefined {
  if (!text) return undefined;
  const match = /^(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?$/.exec(text);
  if (!match) return undefined;
  const [, days = '0', a = '0', b, c] = match;
  const [hours, minutes, seconds] = c !== undefined ? [a, b!, c] : b !== undefined ? ['0', a, b] : ['0', a, '0'];
  return Number(days) * 24 + Number(hours) + Number(minutes) / 60 + Number(seconds) / 3600;
}

/**
 * GPU-hours of a run about to start. An earlier run of the same logical id that succeeded says it
 * best (its recorded GPU-hours); otherwise the rule estimates from the run's parameters and input
 * sizes, calibrated by `history` (this rule's finished runs in the repository's manifests);
 * otherwise the time limit × GPUs, the most SLURM would let it use.
 */
export function estimateRunGpuHours(run: PlannedRun, plan: Plan, rule: Rule, history: RepositoryHistory = repositoryHistory(plan)): number {
  const last = lastEstimate;
  const estimate = last !== undefined && last.rule === rule && last.params === run.params && last.resources === run.resources && last.inputs === run.inputs && last.local === plan.local && last.history === history ? last : (lastEstimate = estimateOf(run, plan, rule, history));
  if (estimate.gpus === 0) return 0;
  return history.sameRun.get(run.id) ?? estimate.hours;
}

/**
 * What a run's estimate is made from, and the estimate without calibration: the last one is kept,
 * since the runs that share all of it (a cell's evaluations: one object each of parameters,
 * resources and inputs) come one after another (100,000 runs: ~40 ms less).
 */
interface Estimate {
  rule: Rule;
  params: PlannedRun['params'];
  resources: PlannedRun['resources'];
  inputs: PlannedRun['inputs'];
  local: Plan['local'];
  history: RepositoryHistory;
  gpus: number;
  hours: number;
}

let lastEstimate: Estimate | undefined;

function estimateOf(run: PlannedRun, plan: Plan, rule: Rule, history: RepositoryHistory): Estimate {
  const resources = mergedResources(run, rule, plan.local);
  const gpus = resources.gpus ?? 0;
  const estimate: Estimate = { rule, params: run.params, resources: run.resources, inputs: run.inputs, local: plan.local, history, gpus, hours: 0 };
  if (gpus === 0) return estimate;
  const estimated = rule.estimateGpuHours?.(run.params, resources, { inputSizes: inputSizesOf(run.inputs), history: history.byRule.get(run.rule) ?? [] });
  estimate.hours = estimated ?? (parseWallTime(resources.time) ?? 1) * gpus;
  return estimate;
}

/** Sizes by role of a table of inputs, once per table: the runs of a plan share a few (core/identity.ts). */
const sizesOfTable = new WeakMap<PlannedRun['inputs'], Record<string, number>>();
function inputSizesOf(inputs: PlannedRun['inputs']): Record<string, number> {
  let sizes = sizesOfTable.get(inputs);
  if (!sizes) sizesOfTable.set(inputs, (sizes = Object.fromEntries(Object.entries(inputs).map(([role, input]) => [role, input.size]))));
  return sizes;
}

export interface RepositoryHistory {
  /** GPU-hours of the newest succeeded record of each logical id of this experiment. */
  sameRun: Map<string, number>;
  /** Succeeded records with a duration, by rule, from every manifest beside this experiment's. */
  byRule: Map<string, FinishedRun[]>;
}

const histories = new WeakMap<Plan, RepositoryHistory>();

/**
 * The finished runs estimates learn from: this experiment's manifest and every other manifest in
 * its folder (where ckbuild writes them: `experiments/*.manifest.json`), read once per plan. A
 * manifest that cannot be read is skipped: history is a calibration, never a requirement.
 */
export function repositoryHistory(plan: Plan): RepositoryHistory {
  const cached = histories.get(plan);
  if (cached) return cached;
  const sameRun = new Map<string, { at: string; hours: number }>();
  const records: RunRecord[] = plan.manifest.records();
  for (const record of records) {
    if (record.status !== 'succeeded' || record.gpu_hours === undefined) continue;
    const seen = sameRun.get(record.id);
    if (!seen || record.recorded_at > seen.at) sameRun.set(record.id, { at: record.recorded_at, hours: record.gpu_hours });
  }
  const dir = dirname(plan.manifestPath);
  let names: string[] = [];
  try {
    names = readdirSync(dir).filter((name) => name.endsWith('.manifest.json') && join(dir, name) !== plan.manifestPath);
  } catch {
    // no folder listing, no other manifests
  }
  for (const name of names.sort()) {
    const other = readManifest(join(dir, name), '', name);
    if (other.diagnostics.length === 0) records.push(...other.manifest.records());
  }
  const byRule = new Map<string, FinishedRun[]>();
  for (const record of records.sort((a, b) => b.recorded_at.localeCompare(a.recorded_at))) {
    if (record.status !== 'succeeded' || record.elapsed_s === undefined) continue;
    const list = byRule.get(record.rule) ?? [];
    list.push({ params: record.params, metrics: record.metrics, elapsed_s: record.elapsed_s, gpu_hours: record.gpu_hours, inputSizes: Object.fromEntries(Object.entries(record.inputs).map(([role, input]) => [role, input.size])) });
    byRule.set(record.rule, list);
  }
  const history = { sameRun: new Map([...sameRun].map(([id, { hours }]) => [id, hours])), byRule };
  histories.set(plan, history);
  return history;
}

export function checkBudget(plan: Plan, willRun: (run: PlannedRun) => boolean, rules: { get(name: string): Rule | undefined }): BudgetCheck {
  const protocol = plan.experiment.document.protocol;
  const limit = protocol?.budget_gpu_hours;
  const dollars = protocol?.budget_dollars;
  const price = plan.local.gpu_hour_cost;
  // Without a price, budget_dollars cannot be checked: the plan says so once, as a warning (unenforceableBudget).
  if (limit === undefined && (dollars === undefined || price === undefined)) return { over: false };
  const runs = plan.runs.filter(willRun);
  // Nothing to run, nothing to estimate: the history is every record's, read in full.
  const history = runs.length > 0 ? repositoryHistory(plan) : undefined;
  const estimatedGpuHours = runs.reduce((sum, run) => sum + estimateRunGpuHours(run, plan, rules.get(run.rule)!, history), 0);
  const rounded = Number(estimatedGpuHours.toFixed(2));
  if (limit !== undefined && estimatedGpuHours > limit) {
    return { estimatedGpuHours: rounded, over: true, message: `the ${runs.length} run(s) to start need an estimated ${rounded} GPU-hours, over budget_gpu_hours ${limit} by ${Number((estimatedGpuHours - limit).toFixed(2))}` };
  }
  if (dollars !== undefined && price !== undefined) {
    const cost = estimatedGpuHours * price;
    if (cost > dollars) return { estimatedGpuHours: rounded, over: true, message: `the ${runs.length} run(s) to start cost an estimated $${cost.toFixed(2)} (${rounded} GPU-hours at $${price}), over budget_dollars ${dollars} by $${(cost - dollars).toFixed(2)}` };
  }
  return { estimatedGpuHours: rounded, over: false };
}

/** A budget that cannot be enforced is said, never silently ignored: plan, check and build show it. */
export function unenforceableBudget(experiment: Experiment, local: LocalConfig): Diagnostic | undefined {
  if (experiment.document.protocol?.budget_dollars === undefined || local.gpu_hour_cost !== undefined) return undefined;
  return diagnosticAt(experiment.source, ['protocol', 'budget_dollars'], 'budget_dollars cannot be enforced: no gpu_hour_cost is configured. Set `gpu_hour_cost: <dollars per GPU-hour>` in ckbuild.local.yaml (or budget in GPU-hours with budget_gpu_hours)', { code: 'unenforceable-budget', severity: 'warning' });
}
