/**
 * Stand-ins for the torchtune and inspect rules, so that the conversion and expansion of
 * experiment_summary.yaml can be tested while rules/ is being written: they accept the parameters
 * the conversion emits, apply one default (epochs: 1) and render nothing. Tests that need the real
 * rules go through the CLI (cli.test.ts).
 */
import { experimentSchema } from '../../core/experiment/schema.js';
import type { RuleRegistry } from '../../core/experiment/expand.js';
import type { JsonObject } from '../../core/json.js';
import type { Rule, StepKind } from '../../core/rule.js';

const int = { type: 'integer', minimum: 0 };
const number = { type: 'number' };
const string = { type: 'string' };
const boolean = { type: 'boolean' };

export const stubConfigProperties: JsonObject = {
  base_model: string,
  method: { enum: ['lora', 'qlora', 'full'] },
  learning_rate: number,
  batch_size: int,
  batch_size_val: int,
  epochs: int,
  lora_rank: int,
  lora_alpha: number,
  lora_dropout: number,
  gradient_accumulation: int,
  prompt: string,
  system_prompt: string,
  dataset_type: { enum: ['chat_completion', 'text_completion'] },
  max_seq_len: int,
  lr_scheduler: string,
  warmup_steps: int,
  weight_decay: number,
  max_samples: int,
  validation_every_n_steps: int,
  seed: int,
  target_modules: { type: 'array' },
  packed: boolean,
  train_on_input: boolean,
  max_steps_per_epoch: int,
  save_adapter_weights_only: boolean,
  log_every_n_steps: int,
};

function stubRule(name: string, steps: StepKind[], defaults: JsonObject = {}): Rule {
  return {
    name,
    version: 1,
    steps,
    description: `stub ${name}`,
    paramsSchema: steps.includes('finetune') ? stubConfigProperties : undefined,
    resolve: (run) => ({ params: { ...defaults, ...run.params }, model: typeof run.params.base_model === 'string' ? { name: run.params.base_model } : undefined, diagnostics: [] }),
    render: () => ({ files: {}, command: 'true', requires: [], outputs: [], diagnostics: [] }),
  };
}

const rules = [
  stubRule('torchtune', ['finetune'], { epochs: 1 }),
  stubRule('inspect', ['evaluate']),
  stubRule('command', ['prepare']),
  stubRule('export', ['export']),
  stubRule('adapter-merge', ['merge']),
  stubRule('dspy', ['optimize']),
];
const byName = new Map(rules.map((rule) => [rule.name, rule]));
const defaults: Record<StepKind, string> = { prepare: 'command', finetune: 'torchtune', evaluate: 'inspect', merge: 'adapter-merge', export: 'export', optimize: 'dspy' };
const schema = experimentSchema(stubConfigProperties, ['torchtune']);

export const stubRules: RuleRegistry = {
  get: (name) => byName.get(name),
  names: () => [...byName.keys()],
  defaultFor: (step) => defaults[step],
  schema: () => schema,
};
