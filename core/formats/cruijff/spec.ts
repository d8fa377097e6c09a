/**
 * What the earlier toolkit's format is made of: its sections, run types and vocabularies, and its
 * training parameters (their names there and here, the values they take, its defaults).
 */
import type { Json, JsonObject } from '../../json.js';

export const SECTIONS = ['experiment', 'tools', 'variables', 'controls', 'models', 'data', 'output', 'runs', 'evaluation'] as const;
export const RUN_TYPES = ['fine-tuned', 'control', 'eval-only'] as const;
export type RunType = (typeof RUN_TYPES)[number];
export const DATASET_TYPES = ['chat_completion', 'text_completion'];
export const LEGACY_DATASET_TYPES = ['instruct_dataset', 'chat_dataset', 'text_completion_dataset'];
export const LR_SCHEDULERS = ['get_cosine_schedule_with_warmup', 'get_linear_schedule_with_warmup', 'get_constant_schedule_with_warmup', 'get_exponential_schedule_with_warmup'];
export const SCORERS = ['match', 'includes', 'risk_scorer', 'numeric_risk_scorer', 'continuous_scorer'];
/** `validation_during_training: true` meant validation every this many steps. */
export const VALIDATION_EVERY_N_STEPS = 50;
export const WALL_TIME = /^([0-9]+-)?[0-9]{1,3}:[0-5][0-9]:[0-5][0-9]$/;
export const MEMORY = /^[0-9]+(\.[0-9]+)?[KMGT]B?$/;
export const RUN_NAME = /^[\w.-]+$/;

export type ParamType = 'int' | 'number' | 'bool' | 'string';

export interface ParamSpec {
  /** The name in ckbuild's config. */
  native: string;
  type: ParamType;
  min?: number;
  exclusiveMin?: number;
  max?: number;
  values?: readonly string[];
  /** Integers only, no quoted numbers (the earlier toolkit's `resolve_seed`). */
  strict?: boolean;
  /** Where the earlier toolkit's behaviour differs: said as a warning when the key is used. */
  differs?: string;
}

/** Training parameters: their names there and here, and what values they take. */
export const PARAMS: Record<string, ParamSpec> = {
  epochs: { native: 'epochs', type: 'int', min: 1 },
  batch_size: { native: 'batch_size', type: 'int', min: 1 },
  batch_size_val: { native: 'batch_size_val', type: 'int', min: 1 },
  gradient_accumulation_steps: { native: 'gradient_accumulation', type: 'int', min: 1 },
  lr: { native: 'learning_rate', type: 'number', exclusiveMin: 0 },
  lora_rank: { native: 'lora_rank', type: 'int', min: 1 },
  lora_alpha: { native: 'lora_alpha', type: 'number', exclusiveMin: 0, differs: 'cruijff_kit ignored `lora_alpha` (it always trained with 2 × lora_rank); ckbuild uses this value' },
  lora_dropout: { native: 'lora_dropout', type: 'number', min: 0, max: 1 },
  weight_decay: { native: 'weight_decay', type: 'number', min: 0 },
  num_warmup_steps: { native: 'warmup_steps', type: 'int', min: 0 },
  lr_scheduler: { native: 'lr_scheduler', type: 'string', values: LR_SCHEDULERS },
  max_seq_len: { native: 'max_seq_len', type: 'int', min: 1 },
  max_steps_per_epoch: { native: 'max_steps_per_epoch', type: 'int', min: 1 },
  packed: { native: 'packed', type: 'bool' },
  train_on_input: { native: 'train_on_input', type: 'bool' },
  save_adapter_weights_only: { native: 'save_adapter_weights_only', type: 'bool' },
  log_every_n_steps: { native: 'log_every_n_steps', type: 'int', min: 1 },
  seed: { native: 'seed', type: 'int', min: 0, strict: true },
  prompt: { native: 'prompt', type: 'string' },
  system_prompt: { native: 'system_prompt', type: 'string' },
  dataset_type: { native: 'dataset_type', type: 'string', values: DATASET_TYPES },
};

/** ckbuild spellings someone may carry over by mistake: the message names the earlier toolkit's key. */
export const NATIVE_SPELLINGS: Record<string, string> = Object.fromEntries(Object.entries(PARAMS).filter(([key, spec]) => key !== spec.native).map(([key, spec]) => [spec.native, key]));

export const UNSUPPORTED_PARAMS: Record<string, string> = {
  base_recipe: '`base_recipe` copied nine defaults from a stock torchtune recipe at scaffold time (with `tune cp`); ckbuild reads them for torchtune 0.6.1’s recipes under `controls` (llama3_2/1B_lora_single_device, …), not for this name or on a run: write the values you want (lora_rank, lora_dropout, lr, weight_decay, batch_size, epochs, gradient_accumulation_steps, num_warmup_steps, max_seq_len) explicitly; `tune cp <recipe> .` shows them',
  custom_recipe: 'the training recipe is chosen by ckbuild’s torchtune rule (single-device or distributed, from the GPU count)',
  training_samples: 'use data.training.splits.train (it becomes the number of training examples used)',
};

/** The earlier toolkit's argparse defaults, written explicitly so an import trains the same thing. */
export const TRAINING_DEFAULTS: Array<[string, Json]> = [
  ['epochs', 1],
  ['batch_size', 4],
  ['gradient_accumulation_steps', 1],
  ['lr', 1e-4],
  ['lora_rank', 64],
  ['num_warmup_steps', 100],
  ['weight_decay', 0.01],
  ['lora_dropout', 0],
  ['max_seq_len', 2048],
];

/** A run of `runs`, as far as the conversion has read it. */
export interface RunInfo {
  index: number;
  name: string;
  type: RunType;
  model: string;
  parameters: JsonObject;
}
