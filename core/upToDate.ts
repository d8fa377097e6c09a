/**
 * The no-op fast path. After a build leaves every run of an experiment up to date, ckbuild
 * writes a stamp (`.ckbuild/stamps/<experiment>.json`) listing every file the plan depended on
 * with its (size, mtime, inode), ckbuild's own code, and the outputs each run must still have.
 * The next invocation checks those stats and outputs — no YAML, no schema, no hashing, no
 * expansion — and, when nothing moved, knows the answer is "nothing to do". Anything that
 * differs, or a file modified within a second of the stamp (its mtime may not have ticked yet),
 * falls back to the full plan. This module imports nothing heavy on purpose.
 */
import { filesUnder } from './walk.js';
import { writeFileAtomic } from './atomicFile.js';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findProjectDir } from './projectDir.js';

const STAMP_VERSION = 1;
const RACY_WINDOW_MS = 1000;

/** Stats of a file; a file modified within the racy second also carries its content hash. */
type FileSignature = [path: string, size: number, mtimeMs: number, ino: number, sha256?: string] | [path: string, 'absent'];

interface Stamp {
  version: number;
  written_at: number;
  files: FileSignature[];
  /** Paths that must still exist: every run's recorded outputs (or its directory). */
  outputs: string[];
  runs: number;
}

function stampPath(experimentFile: string): string {
  const absolute = resolve(experimentFile);
  const projectDir = findProjectDir(absolute);
  return join(projectDir, '.ckbuild', 'stamps', `${relative(projectDir, absolute).replace(/[^A-Za-z0-9_.-]+/g, '_')}.json`);
}

function signature(path: string): FileSignature {
  try {
    const stat = statSync(path);
    return [path, stat.size, stat.mtimeMs, stat.ino];
  } catch {
    return [path, 'absent'];
  }
}

function contentHash(path: string): string | undefined {
  try {
    return createHash('sha256').update(readFileSync(path)).digest('hex');
  } catch {
    return undefined;
  }
}

/**
 * A file whose mtime is within a second of the stamp may still change without its mtime
 * moving, so stats alone cannot vouch for it: its content hash is kept, and compared instead.
 * (The manifest, written just before the stamp, is always such a file.)
 */
function stampSignature(path: string, writtenAt: number): FileSignature {
  const recorded = signature(path);
  if (recorded[1] !== 'absent' && writtenAt - (recorded[2] as number) <= RACY_WINDOW_MS) {
    const hash = contentHash(path);
    if (hash) return [recorded[0], recorded[1] as number, recorded[2] as number, recorded[3] as number, hash];
  }
  return recorded;
}

/** ckbuild's own code and templates: a new version of a rule must not be hidden by a stamp. */
function codeFiles(): string[] {
  const root = dirname(dirname(dirname(fileURLToPath(import.meta.url)))); // dist/core/x.js → package root
  const compiled = ['dist/core', 'dist/rules'].flatMap((dir) => filesUnder(join(root, dir)).filter((path) => path.endsWith('.js')));
  return [join(root, 'package.json'), ...compiled, ...filesUnder(join(root, 'templates'))];
}

/**
 * `planned` holds the stats the plan saw before reading each file; a dependency that no longer
 * matches them was edited during the build, and then no stamp is written (the next invocation
 * plans in full). Files without a planned stat (the manifest ckbuild itself just wrote, an absent
 * local config) are taken as they are now.
 */
export function writeUpToDateStamp(
  experimentFile: string,
  dependencies: string[],
  outputs: string[],
  runs: number,
  planned: ReadonlyMap<string, { size: number; mtimeMs: number; ino: number }> = new Map(),
): boolean {
  const path = stampPath(experimentFile);
  const writtenAt = Date.now();
  const files = [...new Set([...dependencies, ...codeFiles()])].sort().map((file) => stampSignature(file, writtenAt));
  for (const signature of files) {
    const before = planned.get(signature[0]);
    if (!before) continue;
    if (signature[1] === 'absent' || signature[1] !== before.size || signature[2] !== before.mtimeMs || signature[3] !== before.ino) return false;
  }
  const stamp: Stamp = { version: STAMP_VERSION, written_at: writtenAt, files, outputs, runs };
  writeFileAtomic(path, JSON.stringify(stamp));
  return true;
}

/**
 * The number of runs when the experiment is provably up to date; undefined when unsure. A stamp
 * is only an accelerator: one that is damaged, of another shape or unreadable means "unsure".
 */
export function checkUpToDateStamp(experimentFile: string): number | undefined {
  try {
    return checkStamp(JSON.parse(readFileSync(stampPath(experimentFile), 'utf8')) as Stamp);
  } catch {
    return undefined;
  }
}

function checkStamp(stamp: Stamp): number | undefined {
  if (stamp === null || typeof stamp !== 'object' || stamp.version !== STAMP_VERSION || !Array.isArray(stamp.files) || !Array.isArray(stamp.outputs) || typeof stamp.runs !== 'number') return undefined;
  for (const recorded of stamp.files) {
    const now = signature(recorded[0]);
    if (recorded[1] === 'absent' || now[1] === 'absent') {
      if (recorded[1] !== now[1]) return undefined;
      continue;
    }
    if (now[1] !== recorded[1] || now[2] !== recorded[2] || now[3] !== recorded[3]) return undefined;
    const racy = stamp.written_at - (now[2] as number) <= RACY_WINDOW_MS;
    if (racy && (recorded[4] === undefined || contentHash(recorded[0]) !== recorded[4])) return undefined;
  }
  for (const output of stamp.outputs) if (!existsSync(output)) return undefined;
  return stamp.runs;
}
