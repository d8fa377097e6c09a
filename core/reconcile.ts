/**
 * Reconciliation: what the world says about runs, as opposed to what the manifest last recorded.
 * Three sources, in this order of trust:
 *
 *   1. a finished job's own status file in its run directory (found while planning, so `plan`,
 *      `explain`, `status` and the build agree: a run that finished while nobody watched is up
 *      to date, not stale);
 *   2. the executor that started a run recorded in flight (polled);
 *   3. jobs the executor finds by itself for stale runs (adopted: a crash between starting a job
 *      and recording it must never lead to a second job).
 *
 * The result is a new plan whose runs carry their current state and records; the recorder
 * holds the records, and writes them only when the caller persists it.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Executor, JobHandle, JobState } from './executors/types.js';
import { elapsedSeconds, readStatusFile } from './executors/statusFile.js';
import { ACTIVE_STATUSES, FAILED_STATUSES, type RunRecord } from './manifest.js';
import { copyOfRun, type Plan, type PlannedRun } from './plan.js';
import type { Recorder } from './recorder.js';
import { readRunSpec } from './runDir.js';
import { clearStaleClaim } from './claim.js';

/** The executor this invocation uses, and the ones that can answer for runs another started. */
export interface Executors {
  primary: Executor;
  byName(name: string): Executor | undefined;
}

export interface InFlightJob {
  run: PlannedRun;
  handle: JobHandle;
}

/** What reconciliation learned about one run, for the CLI to report. */
export type Finding =
  | { kind: 'adopted'; run: PlannedRun; handle: JobHandle }
  | { kind: 'still-running'; run: PlannedRun; handle: JobHandle; status: RunRecord['status'] }
  | { kind: 'finished'; run: PlannedRun; handle: JobHandle; state: JobState }
  | { kind: 'unanswerable'; run: PlannedRun; executor: string };

export interface Reconciled {
  plan: Plan;
  /** Runs queued or running now, by id, with the job that carries each. */
  inFlight: Map<string, InFlightJob>;
  findings: Finding[];
}

/**
 * A verdict a job left in its run directory that the manifest does not have: the job finished
 * after its ckbuild died, or another checkout sharing the runs root ran the same key. Only a
 * success whose run.json carries this very key and whose declared outputs exist counts.
 */
export function unrecordedSuccess(run: Pick<PlannedRun, 'key' | 'runDir' | 'record'>): { handle: JobHandle; state: JobState } | undefined {
  if (run.record?.status === 'succeeded') return undefined;
  const verdict = verdictInRunDir(run);
  return verdict?.state.status === 'succeeded' ? verdict : undefined;
}

/**
 * The final verdict a job left in the run directory for this key, if any: its status file says
 * how it ended (not that it is still running), and its run.json carries this very key. A success
 * counts only when the declared outputs exist (else there is no verdict). `since` (an ISO time)
 * ignores verdicts of attempts that finished before it.
 */
export function verdictInRunDir(run: Pick<PlannedRun, 'key' | 'runDir' | 'record'>, since?: string): { handle: JobHandle; state: JobState } | undefined {
  const file = readStatusFile(run.runDir);
  if (!file || ACTIVE_STATUSES.has(file.status)) return undefined;
  const spec = readRunSpec(run.runDir);
  if (spec?.key !== run.key) return undefined;
  if (since !== undefined) {
    const finished = Date.parse(file.finished_at);
    // The job writes whole seconds; a claim taken within the same second counts as before it.
    if (!Number.isFinite(finished) || finished + 1000 <= Date.parse(since)) return undefined;
  }
  if (file.status === 'succeeded' && (spec.outputs ?? []).some((output) => !existsSync(join(run.runDir, output)))) return undefined;
  const executor = run.record?.executor ?? (file.job_id && !file.job_id.startsWith('local:') ? 'slurm' : 'local');
  return {
    handle: { executor, jobId: file.job_id || run.record?.job_id || `recovered:${file.pid}`, host: file.host },
    state: {
      status: file.status,
      detail: file.detail || undefined,
      exitCode: typeof file.exit_code === 'number' ? file.exit_code : undefined,
      startedAt: file.started_at,
      finishedAt: file.finished_at,
      node: file.host,
      elapsedS: elapsedSeconds(file.started_at, file.finished_at),
    },
  };
}

/** The state a run is in once `record` is its record (content addressing: a key's record is the run's). */
function stateAfter(run: PlannedRun, record: RunRecord): PlannedRun {
  const copy = copyOfRun(run);
  if (record.status === 'succeeded') return { ...copy, record, state: 'up-to-date', reasons: [] };
  if (ACTIVE_STATUSES.has(record.status)) return { ...copy, record, state: 'in-progress', reasons: [] };
  const reasons = FAILED_STATUSES.has(record.status) ? [{ kind: 'failed' as const, status: record.status, detail: record.detail }] : run.reasons;
  return { ...copy, record, state: 'stale', reasons };
}

export async function reconcile(plan: Plan, executors: Executors, recorder: Recorder): Promise<Reconciled> {
  const findings: Finding[] = [];
  const inFlight = new Map<string, InFlightJob>();
  const touched = new Set<string>();

  // 1. Verdicts found in run directories while planning.
  for (const run of plan.runs) {
    if (!run.found) continue;
    recorder.recordState(run, run.found.handle, run.found.state);
    clearStaleClaim(run.runDir); // its claimer died before it could release it
    findings.push({ kind: 'finished', run, handle: run.found.handle, state: run.found.state });
    touched.add(run.key);
  }
  // 2. Runs recorded in flight, polled by the executor that started them.
  for (const run of plan.runs) {
    // The state first: a record is read from the file only for a run recorded in flight.
    const record = run.state === 'in-progress' ? run.record : undefined;
    if (record?.job_id) inFlight.set(run.id, { run, handle: { executor: record.executor ?? executors.primary.name, jobId: record.job_id, host: record.host, pid: record.pid } });
  }
  // 3. Jobs the executor finds for runs the manifest does not know to be in flight.
  const candidates = plan.runs.filter((run) => run.state === 'stale' && !inFlight.has(run.id) && !touched.has(run.key));
  for (const [key, handle] of await executors.primary.adopt(candidates)) {
    const run = candidates.find((candidate) => candidate.key === key)!;
    recorder.update(run, { status: 'running', executor: handle.executor, job_id: handle.jobId, host: handle.host, pid: handle.pid });
    inFlight.set(run.id, { run, handle });
    findings.push({ kind: 'adopted', run, handle });
  }
  await pollJobs(inFlight, executors, recorder, findings);
  for (const job of inFlight.values()) touched.add(job.run.key);
  for (const finding of findings) touched.add(finding.run.key);
  const reconciled = withRecords(plan, touched);
  const current = new Map([...inFlight].map(([id, job]) => [id, { run: reconciled.byId.get(id)!, handle: job.handle }]));
  return { plan: reconciled, inFlight: current, findings };
}

/** Asks each job's own executor about it; finished jobs leave `inFlight` and are recorded. */
export async function pollJobs(inFlight: Map<string, InFlightJob>, executors: Executors, recorder: Recorder, findings: Finding[]): Promise<void> {
  const groups = new Map<Executor, InFlightJob[]>();
  for (const job of inFlight.values()) {
    const owner = job.handle.executor === executors.primary.name ? executors.primary : executors.byName(job.handle.executor);
    if (!owner) {
      // Nobody here can ask about it: leave its record alone rather than guess.
      inFlight.delete(job.run.id);
      findings.push({ kind: 'unanswerable', run: job.run, executor: job.handle.executor });
      continue;
    }
    groups.set(owner, [...(groups.get(owner) ?? []), job]);
  }
  for (const [owner, jobs] of groups) {
    const states = await owner.poll(jobs);
    for (const job of jobs) {
      const state = states.get(job.run.id);
      if (!state) continue;
      const before = recorder.recordOf(job.run)?.status;
      if (state.status === before && ACTIVE_STATUSES.has(state.status)) {
        findings.push({ kind: 'still-running', run: job.run, handle: job.handle, status: state.status });
        continue;
      }
      recorder.recordState(job.run, job.handle, state);
      if (ACTIVE_STATUSES.has(state.status)) findings.push({ kind: 'still-running', run: job.run, handle: job.handle, status: state.status });
      else {
        inFlight.delete(job.run.id);
        clearStaleClaim(job.run.runDir);
        findings.push({ kind: 'finished', run: job.run, handle: job.handle, state });
      }
    }
  }
}

/** A new plan in which every run sharing a touched key has that key's current record and state. */
function withRecords(plan: Plan, touched: ReadonlySet<string>): Plan {
  if (touched.size === 0) return plan;
  const runs = plan.runs.map((run) => {
    const record = touched.has(run.key) ? plan.manifest.get(run.key) : undefined;
    if (!record) return run;
    const { found: _found, ...rest } = copyOfRun(run);
    return stateAfter(rest, record);
  });
  return { ...plan, runs, byId: new Map(runs.map((run) => [run.id, run])) };
}
