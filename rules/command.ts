/**
 * A plain command: data preparation and anything else a researcher can write as shell. The
 * command is the user's own code and is written verbatim to `config/command.sh`; everything
 * ckbuild knows about the run (inputs, upstream outputs, parameters) reaches it as environment
 * variables whose values are quoted, so no value ever becomes code.
 */
import { isObject, type Json, type JsonObject } from '../core/json.js';
import { envName, shellQuote } from '../core/shell.js';
import { readFlatMetrics } from './support/metrics.js';
import { ParamReader } from '../core/params.js';
import { defineRule, type ExpandedRun, type RenderContext, type RenderedRun, type ResolveContext, type Resolved } from '../core/rule.js';

/** `data/words.json`, never `/etc/x`, `../x` or `a/../../x`: outputs stay inside the run's outputs dir. */
export function checkOutputPath(path: string): string | undefined {
  if (path.trim() === '') return 'an output path is empty';
  if (path.startsWith('/') || /^[A-Za-z]:[\\/]/.test(path)) return `output \`${path}\` must be relative to the run's outputs directory`;
  if (path.split(/[\\/]/).includes('..')) return `output \`${path}\` must not contain \`..\``;
  if (/[\0\n\r]/.test(path)) return `output \`${path}\` contains a control character`;
  return undefined;
}

function normaliseOutput(path: string): string {
  return path.replace(/^(\.\/)+/, '').replace(/\/+$/, '');
}

/** Values reach the command as strings: scalars as written, lists and mappings as JSON. */
function paramText(value: Json): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  return JSON.stringify(value);
}

export interface CommandParams {
  /** The user's shell code, written verbatim to config/command.sh. */
  command: string;
  /** Files the command leaves, relative to "$CK_OUTPUTS" (normalised: no `./`, no trailing `/`). */
  outputs: string[];
  requires: string[];
  /** Values exported as CK_PARAM_<NAME>; absent when there are none. */
  params?: JsonObject;
}

function resolve(run: ExpandedRun, context: ResolveContext): Resolved<CommandParams> {
  const read = new ParamReader(run.params, context);
  const command = read.string('command', '');
  if (command.trim() === '') read.report('command', 'a command step needs a non-empty `command`', 'missing-key');

  const outputs: string[] = [];
  for (const output of read.stringArray('outputs') ?? []) {
    const problem = checkOutputPath(output);
    if (problem) read.report('outputs', problem, 'invalid-path');
    else outputs.push(normaliseOutput(output));
  }
  if (!read.has('outputs')) read.report('outputs', 'a command step must declare its `outputs` (paths under "$CK_OUTPUTS"), so ckbuild can tell when it is done', 'missing-key');

  const requires = read.stringArray('requires') ?? [];
  for (const name of requires) {
    if (!/^[A-Za-z0-9_.+\/-]+$/.test(name)) read.report('requires', `\`${name}\` is not an executable name`, 'invalid-value');
  }

  // Environment names fold case and punctuation: two names that fold together would silently
  // shadow each other, so that is an error rather than a surprise at run time.
  const params = read.object('params') ?? {};
  checkEnvNames('params', 'CK_PARAM_', Object.keys(params), read.report);
  checkEnvNames('inputs', 'CK_INPUT_', Object.keys(run.inputs), read.report);
  checkEnvNames('needs', 'CK_NEEDS_', Object.keys(run.needs), read.report);

  const resolved: CommandParams = { command, outputs, requires };
  if (Object.keys(params).length > 0) resolved.params = params;
  return { params: resolved, diagnostics: read.diagnostics };
}

function toJson(params: CommandParams): JsonObject {
  const json: JsonObject = { command: params.command, outputs: params.outputs, requires: params.requires };
  if (params.params !== undefined && Object.keys(params.params).length > 0) json.params = params.params;
  return json;
}

const strings = (value: Json | undefined): string[] => (Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : []);

function fromJson(json: JsonObject): CommandParams {
  const params: CommandParams = { command: typeof json.command === 'string' ? json.command : '', outputs: strings(json.outputs), requires: strings(json.requires) };
  if (isObject(json.params)) params.params = json.params;
  return params;
}

function checkEnvNames(field: string, prefix: string, names: string[], report: ParamReader['report']): void {
  const seen = new Map<string, string>();
  for (const name of names) {
    const env = envName(name);
    if (env === '') {
      report(field, `\`${name}\` has no letters or digits to name an environment variable after`, 'invalid-value');
      continue;
    }
    const other = seen.get(env);
    if (other !== undefined) report(field, `\`${other}\` and \`${name}\` would both be exported as ${prefix}${env}`, 'conflict');
    seen.set(env, name);
  }
}

/**
 * How the job's subshell (already its own process, in its own process group) runs command.sh: as
 * `bash -e command.sh` would, without starting that second bash. Starting it was a third of a short
 * step's CPU (≈1.5 ms of ≈5 ms here; a 200-step build ran at 6.4 ms a step). What the job script
 * left in the subshell is cleared first: its functions, its loop variables, its `-u`, `pipefail`
 * and job control (`-m` would put the command's own background jobs in process groups a cancel
 * cannot reach). Its traps are already reset, as in any subshell. `$0` names command.sh, as before.
 * The job script's read-only CK_META, CK_STARTED_AT, CK_JOB_ID and CK_EARLY_STOP_LOSS stay visible:
 * CK_ names are ckbuild's. `-e`, as make does per line: a failing line fails the step instead of
 * being hidden by a later line that succeeds (partial outputs would otherwise pass the outputs check).
 */
const RUN_COMMAND_SH = [
  'unset -f ck_now ck_status ck_finish ck_cancelled',
  'unset -v CK_CHILD CK_FINAL CK_GPU_MONITOR CK_LOSS_WATCH ck_os ck_release name',
  'set +u +m +o pipefail',
  'BASH_ARGV0="$CK_RUN_DIR/config/command.sh"',
  'set -e',
  '. "$CK_RUN_DIR/config/command.sh"',
];

function render(context: RenderContext<CommandParams>): RenderedRun {
  const { command, outputs, requires } = context.params;
  const params = context.params.params ?? {};

  const exports: Array<[string, string]> = [];
  for (const [role, path] of Object.entries(context.inputs)) exports.push([`CK_INPUT_${envName(role)}`, path]);
  for (const [role, upstream] of Object.entries(context.upstream)) exports.push([`CK_NEEDS_${envName(role)}`, upstream.outputsDir]);
  for (const [name, value] of Object.entries(params)) exports.push([`CK_PARAM_${envName(name)}`, paramText(value)]);
  exports.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

  const lines = exports.map(([name, value]) => `export ${name}=${shellQuote(value)}`);
  lines.push('cd "$CK_PROJECT_DIR" || exit 1');
  lines.push(...RUN_COMMAND_SH);

  return {
    files: { 'config/command.sh': command.endsWith('\n') ? command : `${command}\n` },
    command: lines.join('\n') + '\n',
    requires,
    outputs: outputs.map((output) => `outputs/${output}`),
    diagnostics: [],
  };
}

export const commandRule = defineRule<CommandParams>({
  name: 'command',
  version: 1,
  steps: ['prepare'],
  description: 'A shell command with declared inputs and outputs (data preparation, anything scriptable).',
  paramsSchema: {
    command: { type: 'string', description: 'Shell code, run with bash -e from the project directory; write files into "$CK_OUTPUTS".' },
    outputs: { type: 'array', items: { type: 'string' }, description: 'Files the command leaves, relative to "$CK_OUTPUTS".' },
    requires: { type: 'array', items: { type: 'string' }, description: 'Executables the command needs on PATH.' },
    params: { type: 'object', description: 'Values exported to the command as CK_PARAM_<NAME>.' },
  },
  resolve,
  toJson,
  fromJson,
  render,
  readMetrics: (runDir) => readFlatMetrics(runDir),
});
