/**
 * The earlier toolkit's experiment file, `experiment_summary.yaml` (cruijff_kit 0.3.4; see
 * ../shared/reference/cruijff_kit.md §1.1), read as a pure function into a native document.
 *
 * There, the file was turned into runs and eval cells by an assistant following prose; here the
 * conversion is code, and every rule the earlier toolkit checked (in code, in tests or in prose)
 * is a positioned diagnostic. Principles:
 *
 * - A value that is present and wrong is an error; a required key that is missing is an error
 *   when ckbuild needs it and a warning when only the earlier toolkit did (`date`, `dir`, …).
 * - Nothing is dropped in silence: an unknown key is an error (with a suggestion), a renamed
 *   legacy key is an error naming the new key, and a known key that has no effect here is a warning.
 * - The conversion writes the earlier toolkit's defaults explicitly (lora_rank 64, lr 1e-4, …), so
 *   an imported experiment trains what the earlier toolkit would have trained.
 *
 * Each native field remembers the field it came from, so that later diagnostics (expansion,
 * rules, identity) point at the line of experiment_summary.yaml the user wrote.
 */
import { statSync } from 'node:fs';
import { basename, extname, isAbsolute } from 'node:path';
import type { Resources } from '../rule.js';
import { type Diagnostic, type FieldPath, didYouMean, hasErrors, type DiagnosticCode } from '../diagnostics.js';
import { resolveProjectPath, type ForeignFormat } from '../experiment/load.js';
import { type DatasetRef, type EvaluationCheckpoint, type EvaluationTask, type ExperimentDocument, type ListRun, type MatrixEntry, type OriginMap } from '../experiment/model.js';
import { DEFAULT_SEED } from '../defaults.js';
import { canonicalJson, isObject, type Json, type JsonObject } from '../json.js';
import { promptProblem } from '../prompt.js';
import { diagnosticAt, type SourceFile } from '../source.js';

export interface CruijffConversion {
  document?: ExperimentDocument;
  /** Where each field of `document` came from in experiment_summary.yaml (with `document`). */
  origins?: OriginMap;
  diagnostics: Diagnostic[];
  /** What the conversion chose not to carry, in words, for `ckbuild import` to print. */
  notes: string[];
}

const SECTIONS = ['experiment', 'tools', 'variables', 'controls', 'models', 'data', 'output', 'runs', 'evaluation'] as const;
const RUN_TYPES = ['fine-tuned', 'control', 'eval-only'] as const;
type RunType = (typeof RUN_TYPES)[number];
const DATASET_TYPES = ['chat_completion', 'text_completion'];
const LEGACY_DATASET_TYPES = ['instruct_dataset', 'chat_dataset', 'text_completion_dataset'];
const LR_SCHEDULERS = ['get_cosine_schedule_with_warmup', 'get_linear_schedule_with_warmup', 'get_constant_schedule_with_warmup', 'get_exponential_schedule_with_warmup'];
const SCORERS = ['match', 'includes', 'risk_scorer', 'numeric_risk_scorer', 'continuous_scorer'];
/** `validation_during_training: true` meant validation every this many steps. */
export const VALIDATION_EVERY_N_STEPS = 50;
const WALL_TIME = /^([0-9]+-)?[0-9]{1,3}:[0-5][0-9]:[0-5][0-9]$/;
const MEMORY = /^[0-9]+(\.[0-9]+)?[KMGT]B?$/;
const RUN_NAME = /^[\w.-]+$/;

type ParamType = 'int' | 'number' | 'bool' | 'string';

interface ParamSpec {
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
const PARAMS: Record<string, ParamSpec> = {
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
const NATIVE_SPELLINGS: Record<string, string> = Object.fromEntries(Object.entries(PARAMS).filter(([key, spec]) => key !== spec.native).map(([key, spec]) => [spec.native, key]));

const UNSUPPORTED_PARAMS: Record<string, string> = {
  base_recipe: '`base_recipe` copied defaults from a stock torchtune recipe at scaffold time (with `tune cp`); ckbuild does not read recipes: write the values you want (lr, gradient_accumulation_steps, weight_decay, num_warmup_steps, …) explicitly',
  custom_recipe: 'the training recipe is chosen by ckbuild’s torchtune rule (single-device or distributed, from the GPU count)',
  training_samples: 'use data.training.splits.train (it becomes the number of training examples used)',
};

/** The earlier toolkit's argparse defaults, written explicitly so an import trains the same thing. */
const TRAINING_DEFAULTS: Array<[string, Json]> = [
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

const key = (path: FieldPath): string => JSON.stringify(path);

/** A relative dataset path is relative to the project folder; absolute paths (the usual case there) are kept. */
function isFile(projectDir: string, path: string): boolean {
  try {
    return statSync(resolveProjectPath(projectDir, path)).isFile();
  } catch {
    return false;
  }
}

class Conversion {
  readonly diagnostics: Diagnostic[] = [];
  readonly notes: string[] = [];
  private readonly origins = new Map<string, FieldPath>();

  constructor(
    readonly source: SourceFile,
    readonly projectDir: string,
  ) {}

  error(path: FieldPath, message: string, code: DiagnosticCode, at: 'value' | 'key' = 'value'): void {
    this.diagnostics.push(diagnosticAt(this.source, path, message, { code, at }));
  }

  warn(path: FieldPath, message: string, code: DiagnosticCode, at: 'value' | 'key' = 'value'): void {
    this.diagnostics.push(diagnosticAt(this.source, path, message, { code, severity: 'warning', at }));
  }

  /** Records that the native field `native` came from `original`. */
  from(native: FieldPath, original: FieldPath): void {
    this.origins.set(key(native), original);
  }

  /** Native path → original path: the longest recorded prefix, with the rest appended. */
  readonly translate = (path: FieldPath): FieldPath => {
    for (let length = path.length; length >= 0; length--) {
      const found = this.origins.get(key(path.slice(0, length)));
      if (found) return [...found, ...path.slice(length)];
    }
    return [];
  };

  /** Checks the keys of a mapping: known, renamed (legacy), retired, or unknown. */
  keys(object: JsonObject, path: FieldPath, what: string, known: readonly string[], legacy: Record<string, { rename?: string; message?: string; severity?: 'error' | 'warning' }> = {}): void {
    for (const name of Object.keys(object)) {
      if (known.includes(name)) continue;
      const old = legacy[name];
      if (old?.rename) {
        this.error([...path, name], `\`${name}\` was renamed \`${old.rename}\` (cruijff_kit 0.3.4)${old.message ? `; ${old.message}` : ''}`, 'renamed-key', 'key');
      } else if (old) {
        if (old.severity === 'warning') this.warn([...path, name], old.message ?? `\`${name}\` is no longer part of the format; ignored`, 'retired-key', 'key');
        else this.error([...path, name], old.message ?? `\`${name}\` is no longer part of the format`, 'retired-key', 'key');
      } else {
        const hint = didYouMean(name, known) || `; valid keys here: ${known.join(', ')}`;
        this.error([...path, name], `unknown key \`${name}\` in ${what}${hint}`, 'unknown-key', 'key');
      }
    }
  }

  mapping(value: Json | undefined, path: FieldPath, what: string): JsonObject | undefined {
    if (value === undefined || value === null) return undefined;
    if (!isObject(value)) {
      this.error(path, `${what} must be a mapping (key: value lines), got ${describe(value)}`, 'invalid-type');
      return undefined;
    }
    return value;
  }

  /** A required (or optional) key; `missing` says how bad its absence is. */
  need(object: JsonObject, name: string, path: FieldPath, missing: 'error' | 'warning' | 'optional', why = ''): Json | undefined {
    const value = object[name];
    if (value !== undefined && value !== null) return value;
    if (missing === 'error') this.error(path, `missing required key \`${name}\`${why}`, 'missing-key');
    else if (missing === 'warning') this.warn(path, `missing \`${name}\` (required by cruijff_kit${why ? `; ${why}` : ''})`, 'missing-key');
    return undefined;
  }

  string(object: JsonObject, name: string, path: FieldPath, missing: 'error' | 'warning' | 'optional', options: { nonEmpty?: boolean; why?: string; legacy?: string } = {}): string | undefined {
    // Under its old name the key was already reported as renamed: no second message for its absence.
    const renamed = options.legacy !== undefined && object[options.legacy] !== undefined;
    const value = this.need(object, name, path, renamed ? 'optional' : missing, options.why);
    if (value === undefined) return undefined;
    if (typeof value !== 'string') {
      this.error([...path, name], `expected a string, got ${describe(value)}`, 'invalid-type');
      return undefined;
    }
    if (options.nonEmpty && value.trim() === '') {
      this.error([...path, name], 'must not be empty', 'invalid-value');
      return undefined;
    }
    return value;
  }

  /** A value of a typed parameter, with the earlier toolkit's leniency (quoted numbers, yes/no). */
  param(spec: ParamSpec, value: Json, path: FieldPath): Json | undefined {
    switch (spec.type) {
      case 'int':
      case 'number': {
        let number: number | undefined;
        if (typeof value === 'number') number = value;
        else if (typeof value === 'string' && !spec.strict && value.trim() !== '' && !Number.isNaN(Number(value))) number = Number(value);
        if (number === undefined) {
          const quoted = typeof value === 'string' && value.trim() !== '' && !Number.isNaN(Number(value));
          this.error(path, `expected ${spec.type === 'int' ? 'an integer' : 'a number'}, got ${describe(value)}${quoted ? ' (remove the quotes)' : ''}`, 'invalid-type');
          return undefined;
        }
        if (spec.type === 'int' && !Number.isInteger(number)) {
          this.error(path, `expected an integer, got ${number}`, 'invalid-type');
          return undefined;
        }
        if ((spec.min !== undefined && number < spec.min) || (spec.exclusiveMin !== undefined && number <= spec.exclusiveMin) || (spec.max !== undefined && number > spec.max)) {
          const bounds = [spec.min !== undefined ? `≥ ${spec.min}` : '', spec.exclusiveMin !== undefined ? `> ${spec.exclusiveMin}` : '', spec.max !== undefined ? `≤ ${spec.max}` : ''].filter(Boolean).join(' and ');
          this.error(path, `must be ${bounds}, got ${number}`, 'out-of-range');
          return undefined;
        }
        return number;
      }
      case 'bool': {
        if (typeof value === 'boolean') return value;
        const text = typeof value === 'string' ? value.toLowerCase() : typeof value === 'number' ? String(value) : '';
        if (['true', 'yes', '1'].includes(text)) return true;
        if (['false', 'no', '0'].includes(text)) return false;
        this.error(path, `expected true or false, got ${describe(value)}`, 'invalid-type');
        return undefined;
      }
      case 'string': {
        if (typeof value !== 'string') {
          this.error(path, `expected a string, got ${describe(value)}`, 'invalid-type');
          return undefined;
        }
        if (spec.native === 'dataset_type' && LEGACY_DATASET_TYPES.includes(value)) {
          this.error(path, `\`${value}\` passed cruijff_kit’s validation but its config generator fails on it (KeyError); use chat_completion (instruct/chat models) or text_completion (base models)`, 'invalid-value');
          return undefined;
        }
        if (spec.values && !spec.values.includes(value)) {
          this.error(path, `${describe(value)} is not allowed; expected one of ${spec.values.join(', ')}${didYouMean(value, spec.values)}`, 'invalid-value');
          return undefined;
        }
        if (spec.native === 'prompt') this.placeholder(value, path);
        // torchtune's function name there, the schedule's name here: get_cosine_schedule_with_warmup → cosine.
        if (spec.native === 'lr_scheduler') return value.replace(/^get_/, '').replace(/_schedule_with_warmup$/, '');
        return value;
      }
    }
  }

  placeholder(prompt: string, path: FieldPath): void {
    const problem = promptProblem(prompt);
    if (problem) this.error(path, problem.message, problem.code);
  }

  /** A file ckbuild hashes must exist where the file says. */
  file(path: string, at: FieldPath, what: string): boolean {
    if (isFile(this.projectDir, path)) return true;
    this.error(at, `${what} \`${path}\` does not exist${isAbsolute(path) ? '' : ` (relative paths are relative to the project folder ${this.projectDir})`}`, 'missing-file');
    return false;
  }

  /** SLURM settings of `runs[].compute` / `evaluation.compute`, as ckbuild resources. */
  compute(value: Json | undefined, path: FieldPath, native: FieldPath): Resources | undefined {
    const compute = this.mapping(value, path, 'compute');
    if (!compute) return undefined;
    this.keys(compute, path, 'compute', ['time', 'gpus', 'mem', 'cpus_per_task']);
    const resources: Resources = {};
    if (compute.time !== undefined) {
      if (typeof compute.time !== 'string' || !WALL_TIME.test(compute.time)) this.error([...path, 'time'], `${describe(compute.time)} is not a time limit; use HH:MM:SS (e.g. "0:15:00")`, 'invalid-value');
      else resources.time = compute.time;
    }
    for (const name of ['gpus', 'cpus_per_task'] as const) {
      if (compute[name] === undefined) continue;
      const count = this.param({ native: name, type: 'int', min: 1, strict: true }, compute[name]!, [...path, name]);
      if (typeof count === 'number') resources[name] = count;
    }
    if (compute.mem !== undefined) {
      if (typeof compute.mem !== 'string' || !MEMORY.test(compute.mem)) this.error([...path, 'mem'], `${describe(compute.mem)} is not a memory size; use a number and a unit (e.g. "80G")`, 'invalid-value');
      else resources.mem = compute.mem;
    }
    for (const name of Object.keys(resources)) this.from([...native, name], [...path, name]);
    return resources;
  }

  finish(document: ExperimentDocument): CruijffConversion {
    if (hasErrors(this.diagnostics)) return { diagnostics: this.diagnostics, notes: this.notes };
    return { document, origins: this.translate, diagnostics: this.diagnostics, notes: this.notes };
  }
}

function describe(value: Json | undefined): string {
  if (value === undefined || value === null) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  if (isObject(value)) return 'a mapping';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? value.slice(0, 40) + '…' : value)}`;
  return `${typeof value} ${String(value)}`;
}

/** A file in this format has the earlier toolkit's sections and none of ckbuild's own keys. */
export function detectCruijff(data: JsonObject): boolean {
  if ('experiment_name' in data || 'version' in data || 'config' in data || 'protocol' in data) return false;
  return isObject(data.experiment) || (Array.isArray(data.runs) && (isObject(data.controls) || isObject(data.models)));
}

interface RunInfo {
  index: number;
  name: string;
  type: RunType;
  model: string;
  parameters: JsonObject;
}

export function convertCruijff(source: SourceFile, projectDir: string): CruijffConversion {
  const c = new Conversion(source, projectDir);
  const data = source.data as JsonObject;
  c.keys(data, [], 'experiment_summary.yaml', SECTIONS);
  for (const section of ['experiment', 'controls', 'models', 'data', 'runs', 'evaluation'] as const) {
    if (data[section] === undefined || data[section] === null) c.error([], `missing required section \`${section}\``, 'missing-key');
  }

  // experiment → the experiment's name and description.
  const document: ExperimentDocument = { version: '1.0', experiment_name: '' };
  c.from(['version'], []);
  const experiment = c.mapping(data.experiment, ['experiment'], '`experiment`') ?? {};
  c.keys(experiment, ['experiment'], '`experiment`', ['name', 'project', 'question', 'date', 'hypothesis', 'purpose', 'dir'], {
    directory: { rename: 'dir' },
    seed: { message: '`experiment.seed` was removed (cruijff_kit 0.3.4): set the training seed as `controls.seed` and the evaluation seed as `evaluation.seed`' },
    type: { severity: 'warning', message: '`experiment.type` was dropped in cruijff_kit 0.3.0 (the project is the namespace); ignored' },
  });
  const name = c.string(experiment, 'name', ['experiment'], 'error', { nonEmpty: true });
  if (name !== undefined) {
    document.experiment_name = name;
    c.from(['experiment_name'], ['experiment', 'name']);
  }
  const project = c.string(experiment, 'project', ['experiment'], 'warning', { nonEmpty: true, why: 'ckbuild uses it only to group experiments' });
  if (project !== undefined) {
    document.project = project;
    c.from(['project'], ['experiment', 'project']);
  }
  for (const field of ['question', 'hypothesis', 'purpose'] as const) {
    const text = c.string(experiment, field, ['experiment'], field === 'question' ? 'warning' : 'optional');
    if (text !== undefined) {
      document[field] = text;
      c.from([field], ['experiment', field]);
    }
  }
  const date = c.string(experiment, 'date', ['experiment'], 'warning');
  if (date !== undefined) {
    if (!/^[0-9]{4}-[0-9]{2}-[0-9]{2}$/.test(date)) c.error(['experiment', 'date'], `${describe(date)} is not a date; use YYYY-MM-DD`, 'invalid-value');
    else {
      document.date = date;
      c.from(['date'], ['experiment', 'date']);
    }
  }
  const dir = c.string(experiment, 'dir', ['experiment'], 'warning', { nonEmpty: true, why: 'ckbuild keeps run outputs under its runs root instead', legacy: 'directory' });
  if (dir !== undefined) {
    if (!isAbsolute(dir)) c.warn(['experiment', 'dir'], 'the experiment directory should be an absolute path', 'invalid-value');
    c.notes.push(`experiment.dir (${dir}) is not carried: ckbuild writes each run under its runs root (\`runs_root\` in ckbuild.local.yaml; default ./runs), in a directory named by the run's key.`);
  }

  // tools: only torchtune and inspect-ai exist there.
  const tools = c.mapping(data.tools, ['tools'], '`tools`');
  if (!tools) c.warn([], 'missing `tools` (required by cruijff_kit); ckbuild fine-tunes with torchtune and evaluates with inspect-ai', 'missing-key');
  else {
    c.keys(tools, ['tools'], '`tools`', ['preparation', 'evaluation']);
    for (const [field, expected] of [['preparation', 'torchtune'], ['evaluation', 'inspect-ai']] as const) {
      const value = c.string(tools, field, ['tools'], 'warning');
      if (value !== undefined && value !== expected) c.error(['tools', field], `${describe(value)} is not supported; the only ${field} tool is \`${expected}\``, 'invalid-value');
    }
  }

  // models.base → the base models, and where they live on the site.
  const models = c.mapping(data.models, ['models'], '`models`') ?? {};
  c.keys(models, ['models'], '`models`', ['base']);
  const modelNames = new Map<string, number>();
  const modelPaths: Record<string, { path: string }> = {};
  const base = models.base;
  if (base !== undefined && (!Array.isArray(base) || base.length === 0)) c.error(['models', 'base'], 'expected a non-empty list of {name, path, size_gb}', 'invalid-type');
  if (data.models !== undefined && base === undefined) c.error(['models'], 'missing required key `base` (a list of {name, path, size_gb})', 'missing-key');
  (Array.isArray(base) ? base : []).forEach((entry, index) => {
    const path: FieldPath = ['models', 'base', index];
    const model = c.mapping(entry, path, 'a base model');
    if (!model) return;
    c.keys(model, path, 'a base model', ['name', 'path', 'size_gb']);
    const modelName = c.string(model, 'name', path, 'error', { nonEmpty: true });
    const modelPath = c.string(model, 'path', path, 'warning', { nonEmpty: true, why: 'without it ckbuild looks in the models_dir of ckbuild.local.yaml' });
    if (model.size_gb === undefined) c.warn(path, 'missing `size_gb` (required by cruijff_kit; informational here)', 'missing-key');
    else if (typeof model.size_gb !== 'number' || model.size_gb < 0) c.error([...path, 'size_gb'], `expected a size in GB, got ${describe(model.size_gb)}`, 'invalid-type');
    if (modelName === undefined) return;
    if (modelNames.has(modelName)) {
      c.error([...path, 'name'], `\`${modelName}\` is listed twice (also models.base[${modelNames.get(modelName)}])`, 'duplicate');
      return;
    }
    modelNames.set(modelName, index);
    if (modelPath !== undefined) {
      modelPaths[modelName] = { path: modelPath };
      c.from(['models', modelName], path);
      c.from(['models', modelName, 'path'], [...path, 'path']);
    }
  });

  // data.training → the dataset.
  const dataSection = c.mapping(data.data, ['data'], '`data`') ?? {};
  c.keys(dataSection, ['data'], '`data`', ['training', 'data_generation']);
  const training = c.mapping(dataSection.training, ['data', 'training'], '`data.training`');
  if (data.data !== undefined && !training) c.error(['data'], 'missing required key `training` (path, dataset_label, format, size_kb, splits)', 'missing-key');
  let maxSamples: number | undefined;
  if (training) {
    const at: FieldPath = ['data', 'training'];
    c.keys(training, at, '`data.training`', ['path', 'dataset_label', 'format', 'size_kb', 'splits'], { label: { rename: 'dataset_label' } });
    const path = c.string(training, 'path', at, 'error', { nonEmpty: true });
    const label = c.string(training, 'dataset_label', at, 'warning', { why: 'informational here', legacy: 'label' });
    const format = c.string(training, 'format', at, 'warning');
    if (format !== undefined && format !== 'json') c.error([...at, 'format'], `${describe(format)} is not supported; the format is "json" ({"train": […], "validation": […], "test": […]} of {input, output})`, 'invalid-value');
    if (training.size_kb === undefined) c.warn(at, 'missing `size_kb` (required by cruijff_kit; informational here)', 'missing-key');
    else if (typeof training.size_kb !== 'number' || training.size_kb < 0) c.error([...at, 'size_kb'], `expected a size in KB, got ${describe(training.size_kb)}`, 'invalid-type');
    const splits = c.mapping(training.splits, [...at, 'splits'], '`splits`');
    if (!splits) {
      if (training.splits === undefined) c.warn(at, 'missing `splits` (required by cruijff_kit: the train/validation/test counts)', 'missing-key');
    } else {
      c.keys(splits, [...at, 'splits'], '`splits`', ['train', 'validation', 'test']);
      for (const split of ['train', 'validation', 'test']) {
        if (splits[split] === undefined) {
          c.warn([...at, 'splits'], `missing \`${split}\` (required by cruijff_kit)`, 'missing-key');
          continue;
        }
        const count = c.param({ native: split, type: 'int', min: 0, strict: true }, splits[split]!, [...at, 'splits', split]);
        // The earlier toolkit trained on the first `train` examples (--training_samples → dataset.max_samples).
        if (split === 'train' && typeof count === 'number' && count > 0) maxSamples = count;
      }
    }
    if (path !== undefined) {
      if (label !== undefined && label !== basename(path, extname(path))) {
        c.warn([...at, 'dataset_label'], `\`${label}\` is not the file name of data.training.path (\`${basename(path)}\`): cruijff_kit read \`<folder of path>/${label}.json\`; ckbuild reads data.training.path`, 'inconsistent');
      }
      if (c.file(path, [...at, 'path'], 'dataset file')) {
        document.dataset = { path, format: 'json' };
        c.from(['dataset'], [...at, 'path']);
      }
    }
  }
  if (dataSection.data_generation !== undefined) convertGeneration(c, dataSection.data_generation);

  // output: only the W&B project, which ckbuild does not need.
  const output = c.mapping(data.output, ['output'], '`output`');
  if (!output) c.warn([], 'missing `output` (required by cruijff_kit: output.wandb_project)', 'missing-key');
  else {
    c.keys(output, ['output'], '`output`', ['wandb_project'], {
      base_directory: { severity: 'warning', message: '`output.base_directory` was retired (cruijff_kit 0.3.4); ignored' },
      checkpoint_pattern: { severity: 'warning', message: '`output.checkpoint_pattern` was retired (cruijff_kit 0.3.4); ignored' },
    });
    const project = c.string(output, 'wandb_project', ['output'], 'warning', { why: 'informational here' });
    if (project !== undefined) c.notes.push(`output.wandb_project (${project}) is not carried: ckbuild records each run's status and metrics in the manifest beside the experiment; logging is the torchtune rule's business and not part of any run's key.`);
  }

  // controls → config.
  const controls = c.mapping(data.controls, ['controls'], '`controls`') ?? {};
  const config: JsonObject = {};
  const controlKeys = [...Object.keys(PARAMS), 'validation_during_training'];
  for (const [name, value] of Object.entries(controls)) {
    const path: FieldPath = ['controls', name];
    if (name === 'validation_during_training') continue;
    const spec = PARAMS[name];
    if (!spec) {
      if (UNSUPPORTED_PARAMS[name]) c.error(path, `\`${name}\` is not supported: ${UNSUPPORTED_PARAMS[name]}`, 'unsupported', 'key');
      else if (NATIVE_SPELLINGS[name]) c.error(path, `unknown key \`${name}\` in \`controls\`: this format calls it \`${NATIVE_SPELLINGS[name]}\``, 'unknown-key', 'key');
      else c.error(path, `unknown key \`${name}\` in \`controls\`${didYouMean(name, controlKeys) || '; it is not a training setting ckbuild knows, and would be lost: remove it or use one of ' + controlKeys.join(', ')}`, 'unknown-key', 'key');
      continue;
    }
    if (value === null || value === undefined) continue;
    const converted = c.param(spec, value, path);
    if (converted === undefined) continue;
    if (spec.differs) c.warn(path, spec.differs, 'differs', 'key');
    config[spec.native] = converted;
    c.from(['config', spec.native], path);
  }
  c.from(['config'], ['controls']);
  if (data.controls !== undefined) {
    if (controls.dataset_type === undefined) c.error(['controls'], 'missing required key `dataset_type`: chat_completion (instruct/chat models) or text_completion (base models); it decides the training dataset and whether evaluation uses the chat template', 'missing-key');
    if (controls.prompt === undefined) c.error(['controls'], 'missing required key `prompt`: the template each input is formatted with, containing `{input}` (e.g. "Capitalize the given word: {input}\\n")', 'missing-key');
    if (controls.system_prompt === undefined) c.warn(['controls'], 'missing `system_prompt` (required by cruijff_kit, which then used "" silently); ckbuild uses "" too: write `system_prompt: ""` to say so', 'missing-key');
  }
  // Training defaults only where something trains (an experiment of controls and checkpoints has no use for them).
  const trains = Array.isArray(data.runs) && data.runs.some((run) => isObject(run) && run.type === 'fine-tuned');
  for (const [name, fallback] of trains ? TRAINING_DEFAULTS : []) {
    const native = PARAMS[name]!.native;
    if (config[native] !== undefined) continue;
    if ((name === 'epochs' || name === 'batch_size' || name === 'gradient_accumulation_steps') && data.controls !== undefined) {
      c.warn(['controls'], `missing \`${name}\` (required by cruijff_kit); using its default, ${fallback}`, 'missing-key');
    }
    config[native] = fallback;
    c.from(['config', native], ['controls']);
  }
  if (config.system_prompt === undefined) {
    config.system_prompt = '';
    c.from(['config', 'system_prompt'], ['controls']);
  }
  if (config.seed === undefined && trains) {
    config.seed = DEFAULT_SEED;
    c.from(['config', 'seed'], ['controls']);
  }
  // Whether a recipe can validate (GPU count, torchtune version) is the torchtune rule's to say.
  const validation = controls.validation_during_training;
  if (validation !== undefined && validation !== null) {
    const on = c.param({ native: 'validation_during_training', type: 'bool' }, validation, ['controls', 'validation_during_training']);
    if (typeof on === 'boolean') {
      config.validation_every_n_steps = on ? VALIDATION_EVERY_N_STEPS : 0;
      c.from(['config', 'validation_every_n_steps'], ['controls', 'validation_during_training']);
    }
  }
  if (maxSamples !== undefined && trains) {
    config.max_samples = maxSamples;
    c.from(['config', 'max_samples'], ['data', 'training', 'splits', 'train']);
  }
  const textCompletion = config.dataset_type === 'text_completion';
  if (textCompletion && typeof config.system_prompt === 'string') {
    if (config.system_prompt !== '') c.warn(['controls', 'system_prompt'], 'with dataset_type text_completion there is no chat template to hold a system prompt: it is used neither in training nor in evaluation', 'ignored-key');
    delete config.system_prompt;
  }

  // runs → fine-tunes (a list protocol) and evaluated models (checkpoints).
  const runs: RunInfo[] = [];
  const runsByName = new Map<string, RunInfo>();
  const rawRuns = data.runs;
  if (rawRuns !== undefined && rawRuns !== null && (!Array.isArray(rawRuns) || rawRuns.length === 0)) c.error(['runs'], 'expected a non-empty list of runs ({name, type, model, parameters})', 'invalid-type');
  (Array.isArray(rawRuns) ? rawRuns : []).forEach((entry, index) => {
    const path: FieldPath = ['runs', index];
    const run = c.mapping(entry, path, 'a run');
    if (!run) return;
    c.keys(run, path, 'a run', ['name', 'type', 'model', 'parameters', 'training_condition', 'dataset_path', 'compute', 'slurm_overrides'], {
      finetuned: { rename: 'is_finetuned', message: 'ckbuild derives it from the run’s `type`: remove it' },
      is_finetuned: { message: 'ckbuild derives `is_finetuned` from the run’s `type`: remove it' },
    });
    const runName = c.string(run, 'name', path, 'error', { nonEmpty: true });
    const type = c.string(run, 'type', path, 'error');
    const model = c.string(run, 'model', path, 'error', { nonEmpty: true });
    const parameters = run.parameters === undefined || run.parameters === null ? undefined : c.mapping(run.parameters, [...path, 'parameters'], '`parameters`');
    if (run.parameters === undefined || run.parameters === null) c.error(path, 'missing required key `parameters` (the varied values of a fine-tuned run; `{}` for a control; `{checkpoint_path: …}` for an eval-only run)', 'missing-key');
    if (type !== undefined && !(RUN_TYPES as readonly string[]).includes(type)) c.error([...path, 'type'], `${describe(type)} is not a run type; expected one of ${RUN_TYPES.join(', ')}${didYouMean(type, RUN_TYPES)}`, 'invalid-value');
    if (runName !== undefined && !RUN_NAME.test(runName)) c.error([...path, 'name'], `run names may use only letters, digits, _, . and - (it names the run’s directory and jobs), got ${JSON.stringify(runName)}`, 'invalid-value');
    if (runName !== undefined && runsByName.has(runName)) c.error([...path, 'name'], `two runs are named \`${runName}\` (the first is runs[${runsByName.get(runName)!.index}])`, 'duplicate-run');
    if (model !== undefined && modelNames.size > 0 && !modelNames.has(model)) c.error([...path, 'model'], `\`${model}\` is not one of models.base: ${[...modelNames.keys()].join(', ')}${didYouMean(model, modelNames.keys())}`, 'dangling-reference');
    if (run.training_condition !== undefined) c.error([...path, 'training_condition'], '`training_condition` (a file generated by tabular_to_text_gen, named by a hash of its configuration) is not supported yet: point `dataset_path` at the generated file instead', 'unsupported', 'key');
    if (runName === undefined || type === undefined || model === undefined || !(RUN_TYPES as readonly string[]).includes(type) || runsByName.has(runName)) return;
    const info: RunInfo = { index, name: runName, type: type as RunType, model, parameters: parameters ?? {} };
    runs.push(info);
    runsByName.set(runName, info);
  });

  // The base model of the config: the fine-tunes' (the first one's), else the first run's.
  const baseModel = runs.find((run) => run.type === 'fine-tuned')?.model ?? runs[0]?.model ?? [...modelNames.keys()][0];
  if (baseModel !== undefined) {
    config.base_model = baseModel;
    const first = runs.find((run) => run.model === baseModel);
    c.from(['config', 'base_model'], first ? ['runs', first.index, 'model'] : ['models', 'base', modelNames.get(baseModel) ?? 0, 'name']);
  }

  const listRuns: ListRun[] = [];
  const checkpoints: EvaluationCheckpoint[] = [];
  const listIndex = new Map<string, number>();
  const checkpointIndex = new Map<string, number>();
  for (const run of runs) {
    const path: FieldPath = ['runs', run.index];
    const raw = (data.runs as Json[])[run.index] as JsonObject;
    const parametersPath: FieldPath = [...path, 'parameters'];
    const overrides: JsonObject = {};
    const overridePaths: Record<string, FieldPath> = {};
    let datasetPath: { value: string; at: FieldPath } | undefined;
    let evalDatasetPath: { value: string; at: FieldPath } | undefined;
    let checkpointPath: { value: string; at: FieldPath } | undefined;
    const takePath = (value: Json, at: FieldPath): { value: string; at: FieldPath } | undefined => {
      if (typeof value === 'string' && value.trim() !== '') return { value, at };
      c.error(at, `expected a path, got ${describe(value)}`, 'invalid-type');
      return undefined;
    };
    if (raw.dataset_path !== undefined) datasetPath = takePath(raw.dataset_path, [...path, 'dataset_path']);
    for (const [name, value] of Object.entries(run.parameters)) {
      const at: FieldPath = [...parametersPath, name];
      if (value === null || value === undefined) continue;
      if (name === 'dataset_path') {
        if (datasetPath) c.error(at, `\`dataset_path\` is also set at runs[${run.index}].dataset_path: give it once`, 'duplicate');
        else datasetPath = takePath(value, at);
        continue;
      }
      if (name === 'eval_dataset_path') {
        evalDatasetPath = takePath(value, at);
        continue;
      }
      if (name === 'checkpoint_path') {
        if (run.type !== 'eval-only') c.error(at, `\`checkpoint_path\` is for eval-only runs (this run is ${run.type})`, 'invalid-value', 'key');
        else checkpointPath = takePath(value, at);
        continue;
      }
      const spec = PARAMS[name];
      if (!spec) {
        const allowed = [...Object.keys(PARAMS), 'dataset_path', 'eval_dataset_path', 'checkpoint_path'];
        if (UNSUPPORTED_PARAMS[name]) c.error(at, `\`${name}\` is not supported: ${UNSUPPORTED_PARAMS[name]}`, 'unsupported', 'key');
        else if (NATIVE_SPELLINGS[name]) c.error(at, `unknown key \`${name}\` in \`parameters\`: this format calls it \`${NATIVE_SPELLINGS[name]}\``, 'unknown-key', 'key');
        else c.error(at, `unknown key \`${name}\` in \`parameters\`${didYouMean(name, allowed) || '; it is not a setting ckbuild knows, and would be lost'}`, 'unknown-key', 'key');
        continue;
      }
      const converted = c.param(spec, value, at);
      if (converted === undefined) continue;
      if (run.type !== 'fine-tuned' && name !== 'prompt') {
        c.warn(at, `ignored: a ${run.type} run is not trained here, so training settings do not apply`, 'ignored-key', 'key');
        continue;
      }
      if (spec.differs) c.warn(at, spec.differs, 'differs', 'key');
      if (name === 'system_prompt') c.warn(at, 'cruijff_kit evaluated every run with controls.system_prompt; ckbuild evaluates this run with the system prompt it was trained with (train/eval parity)', 'differs', 'key');
      overrides[spec.native] = converted;
      overridePaths[spec.native] = at;
    }
    if (textCompletion && typeof overrides.system_prompt === 'string') {
      if (overrides.system_prompt !== '') c.warn(overridePaths.system_prompt!, 'with dataset_type text_completion a system prompt is used neither in training nor in evaluation', 'ignored-key');
      delete overrides.system_prompt;
    }
    if (run.type === 'fine-tuned' && Object.keys(run.parameters).length === 0) {
      c.error(parametersPath, 'a fine-tuned run needs its parameters: the values of the variables it trains with (e.g. `lora_rank: 8`)', 'missing-key');
    }
    if (run.type === 'eval-only' && !checkpointPath && run.parameters.checkpoint_path === undefined) {
      c.error(parametersPath, 'an eval-only run needs `checkpoint_path`: the directory of the existing checkpoint to evaluate', 'missing-key');
    }
    const dataset = datasetPath && c.file(datasetPath.value, datasetPath.at, 'dataset file') ? ({ path: datasetPath.value, format: 'json' } satisfies DatasetRef) : undefined;
    const evalDataset = evalDatasetPath && c.file(evalDatasetPath.value, evalDatasetPath.at, 'dataset file') ? ({ path: evalDatasetPath.value, format: 'json' } satisfies DatasetRef) : undefined;

    // Scheduling: compute and slurm_overrides are for the fine-tune.
    let resources: Resources | undefined;
    const native: FieldPath = ['protocol', 'runs', listRuns.length, 'resources'];
    if (raw.compute !== undefined && raw.compute !== null) {
      resources = c.compute(raw.compute, [...path, 'compute'], native);
      if (run.type !== 'fine-tuned') {
        c.warn([...path, 'compute'], `ignored: \`compute\` sizes a fine-tune, and a ${run.type} run is not trained here (evaluation.compute sizes evaluations)`, 'ignored-key', 'key');
        resources = undefined;
      }
    }
    const overridesSlurm = c.mapping(raw.slurm_overrides, [...path, 'slurm_overrides'], '`slurm_overrides`');
    if (overridesSlurm) {
      c.keys(overridesSlurm, [...path, 'slurm_overrides'], '`slurm_overrides`', ['constraint', 'partition']);
      if (run.type !== 'fine-tuned') c.warn([...path, 'slurm_overrides'], `ignored: \`slurm_overrides\` apply to a fine-tune, and a ${run.type} run is not trained here`, 'ignored-key', 'key');
      else {
        resources = { ...(resources ?? {}) };
        for (const field of ['constraint', 'partition'] as const) {
          const value = c.string(overridesSlurm, field, [...path, 'slurm_overrides'], 'optional', { nonEmpty: true });
          if (value === undefined) continue;
          resources[field] = value;
          c.from([...native, field], [...path, 'slurm_overrides', field]);
        }
      }
    }
    if (resources && Object.keys(resources).length === 0) resources = undefined;

    if (run.type === 'fine-tuned') {
      const position = listRuns.length;
      const at: FieldPath = ['protocol', 'runs', position];
      const listRun: ListRun = { name: run.name };
      if (run.model !== baseModel) {
        listRun.base_model = run.model;
        c.from([...at, 'base_model'], [...path, 'model']);
      }
      for (const [param, value] of Object.entries(overrides)) {
        listRun[param] = value;
        c.from([...at, param], overridePaths[param]!);
      }
      if (dataset) {
        listRun.dataset = dataset;
        c.from([...at, 'dataset'], datasetPath!.at);
        c.from([...at, 'dataset', 'path'], datasetPath!.at);
      }
      if (evalDataset) {
        listRun.eval_dataset = evalDataset;
        c.from([...at, 'eval_dataset'], evalDatasetPath!.at);
        c.from([...at, 'eval_dataset', 'path'], evalDatasetPath!.at);
      }
      if (resources) listRun.resources = resources;
      c.from(at, path);
      c.from([...at, 'name'], [...path, 'name']);
      listRuns.push(listRun);
      listIndex.set(run.name, position);
    } else {
      const position = checkpoints.length;
      const at: FieldPath = ['evaluation', 'checkpoints', position];
      const checkpoint: EvaluationCheckpoint = { name: run.name, base_model: run.model };
      if (checkpointPath) {
        checkpoint.path = checkpointPath.value;
        c.from([...at, 'path'], checkpointPath.at);
      }
      if (typeof overrides.prompt === 'string') {
        checkpoint.prompt = overrides.prompt;
        c.from([...at, 'prompt'], overridePaths.prompt!);
      }
      const evalData = evalDataset ?? dataset;
      if (evalData) {
        checkpoint.eval_dataset = evalData;
        const from = evalDataset ? evalDatasetPath!.at : datasetPath!.at;
        c.from([...at, 'eval_dataset'], from);
        c.from([...at, 'eval_dataset', 'path'], from);
      }
      c.from(at, path);
      c.from([...at, 'name'], [...path, 'name']);
      c.from([...at, 'base_model'], [...path, 'model']);
      checkpoints.push(checkpoint);
      checkpointIndex.set(run.name, position);
    }
  }
  document.config = config;
  document.protocol = { type: 'list', runs: listRuns };
  c.from(['protocol'], ['runs']);
  c.from(['protocol', 'type'], ['runs']);
  c.from(['protocol', 'runs'], ['runs']);

  // variables: what varies; every value must be trained somewhere, and the product should be covered.
  const variables = c.mapping(data.variables, ['variables'], '`variables`');
  if (variables) checkVariables(c, variables, runs);

  // evaluation → tasks, checkpoints, matrix, and the evaluation settings.
  const evaluationSection = c.mapping(data.evaluation, ['evaluation'], '`evaluation`');
  if (evaluationSection) {
    const evaluation = convertEvaluation(c, evaluationSection, controls, runsByName, textCompletion, document);
    if (evaluation) {
      if (checkpoints.length > 0) evaluation.checkpoints = checkpoints;
      document.evaluation = evaluation;
      c.from(['evaluation'], ['evaluation']);
    }
  }
  if (Object.keys(modelPaths).length > 0) {
    document.models = modelPaths;
    c.from(['models'], ['models', 'base']);
  }
  if (Object.keys(modelPaths).length > 0) {
    c.notes.push('models.base[].path is kept as `models:` — where each base model lives on the cluster that wrote the file. It reaches the generated configs but not any run key, so the same experiment elsewhere keeps its keys; a relocated model directory only needs this path (or models_dir in ckbuild.local.yaml) changed.');
  }
  return c.finish(document);
}

function checkVariables(c: Conversion, variables: JsonObject, runs: RunInfo[]): void {
  const combos = new Set<string>();
  const names: string[] = [];
  const valueLists: Json[][] = [];
  for (const [name, values] of Object.entries(variables)) {
    const path: FieldPath = ['variables', name];
    const spec = PARAMS[name];
    if (!spec && !['dataset_path', 'eval_dataset_path', 'checkpoint_path'].includes(name)) {
      c.error(path, `unknown variable \`${name}\`${didYouMean(name, Object.keys(PARAMS)) || (NATIVE_SPELLINGS[name] ? `; this format calls it \`${NATIVE_SPELLINGS[name]}\`` : '; variables are training settings (lora_rank, lr, batch_size, …)')}`, 'unknown-key', 'key');
      continue;
    }
    if (!Array.isArray(values) || values.length === 0) {
      c.error(path, `a variable is a non-empty list of the values it takes, got ${describe(values)}`, 'invalid-type');
      continue;
    }
    const normalise = (value: Json, at: FieldPath): Json | undefined => (spec ? c.param(spec, value, at) : value);
    const normalised: Json[] = [];
    values.forEach((value, index) => {
      const at: FieldPath = [...path, index];
      const wanted = normalise(value, at);
      if (wanted === undefined) return;
      normalised.push(wanted);
      const found = runs.some((run) => {
        const given = run.parameters[name];
        if (given === undefined || given === null) return false;
        const probe = new Conversion(c.source, c.projectDir); // normalise quietly: the run's own check reports bad values
        const have = spec ? probe.param(spec, given, at) : given;
        return have !== undefined && canonicalJson(have) === canonicalJson(wanted);
      });
      if (!found) c.error(at, `no run trains with ${name} = ${canonicalJson(wanted)}: every value of a variable must appear in some run’s parameters`, 'unused-variable');
    });
    names.push(name);
    valueLists.push(normalised);
  }
  if (names.length < 2) return;
  // The cartesian product the variables describe, against the fine-tunes written.
  for (const run of runs.filter((r) => r.type === 'fine-tuned')) {
    const probe = new Conversion(c.source, c.projectDir);
    combos.add(canonicalJson(names.map((name) => {
      const given = run.parameters[name];
      const spec = PARAMS[name];
      return given === undefined || given === null ? null : ((spec ? probe.param(spec, given, []) : given) ?? null);
    })));
  }
  const missing: string[] = [];
  const walk = (index: number, chosen: Json[]): void => {
    if (index === names.length) {
      if (!combos.has(canonicalJson(chosen))) missing.push(names.map((name, i) => `${name}=${canonicalJson(chosen[i]!)}`).join(', '));
      return;
    }
    for (const value of valueLists[index]!) walk(index + 1, [...chosen, value]);
  };
  walk(0, []);
  if (missing.length > 0) {
    c.warn(['variables'], `the variables describe ${valueLists.reduce((n, list) => n * list.length, 1)} combinations but no fine-tuned run trains ${missing.slice(0, 4).join('; ')}${missing.length > 4 ? `; and ${missing.length - 4} more` : ''}`, 'incomplete-product');
  }
}

function convertEvaluation(c: Conversion, evaluation: JsonObject, controls: JsonObject, runs: Map<string, RunInfo>, textCompletion: boolean, document: ExperimentDocument): ExperimentDocument['evaluation'] | undefined {
  const at: FieldPath = ['evaluation'];
  c.keys(evaluation, at, '`evaluation`', ['temperature', 'do_sample', 'seed', 'max_tokens', 'max_connections', 'scorers', 'tasks', 'compute', 'matrix', 'assistant_prefix'], {
    scorer: { rename: 'scorers', message: 'it is a list of {name, params}; cruijff_kit ignored the old key and fell back to the task’s default scorers' },
    ...(evaluation.system_prompt !== undefined && evaluation.system_prompt === controls.system_prompt
      ? { system_prompt: { severity: 'warning' as const, message: '`evaluation.system_prompt` was removed (cruijff_kit 0.3.4): the system prompt is `controls.system_prompt` (this one is the same); remove it' } }
      : { system_prompt: { message: '`evaluation.system_prompt` was removed (cruijff_kit 0.3.4) and is not read: the system prompt is `controls.system_prompt`, shared by training and evaluation; for one task, set evaluation.tasks[].system_prompt' } }),
  });
  const result: NonNullable<ExperimentDocument['evaluation']> = { tasks: [] };

  // Decoding: greedy unless do_sample; a temperature only means something under sampling.
  let sampling = false;
  if (evaluation.do_sample !== undefined && evaluation.do_sample !== null) {
    if (typeof evaluation.do_sample !== 'boolean') c.error([...at, 'do_sample'], `expected true or false, got ${describe(evaluation.do_sample)}`, 'invalid-type');
    else {
      sampling = evaluation.do_sample;
      result.do_sample = sampling;
    }
  }
  if (evaluation.temperature !== undefined && evaluation.temperature !== null) {
    const temperature = c.param({ native: 'temperature', type: 'number' }, evaluation.temperature, [...at, 'temperature']);
    if (typeof temperature === 'number') {
      if (!sampling) c.warn([...at, 'temperature'], 'has no effect under greedy decoding (do_sample is false), so it is not passed; set `do_sample: true` to sample', 'ignored-key');
      else if (temperature <= 0) c.error([...at, 'temperature'], `must be > 0 when sampling (do_sample: true), got ${temperature}`, 'out-of-range');
      else result.temperature = temperature;
    }
  } else if (sampling) {
    c.error([...at, 'do_sample'], 'sampling (do_sample: true) needs `evaluation.temperature` > 0', 'missing-key');
  }
  const seed = evaluation.seed === undefined || evaluation.seed === null ? DEFAULT_SEED : c.param({ native: 'seed', type: 'int', min: 0, strict: true }, evaluation.seed, [...at, 'seed']);
  if (typeof seed === 'number') result.seed = seed;
  for (const name of ['max_tokens', 'max_connections'] as const) {
    if (evaluation[name] === undefined || evaluation[name] === null) continue;
    const value = c.param({ native: name, type: 'int', min: 1 }, evaluation[name]!, [...at, name]);
    if (typeof value === 'number') result[name] = value;
  }

  // Scorers: a list of {name, params}; a bare name is accepted, as the earlier toolkit did.
  const scorers = evaluation.scorers;
  if (scorers === undefined || scorers === null) {
    if (evaluation.scorer === undefined) c.warn(at, 'missing `scorers` (required by cruijff_kit); each task uses its own default scorers', 'missing-key');
  } else {
    const list = typeof scorers === 'string' ? [scorers] : Array.isArray(scorers) ? scorers : undefined;
    if (!list || list.length === 0) c.error([...at, 'scorers'], `expected a list of {name, params}, got ${describe(scorers)}`, 'invalid-type');
    else {
      result.scorers = [];
      list.forEach((entry, index) => {
        const path: FieldPath = typeof scorers === 'string' ? [...at, 'scorers'] : [...at, 'scorers', index];
        const scorer = typeof entry === 'string' ? { name: entry } : c.mapping(entry, path, 'a scorer');
        if (!scorer) return;
        if (typeof entry !== 'string') c.keys(scorer, path, 'a scorer', ['name', 'params']);
        const name = typeof scorer.name === 'string' && scorer.name !== '' ? scorer.name : undefined;
        if (!name) {
          c.error(path, 'a scorer needs a `name`', 'missing-key');
          return;
        }
        if (!SCORERS.includes(name)) c.warn(typeof entry === 'string' ? path : [...path, 'name'], `\`${name}\` is not one of cruijff_kit’s scorers (${SCORERS.join(', ')}); the task must know it${didYouMean(name, SCORERS)}`, 'unknown-scorer');
        const params = scorer.params === undefined || scorer.params === null ? undefined : c.mapping(scorer.params, [...path, 'params'], 'scorer params');
        result.scorers!.push(params ? { name, params } : { name });
      });
    }
  }

  // Tasks: name, script, description; at most one of dataset / eval_condition; prompt overrides.
  const assistantPrefix = evaluation.assistant_prefix === undefined ? undefined : c.string(evaluation, 'assistant_prefix', at, 'optional');
  const tasks = evaluation.tasks;
  if (tasks === undefined || tasks === null) c.error(at, 'missing required key `tasks` (a list of {name, script, description})', 'missing-key');
  else if (!Array.isArray(tasks) || tasks.length === 0) c.error([...at, 'tasks'], 'expected a non-empty list of tasks ({name, script, description})', 'invalid-type');
  const taskNames = new Map<string, number>();
  (Array.isArray(tasks) ? tasks : []).forEach((entry, index) => {
    const path: FieldPath = [...at, 'tasks', index];
    const task = c.mapping(entry, path, 'a task');
    if (!task) return;
    c.keys(task, path, 'a task', ['name', 'script', 'description', 'dataset', 'eval_condition', 'prompt', 'system_prompt', 'assistant_prefix']);
    const name = c.string(task, 'name', path, 'error', { nonEmpty: true });
    const script = c.string(task, 'script', path, 'error', { nonEmpty: true });
    const description = c.string(task, 'description', path, 'warning', { why: 'informational here' });
    if (name !== undefined && taskNames.has(name)) c.error([...path, 'name'], `two tasks are named \`${name}\` (the first is evaluation.tasks[${taskNames.get(name)}])`, 'duplicate');
    if (name === undefined || script === undefined || taskNames.has(name)) return;
    taskNames.set(name, index);
    // `script@function` names the @task function; otherwise the function is the task's name (`{script}@{name}`).
    const atSign = script.lastIndexOf('@');
    const file = atSign > 0 ? script.slice(0, atSign) : script;
    const converted: EvaluationTask = { name, script: file };
    if (atSign > 0 && script.slice(atSign + 1) !== name) {
      converted.task = script.slice(atSign + 1);
      c.from([...path, 'task'], [...path, 'script']);
    }
    c.file(file, [...path, 'script'], 'task script');
    if (description !== undefined) converted.description = description;
    if (task.dataset !== undefined && task.eval_condition !== undefined) c.error(path, 'give at most one of `dataset` and `eval_condition`', 'conflict');
    if (task.eval_condition !== undefined) c.error([...path, 'eval_condition'], '`eval_condition` (a file generated by tabular_to_text_gen, named by a hash of its configuration) is not supported yet: set `dataset` to the generated test file instead', 'unsupported', 'key');
    const dataset = c.string(task, 'dataset', path, 'optional', { nonEmpty: true });
    if (dataset !== undefined) {
      if (dataset.toLowerCase() === 'same') {
        c.warn([...path, 'dataset'], '"same" is not a path: read as "the training dataset" (data.training.path), which is what a task without `dataset` uses; remove it', 'invalid-value');
      } else if (c.file(dataset, [...path, 'dataset'], 'dataset file')) {
        converted.dataset = { path: dataset, format: 'json' };
        c.from([...path, 'dataset', 'path'], [...path, 'dataset']);
      }
    }
    const prompt = c.string(task, 'prompt', path, 'optional');
    if (prompt !== undefined) {
      c.placeholder(prompt, [...path, 'prompt']);
      converted.prompt = prompt;
    }
    const systemPrompt = c.string(task, 'system_prompt', path, 'optional');
    if (systemPrompt !== undefined) {
      if (textCompletion) {
        if (systemPrompt !== '') c.warn([...path, 'system_prompt'], 'with dataset_type text_completion evaluation uses no chat template, so no system prompt', 'ignored-key');
      } else converted.system_prompt = systemPrompt;
    }
    const prefix = task.assistant_prefix === undefined ? assistantPrefix : c.string(task, 'assistant_prefix', path, 'optional');
    if (prefix !== undefined) {
      converted.args = { assistant_prefix: prefix };
      c.from([...path, 'args'], task.assistant_prefix === undefined ? [...at, 'assistant_prefix'] : [...path, 'assistant_prefix']);
    }
    result.tasks.push(converted);
  });
  const compute = c.compute(evaluation.compute, [...at, 'compute'], ['resources', 'evaluate']);
  if (compute && Object.keys(compute).length > 0) {
    document.resources = { evaluate: compute };
    c.from(['resources'], [...at, 'compute']);
    c.from(['resources', 'evaluate'], [...at, 'compute']);
  }

  // The matrix: run × tasks × 0-indexed epochs (null for runs not trained here).
  const matrix = evaluation.matrix;
  if (matrix === undefined || matrix === null) {
    c.error(at, 'missing required key `matrix`: which runs are evaluated on which tasks at which epochs ({run, tasks, epochs, vis_label})', 'missing-key');
    return result;
  }
  if (!Array.isArray(matrix) || matrix.length === 0) {
    c.error([...at, 'matrix'], 'expected a non-empty list of {run, tasks, epochs, vis_label}', 'invalid-type');
    return result;
  }
  const entries: MatrixEntry[] = [];
  matrix.forEach((raw, index) => {
    const path: FieldPath = [...at, 'matrix', index];
    const entry = c.mapping(raw, path, 'a matrix row');
    if (!entry) return;
    c.keys(entry, path, 'a matrix row', ['run', 'vis_label', 'tasks', 'epochs'], {
      finetuned: { rename: 'is_finetuned', message: 'ckbuild derives it from the run’s `type`: remove it' },
      is_finetuned: { message: 'ckbuild derives `is_finetuned` from the run’s `type`: remove it' },
    });
    const runName = c.string(entry, 'run', path, 'error', { nonEmpty: true });
    const run = runName === undefined ? undefined : runs.get(runName);
    if (runName !== undefined && !run) c.error([...path, 'run'], `no run named \`${runName}\`${didYouMean(runName, runs.keys()) || `; runs: ${[...runs.keys()].join(', ')}`}`, 'dangling-reference');
    const visLabel = c.string(entry, 'vis_label', path, 'optional', { nonEmpty: true });
    const rowTasks: string[] = [];
    if (entry.tasks === undefined || entry.tasks === null) c.error(path, 'missing required key `tasks` (the names of the tasks to evaluate this run on)', 'missing-key');
    else if (!Array.isArray(entry.tasks) || entry.tasks.length === 0) c.error([...path, 'tasks'], `expected a non-empty list of task names, got ${describe(entry.tasks)}`, 'invalid-type');
    else {
      entry.tasks.forEach((task, taskIndex) => {
        if (typeof task !== 'string') c.error([...path, 'tasks', taskIndex], `expected a task name, got ${describe(task)}`, 'invalid-type');
        else if (!taskNames.has(task)) c.error([...path, 'tasks', taskIndex], `no task named \`${task}\`${didYouMean(task, taskNames.keys()) || `; tasks: ${[...taskNames.keys()].join(', ')}`}`, 'dangling-reference');
        else if (rowTasks.includes(task)) c.error([...path, 'tasks', taskIndex], `\`${task}\` is listed twice`, 'duplicate');
        else rowTasks.push(task);
      });
    }
    const converted: MatrixEntry = { run: runName ?? '', tasks: rowTasks };
    if (run?.type === 'fine-tuned') {
      if (!('epochs' in entry)) c.error(path, 'missing required key `epochs`: the 0-indexed epochs whose checkpoints to evaluate (e.g. [0, 1])', 'missing-key');
      else if (entry.epochs === null) c.error([...path, 'epochs'], `\`${runName}\` is fine-tuned: list the 0-indexed epochs whose checkpoints to evaluate (null is for control and eval-only runs)`, 'missing-key');
      else if (!Array.isArray(entry.epochs) || entry.epochs.length === 0) c.error([...path, 'epochs'], `expected a non-empty list of 0-indexed epochs, got ${describe(entry.epochs)}`, 'invalid-type');
      else {
        const epochs: number[] = [];
        entry.epochs.forEach((epoch, epochIndex) => {
          const at: FieldPath = [...path, 'epochs', epochIndex];
          if (typeof epoch !== 'number' || !Number.isInteger(epoch) || epoch < 0) c.error(at, `expected a 0-indexed epoch (0, 1, …), got ${describe(epoch)}`, 'invalid-value');
          else if (epochs.includes(epoch)) c.error(at, `epoch ${epoch} is listed twice`, 'duplicate');
          else epochs.push(epoch);
        });
        converted.epochs = epochs;
      }
    } else if (run) {
      if (!('epochs' in entry)) c.warn(path, `missing \`epochs\` (required by cruijff_kit; \`null\` for a ${run.type} run)`, 'missing-key');
      else if (entry.epochs !== null) c.error([...path, 'epochs'], `\`${runName}\` is a ${run.type} run: it has no training epochs, so use \`epochs: null\``, 'invalid-value');
    }
    // The earlier toolkit always labelled cells (default: the run's name) and passed the label to the task.
    converted.vis_label = visLabel ?? runName ?? '';
    if (visLabel === undefined) c.from([...at, 'matrix', index, 'vis_label'], [...path, 'run']);
    entries.push(converted);
  });
  result.matrix = entries;
  return result;
}

/** The dataset generator is not run by ckbuild; its settings are checked so a mistake is not silent. */
function convertGeneration(c: Conversion, value: Json): void {
  const path: FieldPath = ['data', 'data_generation'];
  const generation = c.mapping(value, path, '`data_generation`');
  if (!generation) return;
  const tool = c.string(generation, 'tool', path, 'error');
  if (tool === undefined) return;
  if (tool === 'model_organism') {
    const known = ['tool', 'name', 'input_type', 'rule', 'k', 'N', 'seed', 'design', 'output_path', 'fmt', 'rule_kwargs', 'split_ratio', 'ood_tests'];
    c.keys(generation, path, '`data_generation`', known, { split: { rename: 'split_ratio', message: 'cruijff_kit warned and ignored the old key' } });
    for (const required of ['input_type', 'rule', 'k', 'N', 'seed', 'design', 'output_path']) c.need(generation, required, path, 'error');
    const check = (name: string, values: string[]): void => {
      const given = generation[name];
      if (typeof given === 'string' && !values.includes(given)) c.error([...path, name], `${describe(given)} is not allowed; expected one of ${values.join(', ')}`, 'invalid-value');
    };
    check('input_type', ['bits', 'digits', 'letters']);
    check('design', ['memorization', 'in_distribution', 'ood']);
    check('fmt', ['spaced', 'dense', 'comma', 'tab', 'pipe']);
    if (generation.design === 'ood' && generation.ood_tests === undefined) c.error(path, 'missing `ood_tests`, required when design is ood', 'missing-key');
  } else if (tool === 'tabular_to_text_gen') {
    if (generation.split !== undefined) c.error([...path, 'split'], '`split` was renamed `split_ratio` (cruijff_kit 0.3.4)', 'renamed-key', 'key');
  } else {
    c.error([...path, 'tool'], `${describe(tool)} is not a generator; expected model_organism or tabular_to_text_gen`, 'invalid-value');
    return;
  }
  c.warn(path, `ckbuild does not run the ${tool} generator: it reads the dataset at data.training.path as it is. To make the data part of the build, generate it in a \`prepare\` step of a ckbuild experiment`, 'not-converted', 'key');
}

export const cruijffFormat: ForeignFormat = {
  name: 'cruijff',
  detect: detectCruijff,
  convert: (source, projectDir) => convertCruijff(source, projectDir),
};
