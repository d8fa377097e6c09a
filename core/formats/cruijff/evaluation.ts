/**
 * evaluation → the tasks, the matrix of cells (run × tasks × 0-indexed epochs) and the settings
 * every cell shares (decoding, seed, scorers, resources).
 */
import { DEFAULT_SEED } from '../../defaults.js';
import { type FieldPath, didYouMean } from '../../diagnostics.js';
import type { EvaluationTask, ExperimentDocument, MatrixEntry } from '../../experiment/model.js';
import type { JsonObject } from '../../json.js';
import { type Conversion, describe } from './conversion.js';
import { type RunInfo, SCORERS } from './spec.js';

type EvaluationSection = NonNullable<ExperimentDocument['evaluation']>;

export function convertEvaluation(c: Conversion, evaluation: JsonObject, controls: JsonObject, runs: Map<string, RunInfo>, textCompletion: boolean, document: ExperimentDocument): EvaluationSection | undefined {
  const at: FieldPath = ['evaluation'];
  c.keys(evaluation, at, '`evaluation`', ['temperature', 'do_sample', 'seed', 'max_tokens', 'max_connections', 'scorers', 'tasks', 'compute', 'matrix', 'assistant_prefix'], {
    scorer: { rename: 'scorers', message: 'it is a list of {name, params}; cruijff_kit ignored the old key and fell back to the task’s default scorers' },
    ...(evaluation.system_prompt !== undefined && evaluation.system_prompt === controls.system_prompt
      ? { system_prompt: { severity: 'warning' as const, message: '`evaluation.system_prompt` was removed (cruijff_kit 0.3.4): the system prompt is `controls.system_prompt` (this one is the same); remove it' } }
      : { system_prompt: { message: '`evaluation.system_prompt` was removed (cruijff_kit 0.3.4) and is not read: the system prompt is `controls.system_prompt`, shared by training and evaluation; for one task, set evaluation.tasks[].system_prompt' } }),
  });
  const result: NonNullable<ExperimentDocument['evaluation']> = { tasks: [] };

  convertDecoding(c, evaluation, result);
  convertScorers(c, evaluation, result);
  const taskNames = convertTasks(c, evaluation, textCompletion, result);
  const compute = c.compute(evaluation.compute, [...at, 'compute'], ['resources', 'evaluate']);
  if (compute && Object.keys(compute).length > 0) {
    document.resources = { evaluate: compute };
    c.from(['resources'], [...at, 'compute']);
    c.from(['resources', 'evaluate'], [...at, 'compute']);
  }

  const matrix = convertMatrix(c, evaluation, runs, taskNames);
  if (matrix) result.matrix = matrix;
  return result;
}

/** Decoding: greedy unless do_sample; a temperature only means something under sampling. Also the seed and limits. */
function convertDecoding(c: Conversion, evaluation: JsonObject, result: EvaluationSection): void {
  const at: FieldPath = ['evaluation'];
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

}

/** Scorers: a list of {name, params}; a bare name is accepted, as the earlier toolkit did. */
function convertScorers(c: Conversion, evaluation: JsonObject, result: EvaluationSection): void {
  const at: FieldPath = ['evaluation'];
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

}

/** Tasks: name, script, description; at most one of dataset / eval_condition; prompt overrides. Returns the names, by index. */
function convertTasks(c: Conversion, evaluation: JsonObject, textCompletion: boolean, result: EvaluationSection): Map<string, number> {
  const at: FieldPath = ['evaluation'];
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
    if (task.eval_condition !== undefined) {
      const condition = String(task.eval_condition);
      c.error([...path, 'eval_condition'], `\`eval_condition\` names a file tabular_to_text_gen wrote as \`${condition}_test_<hash8>.json\` (a hash of its configuration, which ckbuild does not compute): replace \`eval_condition: ${condition}\` with \`dataset: <that file>\``, 'unsupported', 'key');
    }
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
  return taskNames;
}

/** The matrix: run × tasks × 0-indexed epochs (null for runs not trained here); undefined when it is missing. */
function convertMatrix(c: Conversion, evaluation: JsonObject, runs: Map<string, RunInfo>, taskNames: Map<string, number>): MatrixEntry[] | undefined {
  const at: FieldPath = ['evaluation'];
  const matrix = evaluation.matrix;
  if (matrix === undefined || matrix === null) {
    c.error(at, 'missing required key `matrix`: which runs are evaluated on which tasks at which epochs ({run, tasks, epochs, vis_label})', 'missing-key');
    return undefined;
  }
  if (!Array.isArray(matrix) || matrix.length === 0) {
    c.error([...at, 'matrix'], 'expected a non-empty list of {run, tasks, epochs, vis_label}', 'invalid-type');
    return undefined;
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
  return entries;
}
