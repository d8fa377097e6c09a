/**
 * The execute stage: hands generated runs to an executor in dependency order and follows them
 * until they finish (or, for an executor that queues, until everything is submitted). Every
 * transition goes to the recorder as it happens; progress leaves as events.
 *
 * A run can start when each of its upstream runs is up to date, or is held by an executor that
 * enforces dependencies itself (SLURM's afterok). A run whose upstream failed is skipped, and so
 * is everything below it.
 */
import type { EventSink } from './events.js';
import type { Executor, JobHandle, JobState, SubmitRequest, SubmitResult } from './executors/types.js';
import type { GeneratedRun } from './generate.js';
import { ACTIVE_STATUSES, FAILED_STATUSES, type RunStatus } from './manifest.js';
import type { Plan, PlannedRun } from './plan.js';
import { type Executors, type InFlightJob, pollJobs, type Finding } from './reconcile.js';
import type { Recorder } from './recorder.js';
import { retireStatusFile } from './runDir.js';
import type { Targets } from './targets.js';

export interface ExecuteOptions {
  executors: Executors;
  recorder: Recorder;
  /** Provenance recorded with each submission (ckbuild version, git commit). */
  environment: () => RunEnvironment;
  keepGoing?: boolean;
  /** Wait for submitted runs to finish (always, for executors that cannot queue). */
  wait?: boolean;
  signal?: AbortSignal;
  onEvent?: EventSink;
  pollMs?: number;
}

export type RunEnvironment = NonNullable<import('./manifest.js').RunRecord['env']>;

export interface Execution {
  /** Final status of every run this build touched. */
  outcomes: Map<string, RunStatus>;
  /** Runs still queued or running when the build returned, with their job ids. */
  inFlight: Map<string, string>;
  /** Runs this build submitted (not those it found already running). */
  submitted: Set<string>;
  cancelled: boolean;
  /** Ids of every run that is up to date now. */
  upToDate: Set<string>;
}

export async function execute(plan: Plan, targets: Targets, generated: ReadonlyMap<string, GeneratedRun>, inFlight: Map<string, InFlightJob>, options: ExecuteOptions): Promise<Execution> {
  const scheduler = new Scheduler(plan, targets, generated, inFlight, options);
  return scheduler.run();
}

class Scheduler {
  private readonly executor: Executor;
  private readonly emit: EventSink;
  private readonly outcomes = new Map<string, RunStatus>();
  private readonly submitted = new Set<string>();
  private readonly upToDate: Set<string>;
  private readonly pending: PlannedRun[];
  private readonly started = Date.now();
  private stopSubmitting = false;

  constructor(
    private readonly plan: Plan,
    private readonly targets: Targets,
    private readonly generated: ReadonlyMap<string, GeneratedRun>,
    private readonly inFlight: Map<string, InFlightJob>,
    private readonly options: ExecuteOptions,
  ) {
    this.executor = options.executors.primary;
    this.emit = options.onEvent ?? (() => {});
    this.pending = [...targets.runs];
    this.upToDate = new Set(plan.runs.filter((run) => run.state === 'up-to-date').map((run) => run.id));
  }

  async run(): Promise<Execution> {
    const wait = this.options.wait ?? true;
    const queues = this.executor.handlesDependencies;
    let cancelled = false;
    while (this.pending.length > 0 || (this.inFlight.size > 0 && (wait || !queues))) {
      if (this.options.signal?.aborted) {
        cancelled = true;
        break;
      }
      const submittedNow = await this.submitReady();
      if (this.stopSubmitting && this.inFlight.size === 0) break;
      if (this.options.recorder.failure && this.pending.length > 0) {
        // Nothing more can be recorded: leave the rest unstarted rather than start it unrecorded.
        this.pending.splice(0);
        continue;
      }
      if (this.pending.length > 0 && this.inFlight.size === 0 && submittedNow === 0) {
        // Nothing can start and nothing will finish: the rest waits on runs that will not run.
        for (const run of this.pending.splice(0)) this.skip(run, 'its upstream runs did not run');
        break;
      }
      this.progress();
      if (!wait && queues && this.pending.length === 0) break;
      // Their dependents can go out right away: SLURM holds them on the new job ids.
      if (queues && submittedNow > 0 && this.pending.length > 0) continue;
      if (this.inFlight.size > 0) await this.waitAndPoll();
    }
    if (cancelled) await this.cancelInFlight();
    this.progress();
    this.options.recorder.persist(true);
    const stillRunning = new Map([...this.inFlight.values()].map((job) => [job.run.id, job.handle.jobId]));
    return { outcomes: this.outcomes, inFlight: stillRunning, submitted: this.submitted, cancelled, upToDate: this.upToDate };
  }

  /** Gathers what can start now and submits it together (an executor may batch it). Returns how many started. */
  private async submitReady(): Promise<number> {
    const batch: SubmitRequest[] = [];
    const inBatch = new Set<string>();
    if (this.options.recorder.failure) this.stopSubmitting = true;
    for (let index = 0; index < this.pending.length && !this.stopSubmitting; ) {
      if (this.inFlight.size + batch.length >= this.executor.capacity) break;
      const run = this.pending[index]!;
      const upstream = [...new Set(Object.values(run.upstream).map((up) => this.targets.executing(up.id)))];
      const failed = upstream.find((id) => this.hasFailed(id) || this.willNotRun(id, inBatch));
      if (failed) {
        this.pending.splice(index, 1);
        this.skip(run, `upstream run ${failed} did not succeed`);
        continue;
      }
      const ready = upstream.every((id) => this.upToDate.has(id) || this.heldByExecutor(id, inBatch));
      // A run whose upstream is in this very batch waits for that one's job id.
      if (!ready || upstream.some((id) => inBatch.has(id))) {
        index++;
        continue;
      }
      const dependencies = upstream.filter((id) => this.inFlight.has(id)).map((id) => this.inFlight.get(id)!.handle);
      batch.push({ run, generated: this.generated.get(run.id)!, dependencies });
      inBatch.add(run.id);
      this.pending.splice(index, 1);
    }
    if (batch.length === 0) return 0;
    const results = await this.submitBatch(batch);
    let startedNow = 0;
    let deferred = 0;
    batch.forEach((request, position) => {
      const result = results[position]!;
      if ('deferred' in result) {
        this.pending.unshift(request.run); // a resource (a GPU) is busy: try again after something finishes
        deferred++;
      } else if ('error' in result) this.rejected(request.run, result.status ?? 'failed', result.error);
      else {
        this.accepted(request, result.handle);
        startedNow++;
      }
    });
    this.options.recorder.persist();
    if (startedNow === 0 && deferred > 0 && this.inFlight.size === 0) await this.executor.waitForChange(this.options.pollMs ?? 1000);
    return startedNow;
  }

  /** Retires earlier verdicts, then submits; a run whose status file cannot be replaced is not started. */
  private async submitBatch(batch: SubmitRequest[]): Promise<SubmitResult[]> {
    const results: (SubmitResult | undefined)[] = batch.map((request) => {
      const problem = retireStatusFile(request.run.runDir);
      return problem ? { error: problem, status: 'failed' } : undefined;
    });
    const sendable = batch.filter((_, position) => results[position] === undefined);
    const answers = sendable.length === 0 ? [] : this.executor.submitBatch ? await this.executor.submitBatch(sendable) : await Promise.all(sendable.map((request) => this.executor.submit(request)));
    let next = 0;
    return results.map((result) => result ?? answers[next++]!);
  }

  private accepted(request: SubmitRequest, handle: JobHandle): void {
    const run = request.run;
    const recorder = this.options.recorder;
    const attempts = (recorder.recordOf(run)?.attempts ?? 0) + 1;
    this.inFlight.set(run.id, { run, handle });
    recorder.update(run, {
      status: this.executor.handlesDependencies ? 'queued' : 'running',
      detail: undefined,
      executor: handle.executor,
      job_id: handle.jobId,
      host: handle.host,
      pid: handle.pid,
      submitted_at: recorder.now(),
      started_at: undefined,
      finished_at: undefined,
      exit_code: undefined,
      elapsed_s: undefined,
      gpu_hours: undefined,
      outputs: undefined,
      metrics: undefined,
      attempts,
      resources: request.generated.resources,
      env: this.options.environment(),
    });
    this.submitted.add(run.id);
    this.emit({ type: 'submitted', id: run.id, name: run.name, jobId: handle.jobId, executor: handle.executor });
  }

  private rejected(run: PlannedRun, status: RunStatus, error: string): void {
    this.outcomes.set(run.id, status);
    this.options.recorder.update(run, { status, detail: error, finished_at: this.options.recorder.now() });
    this.emit({ type: 'finished', id: run.id, name: run.name, status, detail: error });
    if (!this.options.keepGoing && status !== 'blocked') this.stopSubmitting = true;
  }

  private skip(run: PlannedRun, detail: string): void {
    this.outcomes.set(run.id, 'skipped');
    this.options.recorder.update(run, { status: 'skipped', detail });
    this.emit({ type: 'skipped', id: run.id, name: run.name, detail });
  }

  private hasFailed(id: string): boolean {
    const status = this.outcomes.get(id);
    return status !== undefined && (FAILED_STATUSES.has(status) || status === 'skipped');
  }

  /** A stale upstream that is neither pending, in flight nor in this batch will not run in this build. */
  private willNotRun(id: string, inBatch: ReadonlySet<string>): boolean {
    return !this.upToDate.has(id) && this.plan.byId.get(id)?.state === 'stale' && !this.pending.some((p) => p.id === id) && !this.inFlight.has(id) && !inBatch.has(id);
  }

  /** An executor can hold a run on upstream jobs it started itself (SLURM afterok), no others. */
  private heldByExecutor(id: string, inBatch: ReadonlySet<string>): boolean {
    return this.executor.handlesDependencies && (this.inFlight.get(id)?.handle.executor === this.executor.name || inBatch.has(id));
  }

  private async waitAndPoll(): Promise<void> {
    await this.executor.waitForChange(this.options.pollMs ?? 1000);
    const findings: Finding[] = [];
    await pollJobs(this.inFlight, this.options.executors, this.options.recorder, findings);
    for (const finding of findings) if (finding.kind === 'finished') this.finished(finding.run, finding.state);
    this.options.recorder.persist();
  }

  /** A run's job ended: it and every run sharing its key (content addressing: one run) take its outcome. */
  private finished(run: PlannedRun, state: JobState): void {
    for (const twin of this.targets.twins.get(run.key) ?? [run]) {
      this.outcomes.set(twin.id, state.status);
      if (state.status === 'succeeded') this.upToDate.add(twin.id);
    }
    this.emit({ type: 'finished', id: run.id, name: run.name, status: state.status, detail: state.detail, elapsedS: state.elapsedS });
    if (!this.options.keepGoing && FAILED_STATUSES.has(state.status) && state.status !== 'blocked' && this.submitted.has(run.id)) this.stopSubmitting = true;
  }

  private async cancelInFlight(): Promise<void> {
    const running = [...this.inFlight.values()];
    this.emit({ type: 'cancelling', running: running.length });
    const groups = new Map<Executor, InFlightJob[]>();
    for (const job of running) {
      const owner = job.handle.executor === this.executor.name ? this.executor : this.options.executors.byName(job.handle.executor);
      if (owner) groups.set(owner, [...(groups.get(owner) ?? []), job]);
    }
    for (const [owner, jobs] of groups) await owner.cancel(jobs);
    const findings: Finding[] = [];
    await pollJobs(this.inFlight, this.options.executors, this.options.recorder, findings);
    for (const finding of findings) if (finding.kind === 'finished') this.finished(finding.run, finding.state);
    for (const job of [...this.inFlight.values()]) {
      const state: JobState = { status: 'cancelled', detail: 'cancelled by the user', finishedAt: this.options.recorder.now() };
      this.options.recorder.recordState(job.run, job.handle, state);
      this.inFlight.delete(job.run.id);
      this.finished(job.run, state);
    }
  }

  private progress(): void {
    const finished = [...this.outcomes.values()];
    this.emit({
      type: 'progress',
      done: finished.filter((status) => status === 'succeeded').length,
      running: this.inFlight.size,
      queued: this.pending.length,
      failed: finished.filter((status) => status !== 'succeeded').length,
      total: this.targets.runs.length,
      elapsedS: (Date.now() - this.started) / 1000,
    });
  }
}

export { ACTIVE_STATUSES };
