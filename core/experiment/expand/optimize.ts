/** Optimisation runs (DSPy): a program, an LM, a teleprompter and datasets. */
import type { FieldPath } from '../../diagnostics.js';
import { compact } from '../../json.js';
import type { ExpandContext, Final } from './context.js';

export function expandOptimize(ctx: ExpandContext, finals: Final[]): void {
  const { doc, config } = ctx;
  for (const [name, spec] of Object.entries(doc.optimize ?? {})) {
    const path: FieldPath = ['optimize', name];
    const trainset = ctx.dataset(spec.trainset ?? doc.dataset, spec.trainset ? [...path, 'trainset'] : ['dataset'], 'train');
    const valset = spec.valset ? ctx.dataset(spec.valset, [...path, 'valset'], 'validation') : undefined;
    const needs: Record<string, string> = {};
    for (const [role, id] of Object.entries(trainset.needs)) needs[`train_${role}`] = id;
    for (const [role, id] of Object.entries(valset?.needs ?? {})) needs[`val_${role}`] = id;
    const inputs: Record<string, string> = { program: spec.program };
    if (trainset.inputs.dataset) inputs.trainset = trainset.inputs.dataset;
    if (valset?.inputs.dataset) inputs.valset = valset.inputs.dataset;
    const lmFinetuned = spec.lm === 'finetuned' ? finals.find((f) => f.kind === 'finetune') : undefined;
    if (lmFinetuned) needs.checkpoint = lmFinetuned.id;
    const origins: Record<string, FieldPath> = { self: path, id: path, program: [...path, 'program'], trainset: [...path, 'trainset'], valset: [...path, 'valset'] };
    for (const key of Object.keys(spec)) origins[key] = [...path, key];
    ctx.add({
      id: `optimize/${name}`,
      step: 'optimize',
      rule: spec.framework ?? ctx.rules.defaultFor('optimize'),
      params: compact({
        module: spec.module,
        lm: spec.lm,
        base_model: spec.lm === 'base' || spec.lm === 'finetuned' ? config.base_model : undefined,
        teleprompter: spec.teleprompter,
        metric: spec.metric,
        trainset: trainset.params,
        valset: valset?.params,
        params: spec.params,
        seed: spec.seed,
      }),
      inputs,
      needs,
      origins,
      labels: { optimize: name },
      resources: ctx.resourcesFor('optimize'),
    });
  }
}
