/**
 * The job script every run executes, locally or under SLURM: SBATCH directives from the merged
 * resources, environment activation from the local config, the rule's framework command, and a
 * wrapper that records the outcome in metadata/status.json whatever happens.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type HandlebarsLibrary from 'handlebars';
import runtimeModule from 'handlebars/runtime.js';
import type { RenderedRun, Resources } from './rule.js';
import type { LocalConfig } from './localConfig.js';
import { templatesDir } from './paths.js';
import { sha256 } from './hash.js';
import { shellQuote } from './shell.js';

// Handlebars' runtime only: the template is compiled when ckbuild is built (scripts/precompile.mjs),
// and the compiler (most of the library) is loaded only for a template edited since.
const require = createRequire(import.meta.url);
const runtime = runtimeModule as unknown as typeof HandlebarsLibrary;

export const JOB_TEMPLATE = 'job.sh.hbs';

/** The options the template is compiled with, at build time and at run time alike. */
export const TEMPLATE_OPTIONS = { noEscape: true, strict: false } as const;

/** The build's compiled template (dist/core/jobTemplate.cjs): the source's sha256 and the spec Handlebars made of it. */
interface PrecompiledTemplate {
  sourceSha256: string;
  spec: TemplateSpecification;
}

let compiled: HandlebarsTemplateDelegate | undefined;

function template(): HandlebarsTemplateDelegate {
  compiled ??= compileTemplate(readFileSync(join(templatesDir, JOB_TEMPLATE), 'utf8'));
  return compiled;
}

/**
 * The job template as Handlebars runs it: the build's compiled one when it was made from this
 * source (compiling it here cost every generating command 17–21 ms), else compiled now.
 */
export function compileTemplate(source: string): HandlebarsTemplateDelegate {
  const built = precompiled(source);
  const handlebars = (built ? runtime : (require('handlebars') as typeof HandlebarsLibrary)).create();
  // Every interpolated value goes through `q`; the template never emits a raw value.
  handlebars.registerHelper('q', (value: unknown) => (value === undefined || value === null ? "''" : shellQuote(String(value))));
  return built ? handlebars.template(built.spec) : handlebars.compile(source, TEMPLATE_OPTIONS);
}

function precompiled(source: string): PrecompiledTemplate | undefined {
  try {
    const built = require('./jobTemplate.cjs') as PrecompiledTemplate;
    return built.sourceSha256 === sha256(source) ? built : undefined;
  } catch {
    return undefined; // not built (a checkout compiled by tsc alone): compile it now
  }
}

/** Whether `source` would run from the build's compiled template (what a test checks the build made). */
export function usesPrecompiledTemplate(source: string): boolean {
  return precompiled(source) !== undefined;
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
