/**
 * Parameters as written → resolved parameters: every value checked (protocol overrides never
 * went through the schema), every default applied, equivalent spellings folded into one
 * (an HF repo id into the registry name, `o_proj` into `output_proj`, an effective batch size
 * into gradient accumulation), so that two ways of writing the same training give one key.
 */
import type { ExpandedRun, ResolveContext, Resolved } from '../../core/rule.js';
import { didYouMean } from '../../core/diagnostics.js';
import { isObject, type Json, type JsonObject } from '../../core/json.js';
import { ParamReader, type ParamReport } from '../../core/params.js';
import { promptProblem } from '../../core/prompt.js';
import { basename, join } from 'node:path';
import { type Architecture, type ModelFiles, modelDirOf, readArchitecture, specFromArchitecture } from './checkpoint.js';
import { findModel, modelOf, MODELS, suggestModel, type Method, type ModelSpec } from './models.js';
import { ATTENTION_MODULES, DATASET_FORMATS, DEFAULTS, KNOWN_TARGET_MODULES, LR_SCHEDULERS, MLP_MODULES, OUTPUT_MODULES, PARAM_NAMES } from './params.js';
import { usesChatTemplateDataset, usesPrompt } from './dataset.js';
import { trainingSteps, type DatasetFormat, type LoraParams, type TuneParams } from './resolved.js';

/** Where problems go: positioned by the parameter they concern. */
export type Report = ParamReport;

const ATTENTION_ORDER = ['q_proj', 'k_proj', 'v_proj', 'output_proj'];

export interface NormalizeEnv {
  /** GPUs the job will get: the effective batch size spans them. */
  gpus: number;
  /** A curriculum stage: the next stage starts from its merged weights. */
  curriculumStage: boolean;
  /** No GPU asked for: train on the CPU. */
  cpu?: boolean;
  /** The directory the model name points at, when it does (a path, or the experiment's `models:` entry). */
  modelDir?: string;
  /** How its files are read (ResolveContext's recorded reads: once per plan, not once per fine-tune). */
  files: ModelFiles;
}

/**
 * Checks `raw` and returns it resolved; problems go to `report`. Used for the run itself and,
 * silently, for an upstream curriculum stage whose resolved values a later stage needs.
 */
export function normalizeParams(raw: JsonObject, env: NormalizeEnv, report: Report): TuneParams {
  const read = new ParamReader(raw, report);

  for (const key of Object.keys(raw)) {
    if (key === 'dataset' || PARAM_NAMES.includes(key)) continue;
    const hint = key === 'gpus' ? '; the GPU count is scheduling, set it in `resources.finetune.gpus`' : didYouMean(key, PARAM_NAMES);
    report(key, `unknown torchtune parameter \`${key}\`${hint}`, 'unknown-key');
  }

  const modelName = read.string('base_model', '');
  let model = modelName === '' ? undefined : findModel(modelName);
  let checkpoint: { architecture: Architecture; weights: string[] } | undefined;
  if (modelName === '') report('base_model', 'a fine-tune needs `base_model`', 'missing-key');
  else if (!model && env.modelDir !== undefined) {
    // Not a registry name: a checkpoint directory, described by its own config.json.
    const found = readArchitecture(env.modelDir, env.files);
    if ('problem' in found) report('base_model', found.problem, 'unknown-model');
    else {
      checkpoint = found;
      model = specFromArchitecture(modelName, found.architecture, found.weights);
    }
  } else if (!model) report('base_model', unknownModelMessage(modelName), 'unknown-model');

  const method = read.oneOf('method', ['lora', 'qlora', 'full'] as const, DEFAULTS.method);
  if (model && !model.builders[method]) {
    const has = (Object.keys(model.builders) as Method[]).join(', ');
    report('method', `torchtune has no ${method} builder for ${model.name} (no \`${method}_${model.family}…\` in torchtune 0.6.1/0.7.0); it supports ${has}`, 'unsupported');
  }

  const batchSize = read.integer('batch_size', 1, DEFAULTS.batch_size);
  const gradientAccumulation = resolveAccumulation(read, batchSize, env.gpus, report);

  const params: TuneParams = {
    base_model: model?.name ?? modelName,
    method,
    learning_rate: read.number('learning_rate', DEFAULTS.learning_rate, { above: 0 }),
    batch_size: batchSize,
    gradient_accumulation: gradientAccumulation,
    epochs: read.integer('epochs', 1, DEFAULTS.epochs),
    prompt: resolvePrompt(read, report),
    system_prompt: read.string('system_prompt', DEFAULTS.system_prompt),
    dataset_type: read.oneOf('dataset_type', ['chat_completion', 'text_completion'] as const, DEFAULTS.dataset_type),
    max_seq_len: read.integer('max_seq_len', 1, DEFAULTS.max_seq_len),
    lr_scheduler: read.oneOf('lr_scheduler', Object.keys(LR_SCHEDULERS), DEFAULTS.lr_scheduler, ' (torchtune 0.6.1/0.7.0 ship only get_cosine_schedule_with_warmup)'),
    warmup_steps: read.integer('warmup_steps', 0, DEFAULTS.warmup_steps),
    weight_decay: read.number('weight_decay', DEFAULTS.weight_decay, { min: 0 }),
    validation_every_n_steps: read.integer('validation_every_n_steps', 0, DEFAULTS.validation_every_n_steps),
    seed: read.integer('seed', 0, DEFAULTS.seed),
    train_on_input: read.boolean('train_on_input', DEFAULTS.train_on_input),
    packed: read.boolean('packed', DEFAULTS.packed),
    // bf16 passes torchtune's CPU check but is slow and lossy there; fp32 is what works.
    dtype: read.oneOf('dtype', ['bf16', 'fp32'] as const, env.cpu ? 'fp32' : DEFAULTS.dtype),
    activation_checkpointing: read.boolean('activation_checkpointing', DEFAULTS.activation_checkpointing),
    log_every_n_steps: read.integer('log_every_n_steps', 1, DEFAULTS.log_every_n_steps),
    compile: read.boolean('compile', DEFAULTS.compile),
  };
  // Each GPU is a data-parallel rank: torchtune's global batch is batch × accumulation × GPUs, so
  // a multi-GPU fine-tune is a different experiment and gets its own key. One GPU adds nothing,
  // so single-GPU keys do not depend on this rule.
  if (env.gpus > 1) params.data_parallel = env.gpus;
  // The device is in the key only when it is the CPU, so every GPU run keeps its key.
  if (env.cpu) params.device = 'cpu';
  if (checkpoint) {
    params.architecture = checkpoint.architecture;
    params.checkpoint_files = checkpoint.weights;
  }
  if (read.oneOf('tokenization', ['inspect', 'cruijff_kit'] as const, 'inspect') === 'cruijff_kit') params.tokenization = 'cruijff_kit';
  const maxSamples = read.integer('max_samples', 1);
  if (maxSamples !== undefined) params.max_samples = maxSamples;
  const maxSteps = read.integer('max_steps_per_epoch', 1);
  if (maxSteps !== undefined) params.max_steps_per_epoch = maxSteps;

  if (method === 'full') {
    for (const name of ['lora_rank', 'lora_alpha', 'lora_dropout', 'target_modules', 'apply_lora_to_mlp', 'apply_lora_to_output', 'save_adapter_weights_only']) {
      if (read.has(name)) report(name, `\`${name}\` only applies to LoRA and QLoRA; a full fine-tune ignores it`, 'ignored-param', 'warning');
    }
  } else {
    params.lora = resolveLora(read, raw, model, env, report);
  }
  if (method === 'qlora') {
    params.quantization_bits = read.integer('quantization_bits', 1, DEFAULTS.quantization_bits);
    if (params.quantization_bits !== 4) {
      report('quantization_bits', `torchtune's QLoRA quantizes the base model to 4-bit NF4 only; \`quantization_bits\` ${params.quantization_bits} is not available`, 'unsupported');
      params.quantization_bits = 4;
    }
  } else if (read.has('quantization_bits')) {
    report('quantization_bits', `\`quantization_bits\` only applies to \`method: qlora\` (4-bit NF4 base weights); this run is ${method}`, 'unsupported');
  }

  const dataset = resolveDataset(raw.dataset, report);
  if (dataset) params.dataset = dataset;
  checkFormatting(params, model, read, report);
  if (params.tokenization === 'cruijff_kit' && !usesChatTemplateDataset(params)) {
    report('tokenization', `\`tokenization: cruijff_kit\` reproduces the earlier toolkit's dataset builders, which read {input, output} examples from JSON; a ${params.dataset?.format} dataset goes through torchtune's own builder`, 'unsupported');
  }
  checkValidation(params, raw, env, report);
  checkStepBudget(params, env.gpus, report);
  return params;
}

function unknownModelMessage(name: string): string {
  const suggestion = suggestModel(name);
  return `unknown model \`${name}\`${suggestion ? `; did you mean \`${suggestion}\`?` : ''} Supported: ${MODELS.map((m) => m.name).join(', ')}, or a Llama-family checkpoint directory (\`base_model: ./models/my-model\`, or a \`models:\` entry with its path)`;
}

function resolvePrompt(read: ParamReader, report: Report): string {
  const prompt = read.string('prompt', DEFAULTS.prompt);
  // The same check as the loader's of config.prompt, so the two collapse when deduplicated.
  const problem = promptProblem(prompt);
  if (problem) {
    report('prompt', problem.message, problem.code);
    return DEFAULTS.prompt;
  }
  return prompt;
}

/** Gradient accumulation, given directly or derived from an effective (global) batch size. */
function resolveAccumulation(read: ParamReader, batchSize: number, gpus: number, report: Report): number {
  const explicit = read.integer('gradient_accumulation', 1);
  const effective = read.integer('effective_batch_size', 1);
  if (effective === undefined) return explicit ?? 1;
  if (explicit !== undefined) {
    report('gradient_accumulation', '`gradient_accumulation` and `effective_batch_size` both set the accumulation; give one of them', 'conflict');
    return explicit;
  }
  const perStep = batchSize * gpus;
  if (effective % perStep !== 0) {
    const below = Math.floor(effective / perStep) * perStep;
    const options = [below, below + perStep].filter((n) => n > 0).join(' or ');
    report(
      'effective_batch_size',
      `effective_batch_size ${effective} is not a multiple of batch_size ${batchSize} × ${gpus} GPU(s) = ${perStep}, so gradient accumulation would not be a whole number; use ${options}`,
      'batch-divisibility',
    );
    return Math.max(1, Math.floor(effective / perStep));
  }
  return effective / perStep;
}

function resolveLora(read: ParamReader, raw: JsonObject, model: ModelSpec | undefined, env: NormalizeEnv, report: Report): LoraParams {
  const rank = read.integer('lora_rank', 1, DEFAULTS.lora_rank);
  const attention = new Set<string>();
  let mlpNamed = false;
  let outputNamed = false;
  const targets = raw.target_modules;
  if (targets !== undefined && targets !== null) {
    if (!Array.isArray(targets) || targets.some((t) => typeof t !== 'string')) {
      report('target_modules', '`target_modules` must be a list of layer names, e.g. [q_proj, v_proj]', 'invalid-type');
      DEFAULTS.target_modules.forEach((t) => attention.add(t));
    } else {
      for (const target of targets as string[]) {
        if (Object.hasOwn(ATTENTION_MODULES, target)) attention.add(ATTENTION_MODULES[target]!);
        else if (MLP_MODULES.includes(target)) mlpNamed = true;
        else if (OUTPUT_MODULES.includes(target)) outputNamed = true;
        else report('target_modules', `unknown target module \`${target}\` (torchtune adapts q_proj, k_proj, v_proj, output_proj or o_proj, the MLP via gate_proj/up_proj/down_proj, and the output projection via lm_head)${didYouMean(target, KNOWN_TARGET_MODULES)}`, 'unknown-target-module');
      }
    }
  } else {
    DEFAULTS.target_modules.forEach((t) => attention.add(t));
  }
  const mlp = read.boolean('apply_lora_to_mlp', DEFAULTS.apply_lora_to_mlp);
  if (mlpNamed && read.has('apply_lora_to_mlp') && !mlp) report('apply_lora_to_mlp', '`target_modules` names MLP projections but `apply_lora_to_mlp` is false', 'conflict');
  const output = read.boolean('apply_lora_to_output', DEFAULTS.apply_lora_to_output);
  if (outputNamed && read.has('apply_lora_to_output') && !output) report('apply_lora_to_output', '`target_modules` names the output projection but `apply_lora_to_output` is false', 'conflict');
  const applyOutput = output || outputNamed;
  if (applyOutput && model?.tiedEmbeddings) {
    report(outputNamed ? 'target_modules' : 'apply_lora_to_output', `${model.name} ties its output projection to the input embeddings; torchtune cannot put LoRA on it`, 'unsupported');
  }
  const attentionModules = ATTENTION_ORDER.filter((m) => attention.has(m));
  const applyMlp = mlp || mlpNamed;
  if (attentionModules.length === 0 && !applyMlp && !applyOutput) report('target_modules', 'LoRA needs at least one layer to adapt', 'invalid-value');

  // Curriculum stages keep their merged weights by default: the next stage starts from them.
  const saveDefault = env.curriculumStage ? false : DEFAULTS.save_adapter_weights_only;
  return {
    lora_rank: rank,
    lora_alpha: read.number('lora_alpha', 2 * rank, { above: 0 }),
    lora_dropout: read.number('lora_dropout', DEFAULTS.lora_dropout, { min: 0, below: 1 }),
    target_modules: attentionModules,
    apply_lora_to_mlp: applyMlp,
    apply_lora_to_output: applyOutput && !model?.tiedEmbeddings,
    save_adapter_weights_only: read.boolean('save_adapter_weights_only', saveDefault),
  };
}

/** Training/evaluation format consistency that torchtune's stock components can or cannot give. */
function checkFormatting(params: TuneParams, model: ModelSpec | undefined, read: ParamReader, report: Report): void {
  const format = params.dataset?.format;
  if (format === 'json-chat' || format === 'alpaca') {
    // Their examples are whole conversations / Alpaca records, not an {input} to wrap.
    if (read.has('prompt')) report('prompt', `\`prompt\` wraps the input of {input, output} examples; ${format} data is used as it is, so the prompt is not applied`, 'ignored-param', 'warning');
  }
  // JSON and JSON Lines {input, output} data goes through ckbuild's dataset component, which trains
  // on raw text for text_completion exactly as the evaluation sends it; torchtune's stock
  // builders (parquet) still wrap examples in the tokenizer's chat format.
  const parity = format === undefined || usesChatTemplateDataset({ dataset: { format } }) || (model?.family === 'mistral' && usesPrompt(format));
  if (model && params.dataset_type === 'text_completion' && format !== undefined && !parity) {
    report(
      'dataset_type',
      `torchtune's ${model.family} tokenizer${model.family === 'mistral' ? ' (MistralChatTemplate, for ' + format + ' data)' : ''} always wraps training examples in the model's chat format; with \`dataset_type: text_completion\` the evaluation sends plain text, so training and evaluation formats differ`,
      'format-parity',
      'warning',
    );
  }
  if (params.system_prompt === '') return;
  if (params.dataset_type === 'text_completion') {
    report('system_prompt', 'a system prompt only exists in a chat template; with `dataset_type: text_completion` it is not used (in training or evaluation)', 'ignored-param', 'warning');
  } else if (model?.family === 'mistral') {
    report('system_prompt', `${model.name}'s chat format has no system role (torchtune's MistralChatTemplate rejects system messages); put the instruction into \`prompt\``, 'unsupported');
  } else if (format === 'alpaca') {
    report('system_prompt', 'torchtune’s alpaca_dataset has no system prompt option (new_system_prompt); the system prompt is not used', 'ignored-param', 'warning');
  }
}

function resolveDataset(value: Json | undefined, report: Report): TuneParams['dataset'] {
  if (!isObject(value)) {
    report('dataset', 'a fine-tune needs a dataset (`dataset:` in the experiment, or one per curriculum stage)', 'missing-key');
    return undefined;
  }
  const format = (DATASET_FORMATS as readonly string[]).includes(String(value.format)) ? (value.format as DatasetFormat) : undefined;
  if (!format) {
    report('dataset', `dataset format ${JSON.stringify(value.format)} is not one of ${DATASET_FORMATS.join(', ')}`, 'invalid-value');
    return undefined;
  }
  const split = typeof value.split === 'string' && value.split !== '' ? value.split : 'train';
  const out: NonNullable<TuneParams['dataset']> = { format, split };
  if (typeof value.file === 'string') out.file = value.file;
  return out;
}

/**
 * The stock single-device recipes (lora_/full_finetune_single_device, 0.6.1 and 0.7.0) have no
 * validation loop: on one device (or the CPU) ckbuild trains with its own recipe, the stock one
 * subclassed to compute the validation loss (templates/python/ckbuild_validating_recipe.py).
 * 0.7.0's distributed recipes read `run_val_every_n_steps` and `dataset_val`; 0.6.1's do not.
 */
function checkValidation(params: TuneParams, raw: JsonObject, env: NormalizeEnv, report: Report): void {
  if (params.validation_every_n_steps === 0) return;
  if (raw.recipe !== undefined) return; // a custom recipe may have one; it gets the keys
  if (params.dataset && params.dataset.format !== 'json') {
    report('validation_every_n_steps', `validation needs a validation split; a ${params.dataset.format} file has only one, so validation is not configured (use the json format with a "validation" list)`, 'validation-unsupported', 'warning');
  } else if (env.gpus > 1) {
    report('validation_every_n_steps', `on ${env.gpus} GPUs the distributed recipe validates only from torchtune 0.7.0 (0.6.1's has no validation loop, and ckbuild's validating recipe is single-device)`, 'validation-unsupported', 'warning');
  }
}

/** The earlier toolkit's guard: too few steps for the warmup means the schedule never peaks. */
function checkStepBudget(params: TuneParams, gpus: number, report: Report): void {
  if (params.max_samples === undefined || params.packed) return;
  const { perEpoch, total } = trainingSteps(params.max_samples, params, gpus);
  const summary = `${params.max_samples} examples, batch ${params.batch_size} × accumulation ${params.gradient_accumulation} × ${gpus} GPU(s) → ${perEpoch} step(s) per epoch, ${total} in all`;
  if (total === 0) report('max_samples', `${summary}: nothing would be trained`, 'few-steps');
  else if (total < params.warmup_steps) report('warmup_steps', `${summary}, fewer than warmup_steps ${params.warmup_steps}: the learning rate never reaches its peak`, 'few-steps', 'warning');
  else if (total < 3 * params.warmup_steps) report('warmup_steps', `${summary}, fewer than 3 × warmup_steps (${3 * params.warmup_steps}): most of training is warmup`, 'few-steps', 'warning');
}

/** The GPU count the job will get: what the experiment asks for, else the model's default. */
export function plannedGpus(run: ExpandedRun, params: JsonObject): number {
  // At least one: a run asking for none cannot train anyway (render warns), and batch arithmetic needs a divisor.
  if (typeof run.resources.gpus === 'number') return Math.max(1, run.resources.gpus);
  const model = typeof params.base_model === 'string' ? findModel(params.base_model) : undefined;
  return model?.slurm.gpus ?? 1;
}

export function resolveTorchtune(run: ExpandedRun, context: ResolveContext): Resolved<TuneParams> {
  const diagnostics: Resolved<TuneParams>['diagnostics'] = [];
  const report: Report = (param, message, code, severity = 'error') => diagnostics.push(context.diagnostic(param, message, { code, severity }));
  const modelDir = typeof run.params.base_model === 'string' ? modelDirOf(run.params.base_model, context.projectDir, typeof run.site?.model_path === 'string' ? run.site.model_path : undefined) : undefined;
  const env: NormalizeEnv = { gpus: plannedGpus(run, run.params), curriculumStage: run.labels.stage !== undefined, cpu: run.resources.gpus === 0, modelDir, files: context };
  const params = normalizeParams(run.params, env, report);
  checkCurriculum(run, params, context, report);
  const model = modelOf(params);
  const inputs: Record<string, string> = {};
  if (params.architecture && modelDir !== undefined) {
    // A checkpoint directory is identified by its content: config, weights and tokenizer (the
    // chat template decides the training text). Hashed once through the stat cache.
    inputs.model_config = join(modelDir, 'config.json');
    (params.checkpoint_files ?? []).forEach((file, index) => (inputs[`model_weights_${index}`] = join(modelDir, file)));
    for (const [role, file] of [['model_tokenizer', 'tokenizer.json'], ['model_tokenizer_config', 'tokenizer_config.json'], ['model_tiktoken', 'original/tokenizer.model']] as const) inputs[role] = join(modelDir, file);
  }
  const baseConfig = run.params.base_config;
  const recipe = run.params.recipe;
  if (typeof baseConfig === 'string' && baseConfig !== '') inputs.base_config = baseConfig;
  if (typeof recipe === 'string' && recipe !== '') {
    inputs.recipe = recipe;
    // `tune run` imports a custom recipe as a module named after its file (torchtune/_cli/run.py).
    const file = recipe.slice(recipe.lastIndexOf('/') + 1);
    if (!/^[A-Za-z_][A-Za-z0-9_]*\.py$/.test(file)) report('recipe', `\`tune run\` imports a custom recipe as a Python module named after its file, so it must be a .py file whose name is a valid module name (letters, digits, _): \`${file}\``, 'invalid-value');
  }
  return {
    params,
    model: params.architecture ? { name: basename(modelDir ?? params.base_model), checkpoint: 'directory' } : model ? { name: model.name, hf_repo: model.hfRepo } : undefined,
    inputs,
    diagnostics,
  };
}

/**
 * A curriculum stage starts from the previous stage's merged weights (see render.ts for why the
 * adapter alone cannot be loaded by torchtune's recipes), so that stage must save them.
 */
function checkCurriculum(run: ExpandedRun, params: TuneParams, context: ResolveContext, report: Report): void {
  const initId = run.needs.init;
  if (initId === undefined) return;
  const init = context.runs.get(initId);
  if (!init || init.rule !== run.rule) return;
  const previous = normalizeParams(init.params, { gpus: plannedGpus(init, init.params), curriculumStage: true, files: context }, () => undefined);
  if (previous.lora && previous.lora.save_adapter_weights_only) {
    report('save_adapter_weights_only', `this curriculum stage starts from the merged weights of \`${initId}\`, which sets \`save_adapter_weights_only: true\` and so saves only its adapter; remove that setting from the earlier stage`, 'curriculum-needs-merged');
  }
  if (previous.base_model !== params.base_model) {
    report('base_model', `a curriculum continues one model, but \`${initId}\` trains ${previous.base_model} and this stage ${params.base_model}`, 'conflict');
  }
}
