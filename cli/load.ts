/** Shared by the commands: plan an experiment file and render its diagnostics. */
import type { PlanOptions, PlanResult } from '../core/plan.js';
import { planExperiment } from '../core/plan.js';
import { keepManifestIndex } from '../core/manifest.js';
import { ruleRegistry } from '../rules/index.js';
import { foreignFormats } from '../core/formats/index.js';
import { UsageError } from './args.js';
import { environment } from './environment.js';

export async function planFile(file: string, extra: Partial<PlanOptions> = {}): Promise<PlanResult> {
  const localDefaults = environment.modelsDir ? { models_dir: environment.modelsDir } : {};
  // Every command may splice an edit into the plan the last build saved; only a build saves one.
  const result = await planExperiment(file, { rules: ruleRegistry, foreign: foreignFormats, localDefaults, savedBase: true, ...extra });
  // Planning is pure; keeping the stat cache is the CLI's choice (skipped on a read-only checkout).
  result.plan?.hashes.saveIfPossible();
  // Likewise the manifest's index, when this read made or re-vouched for one (core/manifestIndex.ts).
  if (result.plan) keepManifestIndex(result.plan.manifest);
  return result;
}

/** --executor, else $CKBUILD_EXECUTOR: a typo is a usage error, never a silent default. */
export function requestedExecutor(flagValue: string | undefined): 'local' | 'slurm' | undefined {
  const requested = flagValue ?? environment.executor;
  if (requested === undefined || requested === '') return undefined;
  if (requested !== 'local' && requested !== 'slurm') {
    throw new UsageError(`${flagValue !== undefined ? '--executor' : 'CKBUILD_EXECUTOR'} must be local or slurm, got ${JSON.stringify(requested)}`);
  }
  return requested;
}
