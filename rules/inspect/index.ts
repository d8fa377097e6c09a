/**
 * inspect-ai evaluation: one run per (task, model, epoch) cell, so every cell has its own key,
 * run directory, logs and job (nothing shared between cells can collide). A fine-tuned cell
 * reads the checkpoint of the exact upstream run the DAG names.
 */
import type { JsonObject } from '../../core/json.js';
import { memoryFor } from '../support/render.js';
import type { RenderContext, RenderedRun, Resources, Rule } from '../../core/rule.js';
import { EVAL_CONFIG, evalCommand } from './command.js';
import { readInspectMetrics } from './metrics.js';
import { inspectParams, resolveInspect } from './params.js';

function render(context: RenderContext): RenderedRun {
  const params = inspectParams(context.params);
  const { command, evalYaml, diagnostics } = evalCommand(context, params);
  return {
    files: { [EVAL_CONFIG]: evalYaml },
    command,
    requires: ['inspect'],
    install: { inspect: 'pip install inspect-ai transformers torch peft' },
    outputs: ['outputs/logs'],
    diagnostics,
  };
}

function defaultResources(params: JsonObject): Resources {
  const model = typeof params.base_model === 'string' ? params.base_model : undefined;
  // The hf provider loads weights in float32 unless told otherwise: 4 bytes per parameter.
  return { gpus: 1, time: '00:20:00', mem: memoryFor(model, 4) };
}

export const inspectRule: Rule = {
  name: 'inspect',
  version: 1,
  steps: ['evaluate'],
  description: 'inspect-ai evaluation of one task on one model (base model, fine-tuned checkpoint or merged adapter) per run.',
  resolve: resolveInspect,
  render,
  defaultResources,
  readMetrics: readInspectMetrics,
};
