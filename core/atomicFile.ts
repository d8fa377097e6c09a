/**
 * The one way ckbuild writes a file that someone may read at any moment (a manifest, a generated
 * config, a cache, a stamp): write a temporary file beside it, then rename it into place. A
 * reader sees the old content or the new one, never half of either; a crash leaves at most a
 * `*.tmp-*` file (git-ignored), which the next write of the same file does not trip over.
 */
import { closeSync, copyFileSync, fstatSync, mkdirSync, openSync, renameSync, rmSync, type Stats, writeFileSync, writevSync } from 'node:fs';
import { dirname } from 'node:path';

function temporaryBeside(path: string): string {
  return `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
}

function replaceWith(path: string, write: (temporary: string) => void): void {
  mkdirSync(dirname(path), { recursive: true });
  const temporary = temporaryBeside(path);
  try {
    write(temporary);
    renameSync(temporary, path);
  } catch (error) {
    // A full disk or a read-only folder: leave nothing half-written behind.
    rmSync(temporary, { force: true });
    throw error;
  }
}

export function writeFileAtomic(path: string, content: string | Buffer, mode?: number): void {
  replaceWith(path, (temporary) => writeFileSync(temporary, content, mode === undefined ? undefined : { mode }));
}

/**
 * writeFileAtomic of `pieces` one after another, returning the file's stats as written: taken from
 * the file itself before it is renamed into place (a rename keeps inode and mtime), so they cannot
 * be another writer's. The pieces go to the file as they are, a batch per call (IOV_MAX is 1024),
 * never copied into one buffer first.
 */
export function writeFileAtomicStat(path: string, pieces: readonly Buffer[]): Stats {
  let stat: Stats | undefined;
  replaceWith(path, (temporary) => {
    const fd = openSync(temporary, 'w');
    try {
      for (let first = 0; first < pieces.length; first += WRITE_BATCH) writeAll(fd, pieces.slice(first, first + WRITE_BATCH));
      stat = fstatSync(fd);
    } finally {
      closeSync(fd);
    }
  });
  return stat!;
}

const WRITE_BATCH = 1024;

/** Writes every byte of `batch`, however many a call writes. */
function writeAll(fd: number, batch: Buffer[]): void {
  let rest = batch;
  while (rest.length > 0) {
    let written = writevSync(fd, rest);
    let i = 0;
    while (i < rest.length && written >= rest[i]!.length) written -= rest[i++]!.length;
    rest = rest.slice(i);
    if (written > 0) rest[0] = rest[0]!.subarray(written);
  }
}

export function copyFileAtomic(source: string, path: string): void {
  replaceWith(path, (temporary) => copyFileSync(source, temporary));
}
