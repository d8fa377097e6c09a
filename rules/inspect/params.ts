/**
 * The inspect rule's parameters: defaults, validation and the typed view render works from.
 * One run is one evaluation cell: a task, on one model (the base model or one checkpoint of one
 * fine-tune, or a merged adapter), on one dataset split.
 */
import { isAbsolute, join } from 'node:path';
import { isObject, type Json, type JsonObject } from '../../core/json.js';
import { DEFAULT_SEED } from '../../core/defaults.js';
import { ParamReader } from '../../core/params.js';
import { datasetJson, datasetOf, readDataset, type DatasetParams } from '../support/params.js';
import { promptFields, promptProblem } from '../../core/prompt.js';
import type { ExpandedRun, ResolveContext, Resolved } from '../../core/rule.js';
import { inspectValue } from './cliArgs.js';

export const DEFAULT_MAX_CONNECTIONS = 32;

/** Task parameters the rule sets itself; `args` may not set them a second time. */
const RULE_TASK_ARGS = ['data_path', 'config_path', 'split', 'use_chat_template', 'vis_label'];
/** Settings with their own field: passing them as task args would bypass what the field does. */
const FIELD_TASK_ARGS: Record<string, string> = {
  prompt: '`prompt` (it reaches the task through eval.yaml: inspect YAML-parses -T values and `{input}` would break)',
  system_prompt: '`system_prompt` (it reaches the task through eval.yaml)',
  temperature: '`evaluation.temperature` with `do_sample: true`',
  max_tokens: '`max_tokens`',
};

export interface InspectParams {
  task: string;
  task_function: string;
  base_model: string;
  prompt?: string;
  system_prompt?: string;
  dataset_type: 'chat_completion' | 'text_completion';
  seed: number;
  max_connections: number;
  max_tokens?: number;
  do_sample: boolean;
  temperature?: number;
  limit?: number;
  scorers?: Json[];
  args: JsonObject;
  model_kind: 'base' | 'finetuned' | 'checkpoint';
  /** model_kind checkpoint: an existing checkpoint directory, not trained by this experiment. */
  checkpoint_path?: string;
  epoch?: number;
  dataset: DatasetParams;
}

/**
 * What the task script must do with what ckbuild passes it, checked before any GPU time: the
 * @task function must exist, and the prompt reaches the task through `config_path` (eval.yaml,
 * keys `prompt` and `system_prompt`) — a task that reads neither evaluates with its own prompt,
 * not the one the model was trained on.
 */
function checkTaskScript(run: ExpandedRun, context: ResolveContext, taskFunction: string, read: ParamReader): void {
  const script = run.inputs.script;
  if (script === undefined || taskFunction === '') return;
  const text = context.readText(isAbsolute(script) ? script : join(context.projectDir, script));
  if (text === undefined) return;
  if (!new RegExp(`^\\s*(async\\s+)?def\\s+${taskFunction}\\s*\\(`, 'm').test(text)) {
    read.report('task_function', `${script} has no function \`${taskFunction}\` (the @task function inspect runs); name it with \`task_function\`, or rename the task`, 'dangling-reference', 'warning');
    return;
  }
  if (!/config_path/.test(text) && run.params.prompt !== undefined) {
    read.report('prompt', `${script} does not take \`config_path\`, through which ckbuild passes the prompt and system prompt the model was trained with (eval.yaml); the evaluation would use the task's own prompt`, 'format-parity', 'warning');
  }
}

/**
 * What resolveInspect reads besides the task script (RuleDefinition.resolvesBy): the parameters,
 * the positions its diagnostics point at, the input paths, which upstream roles there are and
 * whether the checkpoint is a merge's. Every fine-tuned cell of a sweep gives the same values.
 */
export function inspectResolvesBy(run: ExpandedRun, context: ResolveContext): readonly unknown[] {
  const checkpoint = run.needs.checkpoint;
  const upstreamStep = checkpoint === undefined ? undefined : context.runs.get(checkpoint)?.step;
  return [context.projectDir, run.params, run.origins, run.inputs.script, run.inputs.dataset, checkpoint === undefined, upstreamStep, run.needs.dataset === undefined];
}

export function resolveInspect(run: ExpandedRun, context: ResolveContext): Resolved<InspectParams> {
  const read = new ParamReader(run.params, context);
  const task = read.string('task', '');
  if (task === '') read.report('task', 'an evaluation needs a task name', 'missing-key');
  const taskFunction = read.string('task_function', task);
  if (taskFunction !== '' && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(taskFunction)) {
    read.report('task_function', `\`${taskFunction}\` is not a Python function name (the @task function in the script)`, 'invalid-value');
  }
  checkTaskScript(run, context, taskFunction, read);
  const baseModel = read.string('base_model', '');
  if (baseModel === '') read.report('base_model', 'an evaluation needs `config.base_model` (the model, or the base of the fine-tune)', 'missing-key');

  const prompt = read.string('prompt');
  if (prompt !== undefined) {
    const problem = promptProblem(prompt);
    if (problem) read.report('prompt', problem.message, problem.code);
    const { fields, unbalanced } = promptFields(prompt);
    const others = fields.filter((field) => field !== 'input');
    if (others.length > 0 || unbalanced) {
      read.report('prompt', `the prompt may only use the \`{input}\` placeholder${others.length ? ` (found ${others.map((f) => `{${f}}`).join(', ')})` : ''}; write literal braces as \`{{\` and \`}}\``, 'invalid-prompt');
    }
  }
  const systemPrompt = read.string('system_prompt');
  const datasetType = read.oneOf('dataset_type', ['chat_completion', 'text_completion'] as const, 'chat_completion');

  const seed = read.integer('seed', 0, DEFAULT_SEED);
  const maxConnections = read.integer('max_connections', 1, DEFAULT_MAX_CONNECTIONS);
  const maxTokens = read.integer('max_tokens', 1);
  const limit = read.integer('limit', 1);
  const doSample = read.boolean('do_sample', false);
  const temperature = read.number('temperature');
  if (!doSample && temperature !== undefined) {
    read.report('temperature', 'a temperature only applies when sampling: set `do_sample: true`, or remove `temperature` for greedy decoding (the default)', 'temperature-without-sampling');
  }
  if (doSample && temperature === undefined) {
    read.report('temperature', 'sampling (`do_sample: true`) needs a `temperature` > 0', 'missing-key');
  }
  if (doSample && temperature !== undefined && !(temperature > 0)) {
    read.report('temperature', `the sampling temperature must be > 0, not ${temperature}`, 'out-of-range');
  }

  const scorersValue = read.raw('scorers');
  let scorers: Json[] | undefined;
  if (scorersValue !== undefined) {
    if (!Array.isArray(scorersValue) || scorersValue.length === 0) read.report('scorers', '`scorers` must be a non-empty list of {name, params}', 'invalid-type');
    else scorers = scorersValue;
  }

  const args = checkArgs(read);
  const modelKind = read.oneOf('model_kind', ['base', 'finetuned', 'checkpoint'] as const, 'base');
  const checkpointPath = modelKind === 'checkpoint' ? read.string('checkpoint_path', '') : undefined;
  if (checkpointPath === '') read.report('checkpoint_path', 'evaluating an existing checkpoint needs `checkpoint_path`, its directory', 'missing-key');
  const epoch = read.integer('epoch', 0);
  if (modelKind === 'finetuned') {
    const upstreamId = run.needs.checkpoint;
    const upstream = upstreamId === undefined ? undefined : context.runs.get(upstreamId);
    if (upstreamId === undefined) read.report('model_kind', 'a fine-tuned cell needs the fine-tune it evaluates (`checkpoint`)', 'missing-key');
    else if (upstream?.step !== 'merge' && epoch === undefined) read.report('epoch', `which epoch of \`${upstreamId}\` to evaluate is missing`, 'missing-key');
  }
  const dataset = readDataset(read, 'dataset', 'test');
  if (!dataset) read.report('dataset', 'an evaluation needs a dataset', 'missing-key');
  else if (dataset.file === undefined && run.inputs.dataset === undefined) read.report('dataset', 'the dataset is neither a file in the repository nor a prepare step\'s output', 'missing-key');
  else if (dataset.file !== undefined && run.needs.dataset === undefined) read.report('dataset', `the dataset file \`${dataset.file}\` names no prepare step that produces it`, 'missing-key');

  const params: InspectParams = {
    task,
    task_function: taskFunction,
    base_model: baseModel,
    prompt,
    system_prompt: systemPrompt,
    dataset_type: datasetType,
    seed,
    max_connections: maxConnections,
    max_tokens: maxTokens,
    do_sample: doSample,
    // Greedy decoding ignores a temperature: keeping one out of the key means it cannot make two
    // identical greedy cells look different.
    temperature: doSample ? temperature : undefined,
    limit,
    scorers,
    args,
    model_kind: modelKind,
    // An existing checkpoint is identified by its path: ckbuild does not hash model directories.
    checkpoint_path: checkpointPath === '' ? undefined : checkpointPath,
    epoch: modelKind === 'finetuned' ? epoch : undefined,
    dataset: dataset ?? { format: 'json', split: 'test' },
  };
  return { params, model: { name: baseModel }, diagnostics: read.diagnostics };
}

/** The canonical JSON of a cell's parameters: what its key hashes and its record holds. */
export function inspectJson(params: InspectParams): JsonObject {
  const json: JsonObject = {
    task: params.task,
    task_function: params.task_function,
    base_model: params.base_model,
    dataset_type: params.dataset_type,
    seed: params.seed,
    max_connections: params.max_connections,
    do_sample: params.do_sample,
    model_kind: params.model_kind,
    dataset: datasetJson(params.dataset),
  };
  if (params.prompt !== undefined) json.prompt = params.prompt;
  if (params.system_prompt !== undefined) json.system_prompt = params.system_prompt;
  if (params.max_tokens !== undefined) json.max_tokens = params.max_tokens;
  if (params.do_sample && params.temperature !== undefined) json.temperature = params.temperature;
  if (params.limit !== undefined) json.limit = params.limit;
  if (params.scorers !== undefined) json.scorers = params.scorers;
  if (Object.keys(params.args).length > 0) json.args = params.args;
  if (params.model_kind === 'finetuned' && params.epoch !== undefined) json.epoch = params.epoch;
  if (params.checkpoint_path) json.checkpoint_path = params.checkpoint_path;
  return json;
}

/** Task arguments are passed as `-T key=value`: the keys must be parameter names and the values must survive inspect's parsing. */
function checkArgs(read: ParamReader): JsonObject {
  const args = read.object('args') ?? {};
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(args)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) {
      read.report('args', `task argument \`${key}\` is not a Python parameter name`, 'invalid-value');
      continue;
    }
    if (RULE_TASK_ARGS.includes(key)) {
      read.report('args', `task argument \`${key}\` is set by ckbuild for every cell; it cannot be overridden in \`args\``, 'conflict');
      continue;
    }
    const field = FIELD_TASK_ARGS[key];
    if (field !== undefined) {
      read.report('args', `set \`${key}\` with ${field}, not as a task argument`, 'conflict');
      continue;
    }
    const encoded = inspectValue(value);
    if (!encoded.ok) {
      read.report('args', `task argument \`${key}\` cannot be passed to inspect: ${encoded.reason}; use a list, or read it from a file`, 'invalid-value');
      continue;
    }
    out[key] = value;
  }
  return out;
}

/** A cell's parameters read back from their canonical JSON (a fresh plan's or a manifest record's). */
export function inspectParams(params: JsonObject): InspectParams {
  const str = (name: string, fallback = ''): string => (typeof params[name] === 'string' ? (params[name] as string) : fallback);
  const num = (name: string): number | undefined => (typeof params[name] === 'number' ? (params[name] as number) : undefined);
  return {
    task: str('task'),
    task_function: str('task_function', str('task')),
    base_model: str('base_model'),
    prompt: typeof params.prompt === 'string' ? params.prompt : undefined,
    system_prompt: typeof params.system_prompt === 'string' ? params.system_prompt : undefined,
    dataset_type: params.dataset_type === 'text_completion' ? 'text_completion' : 'chat_completion',
    seed: num('seed') ?? DEFAULT_SEED,
    max_connections: num('max_connections') ?? DEFAULT_MAX_CONNECTIONS,
    max_tokens: num('max_tokens'),
    do_sample: params.do_sample === true,
    temperature: num('temperature'),
    limit: num('limit'),
    scorers: Array.isArray(params.scorers) ? params.scorers : undefined,
    args: isObject(params.args) ? params.args : {},
    model_kind: params.model_kind === 'finetuned' || params.model_kind === 'checkpoint' ? params.model_kind : 'base',
    checkpoint_path: typeof params.checkpoint_path === 'string' ? params.checkpoint_path : undefined,
    epoch: num('epoch'),
    dataset: datasetOf(params.dataset, 'test') ?? { format: 'json', split: 'test' },
  };
}
