/**
 * The SLURM executor. One job per run (or one array for a large group of independent runs),
 * pipeline edges as `--dependency=afterok:<ids>` with `--kill-on-invalid-dep=yes`, so a whole
 * experiment is submitted at once and returns. Job names carry the run key
 * (`ck-<key12>-<name>`): before submitting, ckbuild asks squeue for its own jobs and adopts them,
 * so a crash between sbatch and the manifest write never leads to a duplicate job.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import type { LocalConfig } from '../localConfig.js';
import { onPath } from './path.js';
import { slurmJobName } from '../jobScript.js';
import type { RunStatus } from '../manifest.js';
import type { PlannedRun } from '../plan.js';
import { elapsedSeconds, readStatusFile } from './statusFile.js';
import type { Executor, JobHandle, JobState, SubmitRequest, SubmitResult } from './types.js';

const TRANSIENT = /socket timed out|try again|temporarily unavailable|unable to contact slurm controller|connection refused|slurm_receive_msg|timed out|resource temporarily/i;
const ACTIVE_SLURM = new Set(['PENDING', 'CONFIGURING', 'RUNNING', 'COMPLETING', 'SUSPENDED', 'REQUEUED', 'RESIZING', 'STAGE_OUT', 'SIGNALING']);

export interface SlurmExecutorOptions {
  local: LocalConfig;
  experiment: string;
}

interface SlurmRow {
  jobId: string;
  state: string;
  reason: string;
  node: string;
  exitCode?: number;
  start?: string;
  end?: string;
  elapsedS?: number;
}

async function slurm(command: string, args: string[]): Promise<{ ok: boolean; stdout: string; stderr: string; timedOut?: boolean }> {
  try {
    const result = await execa(command, args, { reject: false, timeout: 60_000, stdin: 'ignore' });
    return { ok: result.exitCode === 0, stdout: String(result.stdout), stderr: String(result.stderr), timedOut: result.timedOut };
  } catch (error) {
    return { ok: false, stdout: '', stderr: (error as Error).message };
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export class SlurmExecutor implements Executor {
  readonly name = 'slurm';
  readonly handlesDependencies = true;
  readonly capacity: number;
  private lastSubmit = 0;
  private readonly minInterval: number;
  private readonly retries: number;
  private accounting: boolean | undefined;
  private sbatchFound: boolean | undefined;

  constructor(private readonly options: SlurmExecutorOptions) {
    const settings = options.local.slurm ?? {};
    this.capacity = settings.max_queued ?? 500;
    this.minInterval = settings.submit_rate ? 1000 / settings.submit_rate : 0;
    this.retries = settings.retries ?? 4;
  }

  async submit(request: SubmitRequest): Promise<SubmitResult> {
    const [result] = await this.submitBatch([request]);
    return result!;
  }

  /** Large groups of independent runs with identical directives go out as one job array. */
  async submitBatch(requests: SubmitRequest[]): Promise<SubmitResult[]> {
    const arrayMin = this.options.local.slurm?.array_min;
    const results = new Map<SubmitRequest, SubmitResult>();
    if (arrayMin !== undefined) {
      const groups = new Map<string, SubmitRequest[]>();
      for (const request of requests) {
        if (request.dependencies.length > 0) continue;
        const signature = directivesOf(request).filter((line) => !line.startsWith('--job-name=')).join('\n');
        groups.set(signature, [...(groups.get(signature) ?? []), request]);
      }
      for (const group of groups.values()) {
        if (group.length < arrayMin) continue;
        const submitted = await this.submitArray(group);
        group.forEach((request, index) => results.set(request, submitted[index]!));
      }
    }
    for (const request of requests) if (!results.has(request)) results.set(request, await this.submitOne(request));
    return requests.map((request) => results.get(request)!);
  }

  private async submitOne({ run, generated, dependencies }: SubmitRequest): Promise<SubmitResult> {
    const outputs = join(run.runDir, 'outputs');
    // SLURM does not create the --output directory; a missing one makes the job fail at start.
    mkdirSync(outputs, { recursive: true });
    const args = ['--parsable', `--chdir=${run.runDir}`, `--output=${join(outputs, 'slurm-%j.out')}`, `--error=${join(outputs, 'slurm-%j.out')}`, '--export=ALL,CK_EXECUTOR=slurm'];
    if (dependencies.length > 0) args.push(`--dependency=afterok:${dependencies.map((d) => d.jobId).join(':')}`, '--kill-on-invalid-dep=yes');
    args.push(generated.jobScript);
    return this.sbatch(args, slurmJobName(run.key, run.name));
  }

  private async submitArray(group: SubmitRequest[]): Promise<SubmitResult[]> {
    const first = group[0]!;
    const root = join(first.run.runDir, '..', '.arrays');
    mkdirSync(root, { recursive: true });
    const stamp = `${Date.now().toString(36)}-${process.pid}`;
    const list = join(root, `${stamp}.list`);
    writeFileSync(list, group.map((request) => `${request.run.key} ${request.generated.jobScript}`).join('\n') + '\n');
    const driver = join(root, `${stamp}.sh`);
    const directives = directivesOf(first).filter((line) => !line.startsWith('--job-name='));
    writeFileSync(
      driver,
      [
        '#!/usr/bin/env bash',
        `# ckbuild job array: task i runs the job script on line i+1 of ${list}`,
        ...directives.map((line) => `#SBATCH ${line}`),
        `line=$(sed -n "$((SLURM_ARRAY_TASK_ID + 1))p" '${list.replace(/'/g, `'\\''`)}')`,
        'script=${line#* }',
        'cd "$(dirname "$(dirname "$script")")" || exit 1',
        'exec bash "$script"',
        '',
      ].join('\n'),
      { mode: 0o755 },
    );
    const throttle = this.options.local.slurm?.array_throttle;
    for (const request of group) mkdirSync(join(request.run.runDir, 'outputs'), { recursive: true });
    const args = [
      '--parsable',
      `--job-name=ck-array-${stamp}`,
      `--array=0-${group.length - 1}${throttle ? `%${throttle}` : ''}`,
      `--output=${join(root, `${stamp}-%a.out`)}`,
      '--export=ALL,CK_EXECUTOR=slurm',
      driver,
    ];
    const result = await this.sbatch(args, `ck-array-${stamp}`);
    if (!('handle' in result)) return group.map(() => result);
    return group.map((_, index) => ({ handle: { executor: this.name, jobId: `${result.handle.jobId}_${index}` } }));
  }

  /**
   * sbatch with retries for transient failures. A timed-out sbatch may still have reached the
   * controller, so before each retry the job is looked up by its name (which carries the key):
   * a submission that did land is adopted, never submitted twice.
   */
  private async sbatch(args: string[], jobName: string): Promise<SubmitResult> {
    this.sbatchFound ??= onPath('sbatch');
    if (!this.sbatchFound) return { error: 'sbatch is not available on this machine (not on PATH): run ckbuild on a cluster login node, or use --executor local', status: 'failed' };
    let delay = 1000;
    for (let attempt = 0; ; attempt++) {
      const wait = this.lastSubmit + this.minInterval - Date.now();
      if (wait > 0) await sleep(wait);
      this.lastSubmit = Date.now();
      const result = await slurm('sbatch', args);
      if (result.ok) {
        const jobId = result.stdout.trim().split(';')[0]!.trim();
        if (/^\d+$/.test(jobId)) return { handle: { executor: this.name, jobId } };
        return { error: `sbatch printed no job id: ${result.stdout.trim()}` };
      }
      const message = result.timedOut ? 'sbatch did not answer within 60 s' : result.stderr.trim() || result.stdout.trim() || 'sbatch failed';
      // A hung sbatch is like a timed-out one: the job may have landed, so it is looked up below.
      const transient = result.timedOut === true || TRANSIENT.test(message);
      if (!transient || attempt >= this.retries) return { error: `sbatch rejected the job: ${message.replace(/^sbatch: error: /gm, '')}`, status: 'failed' };
      await sleep(delay);
      delay = Math.min(delay * 2, 30_000);
      const landed = await this.findByName(jobName);
      if (landed === 'unreachable') return { error: `sbatch failed and the controller did not answer afterwards, so whether the job was queued is unknown; run ckbuild again to check (it adopts the job if it exists): ${message}`, status: 'failed' };
      if (landed) return { handle: { executor: this.name, jobId: landed } };
    }
  }

  /**
   * A job with this name in the queue, asked until the controller answers. A controller that was
   * unresponsive may still hold the timed-out submission and process it just after answering
   * (measured here: a stopped slurmctld answered squeue first, then created the job), so "not
   * there" counts only after two answers a second apart.
   */
  private async findByName(jobName: string): Promise<string | undefined | 'unreachable'> {
    let delay = 1000;
    let emptyAnswers = 0;
    for (let attempt = 0; attempt <= this.retries + 4; attempt++) {
      const result = await slurm('squeue', ['-h', '-n', jobName, '-o', '%i']);
      if (result.ok) {
        const line = result.stdout.split('\n').map((l) => l.trim()).find((l) => /^\d+/.test(l));
        if (line) return line.split('_')[0];
        if (++emptyAnswers >= 2) return undefined;
        await sleep(1000);
        continue;
      }
      emptyAnswers = 0;
      await sleep(delay);
      delay = Math.min(delay * 2, 30_000);
    }
    return 'unreachable';
  }

  async poll(jobs: ReadonlyArray<{ run: PlannedRun; handle: JobHandle }>): Promise<Map<string, JobState>> {
    const states = new Map<string, JobState>();
    if (jobs.length === 0) return states;
    const ids = jobs.map((job) => job.handle.jobId);
    const rows = new Map<string, SlurmRow>();
    const unknown = new Set<string>();
    for (const row of await this.squeue(ids, unknown)) rows.set(row.jobId, row);
    const missing = ids.filter((id) => !rows.has(id) || !ACTIVE_SLURM.has(rows.get(id)!.state));
    if (missing.length > 0) {
      for (const row of await this.sacct(missing)) {
        const queued = rows.get(row.jobId);
        // squeue knows the reason (DependencyNeverSatisfied); sacct knows exit code and elapsed time.
        rows.set(row.jobId, queued ? { ...queued, exitCode: row.exitCode, elapsedS: row.elapsedS, start: queued.start ?? row.start, end: queued.end ?? row.end } : row);
      }
    }
    for (const { run, handle } of jobs) {
      const row = rows.get(handle.jobId);
      const file = readStatusFile(run.runDir);
      const state = mapState(row, file);
      if (state) states.set(handle.jobId, state);
      else if (unknown.has(handle.jobId)) {
        // The controller answered that it has no such job, accounting has no record, and the job
        // left no verdict: it died without a trace (killed, node lost). Waiting would be forever.
        states.set(handle.jobId, { status: 'interrupted', detail: `SLURM no longer knows job ${handle.jobId} and it recorded no outcome; rerunning will resubmit it` });
      }
    }
    return states;
  }

  /** Rows for the ids squeue knows; ids it answered "Invalid job id" for go into `unknown`. */
  private async squeue(ids: string[], unknown: Set<string>): Promise<SlurmRow[]> {
    const result = await slurm('squeue', ['-h', '-r', '-t', 'all', '-j', ids.join(','), '-o', '%i|%T|%r|%N|%S|%e']);
    // squeue fails outright when one id is unknown (purged); then ask one by one.
    if (!result.ok && ids.length > 1) return (await Promise.all(ids.map((id) => this.squeue([id], unknown)))).flat();
    if (!result.ok) {
      if (/invalid job id/i.test(result.stderr)) unknown.add(ids[0]!);
      return [];
    }
    return result.stdout
      .split('\n')
      .filter((line) => line.includes('|'))
      .map((line) => {
        const [jobId = '', state = '', reason = '', node = '', start, end] = line.split('|');
        return { jobId, state: state.split(' ')[0]!, reason, node, start: validTime(start), end: validTime(end) };
      });
  }

  private async sacct(ids: string[]): Promise<SlurmRow[]> {
    const format = ['--parsable2', '-n', '-X', '--format=JobID,State,ExitCode,Start,End,Elapsed,NodeList', '-j', ids.join(',')];
    if (this.accounting !== false) {
      const result = await slurm('sacct', format);
      if (result.ok) {
        this.accounting = true;
        return parseSacct(result.stdout);
      }
      this.accounting = false;
    }
    // Without slurmdbd, the job-completion log still answers for finished jobs.
    const completion = await slurm('sacct', ['-c', ...format.filter((f) => f !== '-X')]);
    return completion.ok ? parseSacct(completion.stdout) : [];
  }

  async cancel(jobs: ReadonlyArray<{ run: PlannedRun; handle: JobHandle }>): Promise<void> {
    if (jobs.length === 0) return;
    await slurm('scancel', jobs.map((job) => job.handle.jobId));
  }

  async adopt(runs: readonly PlannedRun[]): Promise<Map<string, JobHandle>> {
    const adopted = new Map<string, JobHandle>();
    if (runs.length === 0) return adopted;
    const user = process.env.USER ?? process.env.LOGNAME;
    const result = await slurm('squeue', ['-h', '-r', ...(user ? ['-u', user] : []), '-o', '%i|%j|%T']);
    if (!result.ok) return adopted;
    const byPrefix = new Map(runs.map((run) => [run.key.slice(0, 12), run]));
    const arrays = new Map<string, string[]>();
    for (const line of result.stdout.split('\n')) {
      const [jobId = '', name = '', state = ''] = line.split('|');
      if (!ACTIVE_SLURM.has(state)) continue;
      const single = /^ck-([0-9a-f]{12})-/.exec(name);
      if (single) {
        const run = byPrefix.get(single[1]!);
        if (run && !adopted.has(run.key)) adopted.set(run.key, { executor: this.name, jobId });
        continue;
      }
      const array = /^ck-array-(.+)$/.exec(name);
      const task = /^(\d+)_(\d+)$/.exec(jobId);
      if (array && task) {
        const listFile = join(runs[0]!.runDir, '..', '.arrays', `${array[1]}.list`);
        let keys = arrays.get(listFile);
        if (!keys) {
          try {
            keys = readFileSync(listFile, 'utf8').split('\n').map((l) => l.split(' ')[0]!);
          } catch {
            keys = [];
          }
          arrays.set(listFile, keys);
        }
        const key = keys[Number(task[2])];
        const run = runs.find((r) => r.key === key);
        if (run && !adopted.has(run.key)) adopted.set(run.key, { executor: this.name, jobId });
      }
    }
    return adopted;
  }

  waitForChange(ms: number): Promise<void> {
    return sleep(Math.max(ms, (this.options.local.slurm?.poll_seconds ?? 1) * 1000));
  }

  async close(): Promise<void> {}
}

function directivesOf(request: SubmitRequest): string[] {
  const text = readFileSync(request.generated.jobScript, 'utf8');
  return text
    .split('\n')
    .filter((line) => line.startsWith('#SBATCH '))
    .map((line) => line.slice('#SBATCH '.length));
}

function validTime(text: string | undefined): string | undefined {
  if (!text || text === 'N/A' || text === 'Unknown' || text === 'None') return undefined;
  return text;
}

function parseSacct(stdout: string): SlurmRow[] {
  return stdout
    .split('\n')
    .filter((line) => line.includes('|'))
    .map((line) => {
      const [jobId = '', state = '', exit = '', start, end, elapsed = '', node = ''] = line.split('|');
      const [code] = exit.split(':');
      return { jobId, state: state.split(' ')[0]!, reason: state, node, exitCode: code === undefined ? undefined : Number(code), start: validTime(start), end: validTime(end), elapsedS: parseElapsed(elapsed) };
    })
    .filter((row) => !row.jobId.includes('.'));
}

function parseElapsed(text: string): number | undefined {
  const match = /^(?:(\d+)-)?(\d+):(\d+):(\d+)$/.exec(text.trim());
  if (!match) return undefined;
  return Number(match[1] ?? 0) * 86400 + Number(match[2]) * 3600 + Number(match[3]) * 60 + Number(match[4]);
}

/** SLURM's view and the job's own status file, combined: the file knows "diverged", SLURM knows "OOM". */
export function mapState(row: SlurmRow | undefined, file: ReturnType<typeof readStatusFile>): JobState | undefined {
  const fromFile = (): JobState | undefined =>
    file && file.status !== 'running'
      ? { status: file.status, detail: file.detail || undefined, exitCode: file.exit_code, startedAt: file.started_at, finishedAt: file.finished_at, node: file.host, elapsedS: elapsedSeconds(file.started_at, file.finished_at) }
      : undefined;
  if (!row) return fromFile();
  const base = { node: row.node || undefined, startedAt: file?.started_at ?? row.start, finishedAt: file?.finished_at || row.end, exitCode: row.exitCode, elapsedS: row.elapsedS ?? elapsedSeconds(file?.started_at, file?.finished_at || undefined) };
  const terminal = (status: RunStatus, detail?: string): JobState => ({ ...base, ...(fromFile() ?? {}), status: fromFile()?.status === 'diverged' || fromFile()?.status === 'blocked' ? fromFile()!.status : status, detail: fromFile()?.detail ?? detail });
  switch (row.state) {
    case 'PENDING':
      if (row.reason.includes('DependencyNeverSatisfied')) return { ...base, status: 'cancelled', detail: 'an upstream job failed, so this one can never start' };
      return { ...base, status: 'queued', detail: row.reason && row.reason !== 'None' ? `pending: ${row.reason}` : undefined };
    case 'CONFIGURING':
    case 'RUNNING':
    case 'COMPLETING':
    case 'SUSPENDED':
    case 'REQUEUED':
    case 'RESIZING':
    case 'STAGE_OUT':
    case 'SIGNALING':
      return { ...base, status: 'running' };
    case 'COMPLETED':
      return { ...base, ...(fromFile() ?? {}), status: fromFile()?.status ?? 'succeeded' };
    case 'FAILED':
      return terminal('failed', `SLURM: FAILED${row.exitCode !== undefined ? ` (exit ${row.exitCode})` : ''}`);
    case 'CANCELLED':
      if (row.reason.includes('DependencyNeverSatisfied')) return { ...base, status: 'cancelled', detail: 'an upstream job failed, so SLURM cancelled this one' };
      if (row.reason.includes('Dependency')) return { ...base, status: 'cancelled', detail: 'cancelled while waiting for its upstream jobs' };
      return { ...base, status: 'cancelled', detail: `SLURM: ${row.reason || 'CANCELLED'}` };
    case 'TIMEOUT':
      return { ...base, status: 'timeout', detail: 'hit its time limit: raise resources.<step>.time in the experiment (not part of any run key, so nothing else reruns)' };
    case 'OUT_OF_MEMORY':
      return { ...base, status: 'oom', detail: 'ran out of memory: raise resources.<step>.mem, or lower batch_size (keep the effective batch size with effective_batch_size)' };
    case 'NODE_FAIL':
      return { ...base, status: 'failed', detail: 'the node failed; rerunning will resubmit it' };
    case 'PREEMPTED':
      return { ...base, status: 'interrupted', detail: 'preempted; rerunning will resubmit it' };
    case 'BOOT_FAIL':
    case 'DEADLINE':
      return { ...base, status: 'failed', detail: `SLURM: ${row.state}` };
    default:
      return fromFile() ?? { ...base, status: 'running', detail: `SLURM state ${row.state}` };
  }
}
