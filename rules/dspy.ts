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
import { datasetJson, ParamReader, readDataset, type DatasetParams } from './support/params.js';
import { baseModelDir, checkpointDir, driverParam, pythonDriverRun, renderDiagnostic } from './support/render.js';
import type { ExpandedRun, RenderContext, RenderedRun, ResolveContext, ResolvedParams, Rule } from '../core/rule.js';

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

function resolve(run: ExpandedRun, context: ResolveContext): ResolvedParams {
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

  const resolved: JsonObject = { module, lm, teleprompter, metric, params, seed, ...driverParam(DRIVER) };
  if (baseModel) resolved.base_model = baseModel;
  if (trainset) resolved.trainset = datasetJson(trainset);
  if (valset) resolved.valset = datasetJson(valset);
  const model: JsonObject | undefined = lm === 'base' || lm === 'finetuned' ? { name: baseModel ?? '' } : { name: lm };
  return { params: resolved, model, diagnostics: read.diagnostics };
}

function datasetFile(context: RenderContext, role: 'train' | 'val', dataset: DatasetParams, diagnostics: Diagnostic[]): string {
  const input = context.inputs[role === 'train' ? 'trainset' : 'valset'];
  if (input !== undefined) return input;
  const upstream = context.upstream[`${role}_dataset`];
  if (upstream && dataset.file !== undefined) return join(upstream.outputsDir, dataset.file);
  diagnostics.push(renderDiagnostic(context, `the ${role === 'train' ? 'training' : 'validation'} set is neither an input file nor a prepare step's output`, 'missing-input'));
  return '';
}

function datasetOf(value: unknown): DatasetParams | undefined {
  if (!isObject(value)) return undefined;
  return {
    format: typeof value.format === 'string' ? value.format : 'json',
    split: typeof value.split === 'string' ? value.split : 'train',
    ...(typeof value.file === 'string' ? { file: value.file } : {}),
  };
}

function lmConfig(context: RenderContext, diagnostics: Diagnostic[]): JsonObject {
  const lm = String(context.params.lm ?? '');
  const baseModel = typeof context.params.base_model === 'string' ? context.params.base_model : '';
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
export function optimizeConfig(context: RenderContext, diagnostics: Diagnostic[]): JsonObject {
  const params = context.params;
  const trainset = datasetOf(params.trainset);
  const valset = datasetOf(params.valset);
  const config: JsonObject = {
    program: context.inputs.program ?? '',
    module: String(params.module ?? 'program'),
    lm: lmConfig(context, diagnostics),
    teleprompter: { name: String(params.teleprompter ?? 'BootstrapFewShot'), params: isObject(params.params) ? params.params : {} },
    metric: String(params.metric ?? 'exact_match'),
    seed: typeof params.seed === 'number' ? params.seed : 0,
    output: { program: join(context.outputsDir, 'program.json'), metrics: join(context.outputsDir, 'metrics.json') },
  };
  if (context.inputs.program === undefined) diagnostics.push(renderDiagnostic(context, 'the optimisation has no `program` file', 'missing-input'));
  if (trainset) config.trainset = { path: datasetFile(context, 'train', trainset, diagnostics), format: trainset.format, split: trainset.split };
  if (valset) config.valset = { path: datasetFile(context, 'val', valset, diagnostics), format: valset.format, split: valset.split };
  return config;
}

function render(context: RenderContext): RenderedRun {
  const diagnostics: Diagnostic[] = [];
  const config = optimizeConfig(context, diagnostics);
  return pythonDriverRun('optimize', DRIVER, config, { install: 'install Python 3 and pip install dspy', outputs: ['outputs/program.json', 'outputs/metrics.json'], diagnostics });
}


export const dspyRule: Rule = {
  name: 'dspy',
  version: 1,
  steps: ['optimize'],
  description: 'DSPy program optimisation: a teleprompter compiles a program against a metric; the compiled program and its validation score are the outputs.',
  resolve,
  render,
  defaultResources: () => ({ gpus: 0, time: '01:00:00', mem: '8G' }),
  readMetrics: readFlatMetrics,
};
