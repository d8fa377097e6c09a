/** Shared by the commands: plan an experiment file and render its diagnostics. */
import type { PlanOptions, PlanResult } from '../core/plan.js';
import { planExperiment } from '../core/plan.js';
import { ruleRegistry } from '../rules/index.js';
import { foreignFormats } from '../core/formats/index.js';

export async function planFile(file: string, extra: Partial<PlanOptions> = {}): Promise<PlanResult> {
  return planExperiment(file, { rules: ruleRegistry, foreign: foreignFormats, ...extra });
}
