/**
 * One building ckbuild at a time per project. Per project, not per experiment: experiments share
 * the runs root, and two experiments may contain the same run (same key) — two builds would run
 * it twice, in one directory. The lock is a file created with O_EXCL holding the owner's pid,
 * host, start time and command; a lock whose owner is a dead process on this host is stale and
 * taken over. A live owner is reported so the second invocation can say who holds it.
 */
import { closeSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { findProjectDir } from './projectDir.js';
import { ensureIgnoredDir } from './ignoredDir.js';

export interface LockOwner {
  pid: number;
  host: string;
  started_at: string;
  command: string;
}

export type LockResult =
  | { acquired: true; release: () => void }
  | { acquired: false; owner: LockOwner; path: string }
  /** The lock path is not a file ckbuild can use (a folder, say): a value to report, not a crash. */
  | { acquired: false; unusable: string; path: string };

/** The project's build lock, in its git-ignored `.ckbuild/` folder. */
export function lockPathFor(experimentFile: string): string {
  return join(findProjectDir(experimentFile), '.ckbuild', 'locks', 'build.lock');
}

export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function acquireLock(path: string, command: string): LockResult {
  try {
    ensureIgnoredDir(dirname(path), dirname(dirname(dirname(path))));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return { acquired: false, unusable: `cannot create the build lock in ${dirname(path)}: ${code === 'ENOSPC' ? 'no space left on the device' : code === 'EROFS' ? 'the folder is read-only' : (code ?? String(error))}`, path };
  }
  const me: LockOwner = { pid: process.pid, host: hostname(), started_at: new Date().toISOString(), command };
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      const fd = openSync(path, 'wx');
      writeSync(fd, JSON.stringify(me) + '\n');
      closeSync(fd);
      let released = false;
      return {
        acquired: true,
        release: () => {
          if (released) return;
          released = true;
          try {
            const current = JSON.parse(readFileSync(path, 'utf8')) as LockOwner;
            if (current.pid === me.pid && current.host === me.host) rmSync(path, { force: true });
          } catch {
            // Already gone.
          }
        },
      };
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'EEXIST') return { acquired: false, unusable: `cannot create the build lock ${path} (${code ?? String(error)})`, path };
    }
    if (!isRegularFile(path)) return { acquired: false, unusable: `the build lock ${path} exists but is not a file; remove it`, path };
    let owner: LockOwner | undefined;
    try {
      owner = JSON.parse(readFileSync(path, 'utf8')) as LockOwner;
    } catch {
      owner = undefined; // being written right now, or damaged: treat a damaged one as stale below
    }
    if (owner && (owner.host !== me.host || isProcessAlive(owner.pid))) return { acquired: false, owner, path };
    if (!owner && attempt === 0) {
      // Give a writer that just created it a moment to fill it in.
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
      continue;
    }
    takeOverStaleLock(path, owner);
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20 * (attempt + 1));
  }
  return { acquired: false, unusable: `could not take over the build lock ${path} after 5 attempts; another ckbuild may be starting`, path };
}

function isRegularFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return true; // removed meanwhile: the next attempt creates it
  }
}

/**
 * Removing a dead owner's lock races with another invocation doing the same (both could remove
 * and one would delete the other's fresh lock). A second O_EXCL file serialises the takeover;
 * whoever holds it checks again that the lock still belongs to the dead owner before removing it.
 */
function takeOverStaleLock(path: string, stale: LockOwner | undefined): void {
  const guard = `${path}.takeover`;
  try {
    closeSync(openSync(guard, 'wx'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    // Someone else is taking over; a guard older than 10 s belongs to a crashed takeover.
    try {
      if (Date.now() - statSync(guard).mtimeMs > 10_000) rmSync(guard, { force: true });
    } catch {
      // Gone meanwhile.
    }
    return;
  }
  try {
    let current: LockOwner | undefined;
    try {
      current = JSON.parse(readFileSync(path, 'utf8')) as LockOwner;
    } catch {
      current = undefined;
    }
    const same = current === undefined || stale === undefined ? current === stale : current.pid === stale.pid && current.host === stale.host && current.started_at === stale.started_at;
    if (same) rmSync(path, { force: true });
  } finally {
    rmSync(guard, { force: true });
  }
}
