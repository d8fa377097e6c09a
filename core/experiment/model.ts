/** The experiment file as typed data, after schema validation. */
import type { Resources, StepKind } from '../rule.js';
import type { FieldPath } from '../diagnostics.js';
import type { JsonObject } from '../json.js';
import type { SourceFile } from '../source.js';

export type ProtocolType = 'standard' | 'grid' | 'ablation' | 'curriculum' | 'ensemble' | 'list';

/**
 * One named fine-tune of a `list` protocol: `name`, its own training/evaluation datasets and
 * resources, and any config parameter as an override (`{ name: rank4, lora_rank: 4 }`).
 */
export interface ListRun {
  name: string;
  dataset?: DatasetRef;
  /** The dataset this run's evaluation cells read when their task names none (default: `dataset`, then the experiment's). */
  eval_dataset?: DatasetRef;
  /** Scheduling for this run's fine-tune, over `resources.finetune`; not part of the key. */
  resources?: Resources;
  [param: string]: JsonObject[string] | DatasetRef | Resources | undefined;
}

/** The reserved keys of a list run; every other key is a config override. */
export const LIST_RUN_KEYS: readonly string[] = ['name', 'dataset', 'eval_dataset', 'resources'];

export interface DatasetRef {
  path: string;
  format?: 'json' | 'jsonl' | 'json-chat' | 'parquet' | 'alpaca';
  from?: string;
  split?: string;
}

export interface Protocol {
  type: ProtocolType;
  trials?: number;
  /** The most trials the protocol may expand to (default DEFAULT_MAX_TRIALS in trials.ts). */
  max_trials?: number;
  vary?: Record<string, Array<JsonObject[string]>>;
  search_space?: {
    lr_min?: number;
    lr_max?: number;
    rank_choices?: number[];
    choices?: Record<string, Array<JsonObject[string]>>;
    log_uniform?: Record<string, [number, number]>;
    uniform?: Record<string, [number, number]>;
  };
  seeds?: number[];
  /** list: explicit fine-tunes, each a name plus config overrides. */
  runs?: ListRun[];
  stages?: Array<{ name: string; dataset: DatasetRef; config?: JsonObject }>;
  members?: number | JsonObject[];
  merge?: { method?: string; weights?: number[]; density?: number };
  budget_gpu_hours?: number;
  budget_dollars?: number;
  early_stop_loss?: number;
}

export interface PrepareSpec {
  command: string;
  inputs?: string[];
  outputs: string[];
  needs?: string[];
  requires?: string[];
  params?: JsonObject;
}

export interface EvaluationTask {
  name: string;
  script: string;
  description?: string;
  task?: string;
  dataset?: DatasetRef;
  args?: JsonObject;
  prompt?: string;
  system_prompt?: string;
  max_tokens?: number;
}

/**
 * A model the experiment evaluates but does not train: an existing checkpoint (`path`), or the
 * base model itself when `path` is absent (a control).
 */
export interface EvaluationCheckpoint {
  name: string;
  base_model: string;
  path?: string;
  /** The user prompt of this model's cells when their task sets none (default: `config.prompt`). */
  prompt?: string;
  eval_dataset?: DatasetRef;
}

/** One row of the evaluation matrix: which tasks a run is evaluated on, at which epochs. */
export interface MatrixEntry {
  /** A trial label (a list run's name), a checkpoint's name, or `base`. */
  run: string;
  /** Task names; default every task. */
  tasks?: string[];
  /** 0-indexed checkpoint epochs (or last / all) of a fine-tune; absent or null for a checkpoint or the base model. */
  epochs?: Array<'last' | 'all' | number> | null;
  /** Display label of the cells (`"{vis_label} ({task})"` when the row lists several tasks); passed to the task as `vis_label`. */
  vis_label?: string;
}

export interface Evaluation {
  tasks: EvaluationTask[];
  /** Models evaluated that this experiment does not train (controls, existing checkpoints). */
  checkpoints?: EvaluationCheckpoint[];
  /** When present, exactly these cells are evaluated (instead of `models` × `epochs`). */
  matrix?: MatrixEntry[];
  models?: Array<'base' | 'finetuned'>;
  epochs?: Array<'last' | 'all' | number>;
  seed?: number;
  max_connections?: number;
  max_tokens?: number;
  do_sample?: boolean;
  temperature?: number;
  limit?: number;
  scorers?: Array<{ name: string; params?: JsonObject }>;
}

export interface OptimizeSpec {
  framework?: 'dspy';
  program: string;
  module?: string;
  lm: string;
  teleprompter?: string;
  metric?: string;
  trainset?: DatasetRef;
  valset?: DatasetRef;
  params?: JsonObject;
  seed?: number;
}

/** The fields of a native experiment file, as the schema guarantees them. */
export interface ReportSettings {
  primary_metric?: string;
  dir?: string;
  after_build?: boolean;
}

export interface ExperimentDocument {
  version: string | number;
  experiment_name: string;
  project?: string;
  /** Where this experiment's runs execute, whatever the site's default (`--executor` still wins). */
  executor?: 'local' | 'slurm';
  question?: string;
  /** `ckbuild report`'s settings; `true` refreshes the report after every build. */
  report?: boolean | ReportSettings;
  hypothesis?: string;
  purpose?: string;
  /** When the experiment was designed (YYYY-MM-DD); informational. */
  date?: string;
  seed?: number;
  dataset?: DatasetRef;
  /** The fine-tune configuration; absent for an experiment of prepare/command steps only. */
  config?: JsonObject;
  protocol?: Protocol;
  prepare?: Record<string, PrepareSpec>;
  evaluation?: Evaluation;
  optimize?: Record<string, OptimizeSpec>;
  resources?: Partial<Record<StepKind, Resources>>;
  /**
   * Where base models live on the site that wrote the file, by name. Site information: it reaches
   * the rendered configs (as the run's `site.model_path`) but never a run's key.
   */
  models?: Record<string, { path: string }>;
  output?: { export_format?: 'gguf' | 'safetensors' | 'none'; merge_after?: boolean };
}

export interface Experiment {
  /** Absolute path of the experiment file. */
  file: string;
  /** The folder input paths are relative to (the repository root). */
  projectDir: string;
  source: SourceFile;
  document: ExperimentDocument;
  /** Which reader understood the file: the native format or the earlier toolkit's. */
  format: 'native' | 'cruijff';
  /**
   * For a document converted from another format: maps a field path of the native document to
   * the path of the field it came from in the original file, so that diagnostics raised after
   * conversion (expansion, rules, identity) point at the line the user wrote. Kept beside the
   * document, never in it, so `ckbuild import` does not write it. Absent for a native file.
   */
  origins?: OriginMap;
  /**
   * Set when the file was read from an earlier reading (core/editedYaml.ts): the trials of
   * `protocol.runs` read and validated again, from and up to but not including to; the rest of
   * the document is the earlier one's.
   */
  reread?: { from: number; to: number };
}

/** Native field path → the path of the field it came from in the original file. */
export type OriginMap = (path: FieldPath) => FieldPath;
