/**
 * DSPy optimisation: compile a program with a teleprompter against a metric, save the compiled
 * program and its validation score. The driver is a static script (templates/python/
 * dspy_optimize.py) that takes everything from config/optimize.json; credentials reach it only
 * through the job's environment.
 */
import { join } from 'node:path';
import { nearest, type Diagnostic } from '../core/diagnostics.js';
import { isObject, type JsonObject } from '../core/json.js';
import { readFlatMetrics } from './support/metrics.js';
import { ParamReader } from '../core/params.js';
import { datasetJson, datasetOf, readDataset, type DatasetParams } from './support/params.js';
import { baseModelDir, checkpointDir, driverSha256, pythonDriverRun, renderDiagnostic } from './support/render.js';
import { defineRule, type ExpandedRun, type RenderContext, type RenderedRun, type ResolveContext, type Resolved } from '../core/rule.js';

const DRIVER = 'dspy_optimize.py';

/** The optimisers exported by `dspy.teleprompt` (DSPy 3.x `dspy/teleprompt/__init__.py`). */
export const TELEPROMPTERS = [
  'LabeledFewShot',
  'BootstrapFewShot',
  'BootstrapFewShotWithRandomSearch',
  'BootstrapFewShotWithOptuna',
  'KNNFewShot',
  'COPRO',
  'MIPROv2',
  'SIMBA',
  'GEPA',
  'BootstrapFinetune',
  'BetterTogether',
  'InferRules',
  'Ensemble',
  'AvatarOptimizer',
];
export const BUILTIN_METRICS = ['exact_match', 'exact_match_ci', 'includes'];

export interface DspyParams {
  /** The program's name in its file. */
  module: string;
  /** `base`, `finetuned`, or a LiteLLM model id. */
  lm: string;
  teleprompter: string;
  metric: string;
  /** The teleprompter's own parameters. */
  params: JsonObject;
  seed: number;
  /** The driver script's content hash: an edit to it changes the key. */
  driver_sha256: string;
  /** The local model, for `lm: base` and `lm: finetuned`. */
  base_model?: string;
  trainset?: DatasetParams;
  valset?: DatasetParams;
}

function resolve(run: ExpandedRun, context: ResolveContext): Resolved<DspyParams> {
  const read = new ParamReader(run.params, context);
  const module = read.string('module', 'program');
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(module)) read.report('module', `\`${module}\` is not a Python name in the program file`, 'invalid-value');

  const lm = read.string('lm', '');
  if (lm === '') read.report('lm', 'an optimisation needs `lm`: `base`, `finetuned`, or a LiteLLM model id such as `openai/gpt-4o-mini`', 'missing-key');
  else if (lm !== 'base' && lm !== 'finetuned' && !lm.includes('/')) {
    read.report('lm', `\`${lm}\` is not a LiteLLM model id: write it as <provider>/<model>, e.g. \`openai/${lm}\``, 'invalid-value');
  }
  const baseModel = read.string('base_model');
  if ((lm === 'base' || lm === 'finetuned') && !baseModel) read.report('lm', `\`lm: ${lm}\` needs \`config.base_model\``, 'missing-key');
  if (lm === 'finetuned' && run.needs.checkpoint === undefined) read.report('lm', '`lm: finetuned` needs a fine-tune in the experiment', 'missing-key');

  const teleprompter = read.string('teleprompter', 'BootstrapFewShot');
  if (!TELEPROMPTERS.includes(teleprompter)) {
    const suggestion = nearest(teleprompter, TELEPROMPTERS);
    // A newer DSPy may have more: a warning, and the driver fails clearly if it has none.
    read.report('teleprompter', `\`${teleprompter}\` is not a DSPy teleprompter ckbuild knows${suggestion ? `; did you mean \`${suggestion}\`?` : ` (known: ${TELEPROMPTERS.join(', ')})`}`, 'unknown-teleprompter', 'warning');
  }
  const metric = read.string('metric', 'exact_match');
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(metric)) read.report('metric', `\`${metric}\` is neither a built-in metric (${BUILTIN_METRICS.join(', ')}) nor a function name`, 'invalid-value');

  const trainset = readDataset(read, 'trainset', 'train');
  if (!trainset) read.report('trainset', 'an optimisation needs a `trainset` (or the experiment\'s dataset)', 'missing-key');
  const valset = readDataset(read, 'valset', 'validation');
  const params = read.object('params') ?? {};
  const seed = read.integer('seed', 0, 0);

  const resolved: DspyParams = { module, lm, teleprompter, metric, params, seed, driver_sha256: driverSha256(DRIVER) };
  if (baseModel) resolved.base_model = baseModel;
  if (trainset) resolved.trainset = trainset;
  if (valset) resolved.valset = valset;
  const model: JsonObject | undefined = lm === 'base' || lm === 'finetuned' ? { name: baseModel ?? '' } : { name: lm };
  return { params: resolved, model, diagnostics: read.diagnostics };
}

function toJson(params: DspyParams): JsonObject {
  const json: JsonObject = { module: params.module, lm: params.lm, teleprompter: params.teleprompter, metric: params.metric, params: params.params, seed: params.seed, driver_sha256: params.driver_sha256 };
  if (params.base_model) json.base_model = params.base_model;
  if (params.trainset) json.trainset = datasetJson(params.trainset);
  if (params.valset) json.valset = datasetJson(params.valset);
  return json;
}

function fromJson(json: JsonObject): DspyParams {
  const text = (name: string, fallback: string): string => (typeof json[name] === 'string' ? (json[name] as string) : fallback);
  const params: DspyParams = {
    module: text('module', 'program'),
    lm: text('lm', ''),
    teleprompter: text('teleprompter', 'BootstrapFewShot'),
    metric: text('metric', 'exact_match'),
    params: isObject(json.params) ? json.params : {},
    seed: typeof json.seed === 'number' ? json.seed : 0,
    driver_sha256: text('driver_sha256', ''),
  };
  if (typeof json.base_model === 'string' && json.base_model !== '') params.base_model = json.base_model;
  const trainset = datasetOf(json.trainset, 'train');
  if (trainset) params.trainset = trainset;
  const valset = datasetOf(json.valset, 'validation');
  if (valset) params.valset = valset;
  return params;
}

function datasetFile(context: RenderContext<DspyParams>, role: 'train' | 'val', dataset: DatasetParams, diagnostics: Diagnostic[]): string {
  const input = context.inputs[role === 'train' ? 'trainset' : 'valset'];
  if (input !== undefined) return input;
  const upstream = context.upstream[`${role}_dataset`];
  if (upstream && dataset.file !== undefined) return join(upstream.outputsDir, dataset.file);
  diagnostics.push(renderDiagnostic(context, `the ${role === 'train' ? 'training' : 'validation'} set is neither an input file nor a prepare step's output`, 'missing-input'));
  return '';
}

function lmConfig(context: RenderContext<DspyParams>, diagnostics: Diagnostic[]): JsonObject {
  const lm = context.params.lm;
  const baseModel = context.params.base_model ?? '';
  if (lm === 'base') {
    const path = baseModelDir(context, baseModel);
    return { kind: 'local', model_path: path, served_name: path };
  }
  if (lm === 'finetuned') {
    const upstream = context.upstream.checkpoint;
    if (!upstream) {
      diagnostics.push(renderDiagnostic(context, '`lm: finetuned` has no fine-tune upstream', 'missing-upstream'));
      return { kind: 'local', model_path: '', served_name: '' };
    }
    const path = checkpointDir(upstream);
    // vLLM serves a model under the path it was started with unless told otherwise; an adapter
    // is served on top of its base model, so the driver's hint names both.
    return { kind: 'local', model_path: path, served_name: path, base_model_dir: baseModelDir(context, baseModel, upstream) };
  }
  return { kind: 'litellm', model: lm };
}

/** The whole optimisation as data: the driver script reads nothing else. */
export function optimizeConfig(context: RenderContext<DspyParams>, diagnostics: Diagnostic[]): JsonObject {
  const { trainset, valset, ...params } = context.params;
  const config: JsonObject = {
    program: context.inputs.program ?? '',
    module: params.module,
    lm: lmConfig(context, diagnostics),
    teleprompter: { name: params.teleprompter, params: params.params },
    metric: params.metric,
    seed: params.seed,
    output: { program: join(context.outputsDir, 'program.json'), metrics: join(context.outputsDir, 'metrics.json') },
  };
  if (context.inputs.program === undefined) diagnostics.push(renderDiagnostic(context, 'the optimisation has no `program` file', 'missing-input'));
  if (trainset) config.trainset = { path: datasetFile(context, 'train', trainset, diagnostics), format: trainset.format, split: trainset.split };
  if (valset) config.valset = { path: datasetFile(context, 'val', valset, diagnostics), format: valset.format, split: valset.split };
  return config;
}

function render(context: RenderContext<DspyParams>): RenderedRun {
  const diagnostics: Diagnostic[] = [];
  const config = optimizeConfig(context, diagnostics);
  return pythonDriverRun('optimize', DRIVER, config, { install: 'install Python 3 and pip install dspy', outputs: ['outputs/program.json', 'outputs/metrics.json'], diagnostics });
}

export const dspyRule = defineRule<DspyParams>({
  name: 'dspy',
  version: 1,
  steps: ['optimize'],
  description: 'DSPy program optimisation: a teleprompter compiles a program against a metric; the compiled program and its validation score are the outputs.',
  resolve,
  toJson,
  fromJson,
  render,
  defaultResources: () => ({ gpus: 0, time: '01:00:00', mem: '8G' }),
  readMetrics: (runDir) => readFlatMetrics(runDir),
});
