/**
 * inspect-ai evaluation: one run per (task, model, epoch) cell, so every cell has its own key,
 * run directory, logs and job (nothing shared between cells can collide). A fine-tuned cell
 * reads the checkpoint of the exact upstream run the DAG names.
 */
import { memoryFor } from '../support/render.js';
import { defineRule, type RenderContext, type RenderedRun, type Resources } from '../../core/rule.js';
import { EVAL_CONFIG, evalCommand } from './command.js';
import { readInspectMetrics } from './metrics.js';
import { inspectJson, inspectParams, inspectResolvesBy, resolveInspect, type InspectParams } from './params.js';

function render(context: RenderContext<InspectParams>): RenderedRun {
  const { command, evalYaml, diagnostics } = evalCommand(context);
  return {
    files: { [EVAL_CONFIG]: evalYaml },
    command,
    requires: ['inspect'],
    install: { inspect: 'pip install inspect-ai transformers torch peft' },
    outputs: ['outputs/logs'],
    diagnostics,
  };
}

function defaultResources(params: InspectParams): Resources {
  // The hf provider loads weights in float32 unless told otherwise: 4 bytes per parameter.
  return { gpus: 1, time: '00:20:00', mem: memoryFor(params.base_model, 4) };
}

export const inspectRule = defineRule<InspectParams>({
  name: 'inspect',
  version: 1,
  steps: ['evaluate'],
  description: 'inspect-ai evaluation of one task on one model (base model, fine-tuned checkpoint or merged adapter) per run.',
  resolve: resolveInspect,
  resolvesBy: inspectResolvesBy,
  toJson: inspectJson,
  fromJson: inspectParams,
  render,
  defaultResources,
  readMetrics: (runDir) => readInspectMetrics(runDir),
});
