/**
 * Budgets (seed §4): before anything is submitted, the GPU-hours of the runs about to start are
 * estimated and compared with `protocol.budget_gpu_hours` (and `budget_dollars`, priced by the
 * local config's `gpu_hour_cost`). The estimate of a run prefers what an earlier run of the same
 * logical id actually consumed (calibration), then the rule's own estimate, then its time limit.
 */
import type { Rule } from './rule.js';
import { mergedResources } from './generate.js';
import type { Plan, PlannedRun } from './plan.js';

export interface BudgetCheck {
  estimatedGpuHours: number;
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

export function estimateRunGpuHours(run: PlannedRun, plan: Plan, rule: Rule): number {
  const resources = mergedResources(run, rule, plan.local);
  const gpus = resources.gpus ?? 0;
  if (gpus === 0) return 0;
  let calibrated: number | undefined;
  for (const record of plan.manifest.runs.values()) {
    if (record.id === run.id && record.status === 'succeeded' && record.gpu_hours !== undefined) calibrated = record.gpu_hours;
  }
  if (calibrated !== undefined) return calibrated;
  const estimated = rule.estimateGpuHours?.(run.params, resources);
  if (estimated !== undefined) return estimated;
  return (parseWallTime(resources.time) ?? 1) * gpus;
}

export function checkBudget(plan: Plan, willRun: (run: PlannedRun) => boolean, rules: { get(name: string): Rule | undefined }): BudgetCheck {
  const protocol = plan.experiment.document.protocol;
  const runs = plan.runs.filter(willRun);
  const estimatedGpuHours = runs.reduce((sum, run) => sum + estimateRunGpuHours(run, plan, rules.get(run.rule)!), 0);
  const rounded = Number(estimatedGpuHours.toFixed(2));
  const limit = protocol?.budget_gpu_hours;
  if (limit !== undefined && estimatedGpuHours > limit) {
    return { estimatedGpuHours: rounded, over: true, message: `the ${runs.length} run(s) to start need an estimated ${rounded} GPU-hours, over budget_gpu_hours ${limit} by ${Number((estimatedGpuHours - limit).toFixed(2))}` };
  }
  const dollars = protocol?.budget_dollars;
  const price = plan.local.gpu_hour_cost;
  if (dollars !== undefined) {
    if (price === undefined) return { estimatedGpuHours: rounded, over: false, message: 'budget_dollars is set but the local config has no gpu_hour_cost, so it cannot be checked' };
    const cost = estimatedGpuHours * price;
    if (cost > dollars) return { estimatedGpuHours: rounded, over: true, message: `the ${runs.length} run(s) to start cost an estimated $${cost.toFixed(2)} (${rounded} GPU-hours at $${price}), over budget_dollars ${dollars} by $${(cost - dollars).toFixed(2)}` };
  }
  return { estimatedGpuHours: rounded, over: false };
}
