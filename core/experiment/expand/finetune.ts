/**
 * Fine-tunes: one per trial of the protocol, or for a curriculum a chain of stages per trial,
 * each resuming from the previous stage's checkpoint. The last fine-tune of each trial is one of
 * the experiment's results (evaluated, exported; for an ensemble, a member of the merge).
 */
import type { Diagnostic, FieldPath } from '../../diagnostics.js';
import { compactMerged, merged, type JsonObject } from '../../json.js';
import { checkPrompt } from './prompts.js';
import { expandTrials, type Trial } from '../trials.js';
import type { ResolvedParams } from '../../rule.js';
import { type ExpandContext, type Final, translatingSource } from './context.js';

export interface Finetunes {
  trials: Trial[];
  /** The trials whose fine-tunes were expanded: all of them unless ctx.onlyTrials chose. */
  expanded: Trial[];
  /** The fine-tunes whose checkpoints are the experiment's results. */
  finals: Final[];
  /** An ensemble's members: the last fine-tune of each trial. */
  members: string[];
}

export function expandFinetunes(ctx: ExpandContext): Finetunes {
  const { doc } = ctx;
  const translating = translatingSource(ctx.source, ctx.translate);
  const trialDiagnostics: Diagnostic[] = [];
  const trials = doc.config ? expandTrials(doc, translating.source, trialDiagnostics, ctx.earlierListing) : [];
  ctx.diagnostics.push(...trialDiagnostics.map(translating.fix));
  const configOrigins: Record<string, FieldPath> = { self: ['config'], rule: ['config', 'framework'] };
  for (const key of Object.keys(ctx.config)) configOrigins[key] = ['config', key];
  const finals: Final[] = [];
  const members: string[] = [];
  const expanded = ctx.onlyTrials ? trials.filter(ctx.onlyTrials) : trials;
  for (const trial of expanded) {
    const final = expandTrial(ctx, trial, configOrigins);
    if (!final) continue;
    if (doc.protocol?.type === 'ensemble') members.push(final.id);
    finals.push(final);
  }
  return { trials, expanded, finals, members };
}

/** One trial's fine-tune, or its chain of curriculum stages; the last one, when it was added. */
function expandTrial(ctx: ExpandContext, trial: Trial, configOrigins: Record<string, FieldPath>): Final | undefined {
  const { doc, config } = ctx;
  const rule = typeof doc.config?.framework === 'string' ? doc.config.framework : ctx.rules.defaultFor('finetune');
  const curriculum = (doc.protocol?.type ?? 'standard') === 'curriculum';
  const labels: JsonObject = merged(trial.labels, { trial_id: trial.trialId });
  const stages = curriculum ? doc.protocol?.stages ?? [] : [undefined];
  if (curriculum && stages.length === 0) {
    ctx.diagnostics.push(ctx.diag(['protocol', 'type'], 'a curriculum needs `protocol.stages`: a list of {name, dataset}', { code: 'missing-key' }));
  }
  let previous: string | undefined;
  let resolved: ResolvedParams | undefined;
  let trained: JsonObject = config;
  stages.forEach((stage, stageIndex) => {
    const stageOverrides = stage?.config ?? {};
    const origins: Record<string, FieldPath> = merged(configOrigins, trial.origins);
    for (const key of Object.keys(stageOverrides)) origins[key] = ['protocol', 'stages', stageIndex, 'config', key];
    const datasetPath: FieldPath = stage ? ['protocol', 'stages', stageIndex, 'dataset'] : trial.dataset && trial.path ? [...trial.path, 'dataset'] : ['dataset'];
    const dataset = ctx.dataset(stage ? stage.dataset : trial.dataset ?? doc.dataset, datasetPath, 'train');
    origins.dataset = datasetPath;
    const id = stage ? `finetune/${trial.label}/${stageIndex + 1}-${stage.name}` : `finetune/${trial.label}`;
    const needs: Record<string, string> = { ...dataset.needs };
    if (previous) needs.init = previous; // start from the previous stage's checkpoint
    // What it trains with; the evaluations of its checkpoints read their prompt and model from it.
    const params = compactMerged(config, trial.overrides, stageOverrides, { dataset: dataset.params });
    trained = params;
    resolved = ctx.add({
      id,
      step: 'finetune',
      rule,
      params,
      inputs: dataset.inputs,
      needs,
      origins,
      labels: stage ? { ...labels, stage: stage.name } : labels,
      resources: trial.resources ? { ...ctx.resourcesFor('finetune'), ...trial.resources } : ctx.resourcesFor('finetune'),
      earlyStopLoss: doc.protocol?.early_stop_loss,
    }, ctx.siteOf(trained.base_model));
    previous = id;
  });
  if (!previous || !ctx.positionOf.has(previous)) return undefined;
  return { id: previous, trial, kind: 'finetune', config: trained, resolved };
}

/** A list run's own prompt is checked like config.prompt (the loader checks that one). */
export function checkTrialPrompts(ctx: ExpandContext, trials: Trial[]): void {
  for (const trial of trials) {
    if (trial.path && typeof trial.overrides.prompt === 'string') checkPrompt(ctx, trial.overrides.prompt, [...trial.path, 'prompt']);
  }
}
