/**
 * A manifest's index: what planning needs of each record (key, id, status, when, outputs) and
 * where the record lies in the file, kept in `.ckbuild/manifests/`, git-ignored. A 20,000-run
 * manifest is 36 MB of JSON: parsing it takes ~0.17 s and as much again in garbage collection,
 * where its index reads in ~10 ms. A plan classifies every run from the index and reads a full
 * record only where it needs one (the diff of a changed run), from the manifest file itself.
 *
 * An index vouches only for the bytes it was made from: the manifest's size, mtime and inode as it
 * recorded them and, when the manifest may have been rewritten within the same clock tick since
 * (RACY_WINDOW_MS, as the stat cache), its sha256. Anything else (no index, a damaged one, another
 * version, a manifest written by hand) means "parse the manifest"; the index is only an accelerator.
 */
import { join } from 'node:path';
import type { Stats } from 'node:fs';
import { writeFileAtomic } from './atomicFile.js';
import { RACY_WINDOW_MS, sha256 } from './hash.js';
import { ensureIgnoredDir, projectCachePath } from './ignoredDir.js';
import type { RunRecord, RunStatus } from './manifest.js';
import { readText } from './textFile.js';

const INDEX_VERSION = 1;

/** What planning reads of a record: a RunRecord is one too. */
export interface RecordSummary {
  key: string;
  id: string;
  status: RunStatus;
  recorded_at: string;
  detail?: string;
  outputs?: ReadonlyArray<{ path: string }>;
}

/** Where one record's JSON lies in the manifest's bytes: [start, end). */
export type Span = readonly [number, number];

export interface ManifestIndex {
  /** The manifest file's fields besides its runs. */
  version: number;
  experiment: string;
  experiment_file: string;
  summaries: Map<string, RecordSummary>;
  spans: Map<string, Span>;
}

/** The stats an index is made for; `madeAt` is when those bytes were known to be the ones indexed. */
export interface IndexedStat {
  size: number;
  mtimeMs: number;
  ino: number;
  sha256: string;
  madeAt: number;
}

export function manifestIndexPath(projectDir: string, manifestPath: string): string {
  return projectCachePath(projectDir, 'manifests', manifestPath);
}

// How stableStringify lays a manifest out: each record of `runs` opens and closes on a line of
// its own, indented by four spaces. JSON strings cannot hold a raw newline, so these bytes occur
// nowhere else; every span found is checked against its record's key besides.
const RECORD_OPEN = Buffer.from('\n    {\n');
const RECORD_CLOSE = Buffer.from('\n    }');

/**
 * The span of each record, `keys` in the file's order; undefined when the bytes are not laid out as
 * ckbuild writes them (a manifest reformatted by hand is then simply parsed in full).
 */
export function recordSpans(bytes: Buffer, keys: readonly string[]): Span[] | undefined {
  const spans: Span[] = [];
  let at = 0;
  for (const key of keys) {
    const open = bytes.indexOf(RECORD_OPEN, at);
    if (open < 0) return undefined;
    const start = open + RECORD_OPEN.length - 2; // the `{`
    const close = bytes.indexOf(RECORD_CLOSE, start);
    if (close < 0) return undefined;
    const end = close + RECORD_CLOSE.length;
    const keyAt = bytes.indexOf(`\n      "key": ${JSON.stringify(key)}`, start);
    if (keyAt < 0 || keyAt > end) return undefined;
    spans.push([start, end]);
    at = end;
  }
  return bytes.indexOf(RECORD_OPEN, at) < 0 ? spans : undefined;
}

export function summaryOf(record: RunRecord): RecordSummary {
  const summary: RecordSummary = { key: record.key, id: record.id, status: record.status, recorded_at: record.recorded_at };
  if (record.detail !== undefined) summary.detail = record.detail;
  if (record.outputs) summary.outputs = record.outputs.map((output) => ({ path: output.path }));
  return summary;
}

/** One record as the index file keeps it: key, id, status, recorded_at, detail, output paths, start, end. */
type SavedSummary = [string, string, string, string, string | null, string[] | null, number, number];

interface SavedHeader extends IndexedStat {
  version: number;
  /** The body's own sha256: a damaged or hand-edited index is never taken for the manifest's. */
  body: string;
  manifest: { version: number; experiment: string; experiment_file: string };
}

/** False when it could not be written (a read-only checkout): the next plan parses the manifest again. */
export function saveManifestIndex(path: string, projectDir: string, index: ManifestIndex, stat: IndexedStat): boolean {
  const records: SavedSummary[] = [];
  for (const [key, summary] of index.summaries) {
    const span = index.spans.get(key)!;
    records.push([key, summary.id, summary.status, summary.recorded_at, summary.detail ?? null, summary.outputs ? summary.outputs.map((output) => output.path) : null, span[0], span[1]]);
  }
  const body = JSON.stringify(records);
  const header: SavedHeader = { version: INDEX_VERSION, body: sha256(body), size: stat.size, mtimeMs: stat.mtimeMs, ino: stat.ino, sha256: stat.sha256, madeAt: stat.madeAt, manifest: { version: index.version, experiment: index.experiment, experiment_file: index.experiment_file } };
  try {
    ensureIgnoredDir(join(projectDir, '.ckbuild'), projectDir);
    writeFileAtomic(path, `${JSON.stringify(header)}\n${body}`);
    return true;
  } catch {
    return false;
  }
}

/**
 * The index saved for the manifest whose stats are `stat`, or undefined. `bytes` gives the
 * manifest's content when the stats alone cannot vouch (it may have been rewritten within a clock
 * tick of being indexed): then its sha256 must match. `trusted` says whether the stats alone did.
 */
export function loadManifestIndex(path: string, stat: Pick<Stats, 'size' | 'mtimeMs' | 'ino'>, bytes: () => Buffer): { index: ManifestIndex; trusted: boolean; sha256: string } | undefined {
  let header: unknown;
  let body: unknown;
  try {
    const text = readText(path);
    const newline = text.indexOf('\n');
    header = JSON.parse(text.slice(0, newline));
    if (!isSavedHeader(header) || header.size !== stat.size || header.mtimeMs !== stat.mtimeMs || header.ino !== stat.ino) return undefined;
    const trusted = header.madeAt - stat.mtimeMs > RACY_WINDOW_MS;
    if (!trusted && sha256(bytes()) !== header.sha256) return undefined;
    const bodyText = text.slice(newline + 1);
    if (sha256(bodyText) !== header.body) return undefined;
    body = JSON.parse(bodyText);
    const index = indexFrom(header, body, stat.size);
    return index && { index, trusted, sha256: header.sha256 };
  } catch {
    return undefined;
  }
}

function indexFrom(header: SavedHeader, body: unknown, size: number): ManifestIndex | undefined {
  if (!Array.isArray(body)) return undefined;
  const summaries = new Map<string, RecordSummary>();
  const spans = new Map<string, Span>();
  for (const saved of body as unknown[]) {
    if (!isSavedSummary(saved, size)) return undefined;
    const [key, id, status, recordedAt, detail, outputs, start, end] = saved;
    const summary: RecordSummary = { key, id, status: status as RunStatus, recorded_at: recordedAt };
    if (detail !== null) summary.detail = detail;
    if (outputs !== null) summary.outputs = outputs.map((path) => ({ path }));
    summaries.set(key, summary);
    spans.set(key, [start, end]);
  }
  return { ...header.manifest, summaries, spans };
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

function isSavedHeader(value: unknown): value is SavedHeader {
  if (!isObject(value) || value.version !== INDEX_VERSION) return false;
  const { manifest } = value;
  return (
    typeof value.size === 'number' &&
    typeof value.mtimeMs === 'number' &&
    typeof value.ino === 'number' &&
    typeof value.sha256 === 'string' &&
    typeof value.body === 'string' &&
    typeof value.madeAt === 'number' &&
    isObject(manifest) &&
    typeof manifest.version === 'number' &&
    typeof manifest.experiment === 'string' &&
    typeof manifest.experiment_file === 'string'
  );
}

function isSavedSummary(value: unknown, size: number): value is SavedSummary {
  return (
    Array.isArray(value) &&
    value.length === 8 &&
    typeof value[0] === 'string' &&
    typeof value[1] === 'string' &&
    typeof value[2] === 'string' &&
    typeof value[3] === 'string' &&
    (value[4] === null || typeof value[4] === 'string') &&
    (value[5] === null || (Array.isArray(value[5]) && value[5].every((path: unknown) => typeof path === 'string'))) &&
    Number.isInteger(value[6]) &&
    Number.isInteger(value[7]) &&
    value[6] >= 0 &&
    value[6] < value[7] &&
    value[7] <= size
  );
}
