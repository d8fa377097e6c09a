/**
 * Evaluation cells. Either task × (base model | each result × epochs | each checkpoint)
 * (evaluateModels.ts), or, when the experiment has an `evaluation.matrix`, exactly the cells its
 * rows list, run × tasks × 0-indexed epochs (evaluateMatrix.ts). Either way a cell's id is
 * `evaluate/<task>/<run>/epoch<N>` (`evaluate/<task>/<run>` for a model not trained here).
 * This module holds what both share: which dataset a cell reads, where its prompt came from, and
 * the parameters a cell takes from the model it evaluates.
 */
import { DEFAULT_SEED } from '../../defaults.js';
import type { FieldPath } from '../../diagnostics.js';
import { compact, type Json, type JsonObject } from '../../json.js';
import type { DatasetRef, Evaluation, EvaluationCheckpoint, EvaluationTask } from '../model.js';
import type { Trial } from '../trials.js';
import type { DatasetBinding, ExpandContext, Final } from './context.js';
import { checkPrompt } from './prompts.js';

export interface CellDataset {
  binding: DatasetBinding;
  /** Neither the task, nor its run, nor the experiment names a dataset. */
  missing: boolean;
}

/** A dataset a cell may read, and where it is written. */
export interface DatasetChoice {
  ref: DatasetRef | undefined;
  path: FieldPath;
}

/** The evaluation section being expanded, with what its cells share. */
export class EvaluationScope {
  readonly rule: string;
  /** Checkpoint names share the namespace of the runs the matrix refers to. */
  readonly checkpointsByName = new Map<string, { checkpoint: EvaluationCheckpoint; index: number }>();
  readonly finalsByLabel: Map<string, Final>;
  private readonly reportedMissing = new Set<string>();

  constructor(
    readonly ctx: ExpandContext,
    readonly evaluation: Evaluation,
    readonly finals: Final[],
  ) {
    this.rule = ctx.rules.defaultFor('evaluate');
    this.finalsByLabel = new Map(finals.map((final) => [final.trial.label, final]));
    (evaluation.checkpoints ?? []).forEach((checkpoint, index) => {
      const path: FieldPath = ['evaluation', 'checkpoints', index, 'name'];
      if (this.checkpointsByName.has(checkpoint.name) || this.finalsByLabel.has(checkpoint.name)) {
        ctx.diagnostics.push(ctx.diag(path, `\`${checkpoint.name}\` already names ${this.finalsByLabel.has(checkpoint.name) ? 'a fine-tune of this experiment' : 'another checkpoint'}`, { code: 'duplicate-run' }));
        return;
      }
      this.checkpointsByName.set(checkpoint.name, { checkpoint, index });
      if (checkpoint.prompt !== undefined) checkPrompt(ctx, checkpoint.prompt, ['evaluation', 'checkpoints', index, 'prompt']);
    });
  }

  /** The dataset a cell reads: its task's, else its run's evaluation (or training) dataset, else the experiment's. */
  cellDataset(task: EvaluationTask, taskPath: FieldPath, own: DatasetChoice[]): CellDataset {
    const choices: DatasetChoice[] = [{ ref: task.dataset, path: [...taskPath, 'dataset'] }, ...own, { ref: this.ctx.doc.dataset, path: ['dataset'] }];
    const chosen = choices.find((choice) => choice.ref !== undefined);
    return { binding: this.ctx.dataset(chosen?.ref, chosen?.path ?? taskPath, 'test'), missing: chosen === undefined };
  }

  /** Once per task: a cell without a dataset. */
  reportMissingDataset(task: EvaluationTask, taskPath: FieldPath): void {
    if (this.reportedMissing.has(task.name)) return;
    this.reportedMissing.add(task.name);
    this.ctx.diagnostics.push(this.ctx.diag(taskPath, `task \`${task.name}\` has no dataset and the experiment has none either`, { code: 'missing-key' }));
  }

  /** Where a cell's prompt is written: the task's, else its run's, else the experiment's config. */
  promptOrigin(task: EvaluationTask, taskPath: FieldPath, runPrompt: FieldPath | undefined): FieldPath {
    return task.prompt !== undefined ? [...taskPath, 'prompt'] : runPrompt ?? ['config', 'prompt'];
  }

  /** What a checkpoint not trained here was trained with, as far as its cells need to know. */
  checkpointConfig(checkpoint: EvaluationCheckpoint): JsonObject {
    return compact({ ...this.ctx.config, base_model: checkpoint.base_model, prompt: checkpoint.prompt ?? (this.ctx.config.prompt as Json | undefined) });
  }

  checkpointParams(checkpoint: EvaluationCheckpoint): JsonObject {
    return checkpoint.path === undefined ? { model_kind: 'base' } : { model_kind: 'checkpoint', checkpoint_path: checkpoint.path };
  }

  /** The parameters of a cell of `task`, for a model trained with `config`. */
  params(task: EvaluationTask, config: JsonObject): JsonObject {
    return evalParams(task, this.evaluation, config);
  }
}

/**
 * A list run's own datasets for its evaluation cells: its evaluation dataset, else its training
 * dataset; only those it names (a cell takes the first named), so a run that names none gets none.
 */
export function ownDatasets(trial: Trial): DatasetChoice[] {
  const path = trial.path;
  if (!path) return [];
  const own: DatasetChoice[] = [];
  if (trial.evalDataset !== undefined) own.push({ ref: trial.evalDataset, path: [...path, 'eval_dataset'] });
  if (trial.dataset !== undefined) own.push({ ref: trial.dataset, path: [...path, 'dataset'] });
  return own;
}

/** The settings an evaluation takes from what its model was trained with. */
const EVALUATION_SETTINGS = ['base_model', 'prompt', 'system_prompt', 'dataset_type'];

export function sameEvaluation(trained: JsonObject, config: JsonObject): boolean {
  return trained === config || EVALUATION_SETTINGS.every((key) => trained[key] === config[key]);
}

export function runPromptOrigin(trial: Trial): FieldPath | undefined {
  return trial.overrides.prompt !== undefined ? trial.origins.prompt : undefined;
}

/**
 * The parameters of an evaluation cell. `config` is what the evaluated model was trained with
 * (the experiment's config with its run's overrides), so that prompt, system prompt and chat
 * template at evaluation are those of training: precedence task > run > experiment.
 */
function evalParams(task: EvaluationTask, evaluation: Evaluation, config: JsonObject): JsonObject {
  return compact({
    task: task.name,
    task_function: task.task ?? task.name,
    base_model: config.base_model,
    // Train/eval parity: the prompt the model was trained with is the prompt it is tested with.
    prompt: task.prompt ?? config.prompt,
    system_prompt: task.system_prompt ?? config.system_prompt,
    dataset_type: config.dataset_type,
    seed: evaluation.seed ?? DEFAULT_SEED,
    max_connections: evaluation.max_connections,
    max_tokens: task.max_tokens ?? evaluation.max_tokens,
    do_sample: evaluation.do_sample,
    temperature: evaluation.temperature,
    limit: evaluation.limit,
    scorers: evaluation.scorers as Json | undefined,
    args: task.args,
  });
}
