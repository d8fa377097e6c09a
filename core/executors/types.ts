/**
 * The executor interface core depends on. Local processes and SLURM implement it; the build
 * orchestrator (core/build.ts) never knows which one it talks to.
 */
import type { GeneratedRun } from '../generate.js';
import type { RunStatus } from '../manifest.js';
import type { PlannedRun } from '../plan.js';

export interface JobHandle {
  executor: string;
  jobId: string;
  host?: string;
  pid?: number;
}

export interface JobState {
  status: RunStatus;
  detail?: string;
  exitCode?: number;
  startedAt?: string;
  finishedAt?: string;
  node?: string;
  elapsedS?: number;
  gpuHours?: number;
}

export interface SubmitRequest {
  run: PlannedRun;
  generated: GeneratedRun;
  /** Upstream jobs still queued or running (only for executors that handle dependencies). */
  dependencies: JobHandle[];
}

/**
 * What became of a submission: accepted (with the job that carries it), deferred (a resource such
 * as a GPU is busy: offer it again after something finishes), rejected with a verdict on the run,
 * or unavailable: the executor cannot take any run now (no controller answers, no sbatch). That is
 * no verdict on the run: nothing is recorded for it and the build stops submitting.
 */
export type SubmitResult = { handle: JobHandle } | { deferred: string } | { error: string; status?: RunStatus } | { unavailable: string };

export interface Executor {
  readonly name: string;
  /** SLURM can hold a job until its upstream jobs succeed; the local executor cannot. */
  readonly handlesDependencies: boolean;
  /** How many runs may be in flight at once (local -j; SLURM's queue cap). */
  readonly capacity: number;
  /**
   * Called once before a build's first submission, while its run directories are written: what
   * submitting needs may start meanwhile (the local executor's job starter, whose Python takes
   * 10–65 ms to start; without it the first jobs of a 200-run build start the slow way).
   */
  prepare?(): void;
  submit(request: SubmitRequest): Promise<SubmitResult>;
  /** Several ready runs at once (SLURM groups independent ones into a job array). */
  submitBatch?(requests: SubmitRequest[]): Promise<SubmitResult[]>;
  /**
   * Current state of the given jobs, by run id: each run's state comes from the job that carries
   * its own key, never from whatever now has its job id (a controller may hand an id out again).
   * A run absent from the answer had no news (ask again later).
   */
  poll(jobs: ReadonlyArray<{ run: PlannedRun; handle: JobHandle }>): Promise<Map<string, JobState>>;
  cancel(jobs: ReadonlyArray<{ run: PlannedRun; handle: JobHandle }>): Promise<void>;
  /** Jobs already queued or running for these runs, found by the executor itself (after a crash). */
  adopt(runs: readonly PlannedRun[]): Promise<Map<string, JobHandle>>;
  /** Resolves when something may have changed (a local child exited), or after `ms`. */
  waitForChange(ms: number): Promise<void>;
  close(): Promise<void>;
}
