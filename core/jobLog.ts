/**
 * Where a run's job wrote its output: the local executor's `outputs/job.log`, else where SLURM
 * wrote it (core/executors/slurm/arrays.ts; an array task's list is in the run directory's
 * submission marker). The first that exists is the log.
 */
import { existsSync } from 'node:fs';
import { slurmLogPath } from './executors/slurm/arrays.js';
import { readMarker } from './executors/slurm/ownership.js';
import { jobLogPath } from './runDir.js';

export function jobLogFor(runDir: string, jobId?: string | null): string {
  const local = jobLogPath(runDir);
  if (existsSync(local) || !jobId || !/^\d+(_\d+)?$/.test(jobId)) return local;
  const list = /^ck-array-(.+)$/.exec(readMarker(runDir)?.job_name ?? '')?.[1];
  const slurm = slurmLogPath(runDir, jobId, list);
  return existsSync(slurm) ? slurm : local;
}
