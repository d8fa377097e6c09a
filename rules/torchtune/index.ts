/**
 * The torchtune rule: LoRA, QLoRA and full fine-tunes with torchtune's stock recipes
 * (0.6.1, the last release, and 0.7.0, the final main branch). Everything that knows
 * torchtune's config shape lives in this folder, so the trainer can be replaced by another
 * rule without touching core.
 *
 * Version history: 1 — first version. 2 — {input, output} datasets are formatted by ckbuild's
 * dataset component with the model's own chat template (or raw for text_completion), exactly as
 * the evaluation formats its prompts; before, torchtune's tokenizer and prompt template trained
 * on different text. Bump on any change to what a run trains (templates/torchtune/finetune.yaml
 * and templates/python/ckbuild_chat_dataset.py included).
 */
import { defineRule } from '../../core/rule.js';
import { defaultResources, estimateGpuHours, MEASUREMENTS, readMetrics } from './metrics.js';
import { torchtuneConfigSchema } from './configSchema.js';
import { paramsSchema } from './params.js';
import { renderTorchtune } from './render.js';
import { type EstimateParams, readEstimateParams, readResolved, toJson, type TuneParams } from './resolved.js';
import { resolveTorchtune } from './resolve.js';

export const torchtuneRule = defineRule<TuneParams, EstimateParams>({
  name: 'torchtune',
  version: 2,
  steps: ['finetune'],
  description: 'Fine-tune a language model with torchtune (LoRA, QLoRA or full), single-GPU or distributed.',
  paramsSchema,
  resolve: resolveTorchtune,
  toJson,
  fromJson: readResolved,
  estimateFromJson: readEstimateParams,
  render: renderTorchtune,
  defaultResources,
  estimateGpuHours,
  readMetrics: (runDir) => readMetrics(runDir),
  measurements: MEASUREMENTS,
  artifactSchemas: { 'config/finetune.yaml': torchtuneConfigSchema },
});
