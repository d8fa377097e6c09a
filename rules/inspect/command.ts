/**
 * The `inspect eval` invocation of one cell and the eval.yaml the task reads at run time.
 *
 * Where inspect offers both, generation settings go through inspect's own generate-config
 * options (`--temperature`, `--max-tokens`), not task arguments: they then apply to any task,
 * including one whose @task function has no such parameter (inspect only warns about unused
 * task arguments), and they override the task's GenerateConfig. `-M` options are passed to the
 * Hugging Face `from_pretrained` call, so a temperature there would not reach generation at all.
 */
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import type { Diagnostic } from '../../core/diagnostics.js';
import type { Json, JsonObject } from '../../core/json.js';
import { shellQuote } from '../../core/shell.js';
import { baseModelDir, lastEpoch, loadableCheckpointDir, modelDirName, renderDiagnostic } from '../support/render.js';
import type { RenderContext, UpstreamView } from '../../core/rule.js';
import { inspectArg, inspectValue } from './cliArgs.js';
import type { InspectParams } from './params.js';

export const EVAL_CONFIG = 'config/eval.yaml';

/** A word of the command line: an option flag, a value to quote, or shell text that is already safe. */
type Word = { flag: string } | { value: string } | { shell: string };

interface ModelChoice {
  /** `hf/<label>`: what inspect records as the model; only a label when model_path is set. */
  name: string;
  path: string;
  /** The base model's directory, for the tokenizer of an adapter checkpoint. */
  tokenizerPath?: string;
  sourceModel: string;
  missing: string;
  upstream?: UpstreamView;
}

/** The part of the cell id after `evaluate/<task>/`: `base`, `lora_rank=8,seed=1/epoch0`, `ensemble`. */
export function cellLabel(id: string, task: string): string {
  const prefix = `evaluate/${task}/`;
  return id.startsWith(prefix) ? id.slice(prefix.length) : id.slice(id.indexOf('/') + 1);
}

/** A label that survives inspect's -T parsing (no commas) and reads well in task names and logs. */
export function visLabel(id: string, task: string): string {
  return cellLabel(id, task).replace(/[,/\s]+/g, '_');
}

function chooseModel(context: RenderContext<InspectParams>, params: InspectParams, diagnostics: Diagnostic[]): ModelChoice {
  const label = visLabel(context.id, params.task).replace(/[^A-Za-z0-9._-]+/g, '-');
  if (params.model_kind === 'base') {
    const path = baseModelDir(context, params.base_model);
    return {
      name: `hf/${modelDirName(params.base_model)}`,
      path,
      sourceModel: modelDirName(params.base_model),
      missing: `ckbuild: base model ${modelDirName(params.base_model)} not found at ${path}; put it in the models directory (models_dir in the local config)`,
    };
  }
  if (params.model_kind === 'checkpoint') {
    // A checkpoint trained elsewhere (the earlier toolkit's eval-only run): its directory as given.
    const path = resolve(context.site.projectDir, params.checkpoint_path ?? '');
    const base = baseModelDir(context, params.base_model);
    return { name: `hf/${label}`, path, tokenizerPath: base, sourceModel: modelDirName(params.base_model), missing: `ckbuild: checkpoint ${path} not found` };
  }
  const upstream = context.upstream.checkpoint;
  if (!upstream) {
    diagnostics.push(renderDiagnostic(context, 'a fine-tuned cell has no `checkpoint` upstream to evaluate', 'missing-upstream'));
    const path = join(context.outputsDir, 'missing-checkpoint');
    return { name: `hf/${label}`, path, sourceModel: modelDirName(params.base_model), missing: `ckbuild: no checkpoint to evaluate` };
  }
  // A merged ensemble has one adapter and no epochs; a fine-tune has one directory per epoch.
  const epoch = upstream.step === 'merge' ? undefined : params.epoch ?? lastEpoch(upstream);
  const path = loadableCheckpointDir(upstream, epoch);
  const base = baseModelDir(context, params.base_model, upstream);
  return {
    name: `hf/${label}`,
    path,
    tokenizerPath: base,
    sourceModel: modelDirName(base),
    missing: `ckbuild: checkpoint ${path} not found: ${upstream.id} did not leave ${epoch === undefined ? 'a merged adapter' : `epoch ${epoch}`}`,
    upstream,
  };
}

function datasetPath(context: RenderContext<InspectParams>, params: InspectParams, diagnostics: Diagnostic[]): string {
  const input = context.inputs.dataset;
  if (input !== undefined) return input;
  const upstream = context.upstream.dataset;
  if (upstream && params.dataset.file !== undefined) return join(upstream.outputsDir, params.dataset.file);
  diagnostics.push(renderDiagnostic(context, 'the evaluation dataset is neither an input file nor a prepare step\'s output', 'missing-input'));
  return join(context.outputsDir, 'missing-dataset');
}

/** The settings the task reads through `-T config_path`, plus a record of which cell this is. */
export function evalConfig(params: InspectParams, model: ModelChoice): string {
  const settings: JsonObject = {};
  if (params.prompt !== undefined) settings.prompt = params.prompt;
  if (params.system_prompt !== undefined) settings.system_prompt = params.system_prompt;
  if (params.scorers !== undefined) settings.scorers = params.scorers;
  settings.task = params.task;
  settings.model_kind = params.model_kind;
  if (params.model_kind === 'finetuned' && params.epoch !== undefined) settings.epoch = params.epoch;
  settings.source_model = model.sourceModel;
  // YAML 1.1 output, because the task reads it with PyYAML: `no`, `on` or `12:30` get quoted.
  return `# Generated by ckbuild for this evaluation cell; read by the task through -T config_path.\n${stringify(settings, { version: '1.1' })}`;
}

export interface EvalCommand {
  command: string;
  evalYaml: string;
  diagnostics: Diagnostic[];
}

export function evalCommand(context: RenderContext<InspectParams>): EvalCommand {
  const params = context.params;
  const diagnostics: Diagnostic[] = [];
  const model = chooseModel(context, params, diagnostics);
  const script = context.inputs.script;
  if (script === undefined) diagnostics.push(renderDiagnostic(context, 'the evaluation has no task script', 'missing-input'));

  const words: Word[] = [];
  const option = (flag: string, value: string | number): void => {
    words.push({ flag }, { value: String(value) });
  };
  // -T/-M/--metadata values are YAML-parsed by inspect: encode them so they arrive as meant.
  const parsed = (flag: '-T' | '-M' | '--metadata', key: string, value: Json): void => {
    const arg = inspectArg(key, value);
    if (!arg.ok) {
      diagnostics.push(renderDiagnostic(context, `${flag} ${key} cannot carry ${JSON.stringify(value)}: ${arg.reason}`, 'unsafe-value'));
      return;
    }
    option(flag, arg.text);
  };

  words.push({ shell: 'inspect' }, { shell: 'eval' }, { value: `${script ?? ''}@${params.task_function}` });
  option('--model', model.name);
  parsed('-M', 'model_path', model.path);
  if (model.tokenizerPath !== undefined) parsed('-M', 'tokenizer_path', model.tokenizerPath);
  parsed('-M', 'do_sample', params.do_sample);
  parsed('-T', 'data_path', datasetPath(context, params, diagnostics));
  parsed('-T', 'split', params.dataset.split);
  // Expanded by bash at run time; the run directory itself is checked below.
  words.push({ flag: '-T' }, { shell: `config_path="$CK_RUN_DIR/${EVAL_CONFIG}"` });
  parsed('-T', 'use_chat_template', params.dataset_type === 'chat_completion');
  // The matrix's own label where the experiment gives one (the earlier toolkit's summaries read it;
  // "{vis_label} ({task})" when a row lists several tasks), else one derived from the cell id.
  const label = context.labels?.vis_label;
  parsed('-T', 'vis_label', typeof label === 'string' && label !== '' ? label : visLabel(context.id, params.task));
  for (const key of Object.keys(params.args).sort()) parsed('-T', key, params.args[key]!);
  if (params.do_sample && params.temperature !== undefined) option('--temperature', params.temperature);
  if (params.max_tokens !== undefined) option('--max-tokens', params.max_tokens);
  if (params.model_kind === 'finetuned' && params.epoch !== undefined && model.upstream?.step !== 'merge') parsed('--metadata', 'epoch', params.epoch);
  parsed('--metadata', 'is_finetuned', params.model_kind !== 'base');
  parsed('--metadata', 'source_model', model.sourceModel);
  // Tasks that share a task function (5-letter vs 8-letter words) differ only by this name.
  parsed('--metadata', 'task', params.task);
  // Links the log back to the run that produced it, whatever happens to the file later.
  parsed('--metadata', 'ckbuild_key', context.key);
  option('--seed', params.seed);
  option('--max-connections', params.max_connections);
  if (params.limit !== undefined) option('--limit', params.limit);
  words.push({ flag: '--log-dir' }, { shell: '"$CK_OUTPUTS/logs"' }, { flag: '--log-format' }, { shell: 'json' });

  const configPath = inspectValue(join(context.runDir, EVAL_CONFIG));
  if (!configPath.ok || configPath.text.startsWith('"')) {
    diagnostics.push(renderDiagnostic(context, `the run directory ${context.runDir} has characters inspect's -T parsing would change (commas, quotes, spaces, colons); choose a runs root with a plain path`, 'unsafe-path'));
  }

  const lines = [
    // Models load from local directories only: a job must never reach out to the hub.
    'export HF_HUB_OFFLINE=1',
    `if [ ! -e ${shellQuote(model.path)} ]; then`,
    `  echo ${shellQuote(model.missing)} >&2`,
    '  exit 1',
    'fi',
    '# The last command: the job exits with inspect\'s own status (non-zero when the eval failed).',
    formatCommand(words),
  ];
  return { command: lines.join('\n') + '\n', evalYaml: evalConfig(params, model), diagnostics };
}

/** One option per line, so a rendered command diffs and reads well. */
function formatCommand(words: Word[]): string {
  const lines: string[] = [];
  let current = '';
  for (const word of words) {
    if ('flag' in word) {
      lines.push(current);
      current = `  ${word.flag}`;
    } else {
      const text = 'shell' in word ? word.shell : shellQuote(word.value);
      current = current === '' ? text : `${current} ${text}`;
    }
  }
  lines.push(current);
  return lines.join(' \\\n');
}
