/**
 * What torchtune's recipes read from the config ckbuild renders (config/finetune.yaml), as a
 * JSON Schema: `ckbuild check` validates every rendered config against it, so a `base_config`
 * that sets `epochs: "3"`, drops the checkpointer's files or names an attention module LoRA
 * cannot wrap fails in CI, not hours later on a GPU node.
 *
 * Only keys the recipes (lora_finetune_single_device, full_finetune_single_device and their
 * distributed twins, torchtune 0.6.1) read are constrained; any other key a base config carries
 * is allowed, as OmegaConf allows it. Components are instantiated from `_component_` dotted paths.
 */
import type { JsonObject } from '../../core/rule.js';

const component = (required: string[] = [], properties: JsonObject = {}): JsonObject => ({
  type: 'object',
  required: ['_component_', ...required],
  properties: { _component_: { type: 'string', pattern: '^[A-Za-z_][\\w]*(\\.[A-Za-z_][\\w]*)+$', description: 'a dotted Python path' }, ...properties },
});
const positiveInteger: JsonObject = { type: 'integer', minimum: 1 };
const path: JsonObject = { type: 'string', minLength: 1 };

export const torchtuneConfigSchema: JsonObject = {
  type: 'object',
  required: ['output_dir', 'model', 'tokenizer', 'checkpointer', 'dataset', 'optimizer', 'loss', 'epochs', 'batch_size', 'device', 'dtype'],
  properties: {
    output_dir: path,
    model: component([], {
      lora_attn_modules: { type: 'array', minItems: 1, uniqueItems: true, items: { enum: ['q_proj', 'k_proj', 'v_proj', 'output_proj'] } },
      apply_lora_to_mlp: { type: 'boolean' },
      apply_lora_to_output: { type: 'boolean' },
      lora_rank: positiveInteger,
      lora_alpha: { type: 'number', exclusiveMinimum: 0 },
      lora_dropout: { type: 'number', minimum: 0, maximum: 1 },
    }),
    tokenizer: component(['path'], { path, max_seq_len: { type: ['integer', 'null'], minimum: 1 } }),
    checkpointer: component(['checkpoint_dir', 'checkpoint_files', 'model_type', 'output_dir'], {
      checkpoint_dir: path,
      checkpoint_files: { oneOf: [{ type: 'array', minItems: 1, items: path }, { type: 'object', required: ['filename_format', 'max_filename'] }] },
      model_type: { type: 'string', pattern: '^[A-Z0-9_]+$', description: "torchtune's ModelType name, e.g. LLAMA3_2" },
      output_dir: path,
    }),
    resume_from_checkpoint: { type: 'boolean' },
    dataset: { oneOf: [component(), { type: 'array', minItems: 1, items: component() }] },
    seed: { type: ['integer', 'null'] },
    shuffle: { type: 'boolean' },
    batch_size: positiveInteger,
    optimizer: component(['lr'], { lr: { type: 'number', exclusiveMinimum: 0 }, weight_decay: { type: 'number', minimum: 0 }, fused: { type: 'boolean' } }),
    lr_scheduler: component([], { num_warmup_steps: { type: 'integer', minimum: 0 } }),
    loss: component(),
    epochs: positiveInteger,
    max_steps_per_epoch: { type: ['integer', 'null'], minimum: 1 },
    gradient_accumulation_steps: positiveInteger,
    compile: { type: 'boolean' },
    metric_logger: component(),
    log_every_n_steps: positiveInteger,
    device: { type: 'string', pattern: '^(cpu|cuda|mps|xpu|npu)(:\\d+)?$', description: 'cpu, cuda, mps, xpu or npu' },
    dtype: { enum: ['fp32', 'bf16'], description: "the single-device recipes refuse fp16" },
    clip_grad_norm: { type: ['number', 'null'], exclusiveMinimum: 0 },
    optimizer_in_bwd: { type: 'boolean' },
    profiler: component(),
    enable_activation_checkpointing: { type: 'boolean' },
    enable_activation_offloading: { type: 'boolean' },
  },
};
