/**
 * The resolved parameters of a torchtune run, typed: `resolve` produces them (every default
 * applied), `render`, the estimates and the metrics reader receive them. `toJson` is their one
 * canonical JSON (what the key hashes and the manifest records) and `readResolved` reads it back
 * (a record, or an upstream stage's parameters), tolerating a hand-made or older record by
 * falling back to the defaults instead of failing on a missing field.
 */
import { isObject, objectOf, type Json, type JsonObject } from '../../core/json.js';
import { DEFAULTS, LR_SCHEDULERS } from './params.js';
import type { Method } from './models.js';
import type { Architecture } from './checkpoint.js';

export type DatasetFormat = 'json' | 'jsonl' | 'json-chat' | 'parquet' | 'alpaca';

export interface DatasetParams {
  format: DatasetFormat;
  /** The split to train on: for `json` the top-level field ({"train": […]}), otherwise informative. */
  split: string;
  /** When the dataset comes from a prepare step: the file inside its outputs directory. */
  file?: string;
}

export interface LoraParams {
  lora_rank: number;
  lora_alpha: number;
  lora_dropout: number;
  /** torchtune's attention module names (`lora_attn_modules`), canonical order. */
  target_modules: string[];
  apply_lora_to_mlp: boolean;
  apply_lora_to_output: boolean;
  save_adapter_weights_only: boolean;
}

export interface TuneParams {
  /** Registry name (normalised: an HF id or alias resolves to it). */
  base_model: string;
  method: Method;
  learning_rate: number;
  batch_size: number;
  gradient_accumulation: number;
  epochs: number;
  /** Present for lora and qlora only: a full fine-tune's identity does not depend on them. */
  lora?: LoraParams;
  /** qlora only. */
  quantization_bits?: number;
  prompt: string;
  system_prompt: string;
  dataset_type: 'chat_completion' | 'text_completion';
  max_seq_len: number;
  /** The earlier toolkit's tokenization (set by imports); absent for ckbuild's own, so native keys never mention it. */
  tokenization?: 'cruijff_kit';
  lr_scheduler: string;
  warmup_steps: number;
  weight_decay: number;
  max_samples?: number;
  /** GPUs training in parallel, when more than one (part of the key: it changes the global batch). */
  data_parallel?: number;
  validation_every_n_steps: number;
  seed: number;
  max_steps_per_epoch?: number;
  train_on_input: boolean;
  packed: boolean;
  dtype: 'bf16' | 'fp32';
  activation_checkpointing: boolean;
  log_every_n_steps: number;
  compile: boolean;
  dataset?: DatasetParams;
  /** Training on the CPU (no GPU asked for): in the key, since the numbers differ from a GPU's. */
  device?: 'cpu';
  /** A checkpoint directory's dimensions, from its config.json (checkpoint.ts); absent for registry models. */
  architecture?: Architecture;
  /** A checkpoint directory's weight files. */
  checkpoint_files?: string[];
}

/** The fields toJson writes in a form of its own (flattened, copied, or placed after the rest). */
const NESTED_FIELDS: ReadonlySet<string> = new Set(['lora', 'dataset', 'quantization_bits', 'max_samples', 'max_steps_per_epoch', 'architecture', 'checkpoint_files']);

/** The JSON form stored in the key: flat, as the user wrote the names. */
export function toJson(params: TuneParams): JsonObject {
  const { lora, dataset, quantization_bits, max_samples, max_steps_per_epoch, architecture, checkpoint_files } = params;
  // One copy of the plain fields, in their order (a rest pattern and then a spread made two of
  // every fine-tune's ~25 fields: a fresh 10,000-trial plan spent ~40 ms here), made by objectOf.
  const keys: string[] = [];
  const values: Json[] = [];
  const put = (key: string, value: Json): void => {
    keys.push(key);
    values.push(value);
  };
  for (const key in params) {
    if (!NESTED_FIELDS.has(key)) put(key, params[key as keyof TuneParams] as Json);
  }
  if (architecture) put('architecture', { ...architecture });
  if (checkpoint_files) put('checkpoint_files', [...checkpoint_files]);
  if (lora) for (const key in lora) put(key, lora[key as keyof LoraParams]);
  if (quantization_bits !== undefined) put('quantization_bits', quantization_bits);
  if (max_samples !== undefined) put('max_samples', max_samples);
  if (max_steps_per_epoch !== undefined) put('max_steps_per_epoch', max_steps_per_epoch);
  if (dataset) {
    const ds: JsonObject = { format: dataset.format, split: dataset.split };
    if (dataset.file !== undefined) ds.file = dataset.file;
    put('dataset', ds);
  }
  return objectOf(keys, values);
}

const num = (value: unknown, fallback: number): number => (typeof value === 'number' && Number.isFinite(value) ? value : fallback);
const optNum = (value: unknown): number | undefined => (typeof value === 'number' && Number.isFinite(value) ? value : undefined);
const str = (value: unknown, fallback: string): string => (typeof value === 'string' ? value : fallback);
const bool = (value: unknown, fallback: boolean): boolean => (typeof value === 'boolean' ? value : fallback);

/** What a fine-tune's resources and GPU-hour estimate are worked out from (rules/torchtune/metrics.ts). */
export type EstimateParams = Pick<TuneParams, 'base_model' | 'method' | 'batch_size' | 'gradient_accumulation' | 'epochs' | 'max_seq_len' | 'max_samples' | 'max_steps_per_epoch'>;

/**
 * Those of readResolved's parameters, read alone: a plan estimates every fine-tune, and reading
 * all ~30 of each of 10,000 cost ~30 ms of a 20,000-run plan. readResolved reads them through it.
 */
export function readEstimateParams(params: JsonObject): EstimateParams {
  const read: EstimateParams = {
    base_model: str(params.base_model, ''),
    method: (['lora', 'qlora', 'full'] as const).find((m) => m === params.method) ?? DEFAULTS.method,
    batch_size: num(params.batch_size, DEFAULTS.batch_size),
    gradient_accumulation: num(params.gradient_accumulation, 1),
    epochs: num(params.epochs, DEFAULTS.epochs),
    max_seq_len: num(params.max_seq_len, DEFAULTS.max_seq_len),
  };
  const maxSamples = optNum(params.max_samples);
  if (maxSamples !== undefined) read.max_samples = maxSamples;
  const maxSteps = optNum(params.max_steps_per_epoch);
  if (maxSteps !== undefined) read.max_steps_per_epoch = maxSteps;
  return read;
}

export function readResolved(params: JsonObject): TuneParams {
  const estimated = readEstimateParams(params);
  const { method } = estimated;
  const rank = num(params.lora_rank, DEFAULTS.lora_rank);
  const out: TuneParams = {
    base_model: estimated.base_model,
    method,
    learning_rate: num(params.learning_rate, DEFAULTS.learning_rate),
    batch_size: estimated.batch_size,
    gradient_accumulation: estimated.gradient_accumulation,
    epochs: estimated.epochs,
    prompt: str(params.prompt, DEFAULTS.prompt),
    system_prompt: str(params.system_prompt, DEFAULTS.system_prompt),
    dataset_type: params.dataset_type === 'text_completion' ? 'text_completion' : 'chat_completion',
    max_seq_len: estimated.max_seq_len,
    lr_scheduler: typeof params.lr_scheduler === 'string' && Object.hasOwn(LR_SCHEDULERS, params.lr_scheduler) ? params.lr_scheduler : DEFAULTS.lr_scheduler,
    warmup_steps: num(params.warmup_steps, DEFAULTS.warmup_steps),
    weight_decay: num(params.weight_decay, DEFAULTS.weight_decay),
    validation_every_n_steps: num(params.validation_every_n_steps, 0),
    seed: num(params.seed, DEFAULTS.seed),
    train_on_input: bool(params.train_on_input, DEFAULTS.train_on_input),
    packed: bool(params.packed, DEFAULTS.packed),
    dtype: params.dtype === 'fp32' ? 'fp32' : 'bf16',
    activation_checkpointing: bool(params.activation_checkpointing, DEFAULTS.activation_checkpointing),
    log_every_n_steps: num(params.log_every_n_steps, DEFAULTS.log_every_n_steps),
    compile: bool(params.compile, DEFAULTS.compile),
  };
  if (params.tokenization === 'cruijff_kit') out.tokenization = 'cruijff_kit';
  if (method !== 'full') {
    out.lora = {
      lora_rank: rank,
      lora_alpha: num(params.lora_alpha, 2 * rank),
      lora_dropout: num(params.lora_dropout, DEFAULTS.lora_dropout),
      target_modules: Array.isArray(params.target_modules) ? params.target_modules.filter((m): m is string => typeof m === 'string') : [...DEFAULTS.target_modules],
      apply_lora_to_mlp: bool(params.apply_lora_to_mlp, DEFAULTS.apply_lora_to_mlp),
      apply_lora_to_output: bool(params.apply_lora_to_output, DEFAULTS.apply_lora_to_output),
      save_adapter_weights_only: bool(params.save_adapter_weights_only, DEFAULTS.save_adapter_weights_only),
    };
  }
  if (params.device === 'cpu') out.device = 'cpu';
  if (isObject(params.architecture) && params.architecture.family === 'llama') out.architecture = params.architecture as unknown as Architecture;
  if (Array.isArray(params.checkpoint_files)) out.checkpoint_files = params.checkpoint_files.filter((f): f is string => typeof f === 'string');
  if (method === 'qlora') out.quantization_bits = num(params.quantization_bits, DEFAULTS.quantization_bits);
  if (estimated.max_samples !== undefined) out.max_samples = estimated.max_samples;
  if (estimated.max_steps_per_epoch !== undefined) out.max_steps_per_epoch = estimated.max_steps_per_epoch;
  if (isObject(params.dataset)) {
    const ds = params.dataset;
    const format = (['json', 'jsonl', 'json-chat', 'parquet', 'alpaca'] as const).find((f) => f === ds.format) ?? 'json';
    out.dataset = { format, split: str(ds.split, 'train') };
    if (typeof ds.file === 'string') out.dataset.file = ds.file;
  }
  return out;
}

/**
 * Optimizer steps torchtune will run, as its recipes count them: each of `gpus` ranks gets
 * ceil(samples / gpus) examples (the distributed sampler pads), the DataLoader drops the last
 * partial batch, steps per epoch = batches // gradient_accumulation, capped by
 * max_steps_per_epoch. The earlier toolkit used ceil throughout and overestimated.
 */
export function trainingSteps(samples: number, params: Pick<TuneParams, 'batch_size' | 'gradient_accumulation' | 'epochs' | 'max_steps_per_epoch'>, gpus: number): { perEpoch: number; total: number } {
  const perRank = Math.ceil(samples / Math.max(1, gpus));
  const batches = Math.floor(perRank / params.batch_size);
  let perEpoch = Math.floor(batches / params.gradient_accumulation);
  if (params.max_steps_per_epoch !== undefined) perEpoch = Math.min(perEpoch, params.max_steps_per_epoch);
  return { perEpoch, total: perEpoch * params.epochs };
}
