/**
 * Claims on runs: a shared runs root is a team cache. Run directories are content-addressed, so
 * two checkouts of one experiment (or two experiments with an identical step) that share a runs
 * root want the very same directory. Before a job starts, its ckbuild claims the run in the run
 * directory itself: `metadata/claim.json`, created atomically (written beside, then hard-linked
 * into place: link fails if the name exists, and the file appears complete or not at all). Whoever
 * holds the claim runs the job; everybody else waits for its verdict (the job's status file) and
 * takes it: a finished run is reused, never rerun.
 *
 * A claim is live while its claimer is alive (same host: the pid with the same process start
 * time; another host: a heartbeat, the claim's mtime, refreshed while the claimer waits), or while
 * the job it started is still running (jobs outlive the ckbuild that started them). A claim that
 * is neither is stale and is taken over, through an O_EXCL guard so that two takers cannot both
 * win. A claim is released by its claimer once the job's verdict is known.
 */
import { closeSync, linkSync, openSync, readFileSync, renameSync, rmSync, statSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { findJobProcess, isJobProcess } from './executors/local.js';
import type { JobHandle } from './executors/types.js';
import { isProcessAlive } from './lock.js';
import { jobScriptPath } from './runDir.js';

export const claimPath = (runDir: string): string => join(runDir, 'metadata', 'claim.json');

/** A claim of another host whose heartbeat is older than this is stale. */
export const CLAIM_HEARTBEAT_STALE_MS = 15 * 60 * 1000;
/** How often a held claim's heartbeat is refreshed: far inside the stale limit, and not once per job event (a metadata write each). */
const HEARTBEAT_EVERY_MS = 60 * 1000;
/** An unreadable claim younger than this may be mid-write by hand; older, it is damaged and stale. */
const UNREADABLE_GRACE_MS = 2000;

export interface ClaimOwner {
  key: string;
  host: string;
  /** The claiming ckbuild's pid and its process start time (so a reused pid is not mistaken for it). */
  pid: number;
  proc_start?: string;
  /** The checkout (project folder) the claimer builds. */
  checkout: string;
  started_at: string;
  /** Unique per claim: release and takeover remove only the claim they read. */
  nonce: string;
  /** The job started for the claim, once started. */
  job?: { executor: string; job_id: string; pid?: number; host?: string };
}

export interface Claim {
  runDir: string;
  owner: ClaimOwner;
  /** When this process last wrote or touched the claim file (its mtime, the heartbeat). */
  refreshedAt?: number;
}

export type ClaimResult =
  | { claimed: true; claim: Claim; tookOver: boolean }
  | { claimed: false; holder: ClaimOwner }
  | { claimed: false; error: string };

/** The state and start time of a process (Linux: fields 3 and 22 of /proc/<pid>/stat), undefined elsewhere. */
function procStat(pid: number): { state: string; start: string } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0]!, start: fields[19]! };
  } catch {
    return undefined;
  }
}

export function processStart(pid: number): string | undefined {
  return procStat(pid)?.start;
}

/** A live process with this pid (a zombie is not), started at `start` when that is known. */
function claimerAlive(pid: number, start: string | undefined): boolean {
  if (!Number.isInteger(pid) || pid <= 1 || !isProcessAlive(pid)) return false;
  const stat = procStat(pid);
  if (!stat) return true; // no /proc: the pid exists, that is all we can know
  return stat.state !== 'Z' && (start === undefined || stat.start === start);
}

const myHost = hostname();
let myStart: string | undefined | null = null;
function ownStart(): string | undefined {
  if (myStart === null) myStart = processStart(process.pid);
  return myStart;
}

export function readClaim(runDir: string): ClaimOwner | 'unreadable' | undefined {
  let text: string;
  try {
    text = readFileSync(claimPath(runDir), 'utf8');
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ENOENT' ? undefined : 'unreadable';
  }
  try {
    const parsed = JSON.parse(text) as ClaimOwner;
    if (parsed && typeof parsed === 'object' && typeof parsed.host === 'string' && typeof parsed.pid === 'number' && typeof parsed.nonce === 'string') return parsed;
  } catch {
    // fall through
  }
  return 'unreadable';
}

/** Whether the claim still stands: its claimer is alive, or the job it started still runs. */
export function isClaimLive(runDir: string, owner: ClaimOwner, now = Date.now()): boolean {
  if (owner.host !== myHost) {
    try {
      return now - statSync(claimPath(runDir)).mtimeMs < CLAIM_HEARTBEAT_STALE_MS;
    } catch {
      return false;
    }
  }
  if (owner.pid === process.pid && owner.proc_start === ownStart()) return true;
  if (claimerAlive(owner.pid, owner.proc_start)) return true;
  const script = jobScriptPath(runDir);
  if (owner.job?.pid !== undefined && isJobProcess(owner.job.pid, script)) return true;
  // Killed between starting the job and recording its pid: look for the job itself.
  return findJobProcess(script) !== undefined;
}

/** The live holder of a run's claim other than `mine`, if any. */
export function liveHolder(runDir: string, mine?: Claim): ClaimOwner | undefined {
  const owner = readClaim(runDir);
  if (owner === undefined || owner === 'unreadable') return undefined;
  if (mine && owner.nonce === mine.owner.nonce) return undefined;
  return isClaimLive(runDir, owner) ? owner : undefined;
}

function writeClaimFile(path: string, owner: ClaimOwner, exclusive: boolean): void {
  const temporary = `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  let renamed = false;
  try {
    writeFileSync(temporary, JSON.stringify(owner) + '\n', { flag: 'wx' });
    if (exclusive) linkSync(temporary, path);
    else {
      renameSync(temporary, path);
      renamed = true;
    }
  } finally {
    // A bare unlink: rmSync's lstat calls cost two more system calls, per claim of every run.
    if (!renamed) removeFile(temporary);
  }
}

/** Unlinks a file; one that is not there is fine. */
function removeFile(path: string): void {
  try {
    unlinkSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}

/** Claims the run for this process, takes over a stale claim, or reports the live holder. */
export function claimRun(runDir: string, key: string, checkout: string): ClaimResult {
  const path = claimPath(runDir);
  const owner: ClaimOwner = { key, host: myHost, pid: process.pid, proc_start: ownStart(), checkout, started_at: new Date().toISOString(), nonce: `${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}` };
  let tookOver = false;
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      writeClaimFile(path, owner, true);
      return { claimed: true, claim: { runDir, owner, refreshedAt: Date.now() }, tookOver };
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'EEXIST') return { claimed: false, error: `cannot claim the run in ${join(runDir, 'metadata')} (${code === 'ENOSPC' ? 'no space left on the device' : code === 'EROFS' || code === 'EACCES' ? 'the folder is read-only' : (code ?? String(error))})` };
    }
    const current = readClaim(runDir);
    if (current === undefined) continue; // released meanwhile
    if (current !== 'unreadable') {
      if (isClaimLive(runDir, current)) return { claimed: false, holder: current };
    } else {
      try {
        if (Date.now() - statSync(path).mtimeMs < UNREADABLE_GRACE_MS) {
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
          continue;
        }
      } catch {
        continue;
      }
    }
    if (takeOver(runDir, current)) tookOver = true;
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10 * (attempt + 1));
  }
  const holder = readClaim(runDir);
  if (holder && holder !== 'unreadable') return { claimed: false, holder };
  return { claimed: false, error: `could not claim the run in ${runDir} after 5 attempts (its claim file keeps changing)` };
}

/** Removes a stale claim, unless someone else already replaced it: an O_EXCL guard serialises takers. */
function takeOver(runDir: string, stale: ClaimOwner | 'unreadable'): boolean {
  const path = claimPath(runDir);
  const guard = `${path}.takeover`;
  try {
    closeSync(openSync(guard, 'wx'));
  } catch {
    try {
      if (Date.now() - statSync(guard).mtimeMs > 10_000) rmSync(guard, { force: true });
    } catch {
      // gone meanwhile
    }
    return false;
  }
  try {
    const current = readClaim(runDir);
    const same = current === 'unreadable' || stale === 'unreadable' ? current === stale : current?.nonce === stale.nonce;
    if (!same) return false;
    rmSync(path, { force: true });
    return true;
  } finally {
    rmSync(guard, { force: true });
  }
}

/** Writes the started job into the claim, so the claim outlives this process while the job runs. */
export function recordClaimJob(claim: Claim, handle: JobHandle): void {
  claim.owner = { ...claim.owner, job: { executor: handle.executor, job_id: handle.jobId, pid: handle.pid, host: handle.host } };
  try {
    const current = readClaim(claim.runDir);
    if (current !== undefined && current !== 'unreadable' && current.nonce === claim.owner.nonce) {
      writeClaimFile(claimPath(claim.runDir), claim.owner, false);
      claim.refreshedAt = Date.now();
    }
  } catch {
    // A claim that cannot be updated still stands for this process while it lives.
  }
}

/**
 * The claimer is alive: refreshes the claim's mtime, which other hosts read as its heartbeat,
 * when the last refresh is a minute old (the scheduler calls this on every wake-up).
 */
export function heartbeat(claim: Claim, now = Date.now()): void {
  if (claim.refreshedAt !== undefined && now - claim.refreshedAt < HEARTBEAT_EVERY_MS) return;
  try {
    const at = new Date(now);
    utimesSync(claimPath(claim.runDir), at, at);
    claim.refreshedAt = now;
  } catch {
    // Gone or unwritable: nothing to refresh.
  }
}

/** Removes the claim if it is still this one. */
export function releaseClaim(claim: Claim): void {
  const current = readClaim(claim.runDir);
  if (current === undefined || current === 'unreadable' || current.nonce !== claim.owner.nonce) return;
  removeFile(claimPath(claim.runDir));
}

/** Removes a claim whose claimer and job are both gone (its verdict, if any, is in the status file). */
export function clearStaleClaim(runDir: string): void {
  const current = readClaim(runDir);
  if (current === undefined || current === 'unreadable' || isClaimLive(runDir, current)) return;
  takeOver(runDir, current);
}

/** For messages: who holds a claim. */
export function describeHolder(owner: ClaimOwner): string {
  return `pid ${owner.pid} on ${owner.host}, checkout ${owner.checkout}, since ${owner.started_at}${owner.job ? ` (job ${owner.job.job_id})` : ''}`;
}
