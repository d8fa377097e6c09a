/**
 * From what SLURM says about a job (squeue/sacct) and what the job wrote itself
 * (metadata/status.json) to a run status. The job's file knows "diverged" and "blocked";
 * SLURM knows time limits, memory kills, preemption and dependencies that can never be met.
 */
import type { RunStatus } from '../../manifest.js';
import { elapsedSeconds, type JobStatusFile } from '../statusFile.js';
import type { JobState } from '../types.js';

export interface SlurmRow {
  jobId: string;
  state: string;
  /** squeue's reason, or sacct's full state text ("CANCELLED by 1000"). */
  reason: string;
  node: string;
  name?: string;
  comment?: string;
  /** squeue %E: "afterok:12(failed)". */
  dependency?: string;
  exitCode?: number;
  /** The signal that ended the job (the part after ':' in "0:9"). */
  signal?: number;
  start?: string;
  end?: string;
  /** When the controller accepted it (squeue %V, the controller's local time). */
  submit?: string;
  elapsedS?: number;
}

/** States in which a job still holds a place in the queue or on a node. */
export const ACTIVE_SLURM: ReadonlySet<string> = new Set(['PENDING', 'CONFIGURING', 'RUNNING', 'COMPLETING', 'SUSPENDED', 'STOPPED', 'REQUEUED', 'REQUEUE_HOLD', 'REQUEUE_FED', 'RESIZING', 'STAGE_OUT', 'SIGNALING', 'RESV_DEL_HOLD']);

/**
 * Pending reasons that the job itself can never get past: the request exceeds a limit of its
 * partition, account or QOS, or names one that does not exist. (Reasons such as Resources,
 * Priority, PartitionDown or ReqNodeNotAvail are waits, not verdicts.)
 */
const NEVER_STARTS = /^(BadConstraints|PartitionTimeLimit|PartitionNodeLimit|PartitionConfig|InvalidAccount|InvalidQOS|QOSNotAllowed|AccountNotAllowed|(Assoc|QOS)Max\w*PerJob\w*)$/;

export function neverStarts(reason: string): boolean {
  return NEVER_STARTS.test(reason.trim()) || /requeued held/i.test(reason);
}

const SIGNALS: Record<number, string> = { 1: 'SIGHUP', 2: 'SIGINT', 6: 'SIGABRT', 7: 'SIGBUS', 9: 'SIGKILL', 11: 'SIGSEGV', 15: 'SIGTERM' };

/** "3:0" → exit 3; "0:9" → signal 9; "" → nothing. */
export function parseExitCode(text: string | undefined): { exitCode?: number; signal?: number } {
  const match = /^\s*(\d+)(?::(\d+))?\s*$/.exec(text ?? '');
  if (!match) return {};
  const signal = match[2] === undefined ? 0 : Number(match[2]);
  return { exitCode: Number(match[1]), ...(signal > 0 ? { signal } : {}) };
}

/** What slurmstepd writes into a job's output when it kills the job for its memory. */
const MEMORY_KILL = /exceeded (job )?memory limit|oom[- ]kill|out of memory/i;

const OOM_ADVICE = 'raise resources.<step>.mem, or lower batch_size (keep the effective batch size with effective_batch_size)';

function ended(row: SlurmRow): string {
  if (row.signal) return `killed by signal ${row.signal}${SIGNALS[row.signal] ? ` (${SIGNALS[row.signal]})` : ''}`;
  return row.exitCode !== undefined ? `exit ${row.exitCode}` : 'no exit code';
}

function upstreamOf(row: SlurmRow): string {
  const match = /after\w*:([\d_*]+)/.exec(row.dependency ?? '');
  return match ? ` (job ${match[1]!.replace(/_\*$/, '')})` : '';
}

/** Exit status of a command killed by SIGKILL, as bash (the job's wrapper) reports it. */
export const SIGKILL_EXIT = 137;

/**
 * Whether the job's output tail is worth reading for a memory kill: slurmstepd names one there,
 * whichever way it went. Its own over-memory kill leaves the job CANCELLED or FAILED without a
 * signal (the wrapper saw the framework die with 137); a cgroup kill leaves FAILED "0:9" or
 * OUT_OF_MEMORY; and a job SLURM no longer lists has only its wrapper's 137.
 */
export function mayBeMemoryKill(row: SlurmRow | undefined, file: JobStatusFile | undefined): boolean {
  return row?.signal === 9 || row?.state === 'FAILED' || row?.state === 'CANCELLED' || file?.exit_code === SIGKILL_EXIT;
}

/**
 * SLURM's view and the job's own status file, combined. One table-like function (tested state by
 * state in test/slurm/states.test.ts): splitting it would scatter the precedence of the sources. `log` is the tail of the job's output,
 * read where mayBeMemoryKill says (slurmstepd names a memory kill there).
 */
export function mapState(row: SlurmRow | undefined, file: JobStatusFile | undefined, log?: string): JobState | undefined {
  const verdict = file && file.status !== 'running' ? file : undefined;
  const fromFile = (): JobState | undefined =>
    verdict
      ? { status: verdict.status, detail: verdict.detail || undefined, exitCode: verdict.exit_code, startedAt: verdict.started_at, finishedAt: verdict.finished_at, node: verdict.host, elapsedS: elapsedSeconds(verdict.started_at, verdict.finished_at) }
      : undefined;
  const memoryKilled = log !== undefined && MEMORY_KILL.test(log);
  const killedForMemory = `killed for exceeding its memory limit: ${OOM_ADVICE}`;
  if (!row) {
    const own = fromFile();
    return own && memoryKilled && verdict?.exit_code === SIGKILL_EXIT ? { ...own, status: 'oom', detail: killedForMemory } : own;
  }
  const base: JobState = {
    status: 'queued',
    node: row.node && row.node !== '(null)' ? row.node : undefined,
    startedAt: file?.started_at || row.start,
    finishedAt: file?.finished_at || row.end,
    exitCode: row.exitCode,
    elapsedS: row.elapsedS ?? elapsedSeconds(file?.started_at, file?.finished_at || undefined),
  };
  const state = (status: RunStatus, detail?: string): JobState => ({ ...base, status, ...(detail ? { detail } : {}) });
  /** A finished job: the file's own verdict wins where it is more precise than SLURM's. */
  const terminal = (status: RunStatus, detail: string): JobState => {
    const own = fromFile();
    if (own && (own.status === 'diverged' || own.status === 'blocked' || (own.status === status && own.detail))) return { ...base, ...own };
    return { ...base, ...(own ?? {}), status, detail };
  };
  const reason = row.reason && row.reason !== 'None' && row.reason !== '(null)' ? row.reason : '';
  switch (row.state) {
    case 'PENDING':
      if (reason.includes('DependencyNeverSatisfied')) return state('cancelled', `an upstream job did not succeed${upstreamOf(row)}, so this one can never start`);
      if (/requeued held/i.test(reason)) return state('interrupted', `SLURM requeued it held after a failed launch (${reason}); rerunning resubmits it`);
      if (neverStarts(reason)) return state('failed', `SLURM will never start this job (${reason}): the request exceeds what its partition, account or QOS allows; change resources.<step> or the partition`);
      if (reason === 'Dependency') return state('queued', `waiting for its upstream job${upstreamOf(row)}`);
      if (/^JobHeld(User|Admin)$/.test(reason)) return state('queued', `held (${reason}): release it with scontrol release`);
      return state('queued', reason ? `pending: ${reason}` : undefined);
    case 'REQUEUED':
    case 'REQUEUE_FED':
      return state('queued', 'requeued by SLURM');
    case 'REQUEUE_HOLD':
    case 'RESV_DEL_HOLD':
      return state('queued', `held by SLURM (${row.state})`);
    case 'CONFIGURING':
    case 'RUNNING':
    case 'COMPLETING':
    case 'RESIZING':
    case 'STAGE_OUT':
    case 'SIGNALING':
      return state('running');
    case 'SUSPENDED':
      return state('running', 'suspended by SLURM (it resumes where it stopped)');
    case 'STOPPED':
      return state('running', 'stopped (SIGSTOP) by SLURM or an administrator');
    case 'COMPLETED':
      return { ...base, ...(fromFile() ?? {}), status: fromFile()?.status ?? 'succeeded' };
    case 'FAILED':
    case 'SPECIAL_EXIT': {
      if (memoryKilled && (row.signal === 9 || verdict?.exit_code === SIGKILL_EXIT)) return terminal('oom', killedForMemory);
      const why = reason && !/^(NonZeroExitCode|None)$/.test(reason) ? `, ${reason}` : '';
      return terminal('failed', `SLURM: ${row.state === 'SPECIAL_EXIT' ? 'SPECIAL_EXIT (held after a special exit code)' : 'FAILED'} (${ended(row)}${why})`);
    }
    case 'CANCELLED': {
      if (reason.includes('DependencyNeverSatisfied')) return state('cancelled', `an upstream job did not succeed${upstreamOf(row)}, so SLURM cancelled this one`);
      if (reason === 'Dependency') return state('cancelled', 'cancelled while waiting for its upstream jobs');
      const by = /CANCELLED by (\d+)/.exec(row.reason);
      // slurmstepd's own over-memory kill cancels the job; a person's scancel says who.
      if (memoryKilled && !by && (row.start || verdict)) return terminal('oom', killedForMemory);
      if (by) return state('cancelled', `cancelled by uid ${by[1]} (scancel)`);
      if (reason && reason !== 'CANCELLED') return state('cancelled', `cancelled while pending (${reason})`);
      return state('cancelled', row.start ? 'cancelled while running (scancel, or an administrator)' : 'cancelled (scancel, or an administrator)');
    }
    case 'TIMEOUT':
      return state('timeout', 'hit its time limit: raise resources.<step>.time in the experiment (not part of any run key, so nothing else reruns)');
    case 'DEADLINE':
      return state('timeout', 'reached its --deadline before finishing');
    case 'OUT_OF_MEMORY':
      return state('oom', `ran out of memory: ${OOM_ADVICE}`);
    case 'NODE_FAIL':
      return state('failed', 'the node failed; rerunning will resubmit it');
    case 'BOOT_FAIL':
      return state('failed', 'its node failed to boot; rerunning will resubmit it');
    case 'PREEMPTED':
      return state('interrupted', 'preempted; rerunning will resubmit it');
    case 'REVOKED':
      return state('interrupted', 'revoked (a federated sibling started it elsewhere); rerunning will resubmit it');
    default:
      return fromFile() ?? state('running', `SLURM state ${row.state}`);
  }
}
