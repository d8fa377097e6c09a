/**
 * Bringing an experiment up to date: reconcile runs in flight, generate the stale ones, execute
 * them in dependency order through an executor, and record every transition in the manifest.
 * Core never prints: progress leaves as events, the outcome as a value.
 */
import type { Rule } from './rule.js';
import type { Diagnostic } from './diagnostics.js';
import type { EventSink } from './events.js';
import type { Executor, JobHandle, JobState, SubmitRequest } from './executors/types.js';
import { declaredOutputs, generateRun, type GeneratedRun } from './generate.js';
import { ACTIVE_STATUSES, FAILED_STATUSES, type RunRecord, type RunStatus, writeManifest } from './manifest.js';
import type { Plan, PlannedRun } from './plan.js';
import { baseRecord, describeOutputs, frameworkVersions, gpuHours, readMetricsSafely } from './records.js';
import { runEnvironment } from './environment.js';
import { elapsedSeconds, readStatusFile } from './executors/statusFile.js';
import { existsSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';

export interface BuildOptions {
  executor: Executor;
  rules: { get(name: string): Rule | undefined };
  /** Which stale runs to bring up to date (their stale upstream runs come along). Default: all. */
  select?: (run: PlannedRun) => boolean;
  keepGoing?: boolean;
  dryRun?: boolean;
  /** Wait for submitted runs to finish (always true for executors that cannot queue). */
  wait?: boolean;
  signal?: AbortSignal;
  onEvent?: EventSink;
  pollMs?: number;
  /** Only refresh the state of runs in flight from the executor (`ckbuild status`). */
  reconcileOnly?: boolean;
  /**
   * The executor for runs recorded by another one (a SLURM job found by a local build): each run
   * in flight is polled and cancelled by the executor that started it, never judged by another.
   */
  executorFor?: (name: string) => Executor | undefined;
}

export interface BuildResult {
  /** Final status of every run this build touched. */
  outcomes: Map<string, RunStatus>;
  /** Runs handed to the executor that were still queued or running when the build returned. */
  inFlight: Map<string, string>;
  /** Runs this build submitted (not those it found already running). */
  submitted: Set<string>;
  generated: number;
  manifestChanged: boolean;
  cancelled: boolean;
  diagnostics: Diagnostic[];
}

interface InFlight {
  run: PlannedRun;
  handle: JobHandle;
}

export async function buildPlan(plan: Plan, options: BuildOptions): Promise<BuildResult> {
  const emit: EventSink = options.onEvent ?? (() => {});
  const executor = options.executor;
  const now = (): string => new Date().toISOString();
  const manifest = plan.manifest;
  const outcomes = new Map<string, RunStatus>();
  const diagnostics: Diagnostic[] = [];
  const inFlight = new Map<string, InFlight>();
  const sameKey = new Map<string, PlannedRun[]>();
  for (const run of plan.runs) sameKey.set(run.key, [...(sameKey.get(run.key) ?? []), run]);
  const submitted = new Set<string>();
  const generated = new Map<string, GeneratedRun>();
  let manifestChanged = false;
  let lastWrite = 0;
  let writeInterval = 250;
  let dirty = false;

  const persist = (force = false): void => {
    if (options.dryRun || !dirty) return;
    // Batched writes keep a 20,000-run build from rewriting the manifest 20,000 times. Nothing is
    // lost in between: a crashed build is repaired from the run directories' status files (local)
    // and from job names that carry the key (SLURM). The interval grows with the manifest, so
    // writing it never dominates the build.
    if (!force && Date.now() - lastWrite < writeInterval) return;
    const started = Date.now();
    dirty = false;
    if (writeManifest(plan.manifestPath, manifest)) manifestChanged = true;
    lastWrite = Date.now();
    writeInterval = Math.max(250, 10 * (lastWrite - started));
  };
  const update = (run: PlannedRun, patch: Partial<RunRecord>): RunRecord => {
    const record = { ...baseRecord(run, plan, now()), ...patch };
    for (const [field, value] of Object.entries(patch)) if (value === undefined) delete (record as unknown as Record<string, unknown>)[field];
    manifest.runs.set(run.key, record);
    run.record = record;
    dirty = true;
    return record;
  };

  const applyState = (run: PlannedRun, handle: JobHandle, state: JobState): void => {
    const record = run.record;
    if (state.status === record?.status && ACTIVE_STATUSES.has(state.status)) return;
    const finished = !ACTIVE_STATUSES.has(state.status);
    const resources = generated.get(run.id)?.resources ?? record?.resources;
    const patch: Partial<RunRecord> = {
      status: state.status,
      detail: state.detail,
      executor: handle.executor,
      job_id: handle.jobId,
      host: handle.host,
      pid: handle.pid,
      node: state.node ?? record?.node,
      started_at: state.startedAt ?? record?.started_at,
    };
    if (finished) {
      patch.finished_at = state.finishedAt ?? now();
      patch.exit_code = state.exitCode;
      patch.elapsed_s = state.elapsedS;
      patch.gpu_hours = state.gpuHours ?? gpuHours(resources, state.elapsedS);
      const rule = options.rules.get(run.rule);
      if (state.status === 'succeeded' && rule) {
        const declared = generated.get(run.id)?.rendered.outputs ?? declaredOutputs(run.runDir) ?? [];
        patch.outputs = describeOutputs(run.runDir, declared);
        patch.metrics = readMetricsSafely(rule, run.runDir, run.params);
      }
      const versions = frameworkVersions(run.runDir);
      if (versions) patch.env = { ...(run.record?.env ?? {}), frameworks: versions };
      // Runs with the same key are one run (content addressing): they share its outcome.
      for (const twin of sameKey.get(run.key) ?? [run]) {
        twin.state = state.status === 'succeeded' ? 'up-to-date' : 'stale';
        twin.record = run.record;
        if (twin !== run) outcomes.set(twin.id, state.status);
      }
      inFlight.delete(run.id);
      outcomes.set(run.id, state.status);
      emit({ type: 'finished', id: run.id, name: run.name, status: state.status, detail: state.detail, elapsedS: state.elapsedS });
    }
    update(run, patch);
  };

  const others = new Map<string, Executor | undefined>();
  const executorOf = (handle: JobHandle): Executor | undefined => {
    if (handle.executor === executor.name) return executor;
    if (!others.has(handle.executor)) others.set(handle.executor, options.executorFor?.(handle.executor));
    return others.get(handle.executor);
  };
  const byExecutor = (jobs: InFlight[]): Map<Executor, InFlight[]> => {
    const groups = new Map<Executor, InFlight[]>();
    for (const job of jobs) {
      const owner = executorOf(job.handle);
      if (owner) groups.set(owner, [...(groups.get(owner) ?? []), job]);
      else {
        // Nobody here can ask about it: leave its record alone rather than guess.
        inFlight.delete(job.run.id);
        emit({ type: 'warning', message: `${job.run.id} is recorded as running on the ${job.handle.executor} executor, which this ckbuild cannot query` });
      }
    }
    return groups;
  };
  const pollInFlight = async (): Promise<void> => {
    if (inFlight.size === 0) return;
    for (const [owner, jobs] of byExecutor([...inFlight.values()])) {
      const states = await owner.poll(jobs);
      for (const job of jobs) {
        const state = states.get(job.handle.jobId);
        if (state) applyState(job.run, job.handle, state);
      }
    }
    persist();
  };

  // 1. Reconcile: runs the manifest says are in flight, and jobs the executor finds on its own
  //    (a crash between starting a job and recording it must never lead to a second job).
  for (const run of plan.runs) {
    const record = run.record;
    if (run.state === 'in-progress' && record?.job_id) {
      inFlight.set(run.id, { run, handle: { executor: record.executor ?? executor.name, jobId: record.job_id, host: record.host, pid: record.pid } });
    }
  }
  if (!options.dryRun) {
    const candidates = plan.runs.filter((run) => run.state !== 'up-to-date' && !inFlight.has(run.id));
    const adoptedNow = new Set<string>();
    for (const [key, handle] of await executor.adopt(candidates)) {
      const run = candidates.find((c) => c.key === key)!;
      inFlight.set(run.id, { run, handle });
      run.state = 'in-progress';
      update(run, { status: 'running', executor: handle.executor, job_id: handle.jobId, host: handle.host, pid: handle.pid });
      adoptedNow.add(run.id);
      emit({ type: 'adopted', id: run.id, name: run.name, jobId: handle.jobId });
    }
    // A run that finished while nobody was watching (a crash, another experiment sharing the key)
    // left its verdict in its status file: take it instead of running the run again.
    for (const run of plan.runs) {
      if (run.state !== 'stale' || inFlight.has(run.id) || run.reasons.some((r) => r.kind === 'forced')) continue;
      const file = readStatusFile(run.runDir);
      if (file?.status !== 'succeeded' || run.record?.status === 'succeeded') continue;
      let declaredKey: string | undefined;
      try {
        declaredKey = (JSON.parse(readFileSync(join(run.runDir, 'config', 'run.json'), 'utf8')) as { key?: string }).key;
      } catch {
        continue;
      }
      if (declaredKey !== run.key) continue;
      if ((declaredOutputs(run.runDir) ?? []).some((output) => !existsSync(join(run.runDir, output)))) continue;
      const handle: JobHandle = { executor: run.record?.executor ?? executor.name, jobId: file.job_id || run.record?.job_id || `recovered:${file.pid}`, host: file.host };
      applyState(run, handle, { status: 'succeeded', exitCode: 0, startedAt: file.started_at, finishedAt: file.finished_at, node: file.host, elapsedS: elapsedSeconds(file.started_at, file.finished_at) });
    }
    const before = new Map([...inFlight.values()].map((job) => [job.run.id, job.run.record?.status]));
    await pollInFlight();
    for (const [id, status] of before) {
      const run = plan.byId.get(id)!;
      // Finished runs were already reported by applyState; this only notes a change of phase.
      if (run.record && run.record.status !== status && ACTIVE_STATUSES.has(run.record.status)) emit({ type: 'reconciled', id, name: run.name, status: run.record.status, detail: run.record.detail });
      const job = inFlight.get(id);
      if (job && !adoptedNow.has(id)) emit({ type: 'adopted', id, name: run.name, jobId: job.handle.jobId });
    }
    persist(true);
  }

  if (options.reconcileOnly) {
    await executor.close();
    return { outcomes, inFlight: new Map(), submitted: new Set(), generated: 0, manifestChanged, cancelled: false, diagnostics };
  }

  // 2. What to bring up to date: the selected stale runs and the stale runs they need.
  const selected = plan.runs.filter((run) => run.state === 'stale' && (options.select?.(run) ?? true));
  const wanted = plan.graph.closureUpstream(selected.map((run) => run.id));
  // Two logical runs with one key (identical steps) execute once; the first stands for both.
  const targetKeys = new Set<string>();
  const targets = plan.runs.filter((run) => {
    if (!wanted.has(run.id) || run.state !== 'stale' || targetKeys.has(run.key)) return false;
    targetKeys.add(run.key);
    return true;
  });
  const targetIdByKey = new Map(targets.map((run) => [run.key, run.id]));
  /** The run that executes for `id`: itself, or the target sharing its key. */
  const executing = (id: string): string => targetIdByKey.get(plan.byId.get(id)?.key ?? '') ?? id;
  // A failure found while reconciling is history once the run is retried: it must not make this
  // build skip the run's dependents or stop submitting.
  for (const run of targets) outcomes.delete(run.id);

  // 3. Generate their artifacts (a dry run stops here).
  for (const run of targets) {
    const rule = options.rules.get(run.rule)!;
    let result: GeneratedRun;
    try {
      result = generateRun(run, plan, rule);
    } catch (error) {
      // The runs root is unwritable, a path component is a file, a value SLURM cannot carry…
      const message = error instanceof Error ? error.message : String(error);
      diagnostics.push({ severity: 'error', code: 'generate-failed', file: plan.experiment.file, line: 0, column: 0, field: run.id, message: `cannot generate the run directory ${run.runDir}: ${message}` });
      await executor.close();
      return { outcomes, inFlight: new Map(), submitted: new Set(), generated: generated.size, manifestChanged, cancelled: false, diagnostics };
    }
    generated.set(run.id, result);
    diagnostics.push(...result.diagnostics);
    emit({ type: 'generated', id: run.id, name: run.name, runDir: run.runDir, changed: result.changed });
  }
  if (options.dryRun) return { outcomes, inFlight: new Map(), submitted: new Set(), generated: generated.size, manifestChanged, cancelled: false, diagnostics };

  // 4. Execute in dependency order.
  const pending = [...targets];
  const started = Date.now();
  const wait = options.wait ?? true;
  let stopSubmitting = false;
  let cancelled = false;
  const isDone = (id: string): boolean => plan.byId.get(id)?.state === 'up-to-date';
  const hasFailed = (id: string): boolean => {
    const status = outcomes.get(id);
    return status !== undefined && (FAILED_STATUSES.has(status) || status === 'skipped');
  };
  const progress = (): void => {
    const finished = [...outcomes.values()];
    emit({
      type: 'progress',
      done: finished.filter((s) => s === 'succeeded').length,
      running: inFlight.size,
      queued: pending.length,
      failed: finished.filter((s) => s !== 'succeeded').length,
      total: targets.length,
      elapsedS: (Date.now() - started) / 1000,
    });
  };

  while (pending.length > 0 || (inFlight.size > 0 && (wait || !executor.handlesDependencies))) {
    if (options.signal?.aborted) {
      cancelled = true;
      break;
    }
    let submittedThisPass = 0;
    // Gather what can start now, then submit it together (an executor may batch it).
    const batch: SubmitRequest[] = [];
    for (let index = 0; index < pending.length && !stopSubmitting; ) {
      if (inFlight.size + batch.length >= executor.capacity) break;
      const run = pending[index]!;
      const upstream = [...new Set(Object.values(run.upstream).map((up) => executing(up.id)))];
      const inBatch = (id: string): boolean => batch.some((b) => b.run.id === id);
      const failedUpstream = upstream.find((id) => hasFailed(id) || (plan.byId.get(id)?.state === 'stale' && !pending.some((p) => p.id === id) && !inFlight.has(id) && !inBatch(id)));
      if (failedUpstream) {
        pending.splice(index, 1);
        const detail = `upstream run ${failedUpstream} did not succeed`;
        outcomes.set(run.id, 'skipped');
        update(run, { status: 'skipped', detail });
        emit({ type: 'skipped', id: run.id, name: run.name, detail });
        continue;
      }
      // An executor can hold a run on upstream jobs it started itself (SLURM afterok), no others.
      const heldBy = (id: string): boolean => executor.handlesDependencies && ((inFlight.get(id)?.handle.executor === executor.name) || batch.some((b) => b.run.id === id));
      const ready = upstream.every((id) => isDone(id) || heldBy(id));
      if (!ready || upstream.some((id) => batch.some((b) => b.run.id === id))) {
        index++; // a run whose upstream is in this very batch waits for that one's job id
        continue;
      }
      const dependencies = upstream.filter((id) => inFlight.has(id)).map((id) => inFlight.get(id)!.handle);
      batch.push({ run, generated: generated.get(run.id)!, dependencies });
      pending.splice(index, 1);
    }
    // A previous attempt's verdict must never be read as this attempt's.
    for (const request of batch) retireStatusFile(request.run.runDir);
    const results = batch.length === 0 ? [] : executor.submitBatch ? await executor.submitBatch(batch) : await Promise.all(batch.map((request) => executor.submit(request)));
    batch.forEach((request, position) => {
      const run = request.run;
      const result = results[position]!;
      if ('error' in result) {
        if (result.status === 'queued') {
          pending.unshift(run); // a resource (a GPU) is busy: try again after something finishes
          return;
        }
        const status = result.status ?? 'failed';
        outcomes.set(run.id, status);
        update(run, { status, detail: result.error, finished_at: now() });
        emit({ type: 'finished', id: run.id, name: run.name, status, detail: result.error });
        if (!options.keepGoing && status !== 'blocked') stopSubmitting = true;
        return;
      }
      submittedThisPass++;
      const attempts = (run.record?.attempts ?? 0) + 1;
      const initial: RunStatus = executor.handlesDependencies ? 'queued' : 'running';
      inFlight.set(run.id, { run, handle: result.handle });
      update(run, {
        status: initial,
        detail: undefined,
        executor: result.handle.executor,
        job_id: result.handle.jobId,
        host: result.handle.host,
        pid: result.handle.pid,
        submitted_at: now(),
        started_at: undefined,
        finished_at: undefined,
        exit_code: undefined,
        elapsed_s: undefined,
        gpu_hours: undefined,
        outputs: undefined,
        metrics: undefined,
        attempts,
        resources: request.generated.resources,
        env: runEnvironment(plan.experiment.projectDir),
      });
      run.state = 'in-progress';
      submitted.add(run.id);
      emit({ type: 'submitted', id: run.id, name: run.name, jobId: result.handle.jobId, executor: result.handle.executor });
    });
    if (batch.length > 0) persist();
    if (batch.length > 0 && submittedThisPass === 0 && inFlight.size === 0 && pending.length > 0 && results.every((r) => 'error' in r && r.status === 'queued')) {
      await executor.waitForChange(options.pollMs ?? 1000);
    }
    if (stopSubmitting && inFlight.size === 0) break;
    if (pending.length > 0 && inFlight.size === 0 && submittedThisPass === 0) {
      // Nothing can start and nothing will finish: the rest waits on runs that will not run.
      for (const run of pending.splice(0)) {
        const detail = 'its upstream runs did not run';
        outcomes.set(run.id, 'skipped');
        update(run, { status: 'skipped', detail });
        emit({ type: 'skipped', id: run.id, name: run.name, detail });
      }
      break;
    }
    progress();
    if (!wait && executor.handlesDependencies && pending.length === 0) break;
    // Their dependents can go out right away: SLURM holds them on the new job ids.
    if (executor.handlesDependencies && submittedThisPass > 0 && pending.length > 0) continue;
    if (inFlight.size > 0) {
      await executor.waitForChange(options.pollMs ?? 1000);
      await pollInFlight();
      for (const id of submitted) {
        const status = outcomes.get(id);
        if (!options.keepGoing && status !== undefined && FAILED_STATUSES.has(status) && status !== 'blocked') stopSubmitting = true;
      }
    }
  }

  if (cancelled) {
    const running = [...inFlight.values()];
    emit({ type: 'cancelling', running: running.length });
    for (const [owner, jobs] of byExecutor(running)) await owner.cancel(jobs);
    await pollInFlight();
    for (const job of [...inFlight.values()]) {
      applyState(job.run, job.handle, { status: 'cancelled', detail: 'cancelled by the user', finishedAt: now() });
    }
  }
  progress();
  persist(true);
  await executor.close();
  const stillRunning = new Map([...inFlight.values()].map((job) => [job.run.id, job.handle.jobId]));
  return { outcomes, inFlight: stillRunning, submitted, generated: generated.size, manifestChanged, cancelled, diagnostics };
}

function retireStatusFile(runDir: string): void {
  try {
    renameSync(join(runDir, 'metadata', 'status.json'), join(runDir, 'metadata', 'status.previous.json'));
  } catch {
    // No earlier attempt.
  }
}
