/**
 * The manifest: one record per run, committed next to the experiment file
 * (`experiments/cap.yaml` → `experiments/cap.manifest.json`). Records are kept for old keys
 * too, so reverting a change finds the old result. Written atomically, sorted and pretty so
 * that a git diff shows exactly what changed.
 */
import { existsSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import type { Curve, Resources, StepKind } from './rule.js';
import type { Diagnostic } from './diagnostics.js';
import { isObject, type JsonObject, stableStringify, type Json } from './json.js';
import type { RecordedInput } from './identity.js';
import { writeFileAtomic } from './atomicFile.js';
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

export interface Manifest {
  version: number;
  experiment: string;
  /** The experiment file, relative to the manifest. */
  experiment_file: string;
  runs: Map<string, RunRecord>;
}

export function manifestPathFor(experimentFile: string): string {
  const extension = extname(experimentFile);
  return join(dirname(experimentFile), `${basename(experimentFile, extension)}.manifest.json`);
}

export function emptyManifest(experiment: string, experimentFile: string): Manifest {
  return { version: MANIFEST_VERSION, experiment, experiment_file: basename(experimentFile), runs: new Map() };
}

export function readManifest(path: string, experiment: string, experimentFile: string): { manifest: Manifest; diagnostics: Diagnostic[] } {
  if (!existsSync(path)) return { manifest: emptyManifest(experiment, experimentFile), diagnostics: [] };
  const fail = (message: string): { manifest: Manifest; diagnostics: Diagnostic[] } => ({
    manifest: emptyManifest(experiment, experimentFile),
    diagnostics: [{ severity: 'error', code: 'bad-manifest', file: path, line: 0, column: 0, field: '', message }],
  });
  let parsed: Json;
  try {
    parsed = JSON.parse(readManifestText(path)) as Json;
  } catch (error) {
    return fail(`the manifest is not valid JSON (${(error as Error).message}); restore it from git (\`git checkout -- ${basename(path)}\`)`);
  }
  if (!isObject(parsed) || typeof parsed.version !== 'number' || !Array.isArray(parsed.runs)) return fail('this is not a ckbuild manifest (no `version` and `runs`)');
  if (parsed.version > MANIFEST_VERSION) return fail(`the manifest was written by a newer ckbuild (manifest version ${parsed.version}; this ckbuild reads up to ${MANIFEST_VERSION}); upgrade ckbuild`);
  const runs = new Map<string, RunRecord>();
  for (const [index, record] of parsed.runs.entries()) {
    const problem = recordProblem(record);
    if (problem) return fail(`runs[${index}] is not a valid run record (${problem}); restore the manifest from git (\`git checkout -- ${basename(path)}\`)`);
    runs.set((record as JsonObject).key as string, record as unknown as RunRecord);
  }
  return {
    manifest: { version: MANIFEST_VERSION, experiment: String(parsed.experiment ?? experiment), experiment_file: String(parsed.experiment_file ?? basename(experimentFile)), runs },
    diagnostics: [],
  };
}

export function serializeManifest(manifest: Manifest): string {
  const runs = [...manifest.runs.values()].sort((a, b) => a.id.localeCompare(b.id) || a.recorded_at.localeCompare(b.recorded_at) || a.key.localeCompare(b.key));
  return stableStringify({ version: manifest.version, experiment: manifest.experiment, experiment_file: manifest.experiment_file, runs: runs as unknown as Json[] });
}

/** Atomic replace: readers see the old manifest or the new one, never half of one. Returns whether the bytes changed. */
export function writeManifest(path: string, manifest: Manifest): boolean {
  const text = serializeManifest(manifest);
  if (existsSync(path) && readManifestText(path) === text) return false;
  writeFileAtomic(path, text);
  return true;
}


/** A manifest's text (latin1 when it is ASCII: core/textFile.ts). */
export const readManifestText = readText;

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
