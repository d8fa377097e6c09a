/**
 * A manifest's index: what planning needs of each record (key, id, status, when, outputs) and
 * where the record lies in the file, kept in `.ckbuild/manifests/`, git-ignored. A 20,000-run
 * manifest is 36 MB of JSON: parsing it takes ~0.17 s and as much again in garbage collection,
 * where its index reads in ~10 ms. A plan classifies every run from the index and reads a full
 * record only where it needs one (the diff of a changed run), from the manifest file itself. The
 * index keeps its records as columns (one array per field, repeated values in tables), which
 * JSON.parse reads several times faster than 20,000 rows of small arrays.
 *
 * An index vouches only for the bytes it was made from: the manifest's size, mtime and inode as it
 * recorded them and, when the manifest may have been rewritten within the same clock tick since
 * (RACY_WINDOW_MS, as the stat cache), its sha256. Anything else (no index, a damaged one, another
 * version, a manifest written by hand) means "parse the manifest"; the index is only an accelerator.
 */
import { join } from 'node:path';
import type { Stats } from 'node:fs';
import { writeFileAtomic } from './atomicFile.js';
import { isIndexColumn, isStrings, joinedKeys, KEY_LENGTH, keyAt, ValueTable } from './columns.js';
import { RACY_WINDOW_MS, sha256 } from './hash.js';
import { ensureIgnoredDir, projectCachePath } from './ignoredDir.js';
import type { RunRecord, RunStatus } from './manifest.js';
import { readText } from './textFile.js';

const INDEX_VERSION = 2;

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

/** Where each record lies, by key. */
export interface Spans {
  get(key: string): Span | undefined;
}

export interface ManifestIndex {
  /** The manifest file's fields besides its runs. */
  version: number;
  experiment: string;
  experiment_file: string;
  summaries: Map<string, RecordSummary>;
  spans: Spans;
  /**
   * Whether the bytes indexed are ones ckbuild wrote (core/manifest.ts writeManifest), not a file
   * it read (a hand edit, a merge): each record's bytes are then exactly its stableStringify text,
   * and a later write may copy them for a record that did not change.
   */
  written: boolean;
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

/** The records in the manifest's order, a column per field (see SavedRuns in core/planBase.ts). */
interface SavedSummaries {
  /** The keys, KEY_LENGTH hex characters each, one after another. */
  keys: string;
  ids: string[];
  statuses: string[];
  status: number[];
  recordedAt: string[];
  /** [record index, detail] of each record that has one. */
  details: Array<[number, string]>;
  /** The distinct lists of output paths; a record's is its item of `outputs`, -1 for none. */
  outputLists: string[][];
  outputs: number[];
  /** start and end of each record's bytes, in turn. */
  spans: number[];
}

interface SavedHeader extends IndexedStat {
  version: number;
  /** The body's own sha256: a damaged or hand-edited index is never taken for the manifest's. */
  body: string;
  manifest: { version: number; experiment: string; experiment_file: string };
  written?: boolean;
}

/** False when it could not be written (a read-only checkout): the next plan parses the manifest again. */
export function saveManifestIndex(path: string, projectDir: string, index: ManifestIndex, stat: IndexedStat): boolean {
  const statuses = new ValueTable<string>();
  const outputLists = new ValueTable<string[]>();
  const saved: SavedSummaries = { keys: '', ids: [], statuses: statuses.items, status: [], recordedAt: [], details: [], outputLists: outputLists.items, outputs: [], spans: [] };
  const keys: string[] = [];
  for (const [key, summary] of index.summaries) {
    const at = keys.push(key) - 1;
    saved.ids.push(summary.id);
    saved.status.push(statuses.indexOf(summary.status, summary.status));
    saved.recordedAt.push(summary.recorded_at);
    if (summary.detail !== undefined) saved.details.push([at, summary.detail]);
    saved.outputs.push(summary.outputs ? outputLists.indexOf(summary.outputs.map((output) => output.path)) : -1);
    saved.spans.push(...index.spans.get(key)!);
  }
  const joined = joinedKeys(keys);
  if (joined === undefined) return false; // not ckbuild's keys: parse the manifest each time
  saved.keys = joined;
  const body = JSON.stringify(saved);
  const header: SavedHeader = { version: INDEX_VERSION, body: sha256(body), size: stat.size, mtimeMs: stat.mtimeMs, ino: stat.ino, sha256: stat.sha256, madeAt: stat.madeAt, manifest: { version: index.version, experiment: index.experiment, experiment_file: index.experiment_file }, written: index.written };
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

/** The index the columns say, if they are all there and consistent; else undefined (the manifest is parsed). */
function indexFrom(header: SavedHeader, body: unknown, size: number): ManifestIndex | undefined {
  if (!isObject(body)) return undefined;
  const saved = body as unknown as SavedSummaries;
  const { ids } = saved;
  if (!isStrings(ids) || typeof saved.keys !== 'string' || saved.keys.length !== ids.length * KEY_LENGTH) return undefined;
  const count = ids.length;
  if (!isStrings(saved.statuses) || !isStrings(saved.recordedAt) || saved.recordedAt.length !== count) return undefined;
  if (!Array.isArray(saved.outputLists) || !saved.outputLists.every(isStrings)) return undefined;
  if (!isIndexColumn(saved.status, count, 0, saved.statuses.length) || !isIndexColumn(saved.outputs, count, -1, saved.outputLists.length)) return undefined;
  if (!Array.isArray(saved.details) || !saved.details.every((entry) => Array.isArray(entry) && entry.length === 2 && Number.isInteger(entry[0]) && entry[0] >= 0 && entry[0] < count && typeof entry[1] === 'string')) return undefined;
  const { spans: bytes } = saved;
  if (!Array.isArray(bytes) || bytes.length !== 2 * count) return undefined;
  for (let i = 0; i < count; i++) {
    const start = bytes[2 * i] as number;
    const end = bytes[2 * i + 1] as number;
    if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || start >= end || end > size) return undefined;
  }
  // Shared by every record that has the same: read-only, as RecordSummary says.
  const outputLists = saved.outputLists.map((paths) => Object.freeze(paths.map((path) => Object.freeze({ path }))));
  const details = new Map(saved.details);
  const summaries = new Map<string, PlacedSummary>();
  for (let i = 0; i < count; i++) {
    const key = keyAt(saved.keys, i);
    const summary: PlacedSummary = { key, id: ids[i]!, status: saved.statuses[saved.status[i]!] as RunStatus, recorded_at: saved.recordedAt[i]!, start: bytes[2 * i]!, end: bytes[2 * i + 1]! };
    const detail = details.get(i);
    if (detail !== undefined) summary.detail = detail;
    const outputs = saved.outputs[i]!;
    if (outputs >= 0) summary.outputs = outputLists[outputs]!;
    summaries.set(key, summary);
  }
  if (summaries.size !== count) return undefined;
  // Each summary says where its record lies: 20,000 spans are not a map of their own.
  const spans: Spans = {
    get(key) {
      const summary = summaries.get(key);
      return summary && [summary.start, summary.end];
    },
  };
  return { ...header.manifest, summaries, spans, written: header.written === true };
}

/** A summary as an index reads it, with where its record lies in the manifest. */
interface PlacedSummary extends RecordSummary {
  start: number;
  end: number;
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
