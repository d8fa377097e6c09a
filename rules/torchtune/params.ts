/**
 * The parameters of a torchtune fine-tune, as written in an experiment's `config` section:
 * their JSON Schema (merged into the experiment schema, so editors complete and check them),
 * their defaults, and the vocabularies they draw from. Protocol overrides (`vary`, curriculum
 * stage configs) bypass the schema, so `resolve` checks every value again.
 */
import type { JsonObject } from '../../core/json.js';
import { DEFAULT_SEED } from '../../core/defaults.js';
import { MODELS } from './models.js';

export const METHODS = ['lora', 'qlora', 'full'] as const;
export const DATASET_TYPES = ['chat_completion', 'text_completion'] as const;
export const DTYPES = ['bf16', 'fp32'] as const;
/**
 * torchtune 0.6.1 and 0.7.0 ship one schedule, `get_cosine_schedule_with_warmup`
 * (torchtune/training/lr_schedulers.py); a linear or constant choice would name a function
 * that does not exist and fail at recipe start, as the earlier toolkit's did.
 */
export const LR_SCHEDULERS: Record<string, string> = {
  cosine: 'torchtune.training.lr_schedulers.get_cosine_schedule_with_warmup',
};
export const DATASET_FORMATS = ['json', 'jsonl', 'json-chat', 'parquet', 'alpaca'] as const;

/** Defaults, chosen to match the earlier toolkit so the same experiment trains the same way. */
export const DEFAULTS = {
  method: 'lora',
  learning_rate: 1e-4,
  batch_size: 4,
  epochs: 1,
  lora_rank: 8,
  lora_dropout: 0.0,
  target_modules: ['q_proj', 'v_proj', 'output_proj'],
  apply_lora_to_mlp: true,
  apply_lora_to_output: false,
  quantization_bits: 4,
  prompt: '{input}\n',
  system_prompt: '',
  dataset_type: 'chat_completion',
  max_seq_len: 2048,
  lr_scheduler: 'cosine',
  warmup_steps: 100,
  weight_decay: 0.01,
  validation_every_n_steps: 0,
  seed: DEFAULT_SEED,
  train_on_input: false,
  packed: false,
  save_adapter_weights_only: true,
  dtype: 'bf16',
  activation_checkpointing: false,
  log_every_n_steps: 1,
  compile: false,
} as const;

/** Attention projections torchtune can adapt (`LORA_ATTN_MODULES`), and the HF names for them. */
export const ATTENTION_MODULES: Record<string, string> = {
  q_proj: 'q_proj',
  k_proj: 'k_proj',
  v_proj: 'v_proj',
  output_proj: 'output_proj',
  o_proj: 'output_proj',
};
/** torchtune adapts the MLP as a whole (`apply_lora_to_mlp`): any of its projections selects it. */
export const MLP_MODULES = ['gate_proj', 'up_proj', 'down_proj', 'w1', 'w2', 'w3', 'mlp'];
/** The final projection to the vocabulary (`apply_lora_to_output`). */
export const OUTPUT_MODULES = ['lm_head', 'output'];
export const KNOWN_TARGET_MODULES = [...Object.keys(ATTENTION_MODULES), ...MLP_MODULES, ...OUTPUT_MODULES];

const positiveInt = (description: string): JsonObject => ({ type: 'integer', minimum: 1, description });
const nonNegativeInt = (description: string): JsonObject => ({ type: 'integer', minimum: 0, description });
const bool = (description: string): JsonObject => ({ type: 'boolean', description });

export const paramsSchema: JsonObject = {
  base_model: {
    type: 'string',
    minLength: 1,
    description: `Model to fine-tune: a registry name or its Hugging Face id (org/Name). Known: ${MODELS.map((m) => m.name).join(', ')}.`,
    examples: MODELS.map((m) => m.name),
  },
  method: { enum: [...METHODS], description: 'lora (default), qlora (LoRA on a 4-bit NF4 base) or full fine-tuning.' },
  learning_rate: { type: 'number', exclusiveMinimum: 0, description: 'AdamW learning rate (default 1e-4); 1e-4 and 0.0001 are the same value.' },
  batch_size: positiveInt('Examples per device per forward pass (default 4).'),
  effective_batch_size: positiveInt('Examples per optimizer step across all GPUs; sets gradient accumulation = effective / (batch_size × GPUs), which must divide exactly.'),
  gradient_accumulation: positiveInt('Gradient accumulation steps, given directly (default 1); conflicts with effective_batch_size.'),
  epochs: positiveInt('Passes over the training data (default 1); one checkpoint per epoch, epoch_0 … epoch_{epochs-1}.'),
  lora_rank: positiveInt('LoRA rank r (default 8).'),
  lora_alpha: { type: 'number', exclusiveMinimum: 0, description: 'LoRA scaling alpha (default 2 × lora_rank).' },
  lora_dropout: { type: 'number', minimum: 0, exclusiveMaximum: 1, description: 'Dropout on the LoRA path (default 0.0).' },
  target_modules: {
    type: 'array',
    minItems: 1,
    uniqueItems: true,
    items: { type: 'string', enum: KNOWN_TARGET_MODULES },
    description: 'Layers that get LoRA adapters (default [q_proj, v_proj, output_proj]). HF names work: o_proj = output_proj; gate_proj/up_proj/down_proj select the MLP; lm_head/output the final projection.',
  },
  apply_lora_to_mlp: bool('Adapt the MLP projections too (default true, as the earlier toolkit did).'),
  apply_lora_to_output: bool('Adapt the final vocabulary projection (default false; impossible on models with tied embeddings).'),
  quantization_bits: { enum: [4], description: 'QLoRA only: torchtune quantizes the frozen base to 4-bit NF4; no other width exists.' },
  prompt: { type: 'string', description: 'How an example’s input becomes the user message; must contain {input} exactly once (default "{input}\\n"). The evaluation uses the same prompt.' },
  system_prompt: { type: 'string', description: 'System message added to every training example (default ""); chat_completion only.' },
  dataset_type: { enum: [...DATASET_TYPES], description: 'chat_completion (default) or text_completion: how the evaluation formats prompts for this model (chat template or raw text).' },
  max_seq_len: positiveInt('Tokens per example after which the tokenizer truncates (default 2048).'),
  tokenization: { enum: ['inspect', 'cruijff_kit'], description: 'How {input, output} examples become token ids. inspect (default): exactly the prompt ids inspect-ai’s hf provider evaluates (apply_chat_template as text, then tokenized with special tokens), then output + eos. cruijff_kit: the earlier toolkit’s dataset builders, token for token (the chat template tokenizes the whole conversation; text_completion encodes prompt + output with no eos; nothing is truncated): what `ckbuild import` sets, so an imported experiment trains what it trained there.' },
  lr_scheduler: { enum: Object.keys(LR_SCHEDULERS), description: 'Learning-rate schedule: cosine with linear warmup (the only schedule torchtune ships).' },
  warmup_steps: nonNegativeInt('Linear warmup steps of the schedule (default 100).'),
  weight_decay: { type: 'number', minimum: 0, description: 'AdamW weight decay (default 0.01).' },
  max_samples: positiveInt('Train on the first N examples of the split only (Hugging Face split slicing, train[:N]).'),
  validation_every_n_steps: nonNegativeInt('Validation loss every N steps on the validation split of a JSON dataset (0 = off, default), logged as val_loss beside the training loss. On one device ckbuild trains with its own recipe (torchtune’s, subclassed with a validation loop); on several GPUs it needs torchtune 0.7.0’s distributed recipes, or a custom recipe.'),
  seed: nonNegativeInt(`Training seed (default ${DEFAULT_SEED}).`),
  max_steps_per_epoch: positiveInt('Stop each epoch after this many optimizer steps (for smoke tests).'),
  train_on_input: bool('Also compute the loss on the prompt tokens (default false).'),
  packed: bool('Pack several examples into each max_seq_len sequence (default false).'),
  save_adapter_weights_only: bool('LoRA/QLoRA: save only the adapter (default true), or also the merged model. Curriculum stages save merged weights, which the next stage starts from.'),
  dtype: { enum: [...DTYPES], description: 'Training precision (default bf16).' },
  activation_checkpointing: bool('Recompute activations in the backward pass to save memory (default false).'),
  log_every_n_steps: positiveInt('Log loss every N steps (default 1).'),
  compile: bool('torch.compile the model and loss (default false).'),
  base_config: { type: 'string', minLength: 1, description: 'A torchtune YAML to start from instead of ckbuild’s template (project-relative; hashed). ckbuild’s parameters still override it.' },
  recipe: { type: 'string', minLength: 1, description: 'A custom torchtune recipe (.py, project-relative; hashed) to run instead of the stock one.' },
};

export const PARAM_NAMES = Object.keys(paramsSchema);
