/**
 * Experiment → runs, step by step: prepare steps, fine-tunes (one per trial, chained for a
 * curriculum), the ensemble merge, evaluation cells, optimisations and exports. Each step is a
 * module of this folder; they share an ExpandContext, which resolves each run with its rule as
 * soon as it is added, because later steps read the result.
 */
import type { ExpandedRun, ResolvedParams, RuleRegistry } from '../../rule.js';
import { type Diagnostic, hasErrors } from '../../diagnostics.js';
import type { Json } from '../../json.js';
import type { Experiment } from '../model.js';
import { validateAgainstSchema } from '../validate.js';
import { ExpandContext, translatingSource } from './context.js';
import { EvaluationScope } from './evaluate.js';
import { expandMatrix } from './evaluateMatrix.js';
import { expandModels } from './evaluateModels.js';
import { expandExports } from './export.js';
import { checkTrialPrompts, expandFinetunes } from './finetune.js';
import { expandMerge } from './merge.js';
import { expandOptimize } from './optimize.js';
import { expandPrepare } from './prepare.js';
import type { EarlierListing, Trial } from '../trials.js';

export type { RuleRegistry };

export interface Expansion {
  runs: ExpandedRun[];
  /** The place of each run in `runs`, by id. */
  positionOf: ReadonlyMap<string, number>;
  /** The resolution of each run of `runs`, at the same position. */
  resolutions: ResolvedParams[];
  /** Every trial of the protocol, also those `onlyTrials` left out. */
  trials: Trial[];
  /** The files resolution read, with their fingerprints (ResolveContext.readText and exists). */
  reads: ReadonlyMap<string, string>;
  diagnostics: Diagnostic[];
}

export interface ExpandOptions {
  /**
   * Expand the fine-tunes (and what follows from them) of these trials only; every other step is
   * expanded as usual. A re-plan uses it for the trials an edit changed (core/replan.ts), and checks
   * that the result fits the previous plan's other runs.
   */
  onlyTrials?: (trial: Trial) => boolean;
  /** A re-plan's base listing of a list protocol: its unchanged items are not worked out again (core/experiment/trials.ts). */
  earlierListing?: EarlierListing;
}

export function expandExperiment(experiment: Experiment, rules: RuleRegistry, options: ExpandOptions = {}): Expansion {
  const ctx = new ExpandContext(experiment, rules, options.onlyTrials, options.earlierListing);
  let trials: Trial[] = [];
  const result = (): Expansion => ({ runs: ctx.runs, positionOf: ctx.positionOf, resolutions: ctx.resolutions, trials, reads: ctx.reads, diagnostics: ctx.diagnostics });
  // A converted document skipped the loader's schema validation; validate it here, positioned in the original file.
  if (experiment.format !== 'native') {
    const translating = translatingSource(ctx.source, ctx.translate);
    const problems = validateAgainstSchema(translating.source, ctx.doc as unknown as Json, rules.schema()).map(translating.fix);
    ctx.diagnostics.push(...problems);
    if (hasErrors(problems)) return result();
  }
  expandPrepare(ctx);
  const finetunes = expandFinetunes(ctx);
  trials = finetunes.trials;
  const { finals, members } = finetunes;
  const merged = expandMerge(ctx, members);
  if (merged) finals.push(merged);
  checkTrialPrompts(ctx, finetunes.expanded);
  const evaluation = ctx.doc.evaluation;
  if (evaluation) {
    const scope = new EvaluationScope(ctx, evaluation, finals);
    if (evaluation.matrix) expandMatrix(scope, trials);
    else expandModels(scope);
  }
  expandOptimize(ctx, finals);
  expandExports(ctx, finals);
  return result();
}
