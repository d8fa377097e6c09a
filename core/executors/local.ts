/**
 * The local executor: job scripts as child processes of this machine, in dependency order (the
 * orchestrator only submits runs whose upstream finished), with a concurrency limit and one GPU
 * per GPU job. Jobs are started by the job starter (./jobStarter.ts), or by ckbuild itself where it
 * cannot run; either way each runs in its own session and process group and survives a crash of
 * ckbuild; the next invocation finds them through the pid in their status file and waits for them.
 */
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { isProcessAlive } from '../lock.js';
import type { PlannedRun } from '../plan.js';
import { JOB_STARTER_VARIABLE, JobStarter, type StartResult } from './jobStarter.js';
import { elapsedSeconds, readStatusFile } from './statusFile.js';
import { jobLogPath, jobScriptPath } from '../runDir.js';
import type { Executor, JobHandle, JobState, SubmitRequest, SubmitResult } from './types.js';

interface Child {
  gpus: number[];
  exited: boolean;
  /**
   * Started by the job starter: its `exited` line is a prompt to look, and whether the job still
   * runs is read from /proc, so a starter that is killed never leaves a job "running" forever. A
   * job ckbuild started itself is its own child: its exit event is the truth.
   */
  viaStarter: boolean;
}

export interface LocalExecutorOptions {
  jobs: number;
  /** GPU indices to hand out; empty when the machine has none. */
  gpus: number[];
  /** The environment jobs start with (the CLI passes its own; core never reads the environment). */
  environment: Record<string, string | undefined>;
}

/** How long a start the job starter never answered is looked for before the job is started again. */
const UNANSWERED_START_GRACE_MS = 2_000;

/**
 * Whether `pid` is still the job of this run: a live process whose command line runs this run's
 * job script. A recorded pid may have been reused by an unrelated process (or be 1); such a pid is
 * never adopted, waited on or signalled. Zombies are not alive.
 */
export function isJobProcess(pid: number | undefined, jobScript: string, whileExecing = false): boolean {
  if (pid === undefined || !Number.isInteger(pid) || pid <= 1) return false;
  try {
    const status = readFileSync(`/proc/${pid}/stat`, 'utf8');
    if (/^\d+ \(.*\) Z /.test(status)) return false;
    const commandLine = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    // posix_spawn returns as the exec begins: for an instant the job's command line reads empty.
    if (whileExecing && commandLine === '') return true;
    return commandLine.split('\0').includes(jobScript);
  } catch {
    // No /proc (not Linux): fall back to "a process with that pid exists", never for pid 1.
    return process.platform !== 'linux' && isProcessAlive(pid);
  }
}

/** The pid of a live process running this job script, if any (a job whose pid was never learnt). */
export function findJobProcess(jobScript: string): number | undefined {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return undefined;
  }
  for (const entry of entries) {
    if (/^\d+$/.test(entry) && isJobProcess(Number(entry), jobScript)) return Number(entry);
  }
  return undefined;
}

export class LocalExecutor implements Executor {
  readonly name = 'local';
  readonly handlesDependencies = false;
  readonly capacity: number;
  private readonly children = new Map<number, Child>();
  private readonly freeGpus: number[];
  private wake: (() => void) | undefined;
  private readonly host = hostname();
  private readonly environment: Record<string, string>;
  private readonly starter: JobStarter;
  /** A job ended while nobody waited for a change: the next wait returns at once. */
  private endedUnseen = false;

  constructor(private readonly options: LocalExecutorOptions) {
    this.capacity = options.jobs;
    this.freeGpus = [...options.gpus];
    this.environment = { ...definedOnly(options.environment), CK_EXECUTOR: 'local' };
    this.starter = new JobStarter(this.environment, (pid) => this.ended(pid), options.environment[JOB_STARTER_VARIABLE]);
  }

  prepare(): void {
    this.starter.warmUp();
  }

  async submit({ run, generated }: SubmitRequest): Promise<SubmitResult> {
    const wanted = generated.resources.gpus ?? 0;
    const gpus: number[] = [];
    if (wanted > 0 && this.options.gpus.length > 0) {
      if (wanted > this.options.gpus.length) return { error: `needs ${wanted} GPU(s) but this machine has ${this.options.gpus.length}`, status: 'blocked' };
      if (this.freeGpus.length < wanted) return { deferred: 'waiting for a free GPU' };
      gpus.push(...this.freeGpus.splice(0, wanted));
    }
    mkdirSync(join(run.runDir, 'outputs'), { recursive: true });
    const jobScript = generated.jobScript;
    // The job writes straight into its own log file, never through a pipe to ckbuild: a job must
    // outlive the ckbuild that started it, and a pipe whose reader died would kill it with SIGPIPE
    // at its next line of output.
    const started: StartResult = await this.starter.start({ jobScript, log: jobLogPath(run.runDir), gpus });
    if (started === 'unknown') {
      // The helper stopped before saying whether it started this run: never start it twice.
      const pid = await this.startedAfterAll(run, jobScript);
      if (pid !== undefined) return this.accepted(pid, gpus, true);
      return this.startHere(run, jobScript, gpus);
    }
    if (started === 'not-taken') return this.startHere(run, jobScript, gpus);
    if ('error' in started) {
      this.freeGpus.push(...gpus);
      return { error: started.error };
    }
    return this.accepted(started.pid, gpus, true);
  }

  /**
   * Whether the job whose start the stopped job starter never answered ran after all: its pid if
   * it did (it runs, or its status file says it ran: any earlier attempt's was moved aside before
   * this one was submitted), undefined once it certainly did not start. Waited for here, inside
   * the submission, where nothing moves that status file aside again.
   */
  private async startedAfterAll(run: PlannedRun, jobScript: string): Promise<number | undefined> {
    const deadline = Date.now() + UNANSWERED_START_GRACE_MS;
    for (;;) {
      const pid = readStatusFile(run.runDir)?.pid ?? findJobProcess(jobScript);
      if (pid !== undefined || Date.now() >= deadline) return pid;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** Starts the job as ckbuild's own child: where the job starter cannot run, or has stopped. */
  private startHere(run: PlannedRun, jobScript: string, gpus: number[]): SubmitResult {
    const log = openSync(jobLogPath(run.runDir), 'a');
    const env = gpus.length > 0 ? { ...this.environment, CUDA_VISIBLE_DEVICES: gpus.join(',') } : this.environment;
    let child;
    try {
      child = spawn('bash', [jobScript], { cwd: run.runDir, env, stdio: ['ignore', log, log], detached: true });
    } finally {
      closeSync(log);
    }
    const pid = child.pid;
    if (pid === undefined) {
      this.freeGpus.push(...gpus);
      return { error: 'could not start bash' };
    }
    child.on('error', () => {});
    child.on('exit', () => this.ended(pid));
    // The job is in its own process group; ckbuild may exit while it runs.
    child.unref();
    return this.accepted(pid, gpus, false);
  }

  private accepted(pid: number, gpus: number[], viaStarter: boolean): SubmitResult {
    this.children.set(pid, { gpus, exited: false, viaStarter });
    return { handle: { executor: this.name, jobId: `local:${pid}`, host: this.host, pid } };
  }

  /** A job of ours ended (or was seen gone): its GPUs are free again, and the build looks. */
  private ended(pid: number): void {
    const entry = this.children.get(pid);
    if (!entry || entry.exited) return;
    entry.exited = true;
    this.freeGpus.push(...entry.gpus);
    entry.gpus = [];
    if (this.wake) this.wake();
    else this.endedUnseen = true;
  }

  /** Whether the job with this pid still runs: ours by what we heard (and /proc for the starter's), a stranger's by /proc. */
  private running(pid: number | undefined, run: PlannedRun): boolean {
    const child = pid === undefined ? undefined : this.children.get(pid);
    if (!child) return isJobProcess(pid, jobScriptOf(run));
    if (child.exited) return false;
    if (child.viaStarter && !isJobProcess(pid, jobScriptOf(run), true)) {
      this.ended(pid!);
      return false;
    }
    return true;
  }

  async poll(jobs: ReadonlyArray<{ run: PlannedRun; handle: JobHandle }>): Promise<Map<string, JobState>> {
    const states = new Map<string, JobState>();
    for (const { run, handle } of jobs) {
      const pid = handle.pid;
      const alive = handle.host === this.host && this.running(pid, run);
      const file = readStatusFile(run.runDir);
      if (alive) {
        states.set(run.id, { status: 'running', startedAt: file?.started_at, node: this.host });
        continue;
      }
      if (pid !== undefined) this.children.delete(pid);
      if (!file || file.status === 'running') {
        states.set(run.id, { status: 'interrupted', detail: 'the job process ended without recording an outcome (killed?)', node: this.host });
        continue;
      }
      states.set(run.id, {
        status: file.status,
        detail: file.detail || undefined,
        exitCode: file.exit_code,
        startedAt: file.started_at,
        finishedAt: file.finished_at,
        node: file.host,
        elapsedS: elapsedSeconds(file.started_at, file.finished_at),
      });
    }
    return states;
  }

  async cancel(jobs: ReadonlyArray<{ run: PlannedRun; handle: JobHandle }>): Promise<void> {
    for (const { run, handle } of jobs) {
      if (handle.host !== this.host) continue;
      const own = handle.pid !== undefined && this.children.has(handle.pid);
      if (!own && !isJobProcess(handle.pid, jobScriptOf(run))) continue; // never signal a stranger
      if (handle.pid === undefined) continue;
      // The job script traps TERM, stops its framework's process group and records "cancelled".
      try {
        process.kill(-handle.pid, 'SIGTERM');
      } catch {
        try {
          process.kill(handle.pid, 'SIGTERM');
        } catch {
          // Already gone.
        }
      }
    }
    const deadline = Date.now() + 10_000;
    for (const { run, handle } of jobs) {
      while (Date.now() < deadline && handle.pid !== undefined && this.running(handle.pid, run)) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  }

  async adopt(runs: readonly PlannedRun[]): Promise<Map<string, JobHandle>> {
    const adopted = new Map<string, JobHandle>();
    for (const run of runs) {
      const file = readStatusFile(run.runDir);
      if (file?.status === 'running' && file.host === this.host && isJobProcess(file.pid, jobScriptOf(run))) {
        adopted.set(run.key, { executor: this.name, jobId: `local:${file.pid}`, host: this.host, pid: file.pid });
      }
    }
    return adopted;
  }

  waitForChange(ms: number): Promise<void> {
    // A job that ended while the build was busy elsewhere (awaiting a start) has already changed things.
    if (this.endedUnseen) {
      this.endedUnseen = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const self = this;
      function done(): void {
        clearTimeout(timer);
        if (self.wake === done) self.wake = undefined;
        resolve();
      }
      this.wake = done;
    });
  }

  async close(): Promise<void> {
    this.starter.close();
    this.wake?.();
  }
}

function definedOnly(environment: Record<string, string | undefined>): Record<string, string> {
  const defined: Record<string, string> = {};
  for (const [name, value] of Object.entries(environment)) if (value !== undefined) defined[name] = value;
  return defined;
}

function jobScriptOf(run: PlannedRun): string {
  return jobScriptPath(run.runDir);
}
