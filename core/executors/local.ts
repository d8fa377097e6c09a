/**
 * The local executor: job scripts as child processes of this machine, in dependency order (the
 * orchestrator only submits runs whose upstream finished), with a concurrency limit and one GPU
 * per GPU job. Children run in their own process group and survive a crash of ckbuild; the next
 * invocation finds them through the pid in their status file and waits for them.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { isProcessAlive } from '../lock.js';
import type { PlannedRun } from '../plan.js';
import { elapsedSeconds, readStatusFile } from './statusFile.js';
import { jobLogPath, jobScriptPath } from '../runDir.js';
import type { Executor, JobHandle, JobState, SubmitRequest, SubmitResult } from './types.js';

interface Child {
  process: ChildProcess;
  gpus: number[];
  exited: boolean;
}

export interface LocalExecutorOptions {
  jobs: number;
  /** GPU indices to hand out; empty when the machine has none. */
  gpus: number[];
  /** The environment jobs start with (the CLI passes its own; core never reads the environment). */
  environment: Record<string, string | undefined>;
}

/**
 * Whether `pid` is still the job of this run: a live process whose command line runs this run's
 * job script. A recorded pid may have been reused by an unrelated process (or be 1); such a pid is
 * never adopted, waited on or signalled. Zombies are not alive.
 */
export function isJobProcess(pid: number | undefined, jobScript: string): boolean {
  if (pid === undefined || !Number.isInteger(pid) || pid <= 1) return false;
  try {
    const status = readFileSync(`/proc/${pid}/stat`, 'utf8');
    if (/^\d+ \(.*\) Z /.test(status)) return false;
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(jobScript);
  } catch {
    // No /proc (not Linux): fall back to "a process with that pid exists", never for pid 1.
    return process.platform !== 'linux' && isProcessAlive(pid);
  }
}

export class LocalExecutor implements Executor {
  readonly name = 'local';
  readonly handlesDependencies = false;
  readonly capacity: number;
  private readonly children = new Map<number, Child>();
  private readonly freeGpus: number[];
  private wake: (() => void) | undefined;
  private readonly host = hostname();

  constructor(private readonly options: LocalExecutorOptions) {
    this.capacity = options.jobs;
    this.freeGpus = [...options.gpus];
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
    // The job writes straight into its own log file (an fd it inherits), never through a pipe to
    // ckbuild: a job must outlive the ckbuild that started it, and a pipe whose reader died would
    // kill it with SIGPIPE at its next line of output.
    const log = openSync(jobLogPath(run.runDir), 'a');
    const env: Record<string, string> = { ...this.options.environment, CK_EXECUTOR: 'local' };
    if (gpus.length > 0) env.CUDA_VISIBLE_DEVICES = gpus.join(',');
    let child: ChildProcess;
    try {
      child = spawn('bash', [generated.jobScript], { cwd: run.runDir, env, stdio: ['ignore', log, log], detached: true });
    } finally {
      closeSync(log);
    }
    const pid = child.pid;
    if (pid === undefined) {
      this.freeGpus.push(...gpus);
      return { error: 'could not start bash' };
    }
    const entry: Child = { process: child, gpus, exited: false };
    this.children.set(pid, entry);
    child.on('error', () => {});
    child.on('exit', () => {
      entry.exited = true;
      this.freeGpus.push(...entry.gpus);
      entry.gpus = [];
      this.wake?.();
    });
    // The job is in its own process group; ckbuild may exit while it runs.
    child.unref();
    return { handle: { executor: this.name, jobId: `local:${pid}`, host: this.host, pid } };
  }

  async poll(jobs: ReadonlyArray<{ run: PlannedRun; handle: JobHandle }>): Promise<Map<string, JobState>> {
    const states = new Map<string, JobState>();
    for (const { run, handle } of jobs) {
      const pid = handle.pid;
      const child = pid === undefined ? undefined : this.children.get(pid);
      const alive = child ? !child.exited : handle.host === this.host && isJobProcess(pid, jobScriptOf(run));
      const file = readStatusFile(run.runDir);
      if (alive) {
        states.set(run.id, { status: 'running', startedAt: file?.started_at, node: this.host });
        continue;
      }
      if (child) this.children.delete(pid!);
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
      const child = handle.pid === undefined ? undefined : this.children.get(handle.pid);
      while (Date.now() < deadline && handle.pid !== undefined && (child ? !child.exited : isJobProcess(handle.pid, jobScriptOf(run)))) {
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
    this.wake?.();
  }
}

function jobScriptOf(run: PlannedRun): string {
  return jobScriptPath(run.runDir);
}
