/** The experiment file as typed data, after schema validation. */
import type { Resources, StepKind } from '../../rules/types.js';
import type { JsonObject } from '../json.js';
import type { SourceFile } from '../source.js';

export type ProtocolType = 'standard' | 'grid' | 'ablation' | 'curriculum' | 'ensemble';

export interface DatasetRef {
  path: string;
  format?: 'json' | 'jsonl' | 'json-chat' | 'parquet' | 'alpaca';
  from?: string;
  split?: string;
}

export interface Protocol {
  type: ProtocolType;
  trials?: number;
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
  task?: string;
  dataset?: DatasetRef;
  args?: JsonObject;
  prompt?: string;
  system_prompt?: string;
  max_tokens?: number;
}

export interface Evaluation {
  tasks: EvaluationTask[];
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
export interface ExperimentDocument {
  version: string | number;
  experiment_name: string;
  project?: string;
  question?: string;
  hypothesis?: string;
  seed?: number;
  dataset?: DatasetRef;
  /** The fine-tune configuration; absent for an experiment of prepare/command steps only. */
  config?: JsonObject;
  protocol?: Protocol;
  prepare?: Record<string, PrepareSpec>;
  evaluation?: Evaluation;
  optimize?: Record<string, OptimizeSpec>;
  resources?: Partial<Record<StepKind, Resources>>;
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
}
