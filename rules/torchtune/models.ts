/**
 * The models the torchtune rule can fine-tune: for each, the torchtune builders (checked against
 * torchtune 0.6.1 and 0.7.0, `torchtune/models/<family>/__init__.py`), the tokenizer and where its
 * files sit in a `tune download` directory, the checkpoint layout the FullModelHFCheckpointer
 * reads, and what a SLURM job needs. A model directory is `<modelsDir>/<name>`.
 *
 * Only builders that exist in both releases are listed. There is no `qlora_qwen2_5_*` builder,
 * so Qwen2.5 has no QLoRA entry and asking for it is a diagnostic, not a config that fails later.
 */
import { nearest } from '../../core/diagnostics.js';
import { type Architecture, specFromArchitecture } from './checkpoint.js';

export type ModelFamily = 'llama' | 'mistral' | 'qwen';
export type Method = 'lora' | 'qlora' | 'full';

/** `checkpoint_files` as torchtune takes it: a list, or a filename pattern and the last shard number. */
export type CheckpointFiles = string[] | { filename_format: string; max_filename: string };

export interface ModelSpec {
  /** Registry name = directory under the models dir (the `tune download --output-dir` basename). */
  name: string;
  family: ModelFamily;
  /** Hugging Face repository id, for `tune download` and the model's identity. */
  hfRepo: string;
  /** Other names people use for it (older HF repo basenames). */
  aliases: string[];
  /** Parameters in billions, for estimates. */
  paramsB: number;
  builders: Partial<Record<Method, string>>;
  tokenizer: {
    component: string;
    /** Relative to the model directory. */
    path: string;
    /** Qwen's BPE merges file, relative to the model directory. */
    mergesFile?: string;
  };
  checkpointFiles: CheckpointFiles;
  /** torchtune `ModelType` name. */
  modelType: string;
  /**
   * Input and output embeddings share weights: torchtune's builders raise on
   * `apply_lora_to_output` (llama3_2 1B/3B, qwen2_5 ≤ 3B).
   */
  tiedEmbeddings: boolean;
  /** SLURM defaults: "RAM = VRAM" (80 GB per GPU, so saving a checkpoint cannot run out of host memory), 1 CPU per GPU. */
  slurm: { gpus: number; mem: string; cpus_per_task: number };
  /** A checkpoint directory's own dimensions (checkpoint.ts): its builders are the component builders. */
  architecture?: Architecture;
}

const LLAMA_TOKENIZER = { component: 'torchtune.models.llama3.llama3_tokenizer', path: 'original/tokenizer.model' };
const MISTRAL_TOKENIZER = { component: 'torchtune.models.mistral.mistral_tokenizer', path: 'tokenizer.model' };
const QWEN_TOKENIZER = { component: 'torchtune.models.qwen2_5.qwen2_5_tokenizer', path: 'vocab.json', mergesFile: 'merges.txt' };

const ONE_GPU = { gpus: 1, mem: '80G', cpus_per_task: 1 };

function shards(count: number): CheckpointFiles {
  return { filename_format: 'model-{}-of-{}.safetensors', max_filename: String(count).padStart(5, '0') };
}

function builders(module: string, size: string, qlora = true): Partial<Record<Method, string>> {
  const out: Partial<Record<Method, string>> = {
    lora: `torchtune.models.${module}.lora_${module}_${size}`,
    full: `torchtune.models.${module}.${module}_${size}`,
  };
  if (qlora) out.qlora = `torchtune.models.${module}.qlora_${module}_${size}`;
  return out;
}

const llama32_1b = { family: 'llama' as const, paramsB: 1.24, builders: builders('llama3_2', '1b'), tokenizer: LLAMA_TOKENIZER, checkpointFiles: ['model.safetensors'], modelType: 'LLAMA3_2', tiedEmbeddings: true, slurm: ONE_GPU };
const llama3_8b = { family: 'llama' as const, paramsB: 8.03, builders: builders('llama3', '8b'), tokenizer: LLAMA_TOKENIZER, checkpointFiles: shards(4), modelType: 'LLAMA3', tiedEmbeddings: false, slurm: ONE_GPU };
const mistral_7b = { family: 'mistral' as const, paramsB: 7.24, builders: builders('mistral', '7b'), tokenizer: MISTRAL_TOKENIZER, checkpointFiles: shards(2), modelType: 'MISTRAL', tiedEmbeddings: false, slurm: ONE_GPU };
const qwen25_3b = { family: 'qwen' as const, paramsB: 3.09, builders: builders('qwen2_5', '3b', false), tokenizer: QWEN_TOKENIZER, checkpointFiles: shards(2), modelType: 'QWEN2', tiedEmbeddings: true, slurm: ONE_GPU };

export const MODELS: readonly ModelSpec[] = [
  { name: 'Llama-3.2-1B', hfRepo: 'meta-llama/Llama-3.2-1B', aliases: [], ...llama32_1b },
  { name: 'Llama-3.2-1B-Instruct', hfRepo: 'meta-llama/Llama-3.2-1B-Instruct', aliases: [], ...llama32_1b },
  {
    name: 'Llama-3.2-3B-Instruct',
    hfRepo: 'meta-llama/Llama-3.2-3B-Instruct',
    aliases: [],
    ...llama32_1b,
    paramsB: 3.21,
    builders: builders('llama3_2', '3b'),
    checkpointFiles: shards(2),
  },
  {
    name: 'Llama-3.1-8B-Instruct',
    hfRepo: 'meta-llama/Llama-3.1-8B-Instruct',
    aliases: ['Meta-Llama-3.1-8B-Instruct'],
    ...llama3_8b,
    builders: builders('llama3_1', '8b'),
  },
  {
    name: 'Llama-3.3-70B-Instruct',
    hfRepo: 'meta-llama/Llama-3.3-70B-Instruct',
    aliases: [],
    ...llama3_8b,
    paramsB: 70.6,
    builders: builders('llama3_3', '70b'),
    checkpointFiles: shards(30),
    slurm: { gpus: 4, mem: '320G', cpus_per_task: 4 },
  },
  { name: 'Meta-Llama-3-8B', hfRepo: 'meta-llama/Meta-Llama-3-8B', aliases: ['Llama-3-8B'], ...llama3_8b },
  { name: 'Meta-Llama-3-8B-Instruct', hfRepo: 'meta-llama/Meta-Llama-3-8B-Instruct', aliases: ['Llama-3-8B-Instruct'], ...llama3_8b },
  { name: 'Mistral-7B-v0.1', hfRepo: 'mistralai/Mistral-7B-v0.1', aliases: [], ...mistral_7b },
  { name: 'Mistral-7B-Instruct-v0.1', hfRepo: 'mistralai/Mistral-7B-Instruct-v0.1', aliases: [], ...mistral_7b },
  { name: 'Qwen2.5-3B', hfRepo: 'Qwen/Qwen2.5-3B', aliases: [], ...qwen25_3b },
  { name: 'Qwen2.5-3B-Instruct', hfRepo: 'Qwen/Qwen2.5-3B-Instruct', aliases: [], ...qwen25_3b },
];

const byLowerName = new Map<string, ModelSpec>();
for (const model of MODELS) {
  for (const name of [model.name, ...model.aliases, model.hfRepo]) byLowerName.set(name.toLowerCase(), model);
}

/**
 * A model by registry name, alias or HF repo id (`org/Name` matches on its basename, so
 * `meta-llama/Meta-Llama-3-8B` is `Meta-Llama-3-8B`). Case-insensitive: the names are
 * distinct without case, and a user typing `llama-3.2-1b-instruct` means the obvious one.
 */
export function findModel(name: string): ModelSpec | undefined {
  const lower = name.trim().toLowerCase();
  return byLowerName.get(lower) ?? byLowerName.get(lower.slice(lower.lastIndexOf('/') + 1));
}

/** The model a resolved run trains: a registry entry, or a checkpoint directory's own architecture. */
export function modelOf(params: { base_model: string; architecture?: Architecture; checkpoint_files?: string[] }): ModelSpec | undefined {
  if (params.architecture) return specFromArchitecture(params.base_model, params.architecture, params.checkpoint_files ?? ['model.safetensors']);
  return findModel(params.base_model);
}

/** The closest registry name, for "did you mean". */
export function suggestModel(name: string): string | undefined {
  const base = name.slice(name.lastIndexOf('/') + 1);
  return nearest(base, MODELS.map((m) => m.name));
}

/** Every `_component_` the rule itself can emit for models and tokenizers. */
export function modelComponents(): string[] {
  const out = new Set<string>();
  for (const model of MODELS) {
    for (const builder of Object.values(model.builders)) out.add(builder);
    out.add(model.tokenizer.component);
  }
  return [...out].sort();
}
