/** Choosing an executor: the flag, else $CKBUILD_EXECUTOR, else the local config, else SLURM where `sbatch` exists, else local. */
import { execFileSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import type { LocalConfig } from '../localConfig.js';
import { LocalExecutor } from './local.js';
import { SlurmExecutor } from './slurm.js';
import type { Executor } from './types.js';
import { onPath } from './path.js';

export { onPath };

export type ExecutorName = 'local' | 'slurm';


/** `requested` is what the user asked for (--executor, else CKBUILD_EXECUTOR, read by the CLI). */
export function chooseExecutor(requested: string | undefined, local: LocalConfig, experiment?: { executor?: ExecutorName }): ExecutorName {
  // The experiment's own `executor:` wins over the site's default (a tutorial of command steps
  // runs locally on a login node too, as Snakemake's localrules); an explicit request wins over both.
  const name = requested ?? experiment?.executor ?? local.executor;
  if (name === 'local' || name === 'slurm') return name;
  return onPath('sbatch') ? 'slurm' : 'local';
}

export function detectGpus(local: LocalConfig): number[] {
  if (local.gpus) return local.gpus;
  if (!onPath('nvidia-smi')) return [];
  try {
    const text = execFileSync('nvidia-smi', ['--query-gpu=index', '--format=csv,noheader'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
    return text.split('\n').map((line) => Number(line.trim())).filter((n) => Number.isInteger(n));
  } catch {
    return [];
  }
}

/** What the caller knows that an executor needs: values, never read from the process here. */
export interface ExecutorOptions {
  jobs?: number;
  experiment: string;
  /** The environment local jobs start with. */
  environment: Record<string, string | undefined>;
  /** The user whose SLURM jobs are ours to look up. */
  user?: string;
}

/** For runs recorded by another executor than the one this invocation uses. */
export function executorFactory(local: LocalConfig, options: ExecutorOptions): (name: string) => Executor | undefined {
  return (name) => (name === 'local' || name === 'slurm' ? createExecutor(name, local, options) : undefined);
}

export function createExecutor(name: ExecutorName, local: LocalConfig, options: ExecutorOptions): Executor {
  if (name === 'slurm') return new SlurmExecutor({ local, experiment: options.experiment, user: options.user });
  return new LocalExecutor({ jobs: options.jobs ?? local.jobs ?? Math.max(1, availableParallelism()), gpus: detectGpus(local), environment: options.environment });
}
