/**
 * Which job belongs to which run. A job carries its run's key and its runs root in its name
 * (`ck-<key12>-<name>`, for people) and its comment (`ckbuild:<key>:<root>`, for ckbuild), so
 * a run's state only ever comes from its own job: a recorded id that now names another job (the
 * controller lost ours and reused the id) or another runs root (a second checkout of the same
 * experiment) is never read as ours, adopted or cancelled.
 *
 * An array job's comment names a task list in the runs root (`ckbuild-array:<list>:<root>`):
 * line i of `<root>/.arrays/<list>.list` is the key of task i.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { PlannedRun } from '../../plan.js';
import type { SlurmRow } from './states.js';

export function runsRootOf(run: PlannedRun): string {
  return dirname(run.runDir);
}

const rootIds = new Map<string, string>();

/** A short, stable identity of a runs root: its real path, hashed (the path itself may be private). */
export function rootIdentity(runsRoot: string): string {
  let id = rootIds.get(runsRoot);
  if (!id) {
    let real = resolve(runsRoot);
    try {
      real = realpathSync(runsRoot);
    } catch {
      // Not created yet: the resolved path is what it will be.
    }
    id = createHash('sha256').update(real).digest('hex').slice(0, 16);
    rootIds.set(runsRoot, id);
  }
  return id;
}

export function jobComment(key: string, root: string): string {
  return `ckbuild:${key}:${root}`;
}

export function arrayComment(list: string, root: string): string {
  return `ckbuild-array:${list}:${root}`;
}

export type JobOwner = { kind: 'run'; key: string; root: string } | { kind: 'array'; list: string; root: string } | { kind: 'none' };

export function parseComment(comment: string | undefined): JobOwner {
  const single = /^ckbuild:([0-9a-f]{16,}):([0-9a-f]+)$/.exec(comment ?? '');
  if (single) return { kind: 'run', key: single[1]!, root: single[2]! };
  const array = /^ckbuild-array:([0-9a-z-]+):([0-9a-f]+)$/.exec(comment ?? '');
  if (array) return { kind: 'array', list: array[1]!, root: array[2]! };
  return { kind: 'none' };
}

export function arraysDir(runsRoot: string): string {
  return join(runsRoot, '.arrays');
}

const lists = new Map<string, string[] | undefined>();

/** The keys of an array's tasks (index → key), from the runs root that submitted it. */
export function arrayKeys(runsRoot: string, list: string): string[] | undefined {
  const file = join(arraysDir(runsRoot), `${list}.list`);
  if (!lists.has(file)) {
    try {
      lists.set(file, readFileSync(file, 'utf8').split('\n').map((line) => line.split(' ')[0]!));
    } catch {
      lists.set(file, undefined);
    }
  }
  return lists.get(file);
}

export function rememberArray(runsRoot: string, list: string, keysByIndex: string[]): void {
  lists.set(join(arraysDir(runsRoot), `${list}.list`), keysByIndex);
}

/** The key a queue or accounting row belongs to in this runs root, if any. */
export function keyOfRow(row: SlurmRow, runsRoot: string): string | undefined {
  const owner = parseComment(row.comment);
  const root = rootIdentity(runsRoot);
  if (owner.kind === 'run') return owner.root === root ? owner.key : undefined;
  if (owner.kind === 'array') {
    if (owner.root !== root) return undefined;
    const task = /^\d+_(\d+)$/.exec(row.jobId);
    return task ? arrayKeys(runsRoot, owner.list)?.[Number(task[1])] : undefined;
  }
  return undefined;
}

/**
 * Whether this row is the job of this run. Jobs from before comments existed (or accounting
 * without comments: `sacct -c`) are matched by the key in their name, and only for a job id
 * the run itself recorded.
 */
export function belongsTo(row: SlurmRow, run: PlannedRun): boolean {
  if (row.comment?.startsWith('ckbuild')) return keyOfRow(row, runsRootOf(run)) === run.key;
  if (row.name?.startsWith(`ck-${run.key.slice(0, 12)}-`)) return true;
  // Accounting rows of array tasks from the completion log carry neither: nothing to contradict.
  return row.name === undefined || (row.name.startsWith('ck-array-') && /_/.test(row.jobId));
}

export function describeStranger(row: SlurmRow): string {
  return row.name ? `job ${row.jobId} is now "${row.name}"` : `job ${row.jobId} now belongs to another job`;
}

/**
 * The submission marker in a run directory: written before sbatch runs and replaced by the job
 * id once it answers, so a ckbuild killed while sbatch is in flight leaves a trace the next
 * invocation waits on instead of submitting a second job.
 */
export interface SubmitMarker {
  state: 'submitting' | 'submitted';
  key: string;
  root: string;
  host: string;
  pid: number;
  job_name: string;
  started_at: string;
  job_id?: string;
}

export function markerPath(runDir: string): string {
  return join(runDir, 'metadata', 'slurm-submit.json');
}

export function writeMarker(run: PlannedRun, jobName: string, jobId?: string): void {
  const marker: SubmitMarker = { state: jobId ? 'submitted' : 'submitting', key: run.key, root: rootIdentity(runsRootOf(run)), host: hostname(), pid: process.pid, job_name: jobName, started_at: new Date().toISOString(), ...(jobId ? { job_id: jobId } : {}) };
  const file = markerPath(run.runDir);
  try {
    if (!existsSync(dirname(file))) mkdirSync(dirname(file), { recursive: true });
    writeFileSync(`${file}.tmp`, `${JSON.stringify(marker)}\n`);
    renameSync(`${file}.tmp`, file);
  } catch {
    // A run directory that cannot be written fails at sbatch (its output goes there) anyway.
  }
}

export function clearMarker(run: PlannedRun): void {
  rmSync(markerPath(run.runDir), { force: true });
}

export function readMarker(runDir: string): SubmitMarker | undefined {
  try {
    const marker = JSON.parse(readFileSync(markerPath(runDir), 'utf8')) as SubmitMarker;
    return marker.state === 'submitting' || marker.state === 'submitted' ? marker : undefined;
  } catch {
    return undefined;
  }
}

/** Whether a process is alive on this machine (a zombie counts as dead). */
export function processAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) [ZX] /.test(stat);
  } catch {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  }
}

/** Live processes on this machine whose command line carries this job name (an sbatch still in flight). */
export function processesSubmitting(jobName: string): number[] {
  const needle = `--job-name=${jobName}`;
  const found: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc').filter((entry) => /^\d+$/.test(entry));
  } catch {
    return found;
  }
  for (const entry of entries) {
    const pid = Number(entry);
    if (pid === process.pid) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').includes(needle) && processAlive(pid)) found.push(pid);
    } catch {
      // Gone meanwhile, or not ours to read.
    }
  }
  return found;
}
