/**
 * Job arrays: many runs with identical directives in one sbatch. Three shapes, all behind
 * submitBatch:
 *   - independent runs (a base-model evaluation matrix, a sweep of fine-tunes): one array;
 *   - runs that each depend on one task of an earlier array (the evaluations of a fine-tune
 *     array): an array whose task i waits on task i of that array (`aftercorr`), with the
 *     fine-tune's own index, so a failed fine-tune stops only its own evaluations;
 *   - runs that share exactly the same upstream jobs: one array with `afterok` on them.
 * Arrays are split at the controller's MaxArraySize (indexes must stay below it).
 */
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { SubmitRequest } from '../types.js';
import { arraysDir } from './ownership.js';

export interface ArrayJob {
  requests: SubmitRequest[];
  /** The task index of each request, in order. */
  indexes: number[];
  /** The sbatch --dependency value, if any. */
  dependency?: string;
}

export interface ArrayGrouping {
  arrays: ArrayJob[];
  singles: SubmitRequest[];
}

const TASK = /^(\d+)_(\d+)$/;

/**
 * Splits a batch into arrays and single jobs. `signature` is what must be equal for runs to
 * share one job (their directives); `arrayMin` is the smallest group worth an array.
 */
export function groupIntoArrays(requests: readonly SubmitRequest[], signature: (request: SubmitRequest) => string, arrayMin: number, maxArraySize: number): ArrayGrouping {
  const arrays: ArrayJob[] = [];
  const singles: SubmitRequest[] = [];
  const independent = new Map<string, SubmitRequest[]>();
  const corresponding = new Map<string, SubmitRequest[]>();
  const shared = new Map<string, SubmitRequest[]>();
  const add = (map: Map<string, SubmitRequest[]>, key: string, request: SubmitRequest): void => {
    const list = map.get(key);
    if (list) list.push(request);
    else map.set(key, [request]);
  };
  for (const request of requests) {
    const sig = signature(request);
    const deps = request.dependencies.map((d) => d.jobId);
    if (deps.length === 0) add(independent, sig, request);
    else if (deps.length === 1 && TASK.test(deps[0]!)) add(corresponding, `${sig}\n${TASK.exec(deps[0]!)![1]}`, request);
    else add(shared, `${sig}\n${[...deps].sort().join(':')}`, request);
  }
  const chunked = (group: SubmitRequest[], dependency?: string): void => {
    if (group.length < arrayMin) {
      singles.push(...group);
      return;
    }
    for (let start = 0; start < group.length; start += maxArraySize) {
      const chunk = group.slice(start, start + maxArraySize);
      arrays.push({ requests: chunk, indexes: chunk.map((_, i) => i), ...(dependency ? { dependency } : {}) });
    }
  };
  for (const group of independent.values()) chunked(group);
  for (const group of shared.values()) chunked(group, `afterok:${group[0]!.dependencies.map((d) => d.jobId).join(':')}`);
  for (const [key, group] of corresponding) {
    const upstreamArray = key.slice(key.lastIndexOf('\n') + 1);
    // Layers: each holds at most one run per upstream task (two evaluations of one fine-tune go
    // into two arrays, both with aftercorr on the fine-tune array).
    const layers: Array<{ requests: SubmitRequest[]; indexes: number[]; used: Set<number> }> = [];
    for (const request of group) {
      const index = Number(TASK.exec(request.dependencies[0]!.jobId)![2]);
      let layer = layers.find((l) => !l.used.has(index));
      if (!layer) layers.push((layer = { requests: [], indexes: [], used: new Set() }));
      layer.requests.push(request);
      layer.indexes.push(index);
      layer.used.add(index);
    }
    for (const layer of layers) {
      if (layer.requests.length < arrayMin) singles.push(...layer.requests);
      else arrays.push({ requests: layer.requests, indexes: layer.indexes, dependency: `aftercorr:${upstreamArray}` });
    }
  }
  return { arrays, singles };
}

/** `0-9` or `0,2,5-7`: SLURM's --array syntax for these indexes. */
export function indexSpec(indexes: readonly number[]): string {
  const sorted = [...indexes].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    parts.push(i === j ? `${sorted[i]}` : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}

/**
 * The task list and driver of one array in the runs root. Line i+1 of the list is task i:
 * `<key> <job script>` (empty for indexes the array does not have). Returns the driver's path
 * and the keys by index.
 */
export function writeArrayFiles(runsRoot: string, list: string, job: ArrayJob): { driver: string; keysByIndex: string[]; output: string } {
  const dir = arraysDir(runsRoot);
  const size = Math.max(...job.indexes) + 1;
  const lines: string[] = Array.from({ length: size }, () => '');
  const keysByIndex: string[] = Array.from({ length: size }, () => '');
  job.requests.forEach((request, position) => {
    const index = job.indexes[position]!;
    lines[index] = `${request.run.key} ${request.generated.jobScript}`;
    keysByIndex[index] = request.run.key;
  });
  const listFile = join(dir, `${list}.list`);
  writeFileSync(listFile, lines.join('\n') + '\n');
  const driver = join(dir, `${list}.sh`);
  const quoted = `'${listFile.replace(/'/g, `'\\''`)}'`;
  writeFileSync(
    driver,
    [
      '#!/usr/bin/env bash',
      `# ckbuild job array: task i runs the job script named on line i+1 of ${listFile}`,
      `line=$(sed -n "$((SLURM_ARRAY_TASK_ID + 1))p" ${quoted})`,
      'script=${line#* }',
      '[ -n "$line" ] && [ -f "$script" ] || { echo "ckbuild array: no run for task $SLURM_ARRAY_TASK_ID" >&2; exit 1; }',
      'cd "$(dirname "$(dirname "$script")")" || exit 1',
      'exec bash "$script"',
      '',
    ].join('\n'),
    { mode: 0o755 },
  );
  return { driver, keysByIndex, output: join(dir, `${list}-%a.out`) };
}

export function arrayLogPath(runsRoot: string, list: string, index: number): string {
  return join(arraysDir(runsRoot), `${list}-${index}.out`);
}

/**
 * Where SLURM wrote a job's output: a single job's `outputs/slurm-<id>.out` in its run directory,
 * an array task's log under the runs root (`list`: the array's, from its comment or the marker).
 */
export function slurmLogPath(runDir: string, jobId: string, list?: string): string {
  const task = /^\d+_(\d+)$/.exec(jobId);
  return task && list ? arrayLogPath(dirname(runDir), list, Number(task[1])) : join(runDir, 'outputs', `slurm-${jobId}.out`);
}
