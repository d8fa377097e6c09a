/**
 * Any Llama-family checkpoint directory, not only the registry's names: the architecture comes
 * from the directory's own `config.json` (what `FullModelHFCheckpointer` maps the weights by) and
 * becomes torchtune's component builder with explicit dimensions. The dimensions are part of the
 * run's parameters, and config.json and the weights are inputs hashed by content, so the key
 * follows the model's identity, never its path.
 */
import { isAbsolute, join, resolve } from 'node:path';
import type { ResolveContext } from '../../core/rule.js';
import { isObject, type JsonObject } from '../../core/json.js';
import type { ModelSpec } from './models.js';
import { isModelPath } from '../support/render.js';

/** What the component builders `torchtune.models.llama3.{lora_llama3, llama3}` take. */
export interface Architecture {
  family: 'llama';
  vocab_size: number;
  num_layers: number;
  num_heads: number;
  num_kv_heads: number;
  embed_dim: number;
  intermediate_dim: number;
  max_seq_len: number;
  norm_eps: number;
  rope_base: number;
}


/** The directory a model name points at: the experiment's `models.<name>.path`, or the name itself when it is a path. */
export function modelDirOf(name: string, projectDir: string, sitePath?: string): string | undefined {
  if (sitePath !== undefined) return isAbsolute(sitePath) ? sitePath : resolve(projectDir, sitePath);
  return isModelPath(name) ? resolve(projectDir, name) : undefined;
}

export type ArchitectureResult = { architecture: Architecture; weights: string[] } | { problem: string };

/** How a model directory is read: ResolveContext's recorded reads. */
export type ModelFiles = Pick<ResolveContext, 'readText' | 'exists'>;

/** Reads `<dir>/config.json` and finds the weights, through the plan's recorded reads; a problem names what cannot be mapped and why. */
export function readArchitecture(dir: string, files: ModelFiles): ArchitectureResult {
  const file = join(dir, 'config.json');
  const text = files.readText(file);
  if (text === undefined) return { problem: `no config.json in ${dir}: point \`base_model\` at a Hugging Face model directory (config.json, model.safetensors, tokenizer files, original/tokenizer.model)` };
  let config: unknown;
  try {
    config = JSON.parse(text);
  } catch (error) {
    return { problem: `${file} is not valid JSON (${(error as Error).message})` };
  }
  if (!isObject(config)) return { problem: `${file} is not a JSON object` };
  const c = config as JsonObject;
  const architectures = Array.isArray(c.architectures) ? c.architectures : [];
  if (c.model_type !== 'llama' || !architectures.includes('LlamaForCausalLM')) {
    return { problem: `${file} describes a \`${String(c.model_type)}\` model (${architectures.join(', ') || 'no architectures'}); ckbuild maps Llama-family checkpoints (model_type llama, LlamaForCausalLM) to torchtune builders: use a registry model name for other families` };
  }
  const int = (key: string): number | undefined => (typeof c[key] === 'number' && Number.isInteger(c[key]) ? (c[key] as number) : undefined);
  const missing = ['vocab_size', 'num_hidden_layers', 'num_attention_heads', 'hidden_size', 'intermediate_size'].filter((key) => int(key) === undefined);
  if (missing.length > 0) return { problem: `${file} lacks ${missing.join(', ')}` };
  const heads = int('num_attention_heads')!;
  const hidden = int('hidden_size')!;
  const headDim = int('head_dim');
  if (headDim !== undefined && headDim * heads !== hidden) return { problem: `${file}: head_dim ${headDim} × ${heads} heads is not hidden_size ${hidden}; torchtune's llama3 builders derive head_dim = hidden_size / heads` };
  if (c.tie_word_embeddings === true) return { problem: `${file} ties input and output embeddings (tie_word_embeddings: true); torchtune's llama3 component builders have an untied output layer: untie the checkpoint or use a registry model (Llama-3.2 1B/3B)` };
  if (c.rope_scaling !== undefined && c.rope_scaling !== null) return { problem: `${file} uses rope_scaling (${JSON.stringify(c.rope_scaling)}); only unscaled rotary embeddings map to torchtune's llama3 component builders: use a registry model for Llama-3.1+` };
  const weights = files.exists(join(dir, 'model.safetensors')) ? ['model.safetensors'] : shardFiles(dir, files);
  if (weights.length === 0) return { problem: `no model.safetensors (or model.safetensors.index.json) in ${dir}` };
  return {
    architecture: {
      family: 'llama',
      vocab_size: int('vocab_size')!,
      num_layers: int('num_hidden_layers')!,
      num_heads: heads,
      num_kv_heads: int('num_key_value_heads') ?? heads,
      embed_dim: hidden,
      intermediate_dim: int('intermediate_size')!,
      max_seq_len: int('max_position_embeddings') ?? 2048,
      norm_eps: typeof c.rms_norm_eps === 'number' ? c.rms_norm_eps : 1e-5,
      rope_base: typeof c.rope_theta === 'number' ? c.rope_theta : 10000,
    },
    weights,
  };
}

function shardFiles(dir: string, files: ModelFiles): string[] {
  try {
    const index = JSON.parse(files.readText(join(dir, 'model.safetensors.index.json')) ?? '') as { weight_map?: Record<string, string> };
    return [...new Set(Object.values(index.weight_map ?? {}))].sort();
  } catch {
    return [];
  }
}

/** Parameters (in billions) from the dimensions: embeddings, attention, MLP, output. */
function parameterCount(a: Architecture): number {
  const headDim = a.embed_dim / a.num_heads;
  const attention = a.embed_dim * (a.num_heads * headDim) * 2 + a.embed_dim * (a.num_kv_heads * headDim) * 2;
  const mlp = 3 * a.embed_dim * a.intermediate_dim;
  return (2 * a.vocab_size * a.embed_dim + a.num_layers * (attention + mlp)) / 1e9;
}

/** A ModelSpec for a checkpoint directory, as the registry's entries are. */
export function specFromArchitecture(name: string, architecture: Architecture, weights: string[]): ModelSpec {
  return {
    name,
    family: 'llama',
    hfRepo: '',
    aliases: [],
    paramsB: parameterCount(architecture),
    builders: { lora: 'torchtune.models.llama3.lora_llama3', full: 'torchtune.models.llama3.llama3' },
    tokenizer: { component: 'torchtune.models.llama3.llama3_tokenizer', path: 'original/tokenizer.model' },
    checkpointFiles: weights,
    modelType: 'LLAMA3',
    tiedEmbeddings: false,
    slurm: { gpus: 1, mem: '32G', cpus_per_task: 1 },
    architecture,
  };
}

/** The builder's keyword arguments for the dimensions (the `model:` block's extra keys). */
export function builderDimensions(a: Architecture): JsonObject {
  return { vocab_size: a.vocab_size, num_layers: a.num_layers, num_heads: a.num_heads, num_kv_heads: a.num_kv_heads, embed_dim: a.embed_dim, intermediate_dim: a.intermediate_dim, max_seq_len: a.max_seq_len, norm_eps: a.norm_eps, rope_base: a.rope_base };
}
