/**
 * The execute stage: hands generated runs to an executor in dependency order and follows them
 * until they finish (or, for an executor that queues, until everything is submitted). Every
 * transition goes to the recorder as it happens; progress leaves as events.
 *
 * A run can start when each of its upstream runs is up to date, or is held by an executor that
 * enforces dependencies itself (SLURM's afterok). A run whose upstream failed is skipped, and so
 * is everything below it.
 */
import { type Claim, type ClaimOwner, claimRun, describeHolder, heartbeat, liveHolder, recordClaimJob, releaseClaim } from './claim.js';
import type { CrashHook } from './crash.js';
import type { EventSink } from './events.js';
import type { Executor, JobHandle, JobState, SubmitRequest, SubmitResult } from './executors/types.js';
import type { GeneratedRun } from './generate.js';
import { ACTIVE_STATUSES, FAILED_STATUSES, type RunStatus } from './manifest.js';
import type { Plan, PlannedRun } from './plan.js';
import { type Executors, type InFlightJob, pollJobs, type Finding, verdictInRunDir } from './reconcile.js';
import type { Recorder } from './recorder.js';
import { jobLogFor } from './jobLog.js';
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
  /**
   * Who claims runs in the runs root (core/claim.ts): this checkout. Default: the project folder.
   * A run claimed by another live process is waited for and its verdict taken, never started.
   */
  checkout?: string;
  /** Test-only crash injection at the named points of a build (core/crash.ts). */
  crash?: CrashHook;
}

/** A run another process holds the claim on: this build waits for its verdict. */
interface Watched {
  run: PlannedRun;
  holder: ClaimOwner;
  /** When this build first saw the claim: verdicts older than the holder's claim are not its. */
  since: string;
}

/** Verdicts of another claimer that say nothing about the run itself: the run is claimed and run here. */
const RETRY_AFTER_OTHERS = new Set<RunStatus>(['cancelled', 'interrupted']);

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
  /** Stale runs this build never started (it stopped at a failure, or was interrupted). */
  notStarted: string[];
  /**
   * Why `notStarted` is not empty when it is not a failure: the queue cap was reached (SLURM's
   * slurm.max_queued: the rest goes out with the next invocation), or the executor cannot take
   * runs now (its message; nothing was recorded for them).
   */
  stoppedBy?: { kind: 'queue-cap'; capacity: number } | { kind: 'unavailable'; message: string };
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
  /** The queue holds `capacity` runs of this build: with a queuing executor, the rest waits for the next invocation. */
  private capReached = false;
  /** The executor cannot take runs now (its message). */
  private unavailable: string | undefined;
  /** Runs claimed by another live process, by id. */
  private readonly watching = new Map<string, Watched>();
  /** Claims this build holds, by key. */
  private readonly claims = new Map<string, Claim>();
  private readonly crash: CrashHook;

  constructor(
    private readonly plan: Plan,
    private readonly targets: Targets,
    private readonly generated: ReadonlyMap<string, GeneratedRun>,
    private readonly inFlight: Map<string, InFlightJob>,
    private readonly options: ExecuteOptions,
  ) {
    this.executor = options.executors.primary;
    this.emit = options.onEvent ?? (() => {});
    this.crash = options.crash ?? (() => {});
    this.pending = [...targets.runs];
    this.upToDate = new Set(plan.runs.filter((run) => run.state === 'up-to-date').map((run) => run.id));
  }

  async run(): Promise<Execution> {
    const wait = this.options.wait ?? true;
    const queues = this.executor.handlesDependencies;
    let cancelled = false;
    this.crash('after-generate');
    while (this.pending.length > 0 || this.watching.size > 0 || (this.inFlight.size > 0 && (wait || !queues))) {
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
      if (this.pending.length > 0 && this.inFlight.size === 0 && this.watching.size === 0 && submittedNow === 0) {
        // Nothing can start and nothing will finish: the rest waits on runs that will not run.
        for (const run of this.pending.splice(0)) this.skip(run, 'its upstream runs did not run');
        break;
      }
      this.progress();
      // A queuing executor holds what was submitted; nothing here needs waiting for.
      if (!wait && queues && (this.pending.length === 0 || this.capReached || this.stopSubmitting)) break;
      // Their dependents can go out right away: SLURM holds them on the new job ids.
      if (queues && submittedNow > 0 && this.pending.length > 0) continue;
      if (this.inFlight.size > 0 || this.watching.size > 0) await this.waitAndPoll();
    }
    if (cancelled) await this.cancelInFlight();
    else if (!this.options.keepGoing) this.skipBelowFailures();
    // Claims of runs that are not running any more (rejected, never started) are released; those
    // of jobs still queued or running stay, naming the job, so nobody else starts them.
    const running = new Set([...this.inFlight.values()].map((job) => job.run.key));
    for (const [key, claim] of this.claims) {
      if (running.has(key)) continue;
      releaseClaim(claim);
      this.claims.delete(key);
    }
    this.progress();
    this.options.recorder.persist(true);
    const stillRunning = new Map([...this.inFlight.values()].map((job) => [job.run.id, job.handle.jobId]));
    const notStarted = this.pending.map((run) => run.id);
    const stoppedBy = this.unavailable !== undefined ? { kind: 'unavailable' as const, message: this.unavailable } : this.capReached && notStarted.length > 0 ? { kind: 'queue-cap' as const, capacity: this.executor.capacity } : undefined;
    return { outcomes: this.outcomes, inFlight: stillRunning, submitted: this.submitted, cancelled, upToDate: this.upToDate, notStarted, ...(stoppedBy ? { stoppedBy } : {}) };
  }

  /**
   * A build stopped at a failure leaves the runs below it unstarted: they are recorded skipped,
   * naming the upstream run, so an evaluation whose fine-tune failed (or was rejected) says why.
   * Runs that do not depend on the failure stay unrecorded: the next build starts them.
   */
  private skipBelowFailures(): void {
    for (let index = 0; index < this.pending.length; ) {
      const run = this.pending[index]!;
      const failed = this.failedUpstream(run);
      if (failed === undefined) {
        index++;
        continue;
      }
      this.pending.splice(index, 1);
      this.skip(run, `upstream run ${failed} did not succeed`);
    }
  }

  /** Gathers what can start now and submits it together (an executor may batch it). Returns how many started. */
  private async submitReady(): Promise<number> {
    const batch: SubmitRequest[] = [];
    const inBatch = new Set<string>();
    this.capReached = false;
    if (this.options.recorder.failure) this.stopSubmitting = true;
    for (let index = 0; index < this.pending.length && !this.stopSubmitting; ) {
      if (this.inFlight.size + batch.length >= this.executor.capacity) {
        this.capReached = true;
        break;
      }
      const run = this.pending[index]!;
      const upstream = this.upstreamOf(run);
      const failed = this.failedUpstream(run) ?? upstream.find((id) => this.willNotRun(id, inBatch));
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
      // The claim comes first: a run another checkout is running is waited for, one it finished is reused.
      if ((await this.gate(run)) !== 'go') {
        this.pending.splice(index, 1);
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
    const notTaken: PlannedRun[] = [];
    batch.forEach((request, position) => {
      const result = results[position]!;
      if ('unavailable' in result) {
        // No verdict on the run: it stays unrecorded and unclaimed, for the next invocation.
        this.unavailable ??= result.unavailable;
        this.stopSubmitting = true;
        this.release(request.run);
        notTaken.push(request.run);
      } else if ('deferred' in result) {
        this.pending.unshift(request.run); // a resource (a GPU) is busy: try again after something finishes
        deferred++;
      } else if ('error' in result) this.rejected(request.run, result.status ?? 'failed', result.error);
      else {
        this.accepted(request, result.handle);
        startedNow++;
      }
    });
    this.pending.unshift(...notTaken);
    this.options.recorder.persist();
    if (startedNow === 0 && deferred > 0 && this.inFlight.size === 0) await this.executor.waitForChange(this.options.pollMs ?? 1000);
    return startedNow;
  }

  /**
   * Claims the run in its directory before anything starts it. 'go': this build holds the claim
   * and must run it. Otherwise the run is taken care of: another live process holds it (watched),
   * a finished run with its key is there (reused), a job for it was found (adopted), or it cannot
   * be claimed (rejected).
   */
  private async gate(run: PlannedRun): Promise<'go' | 'handled'> {
    if (this.claims.has(run.key)) return 'go'; // ours already (a deferred submission)
    const result = claimRun(run.runDir, run.key, this.options.checkout ?? this.plan.experiment.projectDir);
    if ('error' in result) {
      this.rejected(run, 'failed', result.error);
      return 'handled';
    }
    if (!result.claimed) {
      this.watching.set(run.id, { run, holder: result.holder, since: result.holder.started_at });
      this.emit({ type: 'waiting', id: run.id, name: run.name, holder: describeHolder(result.holder) });
      return 'handled';
    }
    this.claims.set(run.key, result.claim);
    const forced = run.reasons.some((reason) => reason.kind === 'forced');
    const verdict = forced ? undefined : verdictInRunDir(run);
    if (verdict?.state.status === 'succeeded') {
      // Finished by another checkout (or a ckbuild that died before recording it): reuse it.
      this.reuse(run, verdict, 'found finished in its run directory');
      return 'handled';
    }
    if (result.tookOver) {
      // The previous claimer is gone; its job may not be (a queued SLURM job, say).
      const adopted = (await this.executor.adopt([run])).get(run.key);
      if (adopted) {
        recordClaimJob(result.claim, adopted);
        this.inFlight.set(run.id, { run, handle: adopted });
        this.options.recorder.update(run, { status: 'running', executor: adopted.executor, job_id: adopted.jobId, host: adopted.host, pid: adopted.pid });
        this.emit({ type: 'adopted', id: run.id, name: run.name, jobId: adopted.jobId });
        return 'handled';
      }
    }
    return 'go';
  }

  /** Takes a verdict another process's job left for this key as this build's outcome. */
  private reuse(run: PlannedRun, verdict: { handle: JobHandle; state: JobState }, how: string): void {
    this.options.recorder.recordState(run, verdict.handle, verdict.state, this.generated.get(run.id));
    this.emit({ type: 'reused', id: run.id, name: run.name, status: verdict.state.status, detail: how });
    this.finished(run, verdict.state, false);
  }

  /** Runs claimed by others whose claim ended: take their verdict, or claim and run them here. */
  private checkWatched(): void {
    for (const [id, watched] of [...this.watching]) {
      if (liveHolder(watched.run.runDir)) continue;
      this.watching.delete(id);
      const verdict = verdictInRunDir(watched.run, watched.since);
      if (verdict && !RETRY_AFTER_OTHERS.has(verdict.state.status)) this.reuse(watched.run, verdict, `run by ${describeHolder(watched.holder)}`);
      else this.pending.unshift(watched.run); // its claimer went away without a verdict
    }
  }

  /** Retires earlier verdicts, then submits; a run whose status file cannot be replaced is not started. */
  private async submitBatch(batch: SubmitRequest[]): Promise<SubmitResult[]> {
    const results: (SubmitResult | undefined)[] = batch.map((request) => {
      const problem = retireStatusFile(request.run.runDir);
      return problem ? { error: problem, status: 'failed' } : undefined;
    });
    const sendable = batch.filter((_, position) => results[position] === undefined);
    for (let i = 0; i < sendable.length; i++) this.crash('before-submit');
    const answers = sendable.length === 0 ? [] : this.executor.submitBatch ? await this.executor.submitBatch(sendable) : await Promise.all(sendable.map((request) => this.executor.submit(request)));
    sendable.forEach((request, position) => {
      const answer = answers[position];
      const claim = this.claims.get(request.run.key);
      if (answer && 'handle' in answer && claim) recordClaimJob(claim, answer.handle);
    });
    for (const answer of answers) if ('handle' in answer) this.crash('after-submit');
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
      artifacts: request.generated.artifacts,
      env: this.options.environment(),
    });
    this.submitted.add(run.id);
    this.emit({ type: 'submitted', id: run.id, name: run.name, jobId: handle.jobId, executor: handle.executor });
  }

  private rejected(run: PlannedRun, status: RunStatus, error: string): void {
    this.release(run);
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

  /** The runs (as executed: a twin stands for its key) that `run` needs. */
  private upstreamOf(run: PlannedRun): string[] {
    return [...new Set(Object.values(run.upstream).map((up) => this.targets.executing(up.id)))];
  }

  /** An upstream run of `run` that failed or was skipped in this build, if any. */
  private failedUpstream(run: PlannedRun): string | undefined {
    return this.upstreamOf(run).find((id) => this.hasFailed(id));
  }

  private hasFailed(id: string): boolean {
    const status = this.outcomes.get(id);
    return status !== undefined && (FAILED_STATUSES.has(status) || status === 'skipped');
  }

  /** A stale upstream that is neither pending, in flight nor in this batch will not run in this build. */
  private willNotRun(id: string, inBatch: ReadonlySet<string>): boolean {
    return !this.upToDate.has(id) && this.plan.byId.get(id)?.state === 'stale' && !this.pending.some((p) => p.id === id) && !this.inFlight.has(id) && !inBatch.has(id) && !this.watching.has(id);
  }

  /** An executor can hold a run on upstream jobs it started itself (SLURM afterok), no others. */
  private heldByExecutor(id: string, inBatch: ReadonlySet<string>): boolean {
    return this.executor.handlesDependencies && (this.inFlight.get(id)?.handle.executor === this.executor.name || inBatch.has(id));
  }

  private async waitAndPoll(): Promise<void> {
    if (this.inFlight.size > 0) await this.executor.waitForChange(this.options.pollMs ?? 1000);
    else await new Promise((resolve) => setTimeout(resolve, this.options.pollMs ?? 1000));
    for (const claim of this.claims.values()) heartbeat(claim);
    this.checkWatched();
    const findings: Finding[] = [];
    await pollJobs(this.inFlight, this.options.executors, this.options.recorder, findings);
    for (const finding of findings) if (finding.kind === 'finished') this.finished(finding.run, finding.state);
    this.options.recorder.persist();
  }

  /** A run's job ended: it and every run sharing its key (content addressing: one run) take its outcome. */
  private finished(run: PlannedRun, state: JobState, announce = true): void {
    if (!ACTIVE_STATUSES.has(state.status)) this.release(run);
    for (const twin of this.targets.twins.get(run.key) ?? [run]) {
      this.outcomes.set(twin.id, state.status);
      if (state.status === 'succeeded') this.upToDate.add(twin.id);
    }
    if (announce) this.emit({ type: 'finished', id: run.id, name: run.name, status: state.status, detail: state.detail, elapsedS: state.elapsedS, ...(state.status === 'succeeded' ? {} : { log: jobLogFor(run.runDir, this.options.recorder.recordOf(run)?.job_id) }) });
    if (!this.options.keepGoing && FAILED_STATUSES.has(state.status) && state.status !== 'blocked' && this.submitted.has(run.id)) this.stopSubmitting = true;
  }

  /** The job's verdict is known (or it never started): others may claim the run now. */
  private release(run: PlannedRun): void {
    const claim = this.claims.get(run.key);
    if (!claim) return;
    releaseClaim(claim);
    this.claims.delete(run.key);
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
