/**
 * The no-op fast path. After a build leaves every run of an experiment up to date, ckbuild
 * writes a stamp (`.ckbuild/stamps/<experiment>.json`) listing every file the plan depended on
 * with its (size, mtime, inode), ckbuild's own code, and the outputs each run must still have.
 * The next invocation checks those stats and outputs — no YAML, no schema, no hashing, no
 * expansion — and, when nothing moved, knows the answer is "nothing to do".
 *
 * A file whose stats moved is not yet a change: the stamp keeps each dependency's content hash
 * (inputs from the stat cache, small files hashed when the stamp is written), so a file touched but
 * unchanged is re-hashed and compared, and for the experiment file the hash of its parsed data, so
 * an edited comment or a reformatted line is parsed and compared (the plan depends on the data,
 * never on the text). A stamp vouched for that way is rewritten with the new stats, so the next
 * check is stats-only again. Anything else that differs — ckbuild's own code, a changed content, a
 * missing output — falls back to the full plan. This module imports nothing heavy on purpose (the
 * YAML parser only when the experiment file's stats moved).
 */
import { filesUnder } from './walk.js';
import { writeFileAtomic } from './atomicFile.js';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { basename, dirname, join, resolve } from 'node:path';
import { projectCachePath } from './ignoredDir.js';
import { fileURLToPath } from 'node:url';
import { packageRoot } from './paths.js';
import { findProjectDir } from './projectDir.js';
import type { Json } from './json.js';
import type { LoadedSource } from './source.js';

const STAMP_VERSION = 2;
/** Dependencies up to this size are hashed when the stamp is written, if no hash is known yet. */
const HASHED_WHEN_WRITTEN = 1 << 20;
const RACY_WINDOW_MS = 1000;

/** Stats of a file; a file modified within the racy second also carries its content hash. */
type FileSignature = [path: string, size: number, mtimeMs: number, ino: number, sha256?: string] | [path: string, 'absent'];

interface Stamp {
  version: number;
  written_at: number;
  files: FileSignature[];
  /** The experiment file, and the sha256 of its parsed data in canonical form. */
  experiment?: { file: string; data_sha256: string };
  /** Paths that must still exist: every run's recorded outputs (or its directory). */
  outputs: string[];
  runs: number;
}

function stampPath(experimentFile: string): string {
  const absolute = resolve(experimentFile);
  const projectDir = findProjectDir(absolute);
  return projectCachePath(projectDir, 'stamps', absolute);
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
  // The code that runs: the command line's bundle (dist/bundle, scripts/bundle.mjs) when this
  // module is part of it, else the compiled modules (a test, or a library user, imports those).
  const here = dirname(fileURLToPath(import.meta.url));
  const dirs = basename(here) === 'bundle' ? [here] : ['dist/core', 'dist/rules'].map((dir) => join(packageRoot, dir));
  const compiled = dirs.flatMap((dir) => filesUnder(dir).filter((path) => path.endsWith('.js') || path.endsWith('.cjs')));
  return [join(packageRoot, 'package.json'), ...compiled, ...filesUnder(join(packageRoot, 'templates'))];
}

let code: string | undefined;

/** sha256 of ckbuild's own code and templates, by content (~4 ms): what made a saved plan (core/planBase.ts). */
export function codeDigest(): string {
  if (code === undefined) {
    const hash = createHash('sha256');
    for (const file of codeFiles().sort()) hash.update(`${file}\0`).update(readFileSync(file)).update('\0');
    code = hash.digest('hex');
  }
  return code;
}

/**
 * `planned` holds the stats the plan saw before reading each file; a dependency that no longer
 * matches them was edited during the build, and then no stamp is written (the next invocation
 * plans in full). Files without a planned stat (the manifest ckbuild itself just wrote, an absent
 * local config) are taken as they are now.
 */
export interface StampContent {
  /** sha256 of dependencies already known (the inputs' hashes from the stat cache). */
  hashes?: ReadonlyMap<string, string>;
  /** sha256 of the experiment's parsed data in canonical form (dataHash). */
  experimentData?: string;
}

export function writeUpToDateStamp(
  experimentFile: string,
  dependencies: string[],
  outputs: string[],
  runs: number,
  planned: ReadonlyMap<string, { size: number; mtimeMs: number; ino: number }> = new Map(),
  content: StampContent = {},
): boolean {
  const path = stampPath(experimentFile);
  const writtenAt = Date.now();
  const code = new Set(codeFiles());
  const files = [...new Set([...dependencies, ...code])].sort().map((file) => (code.has(file) ? stampSignature(file, writtenAt) : contentSignature(file, writtenAt, content.hashes?.get(file))));
  for (const signature of files) {
    const before = planned.get(signature[0]);
    if (!before) continue;
    if (signature[1] === 'absent' || signature[1] !== before.size || signature[2] !== before.mtimeMs || signature[3] !== before.ino) return false;
  }
  const stamp: Stamp = { version: STAMP_VERSION, written_at: writtenAt, files, outputs, runs };
  if (content.experimentData) stamp.experiment = { file: resolve(experimentFile), data_sha256: content.experimentData };
  writeFileAtomic(path, JSON.stringify(stamp));
  return true;
}

/** A dependency's stats and, when known or cheap (≤ 1 MiB), its content hash: what lets a touched file be compared. */
function contentSignature(path: string, writtenAt: number, known: string | undefined): FileSignature {
  const recorded = stampSignature(path, writtenAt);
  if (recorded[1] === 'absent' || recorded[4] !== undefined) return recorded;
  const hash = known ?? (recorded[1] <= HASHED_WHEN_WRITTEN ? contentHash(path) : undefined);
  return hash ? [recorded[0], recorded[1], recorded[2], recorded[3], hash] : recorded;
}

/**
 * The hash the stamp keeps of an experiment's data: its JSON, so comments and layout do not count.
 * Key order does (not canonical JSON): a grid's labels, and so run ids, follow the order of `vary`.
 */
export function dataHash(data: Json | undefined): string {
  return createHash('sha256').update(JSON.stringify(data ?? null)).digest('hex');
}

/**
 * The number of runs when the experiment is provably up to date; undefined when unsure. A stamp
 * is only an accelerator: one that is damaged, of another shape or unreadable means "unsure".
 */
/** Reads the experiment file when its text changed, to compare its data (core/experiment/preread.ts reads it from the saved plan). */
export type ExperimentReader = (path: string) => Promise<LoadedSource>;

const readWhole: ExperimentReader = async (path) => (await import('./source.js')).loadSourceFile(path);

export async function checkUpToDateStamp(experimentFile: string, readExperiment: ExperimentReader = readWhole): Promise<number | undefined> {
  const path = stampPath(experimentFile);
  let stamp: Stamp;
  try {
    stamp = JSON.parse(readFileSync(path, 'utf8')) as Stamp;
  } catch {
    return undefined;
  }
  try {
    const checked = await checkStamp(stamp, readExperiment);
    if (checked?.refreshed) writeFileAtomic(path, JSON.stringify({ ...stamp, files: checked.files, written_at: Date.now() }));
    return checked?.runs;
  } catch {
    return undefined;
  }
}

async function checkStamp(stamp: Stamp, readExperiment: ExperimentReader): Promise<{ runs: number; files: FileSignature[]; refreshed: boolean } | undefined> {
  if (stamp === null || typeof stamp !== 'object' || stamp.version !== STAMP_VERSION || !Array.isArray(stamp.files) || !Array.isArray(stamp.outputs) || typeof stamp.runs !== 'number') return undefined;
  // The stamp vouches for the code that wrote it: another install of ckbuild (an upgrade
  // elsewhere on PATH, npx's copy) finds its own files missing from the list, and plans.
  const listed = new Set(stamp.files.map((file) => file[0]));
  if (!codeFiles().every((file) => listed.has(file))) return undefined;
  const files: FileSignature[] = [];
  /** Files whose stats cannot vouch for them, by their place in `files`: their content (or, for the experiment, its data) must. */
  const unsure: Array<{ at: number; recorded: FileSignature; now: FileSignature; moved: boolean }> = [];
  for (const recorded of stamp.files) {
    const now = signature(recorded[0]);
    if (recorded[1] === 'absent' || now[1] === 'absent') {
      if (recorded[1] !== now[1]) return undefined;
      files.push(recorded);
      continue;
    }
    const moved = now[1] !== recorded[1] || now[2] !== recorded[2] || now[3] !== recorded[3];
    const racy = stamp.written_at - (now[2] as number) <= RACY_WINDOW_MS;
    // Moved with no hash to compare, and not the experiment (compared by its data): changed, as far as anyone can tell.
    if (moved && recorded[4] === undefined && stamp.experiment?.file !== recorded[0]) return undefined;
    if (moved || racy) unsure.push({ at: files.length, recorded, now, moved });
    files.push(recorded);
  }
  // The smallest first: when the experiment's data changed (its text is read for the plan anyway),
  // the 36 MB manifest a build of a 20,000-run sweep just rewrote is not hashed, nor 20,000
  // outputs looked up, only to plan after all.
  unsure.sort((a, b) => (a.now[1] as number) - (b.now[1] as number));
  let refreshed = false;
  for (const { at, recorded, now, moved } of unsure) {
    if (!(await sameContent(recorded, stamp, readExperiment))) return undefined;
    if (!moved) continue;
    const hash = recorded[4];
    files[at] = hash === undefined ? [now[0], now[1] as number, now[2] as number, now[3] as number] : [now[0], now[1] as number, now[2] as number, now[3] as number, hash];
    refreshed = true;
  }
  for (const output of stamp.outputs) if (!existsSync(output)) return undefined;
  return { runs: stamp.runs, files, refreshed };
}

async function sameContent(recorded: FileSignature, stamp: Stamp, readExperiment: ExperimentReader): Promise<boolean> {
  const path = recorded[0];
  if (recorded[1] === 'absent') return false;
  const hash = contentHash(path);
  if (recorded[4] !== undefined && hash === recorded[4]) return true;
  if (stamp.experiment?.file !== path || hash === undefined) return false;
  // The experiment file's text changed: the plan only sees its data.
  const loaded = await readExperiment(path);
  if (!loaded.source || loaded.diagnostics.length > 0) return false;
  if (dataHash(loaded.source.data) !== stamp.experiment.data_sha256) return false;
  recorded[4] = hash; // the new text, for the refreshed stamp
  return true;
}
