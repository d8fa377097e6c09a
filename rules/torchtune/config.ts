/**
 * Builds config/finetune.yaml as data: the base config (template or the experiment's own)
 * with every parameter written over it. Keys keep the base's order and new keys are appended
 * in a fixed order, so the same inputs always serialise to the same bytes.
 *
 * Only torchtune keys are written: nothing of ckbuild's own (the earlier toolkit leaked
 * `config_file`, `venv`, `custom_recipe: null`…), and never a credential.
 */
import { isObject, type Json, type JsonObject } from '../../core/json.js';
import { builderDimensions } from './checkpoint.js';
import { chatTemplateDatasetBlock, datasetBlock, usesChatTemplateDataset, usesPrompt } from './dataset.js';
import type { ModelSpec } from './models.js';
import { LR_SCHEDULERS } from './params.js';
import type { TuneParams } from './resolved.js';

export const CHECKPOINTER = 'torchtune.training.FullModelHFCheckpointer';
export const METRIC_LOGGER = 'torchtune.training.metric_logging.DiskLogger';
export const DEFAULT_OPTIMIZER = 'torch.optim.AdamW';
export const DEFAULT_LOSS = 'torchtune.modules.loss.CEWithChunkedOutputLoss';

/**
 * OmegaConf resolves `${…}` anywhere in the config, so a literal `${` in a user's prompt or a
 * path must be escaped as `\${` (a backslash right before it is doubled, as OmegaConf reads it).
 */
export function omegaLiteral(text: string): string {
  return text.replace(/(\\*)\$\{/g, (_match, slashes: string) => `${slashes}${slashes}\\\${`);
}

export interface ConfigInputs {
  params: TuneParams;
  model: ModelSpec;
  modelDir: string;
  outputsDir: string;
  /** Absolute data file path. */
  dataFile: string;
  /** Curriculum: the previous stage's last epoch directory. */
  initDir?: string;
  /** Whether run_val_every_n_steps + dataset_val are written (the recipe has a validation loop). */
  validation: boolean;
}

/** Sets a key, keeping its position if the base already has it. */
function put(config: JsonObject, key: string, value: Json): void {
  config[key] = value;
}

/**
 * A component block: `_component_`, then ckbuild's values, then whatever else the base's block
 * of the same component sets (a base config's `clip_grad_norm`-like extras survive; a block for
 * a different component is dropped whole, its keyword arguments would not fit).
 */
function component(base: Json | undefined, name: string, values: JsonObject, drop: string[] = []): JsonObject {
  const block: JsonObject = { _component_: name, ...values };
  if (isObject(base) && base._component_ === name) {
    for (const [key, value] of Object.entries(base)) if (!(key in block) && !drop.includes(key)) block[key] = value;
  }
  return block;
}

/**
 * The user's prompt `prefix{input}suffix` becomes the tokenizer's `prompt_template`, a dict of
 * role → [prepend, append] that torchtune turns into a PromptTemplate (torchtune/data/
 * _prompt_templates.py, _get_prompt_template). Mistral's tokenizer defaults to
 * MistralChatTemplate, which a dict replaces, so for chat use its [INST] tags are kept around
 * the prompt.
 */
export function promptTemplate(params: TuneParams, model: ModelSpec): JsonObject | undefined {
  if (!params.dataset || !usesPrompt(params.dataset.format)) return undefined;
  const at = params.prompt.indexOf('{input}');
  let prefix = params.prompt.slice(0, at);
  let suffix = params.prompt.slice(at + '{input}'.length);
  if (model.family === 'mistral' && params.dataset_type === 'chat_completion') {
    prefix = `[INST] ${prefix}`;
    suffix = `${suffix} [/INST] `;
  }
  return { user: [omegaLiteral(prefix), omegaLiteral(suffix)] };
}

function modelBlock(params: TuneParams, model: ModelSpec): JsonObject {
  const builder = model.builders[params.method]!;
  // A checkpoint directory's own dimensions go to torchtune's component builder.
  const dimensions = model.architecture ? builderDimensions(model.architecture) : {};
  if (!params.lora) return { _component_: builder, ...dimensions };
  // The LoRA recipes read these four by attribute to build the adapter config: all required.
  return {
    _component_: builder,
    ...dimensions,
    lora_attn_modules: [...params.lora.target_modules],
    apply_lora_to_mlp: params.lora.apply_lora_to_mlp,
    apply_lora_to_output: params.lora.apply_lora_to_output,
    lora_rank: params.lora.lora_rank,
    lora_alpha: params.lora.lora_alpha,
    lora_dropout: params.lora.lora_dropout,
  };
}

function tokenizerBlock(params: TuneParams, model: ModelSpec, modelDir: string): JsonObject {
  const block: JsonObject = { _component_: model.tokenizer.component, path: omegaLiteral(`${modelDir}/${model.tokenizer.path}`) };
  if (model.tokenizer.mergesFile) block.merges_file = omegaLiteral(`${modelDir}/${model.tokenizer.mergesFile}`);
  block.max_seq_len = params.max_seq_len;
  // With the chat-template dataset the prompt is formatted by the dataset, as the evaluation does.
  const template = usesChatTemplateDataset(params) ? undefined : promptTemplate(params, model);
  if (template) block.prompt_template = template;
  return block;
}

function checkpointerBlock(base: Json | undefined, inputs: ConfigInputs): JsonObject {
  const { model, modelDir, initDir } = inputs;
  // A curriculum stage loads the previous stage's merged weights. Their file names depend on
  // the torchtune version that wrote them, so the job passes the real list on the command line
  // (checkpointer.checkpoint_files=[…]); the value here is the base model's layout.
  const files: Json = Array.isArray(model.checkpointFiles) ? [...model.checkpointFiles] : { ...model.checkpointFiles };
  return component(
    base,
    CHECKPOINTER,
    {
      checkpoint_dir: omegaLiteral(initDir ?? modelDir),
      checkpoint_files: files,
      model_type: model.modelType,
      output_dir: '${output_dir}',
    },
    // Resuming is not how ckbuild continues training; stale pointers from a base config would mislead.
    ['adapter_checkpoint', 'recipe_checkpoint', 'should_load_recipe_state', 'resume_from_checkpoint'],
  );
}

export function buildConfig(base: JsonObject, inputs: ConfigInputs): JsonObject {
  const { params, model } = inputs;
  const config = base;
  const dataset = params.dataset ?? { format: 'json' as const, split: 'train' };
  const systemPrompt = params.dataset_type === 'chat_completion' ? omegaLiteral(params.system_prompt) : '';
  const data = (field: string, maxSamples: number | undefined): JsonObject =>
    usesChatTemplateDataset(params)
      ? chatTemplateDatasetBlock({ modelDir: omegaLiteral(inputs.modelDir), dataFile: omegaLiteral(inputs.dataFile), format: dataset.format, field: omegaLiteral(field), maxSamples, params, omega: omegaLiteral })
      : datasetBlock({ format: dataset.format, dataFile: omegaLiteral(inputs.dataFile), field: omegaLiteral(field), maxSamples, trainOnInput: params.train_on_input, systemPrompt, packed: params.packed });

  put(config, 'output_dir', omegaLiteral(inputs.outputsDir));
  put(config, 'model', modelBlock(params, model));
  put(config, 'tokenizer', tokenizerBlock(params, model, inputs.modelDir));
  put(config, 'checkpointer', checkpointerBlock(config.checkpointer, inputs));
  put(config, 'resume_from_checkpoint', false);
  if (params.lora) put(config, 'save_adapter_weights_only', params.lora.save_adapter_weights_only);
  else delete config.save_adapter_weights_only;
  if (params.method === 'full' && typeof config.optimizer_in_bwd !== 'boolean') put(config, 'optimizer_in_bwd', false); // read by attribute in full_finetune_single_device
  put(config, 'dataset', data(dataset.split, params.max_samples));
  if (inputs.validation) {
    put(config, 'run_val_every_n_steps', params.validation_every_n_steps);
    put(config, 'dataset_val', data('validation', undefined));
  } else {
    for (const key of ['run_val_every_n_steps', 'dataset_val', 'batch_size_val']) delete config[key];
  }
  put(config, 'seed', params.seed);
  if (typeof config.shuffle !== 'boolean') put(config, 'shuffle', true);
  put(config, 'batch_size', params.batch_size);
  const optimizer = component(config.optimizer, isObject(config.optimizer) && typeof config.optimizer._component_ === 'string' ? config.optimizer._component_ : DEFAULT_OPTIMIZER, { lr: params.learning_rate, weight_decay: params.weight_decay });
  if (params.device === 'cpu') optimizer.fused = false; // fused AdamW is CUDA-only
  put(config, 'optimizer', optimizer);
  put(config, 'lr_scheduler', component(config.lr_scheduler, LR_SCHEDULERS[params.lr_scheduler]!, { num_warmup_steps: params.warmup_steps }));
  if (!isObject(config.loss)) put(config, 'loss', { _component_: DEFAULT_LOSS });
  put(config, 'epochs', params.epochs);
  put(config, 'max_steps_per_epoch', params.max_steps_per_epoch ?? null);
  put(config, 'gradient_accumulation_steps', params.gradient_accumulation);
  put(config, 'compile', params.compile);
  // ckbuild reads the loss from the DiskLogger's files (divergence guard, metrics).
  put(config, 'metric_logger', { _component_: METRIC_LOGGER, log_dir: '${output_dir}/logs' });
  put(config, 'log_every_n_steps', params.log_every_n_steps);
  if (typeof config.log_peak_memory_stats !== 'boolean') put(config, 'log_peak_memory_stats', true);
  if (typeof config.log_level !== 'string') put(config, 'log_level', 'INFO');
  if (params.device === 'cpu') put(config, 'device', 'cpu');
  else if (typeof config.device !== 'string') put(config, 'device', 'cuda');
  put(config, 'dtype', params.dtype);
  put(config, 'enable_activation_checkpointing', params.activation_checkpointing);
  if (typeof config.enable_activation_offloading !== 'boolean' || params.device === 'cpu') put(config, 'enable_activation_offloading', false); // CUDA-only
  return config;
}
