/**
 * The manifest: one record per run, committed next to the experiment file
 * (`experiments/cap.yaml` → `experiments/cap.manifest.json`). Records are kept for old keys
 * too, so reverting a change finds the old result. Written atomically, sorted and pretty so
 * that a git diff shows exactly what changed.
 */
import { isAscii } from 'node:buffer';
import { createHash } from 'node:crypto';
import { closeSync, fstatSync, openSync, readFileSync, readSync, type Stats, statSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import type { Curve, Resources, StepKind } from './rule.js';
import type { Diagnostic } from './diagnostics.js';
import { isObject, type JsonObject, sortKeysDeep, stableStringify, type Json } from './json.js';
import type { RecordedInput } from './identity.js';
import { writeFileAtomicStat } from './atomicFile.js';
import { RACY_WINDOW_MS, sha256 } from './hash.js';
import { loadManifestIndex, type ManifestIndex, type RecordSummary, recordSpans, saveManifestIndex, type Span, type Spans, summaryOf } from './manifestIndex.js';
import { readText } from './textFile.js';

export const MANIFEST_VERSION = 1;

export type RunStatus =
  | 'planned'
  | 'submitted'
  | 'queued'
  | 'running'
  | 'succeeded'
  | 'failed'
  | 'diverged'
  | 'timeout'
  | 'oom'
  | 'cancelled'
  | 'interrupted'
  | 'blocked'
  | 'skipped';

export const ACTIVE_STATUSES: ReadonlySet<RunStatus> = new Set(['submitted', 'queued', 'running']);
export const FAILED_STATUSES: ReadonlySet<RunStatus> = new Set(['failed', 'diverged', 'timeout', 'oom', 'cancelled', 'interrupted', 'blocked']);

export interface RecordedOutput {
  path: string;
  size: number;
  sha256?: string;
}

export interface RunRecord {
  key: string;
  id: string;
  name: string;
  step: StepKind;
  rule: string;
  rule_version: number;
  scheme: number;
  params: JsonObject;
  model?: JsonObject;
  inputs: Record<string, RecordedInput>;
  upstream: Record<string, { id: string; key: string }>;
  labels: JsonObject;
  /** Site settings the run was rendered with (where its base model lives); never in the key. */
  site?: JsonObject;
  status: RunStatus;
  /** Why it is in that state, in words (SLURM's reason, the error, "diverged: loss nan at step 12"). */
  detail?: string;
  executor?: string;
  job_id?: string;
  host?: string;
  pid?: number;
  node?: string;
  recorded_at: string;
  submitted_at?: string;
  started_at?: string;
  finished_at?: string;
  exit_code?: number;
  elapsed_s?: number;
  gpu_hours?: number;
  attempts?: number;
  resources?: Resources;
  outputs?: RecordedOutput[];
  metrics?: JsonObject;
  /** Series the rule read (loss by step), thinned to at most CURVE_POINTS points. */
  curves?: Record<string, Curve>;
  /** Why metrics are missing or partial (no log, an unreadable log, an evaluation that errored). */
  metrics_note?: string;
  /** GPU utilisation and memory over the job (core/telemetry.ts), where the job watched GPUs. */
  telemetry?: JsonObject;
  env?: JsonObject;
  /** The run directory, relative to the project folder when inside it. */
  run_dir: string;
  /**
   * sha256 of every generated file (config/, inputs/inputs.json) in its portable form
   * (core/generate.ts `portableArtifact`): what `ckbuild reproduce` compares byte for byte.
   */
  artifacts?: Record<string, string>;
  /** The divergence guard its job script was rendered with; not part of the key. */
  early_stop_loss?: number;
  /** Every `ckbuild reproduce` of this run, oldest first (core/reproduce.ts). */
  reproductions?: JsonObject[];
}

/**
 * A manifest as read, and what this process has recorded since. `summaries` and `recordAsRead` say
 * what the file held when it was read; `get`, `set` and `delete` are the records as this process
 * has them: the changes it made, over the file's records. Read through its index (core/
 * manifestIndex.ts), nothing is parsed until a full record is asked for: a few are read one by one
 * from the file as it was opened, and past that it is parsed whole. A build that records its 2
 * stale runs of a 20,000-run sweep therefore never parses the other 19,998 records, and writes
 * them again as the bytes they were read from (writeManifest).
 */
export class Manifest {
  /** What planning reads of each record, as the file had it (a RunRecord where the file was parsed). */
  readonly summaries: ReadonlyMap<string, RecordSummary>;
  private asRead: Map<string, RunRecord> | undefined;
  /** The records this process set since the file was read, by key; undefined for one it deleted. */
  private readonly changes = new Map<string, RunRecord | undefined>();
  private readonly lazy: LazyRecords | undefined;
  /** The bytes the records as read were parsed from, and where each lies: written again as they are while a record is unchanged. */
  private readBytes: { bytes: Buffer; spans: Spans } | undefined;

  private constructor(
    readonly version: number,
    readonly experiment: string,
    /** The experiment file, relative to the manifest. */
    readonly experiment_file: string,
    records: { parsed: Map<string, RunRecord> } | { index: ManifestIndex; file: LazyRecords },
  ) {
    if ('parsed' in records) {
      this.asRead = records.parsed;
      this.summaries = records.parsed;
    } else {
      this.summaries = records.index.summaries;
      this.lazy = records.file;
    }
  }

  static parsed(version: number, experiment: string, experimentFile: string, records: Map<string, RunRecord>): Manifest {
    return new Manifest(version, experiment, experimentFile, { parsed: records });
  }

  static indexed(index: ManifestIndex, file: LazyRecords): Manifest {
    return new Manifest(index.version, index.experiment, index.experiment_file, { index, file });
  }

  /** The record of `key` as this process has it: the last one set, else the file's. */
  get(key: string): RunRecord | undefined {
    return this.changes.has(key) ? this.changes.get(key) : this.recordAsRead(key);
  }

  /** Records `record` as the one of `key`. Records are replaced, never changed in place: one read from the file is frozen. */
  set(key: string, record: RunRecord): void {
    this.changes.set(key, record);
  }

  delete(key: string): void {
    if (this.has(key)) this.changes.set(key, undefined);
  }

  /** Whether there is a record of `key`, as this process has the records. */
  has(key: string): boolean {
    return this.changes.has(key) ? this.changes.get(key) !== undefined : this.summaries.has(key);
  }

  get size(): number {
    let size = this.summaries.size;
    for (const [key, record] of this.changes) size += (record ? 1 : 0) - (this.summaries.has(key) ? 1 : 0);
    return size;
  }

  /** Every record as this process has them, the file's first, in its order: this parses the whole file. */
  records(): RunRecord[] {
    return this.entries().map((entry) => (this.changes.has(entry.key) ? (entry as RunRecord) : this.recordAsRead(entry.key)!));
  }

  /**
   * Every record as this process has them, without parsing any: a record it set, or the summary of
   * one the file holds and it did not change (what ordering and indexing a manifest need).
   */
  entries(): Array<RunRecord | RecordSummary> {
    const entries: Array<RunRecord | RecordSummary> = [];
    for (const [key, summary] of this.summaries) {
      if (!this.changes.has(key)) entries.push(summary);
      else if (this.changes.get(key)) entries.push(this.changes.get(key)!);
    }
    for (const [key, record] of this.changes) if (record && !this.summaries.has(key)) entries.push(record);
    return entries;
  }

  /** Whether `key`'s record is one this process set (else it is the file's, unchanged). */
  changed(key: string): boolean {
    return this.changes.has(key);
  }

  /** The record of `key` as the file held it, whatever this process has recorded since. */
  recordAsRead(key: string): RunRecord | undefined {
    if (this.asRead) return this.asRead.get(key);
    if (!this.summaries.has(key)) return undefined;
    return this.lazy!.one(key) ?? this.allAsRead().get(key);
  }

  private allAsRead(): Map<string, RunRecord> {
    if (!this.asRead) {
      const { records, bytes, spans, written } = this.lazy!.all();
      this.asRead = records;
      if (written) {
        this.readBytes = { bytes, spans };
        // A record as read stands for its bytes from now on: one changed in place would be written as it was.
        for (const record of records.values()) Object.freeze(record);
      }
    }
    return this.asRead;
  }

  /**
   * The bytes the record of `key` was read from, while this process has not replaced it, when they
   * are ckbuild's own layout (ManifestIndex.written): its text in a new manifest is then those
   * bytes, and serialising it again, which is most of a write of 20,000 records, is skipped.
   * Read from the file as it was opened, without parsing it.
   */
  bytesAsRead(key: string): Buffer | undefined {
    if (this.changes.has(key)) return undefined;
    if (!this.readBytes && this.lazy?.written && !this.asRead) this.readBytes = this.lazy.bytes();
    const read = this.readBytes;
    const span = read?.spans.get(key);
    return span ? read!.bytes.subarray(span[0], span[1]) : undefined;
  }
}

/** The records of a manifest opened through its index: read from the open file, which an atomic replace never changes. */
export class LazyRecords {
  private readonly read = new Map<string, RunRecord>();
  private fd: number | undefined;
  /** The whole file, once something needed all of it. */
  private whole: Buffer | undefined;

  constructor(
    fd: number,
    private readonly path: string,
    private readonly spans: Spans,
    private readonly size: number,
    /** ManifestIndex.written: the bytes are ckbuild's own layout. */
    readonly written: boolean,
    /** The whole file, when opening it read it already (to check its hash against the index's). */
    whole?: Buffer,
  ) {
    this.fd = fd;
    this.whole = whole;
    openFiles.register(this, fd, this);
  }

  /** One record, or undefined once so many were read one by one that parsing the whole file is cheaper. */
  one(key: string): RunRecord | undefined {
    const known = this.read.get(key);
    if (known || (this.fd === undefined && !this.whole) || this.read.size >= ONE_BY_ONE) return known;
    const [start, end] = this.spans.get(key)!;
    let record: unknown;
    try {
      record = JSON.parse((this.whole ? this.whole.subarray(start, end) : readRange(this.fd!, start, end - start)).toString('utf8'));
    } catch {
      return undefined; // not a record where the index says: the whole file is parsed, and checked
    }
    if (recordProblem(record as Json) || (record as RunRecord).key !== key) return undefined;
    // Its bytes stand for it while it is not replaced (Manifest.bytesAsRead): changed in place, it would be written as it was.
    if (this.written) Object.freeze(record);
    this.read.set(key, record as RunRecord);
    return record as RunRecord;
  }

  /** The file's bytes, read once, and where each record lies in them (nothing is parsed). */
  bytes(): { bytes: Buffer; spans: Spans } {
    this.whole ??= readRange(this.fd!, 0, this.size);
    this.close();
    return { bytes: this.whole, spans: this.spans };
  }

  /** Every record, the ones already read one by one kept as they are, with the bytes they were read from. */
  all(): { records: Map<string, RunRecord>; bytes: Buffer; spans: Spans; written: boolean } {
    const { bytes } = this.bytes();
    const parsed = parseManifest(bytes.toString(isAscii(bytes) ? 'latin1' : 'utf8'), this.path, '', '');
    if (!('records' in parsed)) throw new Error(`${this.path} changed in place while ckbuild was reading it: ${parsed.problem}`);
    for (const [key, record] of this.read) if (parsed.records.has(key)) parsed.records.set(key, record);
    return { records: parsed.records, bytes, spans: this.spans, written: this.written };
  }

  private close(): void {
    if (this.fd === undefined) return;
    closeSync(this.fd);
    this.fd = undefined;
    openFiles.unregister(this);
  }
}

/** Past this many records read one by one, the whole file is parsed (a command that shows them all). */
const ONE_BY_ONE = 64;

/** A manifest dropped unread (watch mode reads a new one per change) closes its file. */
const openFiles = new FinalizationRegistry<number>((fd) => {
  try {
    closeSync(fd);
  } catch {
    // already closed
  }
});

function readRange(fd: number, start: number, length: number): Buffer {
  const buffer = Buffer.allocUnsafe(length);
  let done = 0;
  while (done < length) {
    const n = readSync(fd, buffer, done, length - done, start + done);
    if (n === 0) throw new Error('the manifest is shorter than when it was opened');
    done += n;
  }
  return buffer;
}

export function manifestPathFor(experimentFile: string): string {
  const extension = extname(experimentFile);
  return join(dirname(experimentFile), `${basename(experimentFile, extension)}.manifest.json`);
}

export function emptyManifest(experiment: string, experimentFile: string): Manifest {
  return Manifest.parsed(MANIFEST_VERSION, experiment, basename(experimentFile), new Map());
}

/** Where a manifest's index is kept (core/manifestIndex.ts): the project folder it belongs to. */
export interface IndexPlace {
  path: string;
  projectDir: string;
}

/** Indexes to save once planning is over (planning itself writes nothing): see keepManifestIndex. */
const pendingIndexes = new WeakMap<Manifest, () => boolean>();

/**
 * Reads a manifest; through its index when `index` names one that vouches for the file as it is
 * (then records are parsed only when asked for), in full otherwise, making the index anew.
 * `indexTried`: readIndexedManifest found a moment ago that the index does not vouch; it is not
 * read (and the manifest hashed against it) a second time.
 */
export function readManifest(path: string, experiment: string, experimentFile: string, index?: IndexPlace, indexTried = false): { manifest: Manifest; diagnostics: Diagnostic[] } {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return { manifest: emptyManifest(experiment, experimentFile), diagnostics: [] };
  }
  let keepOpen = false;
  try {
    const content = new ManifestBytes(fd);
    const indexed = index && !indexTried && throughIndex(fd, path, content, index);
    if (indexed) {
      keepOpen = true;
      return { manifest: indexed, diagnostics: [] };
    }
    const { stat, openedAt } = content;
    const all = content.all();
    const parsed = parseManifest(all.toString(isAscii(all) ? 'latin1' : 'utf8'), path, experiment, experimentFile);
    if (!('records' in parsed)) return { manifest: emptyManifest(experiment, experimentFile), diagnostics: [{ severity: 'error', code: 'bad-manifest', file: path, line: 0, column: 0, field: '', message: parsed.problem }] };
    const manifest = Manifest.parsed(MANIFEST_VERSION, parsed.experiment, parsed.experimentFile, parsed.records);
    if (index) {
      const spans = recordSpans(all, [...parsed.records.keys()]);
      if (spans) {
        const made = indexOf(manifest, parsed.records, spans, false);
        pendingIndexes.set(manifest, () => saveManifestIndex(index.path, index.projectDir, made, { size: stat.size, mtimeMs: stat.mtimeMs, ino: stat.ino, sha256: sha256(all), madeAt: openedAt }));
      }
    }
    return { manifest, diagnostics: [] };
  } finally {
    if (!keepOpen) closeSync(fd);
  }
}

/**
 * The manifest at `path` when its index vouches for the file as it is; undefined when there is no
 * manifest or its index cannot vouch (readManifest then reads it in full). It needs nothing of the
 * experiment: a plan reads it first, to start checking the recorded outputs at once (core/plan.ts).
 */
export function readIndexedManifest(path: string, index: IndexPlace): Manifest | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return undefined;
  }
  const manifest = throughIndex(fd, path, new ManifestBytes(fd), index);
  if (!manifest) closeSync(fd);
  return manifest;
}

/** A manifest file open for reading: its stats when opened, its bytes read once if needed. */
class ManifestBytes {
  readonly stat: Stats;
  readonly openedAt: number;
  #bytes: Buffer | undefined;

  constructor(private readonly fd: number) {
    this.stat = fstatSync(fd);
    this.openedAt = Date.now();
  }

  all(): Buffer {
    return (this.#bytes ??= readRange(this.fd, 0, this.stat.size));
  }

  /** The bytes, if read already. */
  get read(): Buffer | undefined {
    return this.#bytes;
  }
}

/** The manifest as the index at `index` gives it, keeping `fd` to read records from; undefined when the index cannot vouch for the file. */
function throughIndex(fd: number, path: string, content: ManifestBytes, index: IndexPlace): Manifest | undefined {
  const { stat, openedAt } = content;
  const indexed = loadManifestIndex(index.path, stat, () => content.all());
  if (!indexed) return undefined;
  const manifest = Manifest.indexed(indexed.index, new LazyRecords(fd, path, indexed.index.spans, stat.size, indexed.index.written, content.read));
  // Vouched for by its hash: saved again, the next read can trust the stats alone.
  if (!indexed.trusted && openedAt - stat.mtimeMs > RACY_WINDOW_MS) {
    pendingIndexes.set(manifest, () => saveManifestIndex(index.path, index.projectDir, indexed.index, { size: stat.size, mtimeMs: stat.mtimeMs, ino: stat.ino, sha256: indexed.sha256, madeAt: openedAt }));
  }
  return manifest;
}

/** Saves the index a read of this manifest made or re-vouched for, if any; false when there was none or it could not be written. */
export function keepManifestIndex(manifest: Manifest): boolean {
  const save = pendingIndexes.get(manifest);
  pendingIndexes.delete(manifest);
  return save ? save() : false;
}

/** `written`: the bytes are ones writeManifest laid out (ManifestIndex.written). */
function indexOf(manifest: Pick<Manifest, 'version' | 'experiment' | 'experiment_file'>, records: ReadonlyMap<string, RunRecord>, spans: readonly Span[], written: boolean): ManifestIndex {
  const summaries = new Map<string, RecordSummary>();
  const byKey = new Map<string, Span>();
  let i = 0;
  for (const [key, record] of records) {
    summaries.set(key, summaryOf(record));
    byKey.set(key, spans[i++]!);
  }
  return { version: manifest.version, experiment: manifest.experiment, experiment_file: manifest.experiment_file, summaries, spans: byKey, written };
}

/** A manifest's records, in the file's order, or what is wrong with the file. */
function parseManifest(text: string, path: string, experiment: string, experimentFile: string): { records: Map<string, RunRecord>; experiment: string; experimentFile: string } | { problem: string } {
  let parsed: Json;
  try {
    parsed = JSON.parse(text) as Json;
  } catch (error) {
    return { problem: `the manifest is not valid JSON (${(error as Error).message}); restore it from git (\`git checkout -- ${basename(path)}\`)` };
  }
  if (!isObject(parsed) || typeof parsed.version !== 'number' || !Array.isArray(parsed.runs)) return { problem: 'this is not a ckbuild manifest (no `version` and `runs`)' };
  if (parsed.version > MANIFEST_VERSION) return { problem: `the manifest was written by a newer ckbuild (manifest version ${parsed.version}; this ckbuild reads up to ${MANIFEST_VERSION}); upgrade ckbuild` };
  const records = new Map<string, RunRecord>();
  for (const [index, record] of parsed.runs.entries()) {
    const problem = recordProblem(record);
    if (problem) return { problem: `runs[${index}] is not a valid run record (${problem}); restore the manifest from git (\`git checkout -- ${basename(path)}\`)` };
    records.set((record as JsonObject).key as string, record as unknown as RunRecord);
  }
  return { records, experiment: String(parsed.experiment ?? experiment), experimentFile: String(parsed.experiment_file ?? basename(experimentFile)) };
}

/** A record, or the summary of one the file holds unchanged: all that ordering and indexing need. */
type Entry = RunRecord | RecordSummary;

/** The records in the file's order: by id, then when recorded, then key. */
function orderedEntries(manifest: Manifest): Entry[] {
  // Nearly in order already (the file's records, then the few set since): the sort is a merge.
  return manifest.entries().sort((a, b) => a.id.localeCompare(b.id) || a.recorded_at.localeCompare(b.recorded_at) || a.key.localeCompare(b.key));
}

export function serializeManifest(manifest: Manifest): string {
  return Buffer.concat(laidOut(manifest, orderedEntries(manifest)).pieces).toString('utf8');
}

/**
 * The manifest's bytes, as stableStringify lays them out, in pieces, and where each record lies in
 * them. A record read from the file and unchanged since is its bytes as read (a one-trial rebuild
 * of a 20,000-run sweep changes 2 records and took 0.6–1.1 s to serialise all of them); the others
 * are serialised as stableStringify does at that depth: test/core/manifest.test.ts holds both to
 * the same bytes. Pieces, not one buffer: they are written as they are (36 MB copied once less).
 */
function laidOut(manifest: Manifest, entries: readonly Entry[]): { pieces: Buffer[]; spans: Span[]; size: number } {
  const fields = { version: manifest.version, experiment: manifest.experiment, experiment_file: manifest.experiment_file };
  if (entries.length === 0) {
    const empty = Buffer.from(stableStringify({ ...fields, runs: [] }));
    return { pieces: [empty], spans: [], size: empty.length };
  }
  // The layout around the records, from stableStringify itself: `"runs": [` … `  ],` and the rest.
  const [head, tail] = stableStringify({ ...fields, runs: [0] }).split(RECORDS_AT) as [string, string];
  const pieces: Buffer[] = [Buffer.from(`${head}\n${RECORD_INDENT}`)];
  const spans: Span[] = [];
  let at = pieces[0]!.length;
  entries.forEach((entry, i) => {
    if (i > 0) {
      pieces.push(RECORD_SEPARATOR);
      at += RECORD_SEPARATOR.length;
    }
    const bytes = manifest.bytesAsRead(entry.key) ?? recordBytes(manifest.get(entry.key)!);
    pieces.push(bytes);
    spans.push([at, at + bytes.length]);
    at += bytes.length;
  });
  const end = Buffer.from(`\n${tail}`);
  pieces.push(end);
  return { pieces, spans, size: at + end.length };
}

const recordBytes = (record: RunRecord): Buffer => Buffer.from(JSON.stringify(sortKeysDeep(record as unknown as Json), null, 2).replaceAll('\n', `\n${RECORD_INDENT}`));

/** How stableStringify places the items of `runs`: on lines of their own, four spaces in. */
const RECORD_INDENT = '    ';
const RECORDS_AT = `\n${RECORD_INDENT}0\n`;
const RECORD_SEPARATOR = Buffer.from(`,\n${RECORD_INDENT}`);

/**
 * Atomic replace: readers see the old manifest or the new one, never half of one. Returns whether
 * the bytes changed. With `index`, the index of the bytes written is saved too.
 */
export function writeManifest(path: string, manifest: Manifest, index?: IndexPlace): boolean {
  const entries = orderedEntries(manifest);
  const { pieces, spans, size } = laidOut(manifest, entries);
  if (sameBytes(path, pieces, size)) return false;
  const madeAt = Date.now();
  const stat = writeFileAtomicStat(path, pieces);
  if (index) {
    const summaries = new Map<string, RecordSummary>();
    const byKey = new Map<string, Span>();
    entries.forEach((entry, i) => {
      // A summary the index had stays as it is; a record set since is summarised.
      summaries.set(entry.key, !manifest.changed(entry.key) && manifest.summaries.get(entry.key) === entry ? entry : summaryOf(entry as RunRecord));
      byKey.set(entry.key, spans[i]!);
    });
    const hash = createHash('sha256');
    for (const piece of pieces) hash.update(piece);
    const made: ManifestIndex = { version: manifest.version, experiment: manifest.experiment, experiment_file: manifest.experiment_file, summaries, spans: byKey, written: true };
    saveManifestIndex(index.path, index.projectDir, made, { size: stat.size, mtimeMs: stat.mtimeMs, ino: stat.ino, sha256: hash.digest('hex'), madeAt });
  }
  return true;
}

/** A manifest's text (latin1 when it is ASCII: core/textFile.ts). */
export const readManifestText = readText;

/** Whether the file holds exactly these bytes; its size, one stat, tells most writes apart without reading it. */
function sameBytes(path: string, pieces: readonly Buffer[], size: number): boolean {
  try {
    if (statSync(path).size !== size) return false;
    const old = readFileSync(path);
    let at = 0;
    for (const piece of pieces) {
      if (piece.compare(old, at, at + piece.length) !== 0) return false;
      at += piece.length;
    }
    return at === old.length;
  } catch {
    return false;
  }
}

/** What is wrong with a hand-edited record, if anything: the fields every reader relies on. */
function recordProblem(record: Json): string | undefined {
  if (!isObject(record)) return 'not an object';
  for (const field of ['key', 'id', 'name', 'step', 'rule', 'status', 'recorded_at', 'run_dir']) {
    if (typeof record[field] !== 'string') return `\`${field}\` must be a string`;
  }
  for (const field of ['params', 'inputs', 'upstream', 'labels']) {
    if (!isObject(record[field])) return `\`${field}\` must be an object`;
  }
  if (record.outputs !== undefined && !(Array.isArray(record.outputs) && record.outputs.every((o) => isObject(o) && typeof o.path === 'string'))) return '`outputs` must be a list of {path, size}';
  return undefined;
}
