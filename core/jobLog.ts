/**
 * Where a run's job wrote its output. The local executor writes `outputs/job.log`; a SLURM job
 * writes `outputs/slurm-<id>.out`, and an array task the array's log under the runs root (its
 * list is in the submission marker the run directory keeps). The first that exists is the log.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { arrayLogPath } from './executors/slurm/arrays.js';
import { readMarker } from './executors/slurm/ownership.js';
import { jobLogPath } from './runDir.js';

export function jobLogFor(runDir: string, jobId?: string | null): string {
  const local = jobLogPath(runDir);
  if (existsSync(local) || !jobId) return local;
  if (/^\d+$/.test(jobId)) {
    const single = join(runDir, 'outputs', `slurm-${jobId}.out`);
    if (existsSync(single)) return single;
  }
  const task = /^\d+_(\d+)$/.exec(jobId);
  const list = /^ck-array-(.+)$/.exec(readMarker(runDir)?.job_name ?? '')?.[1];
  if (task && list) {
    const array = arrayLogPath(dirname(runDir), list, Number(task[1]));
    if (existsSync(array)) return array;
  }
  return local;
}
