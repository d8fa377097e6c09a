/**
 * The record stage: every transition of a run becomes its manifest record, and the manifest is
 * written atomically. The recorder owns the manifest once planning is over; the reconciler and
 * the scheduler tell it what happened and never touch records themselves. Nothing is written
 * until `persist`: `plan` and `explain` use a recorder that is never persisted.
 */
import { declaredOutputs, type GeneratedRun } from './generate.js';
import { ACTIVE_STATUSES, type RunRecord, writeManifest } from './manifest.js';
import type { Plan, PlannedRun } from './plan.js';
import { baseRecord, describeOutputs, frameworkVersions, gpuHours, metricFields, readMetricsSafely } from './records.js';
import { readGpuTelemetry } from './telemetry.js';
import type { RuleRegistry } from './rule.js';
import type { JobHandle, JobState } from './executors/types.js';
import type { CrashHook } from './crash.js';

export type Clock = () => Date;

export class Recorder {
  private dirty = false;
  /**
   * As if a write had just been made: the first one waits out the interval too, so a build whose
   * runs finish at once (a one-trial edit's 2 runs) writes the manifest once, at the end, not once
   * more as they start (≈ 0.1 s for a 20,000-run manifest). Nothing is lost in between, as
   * between any two writes (see persist).
   */
  private lastWrite = Date.now();
  private writeInterval = 250;
  /** Whether a write changed the manifest's bytes (what decides a commit). */
  changed = false;
  /**
   * Why the manifest could not be written (a full disk, a read-only checkout), once that happened.
   * The build then stops submitting: a job whose start cannot be recorded must not be started.
   * Runs already started are found again by the next invocation from their run directories.
   */
  failure: string | undefined;

  constructor(
    private readonly plan: Plan,
    private readonly rules: Pick<RuleRegistry, 'get'>,
    private readonly clock: Clock,
    /** Test-only crash injection around each manifest write (core/crash.ts). */
    private readonly crash: CrashHook = () => {},
  ) {}

  now(): string {
    return this.clock().toISOString();
  }

  /** The run's current record: the manifest's, which this recorder keeps up to date. */
  recordOf(run: Pick<PlannedRun, 'key'>): RunRecord | undefined {
    return this.plan.manifest.get(run.key);
  }

  /** Merges `patch` into the run's record (a field set to undefined is removed). */
  update(run: PlannedRun, patch: Partial<RunRecord>): RunRecord {
    const record = { ...baseRecord(run, this.plan, this.now()), ...patch };
    for (const [field, value] of Object.entries(patch)) if (value === undefined) delete (record as unknown as Record<string, unknown>)[field];
    this.plan.manifest.set(run.key, record);
    this.dirty = true;
    return record;
  }

  /** Records what an executor (or a status file) says about a job; a finished job's outputs and metrics are read here. */
  recordState(run: PlannedRun, handle: JobHandle, state: JobState, generated?: GeneratedRun): RunRecord {
    const record = this.recordOf(run);
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
    if (!ACTIVE_STATUSES.has(state.status)) {
      const resources = generated?.resources ?? record?.resources;
      patch.finished_at = state.finishedAt ?? this.now();
      patch.exit_code = state.exitCode;
      patch.elapsed_s = state.elapsedS;
      patch.gpu_hours = state.gpuHours ?? gpuHours(resources, state.elapsedS);
      const rule = this.rules.get(run.rule);
      if (state.status === 'succeeded' && rule) {
        patch.outputs = describeOutputs(run.runDir, generated?.rendered.outputs ?? declaredOutputs(run.runDir) ?? []);
        Object.assign(patch, metricFields(readMetricsSafely(rule, run.runDir, run.params)));
      }
      patch.telemetry = readGpuTelemetry(run.runDir);
      const versions = frameworkVersions(run.runDir);
      if (versions) patch.env = { ...(record?.env ?? {}), frameworks: versions };
    }
    return this.update(run, patch);
  }

  /**
   * Writes the manifest if anything changed. Batched: a 20,000-run build does not rewrite the
   * manifest 20,000 times. Nothing is lost in between: a crashed build is repaired from the run
   * directories' status files (local) and from job names that carry the key (SLURM). The interval
   * grows with the manifest, so writing it never dominates the build.
   */
  persist(force = false): void {
    if (!this.dirty) return;
    if (!force && Date.now() - this.lastWrite < this.writeInterval) return;
    const started = Date.now();
    try {
      this.crash('before-manifest-write');
      // A final write indexes what it wrote, so the next plan need not parse it; an intermediate
      // one leaves the index stale (it no longer matches the file's stats, so it is not used).
      if (writeManifest(this.plan.manifestPath, this.plan.manifest, force ? this.plan.manifestIndex : undefined)) this.changed = true;
      this.dirty = false;
      this.crash('after-manifest-write');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      this.failure = `cannot write the manifest ${this.plan.manifestPath}: ${code === 'ENOSPC' ? 'no space left on the device' : code === 'EROFS' || code === 'EACCES' ? 'the folder is read-only' : String((error as Error).message)}`;
    }
    this.lastWrite = Date.now();
    this.writeInterval = Math.max(250, 10 * (this.lastWrite - started));
  }
}
