/**
 * The job script every run executes, locally or under SLURM: SBATCH directives from the merged
 * resources, environment activation from the local config, the rule's framework command, and a
 * wrapper that records the outcome in metadata/status.json whatever happens.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Handlebars from 'handlebars';
import type { RenderedRun, Resources } from './rule.js';
import type { LocalConfig } from './localConfig.js';
import { templatesDir } from './paths.js';
import { shellQuote } from './shell.js';

let compiled: HandlebarsTemplateDelegate | undefined;

function template(): HandlebarsTemplateDelegate {
  if (!compiled) {
    const handlebars = Handlebars.create();
    // Every interpolated value goes through `q`; the template never emits a raw value.
    handlebars.registerHelper('q', (value: unknown) => (value === undefined || value === null ? "''" : shellQuote(String(value))));
    compiled = handlebars.compile(readFileSync(join(templatesDir, 'job.sh.hbs'), 'utf8'), { noEscape: true, strict: false });
  }
  return compiled;
}

/** SBATCH values are read by sbatch, not bash: only plain tokens are allowed in them. */
const SLURM_TOKEN = /^[A-Za-z0-9_.,:+%=\/-]+$/;

export class UnsafeDirectiveError extends Error {}

export function slurmJobName(key: string, name: string): string {
  return `ck-${key.slice(0, 12)}-${name}`;
}

export function sbatchDirectives(key: string, name: string, resources: Resources): string[] {
  const lines = [`--job-name=${slurmJobName(key, name)}`, '--nodes=1', '--ntasks=1'];
  const add = (flag: string, value: string | number | undefined): void => {
    if (value === undefined || value === '') return;
    const text = String(value);
    if (!SLURM_TOKEN.test(text)) throw new UnsafeDirectiveError(`${flag} value ${JSON.stringify(text)} contains characters SLURM directives cannot carry`);
    lines.push(`--${flag}=${text}`);
  };
  const gpus = resources.gpus ?? 0;
  add('cpus-per-task', resources.cpus_per_task ?? Math.max(1, gpus));
  add('mem', resources.mem);
  add('time', resources.time);
  if (gpus > 0) add('gres', `gpu:${gpus}`);
  add('account', resources.account);
  add('partition', resources.partition);
  add('constraint', resources.constraint);
  add('qos', resources.qos);
  return lines;
}

export function environmentSetup(local: LocalConfig): string[] {
  const env = local.env ?? {};
  const lines: string[] = [];
  if (env.modules && env.modules.length > 0) {
    lines.push('if command -v module >/dev/null 2>&1; then');
    for (const module of env.modules) lines.push(`  module load ${shellQuote(module)}`);
    lines.push('fi');
  }
  if (env.conda) {
    lines.push('eval "$(conda shell.bash hook)"');
    lines.push(`conda activate ${shellQuote(env.conda)}`);
  }
  if (env.venv) lines.push(`source ${shellQuote(join(env.venv, 'bin', 'activate'))}`);
  // The user's own shell lines, verbatim: they are code the user wrote, not data.
  for (const line of env.setup ?? []) lines.push(line);
  return lines;
}

/** Text placed inside a double-quoted echo: no quotes, dollars, backticks or backslashes. */
function safeWord(text: string): string {
  return text.replace(/["$`\\]/g, '');
}

const LOSS_GLOB = /^[A-Za-z0-9_.\/*-]+$/;

export function renderJobScript(options: {
  id: string;
  key: string;
  name: string;
  runDir: string;
  outputsDir: string;
  projectDir: string;
  resources: Resources;
  local: LocalConfig;
  rendered: RenderedRun;
  earlyStopLoss?: number;
}): string {
  const { rendered } = options;
  if (rendered.lossLog !== undefined && !LOSS_GLOB.test(rendered.lossLog)) throw new Error(`rule loss log glob is not a plain path: ${rendered.lossLog}`);
  return template()({
    idComment: options.id.replace(/[\r\n]/g, ' '),
    key: options.key,
    directives: sbatchDirectives(options.key, options.name, options.resources),
    runDir: options.runDir,
    outputsDir: options.outputsDir,
    projectDir: options.projectDir,
    id: options.id,
    earlyStopLoss: options.earlyStopLoss === undefined ? '' : String(options.earlyStopLoss),
    setup: environmentSetup(options.local),
    command: rendered.command.trimEnd(),
    lossLog: rendered.lossLog,
    outputs: rendered.outputs,
    requires: rendered.requires.map((command) => {
      const install = rendered.install?.[command] ?? `install ${command}`;
      return { command: safeWord(command), install: safeWord(install), message: `${command} is not installed on this machine: ${install}, or run on a cluster with --executor slurm` };
    }),
  });
}
