/**
 * The SLURM executor. One job per run, or one array for a group of runs with identical
 * directives (arrays.ts); pipeline edges as `--dependency=afterok:<ids>` (or `aftercorr`
 * between arrays) with `--kill-on-invalid-dep=yes`, so a whole experiment is submitted at once
 * and ckbuild returns. Every job carries its run's key and runs root (ownership.ts): a run's
 * state comes only from its own job, and a crashed or repeated invocation adopts its own jobs —
 * never another checkout's — instead of submitting twice.
 */
import { mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { LocalConfig } from '../../localConfig.js';
import { sbatchDirectives, slurmJobName } from '../../jobScript.js';
import type { PlannedRun } from '../../plan.js';
import { onPath } from '../path.js';
import { readStatusFile } from '../statusFile.js';
import type { Executor, JobHandle, JobState, SubmitRequest, SubmitResult } from '../types.js';
import { readTail } from '../../fileTail.js';
import { groupIntoArrays, slurmLogPath, indexSpec, writeArrayFiles, type ArrayJob } from './arrays.js';
import { isTransient, oneLine, pingController, sleep, slurmCommand, COMMAND_TIMEOUT_MS, CONTROLLER_REFUSING, type ControllerAnswer } from './commands.js';
import { readPartitions, unsatisfiable, type PartitionLimits } from './limits.js';
import {
  arrayComment,
  arraysDir,
  belongsTo,
  clearMarker,
  describeStranger,
  jobComment,
  keyOfRow,
  parseComment,
  processAlive,
  processesSubmitting,
  readMarker,
  rememberArray,
  rootIdentity,
  runsRootOf,
  writeMarker,
} from './ownership.js';
import { Accounting, squeueActive, squeueByName, squeueJobs } from './queue.js';
import { ACTIVE_SLURM, mapState, mayBeMemoryKill, neverStarts, type SlurmRow } from './states.js';

export interface SlurmExecutorOptions {
  local: LocalConfig;
  experiment: string;
  /** Whose jobs to look through when adopting (squeue -u); all visible jobs when absent. */
  user?: string;
}

/** Groups of at least this many runs with identical directives go out as one array (slurm.array_min). */
export const DEFAULT_ARRAY_MIN = 10;
/** SLURM's own default MaxArraySize, used when the controller does not say. */
const DEFAULT_MAX_ARRAY_SIZE = 1001;

export class SlurmExecutor implements Executor {
  readonly name = 'slurm';
  readonly handlesDependencies = true;
  readonly capacity: number;
  private lastSubmit = 0;
  private readonly minInterval: number;
  private readonly retries: number;
  private readonly accounting = new Accounting();
  private sbatchFound: boolean | undefined;
  private controller: Promise<ControllerAnswer> | undefined;
  private partitions: Promise<PartitionLimits[] | undefined> | undefined;
  private maxArraySize: Promise<number> | undefined;
  private arrayCounter = 0;
  /**
   * Job ids (array ids without the task) this executor handed out or polled, with the keys they
   * belong to: an id the controller hands out again (it lost the job that had it, in a crash)
   * must never be recorded for a second run.
   */
  private readonly issued = new Map<string, Set<string>>();

  constructor(private readonly options: SlurmExecutorOptions) {
    const settings = options.local.slurm ?? {};
    this.capacity = settings.max_queued ?? 500;
    this.minInterval = settings.submit_rate ? 1000 / settings.submit_rate : 0;
    this.retries = settings.retries ?? 4;
  }

  /** Asked once: a controller that is not there fails the first call within seconds. */
  private probe(): Promise<ControllerAnswer> {
    this.controller ??= pingController();
    return this.controller;
  }

  private limits(): Promise<PartitionLimits[] | undefined> {
    this.partitions ??= readPartitions();
    return this.partitions;
  }

  private arraySize(): Promise<number> {
    this.maxArraySize ??= slurmCommand('scontrol', ['show', 'config'], 15_000).then((result) => {
      const match = /^MaxArraySize\s*=\s*(\d+)/m.exec(result.stdout);
      return match ? Number(match[1]) : DEFAULT_MAX_ARRAY_SIZE;
    });
    return this.maxArraySize;
  }

  private remember(jobId: string, key: string): void {
    const base = jobId.split('_')[0]!;
    const keys = this.issued.get(base);
    if (keys) keys.add(key);
    else this.issued.set(base, new Set([key]));
  }

  async submit(request: SubmitRequest): Promise<SubmitResult> {
    const [result] = await this.submitBatch([request]);
    return result!;
  }

  async submitBatch(requests: SubmitRequest[]): Promise<SubmitResult[]> {
    const results = new Map<SubmitRequest, SubmitResult>();
    this.sbatchFound ??= onPath('sbatch');
    if (!this.sbatchFound) {
      const unavailable = 'sbatch is not available on this machine (not on PATH): run ckbuild on a cluster login node, or use --executor local';
      return requests.map(() => ({ unavailable }));
    }
    const controller = await this.probe();
    if (controller.state === 'down') return requests.map(() => ({ unavailable: controller.message }));

    // Requests the cluster can never run fail here, each with its own reason.
    const partitions = await this.limits();
    const flags = new Map<SubmitRequest, string[]>();
    for (const request of requests) {
      const why = partitions ? unsatisfiable(request.generated.resources, partitions) : undefined;
      if (why) {
        results.set(request, { error: why, status: 'failed' });
        continue;
      }
      try {
        flags.set(request, resourceFlags(request));
      } catch (error) {
        results.set(request, { error: (error as Error).message, status: 'failed' });
      }
    }
    // Upstream jobs must still be the ones that carry the upstream keys: SLURM treats an
    // unknown id as satisfied, and a reused id as someone else's job.
    for (const [request, problem] of await this.checkDependencies(requests.filter((r) => !results.has(r) && r.dependencies.length > 0))) {
      results.set(request, { deferred: problem });
    }

    const ready = requests.filter((request) => !results.has(request));
    const arrayMin = this.options.local.slurm?.array_min ?? DEFAULT_ARRAY_MIN;
    const { arrays, singles } = groupIntoArrays(ready, (request) => flags.get(request)!.join(' '), arrayMin, await this.arraySize());
    for (const job of arrays) {
      const submitted = await this.submitArray(job, flags.get(job.requests[0]!)!);
      job.requests.forEach((request, position) => results.set(request, submitted[position]!));
    }
    for (const request of singles) results.set(request, await this.submitOne(request, flags.get(request)!));
    return requests.map((request) => results.get(request)!);
  }

  /** For each request whose upstream jobs are gone or now someone else's: why it must wait. */
  private async checkDependencies(requests: SubmitRequest[]): Promise<Map<SubmitRequest, string>> {
    const problems = new Map<SubmitRequest, string>();
    if (requests.length === 0) return problems;
    const ids = [...new Set(requests.flatMap((r) => r.dependencies.map((d) => d.jobId)))];
    const answer = await squeueJobs(ids);
    if (!answer.ok) return problems; // the controller is busy: sbatch's own retries deal with it
    const rows = new Map(answer.rows.map((row) => [row.jobId, row]));
    for (const request of requests) {
      const root = runsRootOf(request.run);
      const upstreamKeys = new Set(Object.values(request.run.upstream).map((up) => up.key));
      for (const dependency of request.dependencies) {
        const row = rows.get(dependency.jobId);
        if (!row) {
          problems.set(request, `waiting: SLURM no longer knows upstream job ${dependency.jobId}; its outcome is read before this run is submitted`);
          break;
        }
        const key = row.comment?.startsWith('ckbuild') ? keyOfRow(row, root) : [...upstreamKeys].find((k) => row.name?.startsWith(`ck-${k.slice(0, 12)}-`));
        if (!key || !upstreamKeys.has(key)) {
          problems.set(request, `waiting: upstream job ${dependency.jobId} is not the upstream run's job (${describeStranger(row)}); its outcome is read before this run is submitted`);
          break;
        }
      }
    }
    return problems;
  }

  private async submitOne(request: SubmitRequest, flags: string[]): Promise<SubmitResult> {
    const { run, generated, dependencies } = request;
    const outputs = join(run.runDir, 'outputs');
    // SLURM does not create the --output directory; a missing one makes the job fail at start.
    mkdirSync(outputs, { recursive: true });
    const root = runsRootOf(run);
    const jobName = slurmJobName(run.key, run.name);
    const args = [
      '--parsable',
      `--job-name=${jobName}`,
      `--comment=${jobComment(run.key, rootIdentity(root))}`,
      ...flags,
      `--chdir=${run.runDir}`,
      `--output=${join(outputs, 'slurm-%j.out')}`,
      `--error=${join(outputs, 'slurm-%j.out')}`,
      '--export=ALL,CK_EXECUTOR=slurm',
    ];
    if (dependencies.length > 0) args.push(`--dependency=afterok:${dependencies.map((d) => d.jobId).join(':')}`, '--kill-on-invalid-dep=yes');
    args.push(generated.jobScript);
    writeMarker(run, jobName);
    const result = await this.sbatch(args, jobName, (row) => keyOfRow(row, root) === run.key, [run.key]);
    if (!('handle' in result)) {
      // Unavailable may mean "landed, unseen": the marker makes the next invocation look twice.
      if (!('unavailable' in result)) clearMarker(run);
      return result;
    }
    writeMarker(run, jobName, result.handle.jobId);
    return result;
  }

  private async submitArray(job: ArrayJob, flags: string[]): Promise<SubmitResult[]> {
    const first = job.requests[0]!;
    const root = runsRootOf(first.run);
    mkdirSync(arraysDir(root), { recursive: true });
    const list = `${Date.now().toString(36)}-${process.pid.toString(36)}-${(this.arrayCounter++).toString(36)}`;
    const { driver, keysByIndex, output } = writeArrayFiles(root, list, job);
    rememberArray(root, list, keysByIndex);
    for (const request of job.requests) mkdirSync(join(request.run.runDir, 'outputs'), { recursive: true });
    const throttle = this.options.local.slurm?.array_throttle;
    const jobName = `ck-array-${list}`;
    const args = [
      '--parsable',
      `--job-name=${jobName}`,
      `--comment=${arrayComment(list, rootIdentity(root))}`,
      ...flags,
      `--array=${indexSpec(job.indexes)}${throttle ? `%${throttle}` : ''}`,
      `--output=${output}`,
      '--export=ALL,CK_EXECUTOR=slurm',
    ];
    if (job.dependency) args.push(`--dependency=${job.dependency}`, '--kill-on-invalid-dep=yes');
    args.push(driver);
    for (const request of job.requests) writeMarker(request.run, jobName);
    const keys = job.requests.map((r) => r.run.key);
    const result = await this.sbatch(args, jobName, (row) => parseComment(row.comment).kind === 'array' && (parseComment(row.comment) as { list: string }).list === list, keys);
    if (!('handle' in result)) {
      if (!('unavailable' in result)) for (const request of job.requests) clearMarker(request.run);
      return job.requests.map(() => result);
    }
    const base = result.handle.jobId;
    return job.requests.map((request, position) => {
      const jobId = `${base}_${job.indexes[position]}`;
      this.remember(jobId, request.run.key);
      writeMarker(request.run, jobName, jobId);
      return { handle: { executor: this.name, jobId } };
    });
  }

  /**
   * sbatch with retries for transient failures. A timed-out sbatch may still have reached the
   * controller, so before each retry the job is looked up by its name and comment: a
   * submission that did land is adopted, never submitted twice. An id the controller already
   * gave to another of our runs (it lost that job in a crash and counts again from its last
   * saved state) is cancelled and asked for again, so no two runs ever record one id.
   */
  private async sbatch(args: string[], jobName: string, ours: (row: SlurmRow) => boolean, keys: string[]): Promise<SubmitResult> {
    let delay = 1000;
    let reused = 0;
    for (let attempt = 0; ; attempt++) {
      const wait = this.lastSubmit + this.minInterval - Date.now();
      if (wait > 0) await sleep(wait);
      this.lastSubmit = Date.now();
      const started = Date.now();
      const result = await slurmCommand('sbatch', args, COMMAND_TIMEOUT_MS, CONTROLLER_REFUSING);
      if (result.gaveUp) {
        const refusal = oneLine(result.stderr).replace(/, sleeping and retrying/i, '');
        // sbatch's own retry may have landed just before it was stopped: adopted, never doubled.
        const landed = await this.findLanded(jobName, ours, started);
        if (landed === 'unreachable') return { unavailable: unknownWhetherQueued(refusal) };
        if (landed) return this.jobOf(landed, keys);
        return { unavailable: `the SLURM controller is not accepting jobs (${refusal}): its job table is full (MaxJobCount; finished jobs stay in it for MinJobAge) or submissions are paused; nothing was recorded for the runs not submitted, run ckbuild again later` };
      }
      if (result.ok) {
        const jobId = result.stdout.trim().split(';')[0]!.trim();
        if (!/^\d+$/.test(jobId)) return { error: `sbatch printed no job id: ${oneLine(result.stdout)}`, status: 'failed' };
        const holders = this.issued.get(jobId);
        if (holders && keys.some((key) => !holders.has(key)) && reused < 20) {
          // The earlier holder's job is lost; its own poll says so (the id now names this job).
          reused++;
          await slurmCommand('scancel', [jobId]);
          attempt = -1;
          continue;
        }
        return this.jobOf(jobId, keys);
      }
      const message = result.timedOut ? `sbatch did not answer within ${COMMAND_TIMEOUT_MS / 1000} s` : oneLine(result.stderr) || oneLine(result.stdout) || 'sbatch failed';
      // A hung sbatch is like a timed-out one: the job may have landed, so it is looked up below.
      const transient = result.timedOut === true || isTransient(message);
      if (!transient) return { error: `sbatch rejected the job: ${message}`, status: 'failed' };
      if (attempt >= this.retries) return { unavailable: `the SLURM controller kept failing (${attempt + 1} tries of sbatch): ${message}; nothing was recorded for the runs not submitted, run ckbuild again` };
      await sleep(delay);
      delay = Math.min(delay * 2, 30_000);
      const landed = await this.findLanded(jobName, ours, started);
      if (landed === 'unreachable') return { unavailable: unknownWhetherQueued(message) };
      if (landed) return this.jobOf(landed, keys);
    }
  }

  /** The runs' job from now on: the id sbatch printed, or the one found queued after it failed or was stopped. */
  private jobOf(jobId: string, keys: string[]): SubmitResult {
    for (const key of keys) this.remember(jobId, key);
    return { handle: { executor: this.name, jobId } };
  }

  /**
   * Our job with this name submitted since `since`, asked until the controller answers. A
   * controller that was unresponsive may still hold the timed-out submission and process it
   * just after answering (measured: a stopped slurmctld answered squeue first, then created the
   * job), so "not there" counts only after two answers a second apart.
   */
  private async findLanded(jobName: string, ours: (row: SlurmRow) => boolean, since: number): Promise<string | undefined | 'unreachable'> {
    let delay = 1000;
    let emptyAnswers = 0;
    for (let attempt = 0; attempt <= this.retries + 4; attempt++) {
      const answer = await squeueByName(jobName);
      if (answer.ok) {
        const row = answer.rows.find((r) => ours(r) && (ACTIVE_SLURM.has(r.state) || !r.submit || Date.parse(r.submit) >= since - 5_000));
        if (row) return row.jobId.split('_')[0];
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
    for (const { run, handle } of jobs) this.remember(handle.jobId, run.key);
    const ids = [...new Set(jobs.map((job) => job.handle.jobId))];
    const answer = await squeueJobs(ids);
    if (!answer.ok) return states; // no answer is no news: ask again next time
    const queued = new Map(answer.rows.map((row) => [row.jobId, row]));
    const finished = ids.filter((id) => !queued.has(id) || !ACTIVE_SLURM.has(queued.get(id)!.state));
    const accounted = new Map<string, SlurmRow[]>();
    for (const row of await this.accounting.rows(finished)) accounted.set(row.jobId, [...(accounted.get(row.jobId) ?? []), row]);
    const hopeless: string[] = [];
    for (const { run, handle } of jobs) {
      const id = handle.jobId;
      let file = readStatusFile(run.runDir);
      // A verdict written by another job (an earlier attempt) is not this job's.
      if (file?.job_id && file.job_id !== id && !id.includes('_')) file = undefined;
      const inQueue = queued.get(id);
      const fromAccounting = accounted.get(id) ?? [];
      let row: SlurmRow | undefined;
      let stranger: SlurmRow | undefined;
      if (inQueue && !belongsTo(inQueue, run)) stranger = inQueue;
      else if (inQueue) {
        const books = fromAccounting.find((r) => belongsTo(r, run));
        row = books ? { ...inQueue, exitCode: books.exitCode, signal: books.signal, elapsedS: books.elapsedS, start: inQueue.start ?? books.start, end: inQueue.end ?? books.end, reason: /^CANCELLED by/.test(books.reason) ? books.reason : inQueue.reason } : inQueue;
      } else {
        row = fromAccounting.find((r) => belongsTo(r, run));
        stranger = row ? undefined : fromAccounting[0];
      }
      let state: JobState | undefined;
      if (row) {
        state = mapState(row, file, mayBeMemoryKill(row, file) ? this.logTail(run, row) : undefined);
        if (row.state === 'PENDING' && neverStarts(row.reason)) hopeless.push(id);
      } else {
        const own = file && file.status !== 'running' && (file.job_id === id || id.includes('_')) ? mapState(undefined, file, mayBeMemoryKill(undefined, file) ? readTail(slurmLogPath(run.runDir, id), 64 * 1024) : undefined) : undefined;
        state =
          own ??
          (stranger
            ? { status: 'interrupted', detail: `SLURM lost job ${id} (${describeStranger(stranger)}: the controller gave its id to another job, after a crash or restart); rerunning resubmits this run` }
            : { status: 'interrupted', detail: `SLURM no longer knows job ${id} and it recorded no outcome; rerunning resubmits it` });
      }
      if (state) states.set(run.id, state);
    }
    // A job that can never start would sit in the queue forever: take it out.
    if (hopeless.length > 0) await slurmCommand('scancel', hopeless);
    return states;
  }

  /** The end of a job's output, where slurmstepd says why it killed the job. */
  private logTail(run: PlannedRun, row: SlurmRow): string | undefined {
    const owner = parseComment(row.comment);
    return readTail(slurmLogPath(run.runDir, row.jobId, owner.kind === 'array' ? owner.list : undefined), 64 * 1024);
  }

  /** Cancels only jobs that are still these runs' own: never a reused id, never another checkout's job. */
  async cancel(jobs: ReadonlyArray<{ run: PlannedRun; handle: JobHandle }>): Promise<void> {
    if (jobs.length === 0) return;
    const answer = await squeueJobs([...new Set(jobs.map((job) => job.handle.jobId))]);
    if (!answer.ok) return;
    const rows = new Map(answer.rows.map((row) => [row.jobId, row]));
    const ids = jobs.filter(({ run, handle }) => {
      const row = rows.get(handle.jobId);
      return row !== undefined && ACTIVE_SLURM.has(row.state) && belongsTo(row, run);
    });
    if (ids.length > 0) await slurmCommand('scancel', [...new Set(ids.map((job) => job.handle.jobId))]);
  }

  /**
   * Jobs already queued or running for these runs: those whose comment carries the run's key
   * and this runs root. A submission another (dead) ckbuild left in flight is waited for first:
   * its sbatch may still be talking to the controller.
   */
  async adopt(runs: readonly PlannedRun[]): Promise<Map<string, JobHandle>> {
    const adopted = new Map<string, JobHandle>();
    if (runs.length === 0) return adopted;
    this.sbatchFound ??= onPath('sbatch');
    if (!this.sbatchFound || (await this.probe()).state === 'down') return adopted;
    const inFlight = await this.waitForSubmissionsInFlight(runs);
    const byOwner = new Map<string, PlannedRun>();
    const roots = new Map<string, string>();
    for (const run of runs) {
      const root = runsRootOf(run);
      roots.set(rootIdentity(root), root);
      byOwner.set(`${rootIdentity(root)}:${run.key}`, run);
    }
    // After a submission that was in flight, the controller must answer twice before "not there" counts.
    for (let round = 0; round < (inFlight ? 2 : 1); round++) {
      if (round > 0) await sleep(1000);
      const answer = await squeueActive(this.options.user);
      if (!answer.ok) continue;
      for (const row of answer.rows) {
        if (!ACTIVE_SLURM.has(row.state)) continue;
        const owner = parseComment(row.comment);
        if (owner.kind === 'none') continue;
        const root = roots.get(owner.root);
        if (!root) continue; // another checkout's job
        const key = keyOfRow(row, root);
        const run = key ? byOwner.get(`${owner.root}:${key}`) : undefined;
        if (run && !adopted.has(run.key)) {
          adopted.set(run.key, { executor: this.name, jobId: row.jobId });
          this.remember(row.jobId, run.key);
        }
      }
    }
    return adopted;
  }

  /** Waits (bounded) for sbatch calls a killed ckbuild left running; true if there were any. */
  private async waitForSubmissionsInFlight(runs: readonly PlannedRun[]): Promise<boolean> {
    const here = hostname();
    const names = new Set<string>();
    let remote = 0;
    for (const run of runs) {
      const marker = readMarker(run.runDir);
      if (marker?.state !== 'submitting' || marker.key !== run.key || marker.root !== rootIdentity(runsRootOf(run))) continue;
      if (marker.host === here && marker.pid === process.pid) continue;
      names.add(marker.job_name);
      if (marker.host !== here) remote = Math.max(remote, Date.parse(marker.started_at) + COMMAND_TIMEOUT_MS + 5_000);
      else if (processAlive(marker.pid)) remote = Math.max(remote, Date.now() + COMMAND_TIMEOUT_MS + 5_000);
    }
    if (names.size === 0) return false;
    const deadline = Date.now() + COMMAND_TIMEOUT_MS + 5_000;
    while (Date.now() < deadline) {
      const busy = [...names].some((name) => processesSubmitting(name).length > 0) || Date.now() < Math.min(remote, deadline);
      if (!busy) break;
      await sleep(250);
    }
    return true;
  }

  waitForChange(ms: number): Promise<void> {
    return sleep(Math.max(ms, (this.options.local.slurm?.poll_seconds ?? 1) * 1000));
  }

  async close(): Promise<void> {}
}

/** The run's resources as sbatch flags (the job name and comment are added per job). */
function resourceFlags(request: SubmitRequest): string[] {
  return sbatchDirectives(request.run.key, request.run.name, request.generated.resources)
    .filter((line) => !line.startsWith('--job-name='))
    .map((line) => (line.startsWith('--') ? line : `--${line}`));
}

function unknownWhetherQueued(message: string): string {
  return `sbatch failed and the controller did not answer afterwards, so whether the job was queued is unknown; run ckbuild again to check (it adopts the job if it exists): ${message}`;
}
