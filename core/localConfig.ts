/**
 * The git-ignored local config, `ckbuild.local.yaml` in the project folder: everything that
 * belongs to a cluster or a person rather than to the experiment. None of it is part of any
 * run's identity.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve, sep } from 'node:path';
import { type Diagnostic, hasErrors } from './diagnostics.js';
import type { JsonObject } from './json.js';
import { diagnosticAt, loadSourceFile } from './source.js';
import { validateAgainstSchema } from './experiment/validate.js';

export const LOCAL_CONFIG_FILE = 'ckbuild.local.yaml';

export interface LocalConfig {
  executor?: 'local' | 'slurm';
  runs_root?: string;
  models_dir?: string;
  /** Local executor: how many runs at once. */
  jobs?: number;
  /** Local executor: GPU indices to hand out, one per GPU job (default: what nvidia-smi lists). */
  gpus?: number[];
  commit?: boolean;
  account?: string;
  partition?: string;
  constraint?: string;
  qos?: string;
  env?: { conda?: string; venv?: string; modules?: string[]; setup?: string[] };
  slurm?: { max_queued?: number; submit_rate?: number; array_min?: number; array_throttle?: number; poll_seconds?: number; retries?: number };
  gpu_hour_cost?: number;
  /** Refresh reports after builds, for every experiment (the experiment's `report` wins). */
  report?: boolean;
}

const envSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    conda: { type: 'string', minLength: 1 },
    venv: { type: 'string', minLength: 1 },
    modules: { type: 'array', items: { type: 'string', minLength: 1 } },
    setup: { type: 'array', items: { type: 'string' }, description: 'Extra shell lines run before the framework (e.g. export HF_HOME=…).' },
  },
};

export const localConfigSchema: JsonObject = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  title: 'ckbuild local config (ckbuild.local.yaml, git-ignored)',
  type: 'object',
  additionalProperties: false,
  properties: {
    $schema: { type: 'string' },
    executor: { enum: ['local', 'slurm'] },
    runs_root: { type: 'string', minLength: 1 },
    models_dir: { type: 'string', minLength: 1 },
    jobs: { type: 'integer', minimum: 1 },
    gpus: { type: 'array', items: { type: 'integer', minimum: 0 } },
    commit: { type: 'boolean' },
    account: { type: 'string', minLength: 1, pattern: '^[A-Za-z0-9_.,:+%=/-]+$', description: 'a SLURM name: letters, digits and _ . , : + % = / -' },
    partition: { type: 'string', minLength: 1, pattern: '^[A-Za-z0-9_.,:+%=/-]+$', description: 'a SLURM name: letters, digits and _ . , : + % = / -' },
    constraint: { type: 'string', minLength: 1, pattern: '^[A-Za-z0-9_.,:+%=/-]+$', description: 'a SLURM name: letters, digits and _ . , : + % = / -' },
    qos: { type: 'string', minLength: 1, pattern: '^[A-Za-z0-9_.,:+%=/-]+$', description: 'a SLURM name: letters, digits and _ . , : + % = / -' },
    env: envSchema,
    slurm: {
      type: 'object',
      additionalProperties: false,
      properties: {
        max_queued: { type: 'integer', minimum: 1 },
        submit_rate: { type: 'number', exclusiveMinimum: 0, description: 'sbatch calls per second at most' },
        array_min: { type: 'integer', minimum: 2, description: 'Submit groups of at least this many independent runs as a job array' },
        array_throttle: { type: 'integer', minimum: 1 },
        poll_seconds: { type: 'number', exclusiveMinimum: 0 },
        retries: { type: 'integer', minimum: 0 },
      },
    },
    gpu_hour_cost: { type: 'number', minimum: 0 },
    report: { type: 'boolean', description: 'Refresh every experiment’s report after each build (the experiment’s own `report` wins).' },
  },
};

/**
 * The local config of a project. `defaults` are what the caller's environment supplies
 * (CKBUILD_MODELS_DIR, read by the CLI); the file's own values win over them.
 */
export function loadLocalConfig(projectDir: string, defaults: LocalConfig = {}, experimentFile?: string): { config: LocalConfig; file?: string; diagnostics: Diagnostic[] } {
  const file = join(projectDir, LOCAL_CONFIG_FILE);
  if (!existsSync(file)) return { config: { ...defaults }, diagnostics: [] };
  const loaded = loadSourceFile(file);
  if (!loaded.source) return { config: { ...defaults }, file, diagnostics: loaded.diagnostics };
  const data = loaded.source.data ?? {};
  const diagnostics = [...loaded.diagnostics, ...validateAgainstSchema(loaded.source, data, localConfigSchema)];
  if (hasErrors(diagnostics)) return { config: { ...defaults }, file, diagnostics };
  const config: LocalConfig = { ...defaults, ...(data as LocalConfig) };
  const problem = runsRootProblem(projectDir, config, experimentFile);
  if (problem) return { config: { ...defaults }, file, diagnostics: [...diagnostics, diagnosticAt(loaded.source, ['runs_root'], problem, { code: 'invalid-path' })] };
  return { config, file, diagnostics };
}

/**
 * ckbuild marks the runs root git-ignored (`*`) and deletes inside it (gc): it must be a folder
 * of its own, never the project, a folder above it, or one holding the experiment and its manifest.
 */
function runsRootProblem(projectDir: string, config: LocalConfig, experimentFile?: string): string | undefined {
  if (config.runs_root === undefined) return undefined;
  const root = runsRootOf(projectDir, config);
  const within = (path: string): boolean => path === root || path.startsWith(root + sep);
  if (within(projectDir)) return `the runs root ${root} contains the project folder; ckbuild would git-ignore the project itself: give a folder of its own (e.g. \`runs\` or /scratch/$USER/ckbuild-runs)`;
  if (experimentFile && within(dirname(resolve(experimentFile)))) return `the runs root ${root} holds the experiment file and its manifest, which must stay in git: give a folder of its own`;
  return undefined;
}

export function runsRootOf(projectDir: string, config: LocalConfig): string {
  return resolve(projectDir, config.runs_root ?? 'runs');
}

export function modelsDirOf(projectDir: string, config: LocalConfig): string {
  return resolve(projectDir, config.models_dir ?? 'models');
}
