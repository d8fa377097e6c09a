/**
 * RenderContext → the files and shell lines of one torchtune run: config/finetune.yaml (data,
 * serialised by `yaml`), config/post_finetune.py for adapters, and the `tune run` command.
 * Pure: the same context renders the same bytes, which `ckbuild reproduce` relies on.
 */
import type { DiagnosticCode } from '../../core/diagnostics.js';
import { join, relative } from 'node:path';
import { stringify } from 'yaml';
import type { Diagnostic } from '../../core/diagnostics.js';
import type { JsonObject } from '../../core/json.js';
import { shellQuote } from '../../core/shell.js';
import type { RenderContext, RenderedRun } from '../../core/rule.js';
import { buildCommand, stockRecipe, VALIDATING_RECIPE } from './command.js';
import { buildConfig } from './config.js';
import { modelDirOf } from './checkpoint.js';
import { CHAT_TEMPLATE_MODULE, usesChatTemplateDataset } from './dataset.js';
import { modelOf } from './models.js';
import { readFileSync } from 'node:fs';
import { templatesDir } from '../../core/paths.js';
import { POST_FINETUNE_SCRIPT } from './post.js';
import { readResolved, type TuneParams } from './resolved.js';
import { loadBaseConfig, stripSecrets } from './template.js';

export const INSTALL_HINT = 'pip install torchtune torchao (torchtune 0.6.1 or 0.7.0 with a matching torch)';

/** YAML 1.1 output, so OmegaConf's PyYAML-based loader reads every value back as written (`"yes"`, `"00030"` stay strings). */
export function serializeConfig(config: object): string {
  return stringify(config, { version: '1.1', lineWidth: 0, blockQuote: false });
}

function renderProblem(message: string, code: DiagnosticCode, severity: 'error' | 'warning' = 'error', field = 'config'): Diagnostic {
  return { severity, code, file: '', line: 0, column: 0, field, message };
}

const shippedSources = new Map<string, string>();

/** A Python file ckbuild ships (templates/python), copied into the run so that the job runs exactly this version. */
function shipped(name: string): string {
  let source = shippedSources.get(name);
  if (source === undefined) {
    source = readFileSync(join(templatesDir, 'python', name), 'utf8');
    shippedSources.set(name, source);
  }
  return source;
}

/** A run that cannot be rendered still gets a job that explains itself instead of running torchtune. */
function failed(message: string, diagnostics: Diagnostic[]): RenderedRun {
  return { files: {}, command: `echo ${shellQuote(`ckbuild: ${message}`)} >&2\nexit 2\n`, requires: [], outputs: [], diagnostics };
}

function dataFile(ctx: RenderContext<TuneParams>, params: TuneParams): string | undefined {
  if (ctx.inputs.dataset) return ctx.inputs.dataset;
  const upstream = ctx.upstream.dataset;
  if (upstream && params.dataset?.file) return join(upstream.outputsDir, params.dataset.file);
  return undefined;
}

interface Built {
  config: JsonObject;
  params: TuneParams;
  command: string;
  diagnostics: Diagnostic[];
  /** Trains with ckbuild's validating recipe, which ships in the run directory. */
  validating: boolean;
}

/** Everything a render decides, before it becomes files; a RenderedRun when it cannot be built. */
function build(ctx: RenderContext<TuneParams>): Built | RenderedRun {
  const params = ctx.params;
  const diagnostics: Diagnostic[] = [];
  const model = modelOf(params);
  if (!model || !model.builders[params.method]) {
    const message = model ? `torchtune has no ${params.method} builder for ${model.name}` : `unknown model ${params.base_model}`;
    return failed(message, [renderProblem(message, 'unknown-model', 'error', 'config.base_model')]);
  }
  const data = dataFile(ctx, params);
  if (data === undefined) {
    const message = 'no dataset file for this fine-tune (neither an input file nor a prepare step’s output)';
    return failed(message, [renderProblem(message, 'missing-key', 'error', 'dataset')]);
  }

  // No GPU asked for: the run trains on the CPU (resolve put `device: cpu` in its key).
  const gpus = params.device === 'cpu' ? 0 : (ctx.resources.gpus ?? model.slurm.gpus);
  const modelDir = modelDirOf(params.base_model, ctx.site.projectDir, ctx.site.modelPath) ?? join(ctx.site.modelsDir, model.name);

  // Curriculum: the previous stage's last epoch holds its merged weights.
  const init = ctx.upstream.init;
  const initDir = init ? join(init.outputsDir, `epoch_${readResolved(init.params).epochs - 1}`) : undefined;

  const customRecipe = ctx.inputs.recipe;
  const jsonData = (params.dataset?.format ?? 'json') === 'json';
  // One device has no stock recipe with a validation loop: ckbuild's own (the stock one, subclassed)
  // computes it. A custom recipe, or 0.7.0's distributed ones, read the keys themselves.
  const validating = params.validation_every_n_steps > 0 && customRecipe === undefined && gpus <= 1 && jsonData;
  const validation = params.validation_every_n_steps > 0 && (customRecipe !== undefined || validating || (gpus > 1 && jsonData));

  const base = loadBaseConfig(ctx.inputs.base_config);
  diagnostics.push(...base.diagnostics);
  const config = buildConfig(base.config, { params, model, modelDir, outputsDir: ctx.outputsDir, dataFile: data, initDir, validation });
  if (validating) config.ckbuild_base_recipe = stockRecipe(params.method, gpus);
  stripSecrets(config); // defence in depth: the config is built from parameters and a filtered base only
  const command = buildCommand({ method: params.method, gpus, model, modelDir, customRecipe, validatingRecipe: validating, initDir, adapterBase: initDir ?? modelDir, datasetModule: usesChatTemplateDataset(params) });
  return { config, params, command, diagnostics, validating };
}

/** The config as data (what config/finetune.yaml serialises), or undefined when the run cannot be rendered. */
export function configData(ctx: RenderContext): JsonObject | undefined {
  const built = build({ ...ctx, params: readResolved(ctx.params) });
  return 'config' in built ? built.config : undefined;
}

export function renderTorchtune(ctx: RenderContext<TuneParams>): RenderedRun {
  const built = build(ctx);
  if (!('config' in built)) return built;
  const { config, params, command, diagnostics } = built;
  const header = `# torchtune config generated by ckbuild for run ${ctx.id.replace(/[\r\n]/g, ' ')} (key ${ctx.key}).\n# Do not edit: change the experiment and let ckbuild regenerate it.\n`;
  const files: Record<string, string> = { 'config/finetune.yaml': header + serializeConfig(config) };
  if (params.lora) files['config/post_finetune.py'] = POST_FINETUNE_SCRIPT;
  if (usesChatTemplateDataset(params)) files[`config/${CHAT_TEMPLATE_MODULE}`] = shipped(CHAT_TEMPLATE_MODULE);
  if (built.validating) files[`config/${VALIDATING_RECIPE}`] = shipped(VALIDATING_RECIPE);
  const outputs = relative(ctx.runDir, ctx.outputsDir) || 'outputs';
  const lastEpoch = `${outputs}/epoch_${params.epochs - 1}`;
  return {
    files,
    command,
    requires: ['tune'],
    install: { tune: INSTALL_HINT },
    // An adapter's config, or for a full fine-tune the config.json torchtune copies in after
    // writing the weights (whose shard names vary with the torchtune version).
    outputs: [params.lora ? `${lastEpoch}/adapter_config.json` : `${lastEpoch}/config.json`],
    lossLog: `${outputs}/logs/log_*.txt`,
    diagnostics,
  };
}
