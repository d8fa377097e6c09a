/**
 * A plan saved for the next process to splice into (core/replan.ts): `ckbuild build` after a
 * one-trial edit of a 10,000-trial sweep then expands that trial only, as watch mode does in
 * memory. Kept in `.ckbuild/plans/<experiment>.json`, git-ignored: only an accelerator, so one
 * that is missing, damaged, of another version or of other code means "plan in full".
 *
 * It holds what a run's key does not say: its id, place in the graph and upstream ids, its labels,
 * resources and site, the input paths by role, and the key. What the key does say (resolved
 * parameters, model, input hashes, upstream keys) is read back from the manifest record of that
 * key, so the file stays small (~450 bytes a run) for a sweep that has run; only a run the manifest
 * has no record of when the plan is saved (never built, or edited and dry-run) carries it here.
 * ckbuild's own code is part of it (a new version may expand or resolve differently); the local
 * config only as a digest, since its setup lines may hold secrets. */
import { join, relative } from 'node:path';
import { closeSync, openSync, readSync } from 'node:fs';
import { writeFileAtomic } from './atomicFile.js';
import { readText } from './textFile.js';
import { graphOf } from './graph.js';
import { readFingerprint } from './experiment/expand/context.js';
import { HASH_SCHEME_VERSION, type RecordedInput } from './identity.js';
import { ensureIgnoredDir } from './ignoredDir.js';
import type { Json, JsonObject } from './json.js';
import type { Manifest, RunRecord } from './manifest.js';
import type { Plan } from './plan.js';
import { readableName } from './names.js';
import type { Resources } from './rule.js';
import { type BaseRun, localConfigDigest, outlineDigest, type RunShape, type SpliceBase } from './replan.js';
import type { Experiment } from './experiment/model.js';
import type { LocalConfig } from './localConfig.js';
import { codeDigest } from './upToDate.js';

const BASE_VERSION = 1;

/**
 * One run: id, key, step, labels, resources, site, earlyStopLoss, upstream [role, index],
 * downstream indexes, index into `inputs`, and what its key says when the manifest had no record
 * of it (a run never built, a dry run's edit): null when the record says it.
 */
type SavedRun = [string, string, string, JsonObject, Resources, JsonObject | null, number | null, Array<[string, number]>, number[], number, SavedIdentity | null];

/** The part of a record a run's key says, in the record's own field names. */
type SavedIdentity = Pick<RunRecord, 'key' | 'scheme' | 'rule' | 'rule_version' | 'params' | 'model' | 'inputs' | 'upstream'>;

/**
 * The file is two lines of JSON: this header, compared before the rest is read (a base that does
 * not apply costs a few milliseconds, not a 9 MB parse), then the body.
 */
interface SavedHeader {
  version: number;
  code: string;
  experiment: string;
  local: string;
  /** outlineDigest of the experiment's data. */
  outline: string;
  /** Plan.reads: checked, like the rest of the header, before the body is read. */
  reads: Array<[string, string]>;
}

interface SavedBody {
  document: Json;
  /** Each trial as JSON: compared as text with the trial an edit gives. */
  trials: string[];
  /** Each trial's label. */
  labels: string[];
  /** The distinct input-path tables (role → path) the runs use. */
  inputs: Array<Record<string, string>>;
  runs: SavedRun[];
}

function basePath(projectDir: string, experimentFile: string): string {
  return join(projectDir, '.ckbuild', 'plans', `${relative(projectDir, experimentFile).replace(/[^A-Za-z0-9_.-]+/g, '_')}.json`);
}

/**
 * Saves a plan as the base of the next process's re-plan; only a plan without diagnostics of a
 * native experiment (what a splice needs) is saved. False when it could not be written.
 */
export function savePlanBase(plan: Plan): boolean {
  if (plan.diagnostics.length > 0 || plan.experiment.format !== 'native') return false;
  const index = new Map(plan.graph.order.map((id, i) => [id, i]));
  const tables = new Map<string, number>();
  const inputs: Array<Record<string, string>> = [];
  const runs: SavedRun[] = plan.graph.order.map((id) => {
    const run = plan.byId.get(id)!;
    const paths: Record<string, string> = {};
    for (const role in run.inputs) paths[role] = run.inputs[role]!.path;
    const signature = JSON.stringify(paths);
    let table = tables.get(signature);
    if (table === undefined) {
      table = inputs.push(paths) - 1;
      tables.set(signature, table);
    }
    const upstream = Object.entries(run.upstream).map(([role, up]): [string, number] => [role, index.get(up.id)!]);
    const own: SavedIdentity | null = plan.manifest.runs.has(run.key) ? null : { key: run.key, scheme: HASH_SCHEME_VERSION, rule: run.rule, rule_version: run.ruleVersion, params: run.params, inputs: run.inputs, upstream: run.upstream };
    if (own && run.model) own.model = run.model;
    return [id, run.key, run.step, run.labels, run.resources, run.site ?? null, run.earlyStopLoss ?? null, upstream, plan.graph.downstreamOf(id).map((down) => index.get(down)!), table, own];
  });
  let code: string;
  try {
    code = codeDigest();
  } catch {
    return false; // ckbuild's own files being replaced (an install in progress): save nothing
  }
  const header: SavedHeader = { version: BASE_VERSION, code, experiment: plan.experiment.file, local: localConfigDigest(plan.local), outline: outlineDigest(plan.experiment.document), reads: [...plan.reads] };
  const body: SavedBody = {
    document: plan.experiment.document as unknown as Json,
    trials: plan.trials.map((trial) => JSON.stringify(trial)),
    labels: plan.trials.map((trial) => trial.label),
    inputs,
    runs,
  };
  const path = basePath(plan.experiment.projectDir, plan.experiment.file);
  try {
    ensureIgnoredDir(join(plan.experiment.projectDir, '.ckbuild'), plan.experiment.projectDir);
    writeFileAtomic(path, `${JSON.stringify(header)}\n${JSON.stringify(body)}`);
    return true;
  } catch {
    return false; // a read-only checkout plans in full next time
  }
}

/**
 * The base an earlier process saved for this experiment, if its header fits the experiment and
 * local config as they are now; its runs' identities are read from `manifest`. Undefined when
 * there is none it can trust.
 */
export function loadPlanBase(experiment: Experiment, local: LocalConfig, manifest: Manifest): SpliceBase | undefined {
  const path = basePath(experiment.projectDir, experiment.file);
  let header: unknown;
  try {
    header = JSON.parse(firstLine(path));
  } catch {
    return undefined;
  }
  if (!isObject(header) || header.version !== BASE_VERSION || header.experiment !== experiment.file || header.local !== localConfigDigest(local) || header.outline !== outlineDigest(experiment.document)) return undefined;
  if (!Array.isArray(header.reads) || !header.reads.every((read): read is [string, string] => Array.isArray(read) && read.length === 2 && typeof read[0] === 'string' && typeof read[1] === 'string')) return undefined;
  try {
    if (header.code !== codeDigest()) return undefined;
  } catch {
    return undefined;
  }
  const reads = new Map(header.reads);
  for (const [read, fingerprint] of reads) if (readFingerprint(read) !== fingerprint) return undefined;
  let saved: unknown;
  try {
    const text = readText(path);
    saved = JSON.parse(text.slice(text.indexOf('\n') + 1));
  } catch {
    return undefined;
  }
  if (!isSavedBody(saved)) return undefined;
  const experimentFile = experiment.file;
  const order = saved.runs.map((run) => run[0]);
  if (new Set(order).size !== order.length) return undefined;
  const upstream = new Map<string, string[]>();
  const downstream = new Map<string, string[]>();
  const byId = new Map<string, SavedRun>();
  for (const run of saved.runs) {
    byId.set(run[0], run);
    upstream.set(run[0], [...new Set(run[7].map(([, i]) => order[i]!))]);
    downstream.set(run[0], run[8].map((i) => order[i]!));
  }
  const built = new Map<string, BaseRun | undefined>();
  const runOf = (id: string): BaseRun | undefined => {
    if (built.has(id)) return built.get(id);
    const run = byId.get(id);
    const identity = run && identityFromRecord(run, saved, order, manifest);
    built.set(id, identity);
    return identity;
  };
  const shapes = new Map<string, RunShape>();
  const shapeOf = (id: string): RunShape | undefined => {
    let shape = shapes.get(id);
    if (shape) return shape;
    const run = byId.get(id);
    if (!run) return undefined;
    const upstream: RunShape['upstream'] = {};
    for (const [role, index] of run[7]) upstream[role] = { id: order[index]! };
    shape = { key: run[1], step: run[2], labels: run[3], upstream };
    shapes.set(id, shape);
    return shape;
  };
  return {
    experimentFile,
    document: saved.document,
    local: header.local as string,
    trialCount: saved.trials.length,
    trialLabel: (trialId) => saved.labels[trialId - 1],
    trialChanged: (trial) => saved.trials[trial.trialId - 1] !== JSON.stringify(trial),
    graph: graphOf(order, upstream, downstream),
    reads,
    shape: shapeOf,
    run: runOf,
  };
}

/** The header line, read without the body behind it. */
function firstLine(path: string): string {
  const fd = openSync(path, 'r');
  try {
    const buffer = Buffer.alloc(64 * 1024);
    const length = readSync(fd, buffer, 0, buffer.length, 0);
    const end = buffer.subarray(0, length).indexOf(10);
    if (end < 0) throw new Error('no header line');
    return buffer.subarray(0, end).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const isIndex = (value: unknown, length: number): value is number => Number.isInteger(value) && (value as number) >= 0 && (value as number) < length;
const isStrings = (value: unknown): value is string[] => Array.isArray(value) && value.every((item) => typeof item === 'string');

/** The body has the shape this module writes: anything else (damaged, hand-edited) is no base. */
function isSavedBody(value: unknown): value is SavedBody {
  if (!isObject(value)) return false;
  if (!isObject(value.document) || !isStrings(value.trials) || !isStrings(value.labels) || value.labels.length !== value.trials.length) return false;
  const { inputs, runs } = value;
  if (!Array.isArray(inputs) || !inputs.every((table) => isObject(table) && Object.values(table).every((path) => typeof path === 'string'))) return false;
  if (!Array.isArray(runs)) return false;
  return runs.every(
    (run) =>
      Array.isArray(run) &&
      run.length === 11 &&
      typeof run[0] === 'string' &&
      typeof run[1] === 'string' &&
      typeof run[2] === 'string' &&
      isObject(run[3]) &&
      isObject(run[4]) &&
      (run[5] === null || isObject(run[5])) &&
      (run[6] === null || typeof run[6] === 'number') &&
      Array.isArray(run[7]) &&
      run[7].every((edge: unknown) => Array.isArray(edge) && edge.length === 2 && typeof edge[0] === 'string' && isIndex(edge[1], runs.length)) &&
      Array.isArray(run[8]) &&
      run[8].every((index: unknown) => isIndex(index, runs.length)) &&
      isIndex(run[9], inputs.length) &&
      (run[10] === null || isSavedIdentity(run[10])),
  );
}

function isSavedIdentity(value: unknown): value is SavedIdentity {
  if (!isObject(value) || typeof value.key !== 'string' || typeof value.scheme !== 'number' || typeof value.rule !== 'string' || typeof value.rule_version !== 'number') return false;
  if (!isObject(value.params) || (value.model !== undefined && !isObject(value.model)) || !isObject(value.inputs) || !isObject(value.upstream)) return false;
  return Object.values(value.inputs).every((input) => isObject(input) && typeof input.sha256 === 'string' && typeof input.size === 'number') && Object.values(value.upstream).every((up) => isObject(up) && typeof up.key === 'string');
}

/**
 * A saved run with what its key says: saved with it, or taken from the manifest record of that key.
 * Only one of this key, scheme and shape (the same input roles and upstream roles, with the
 * upstream keys the base gives) vouches for it.
 */
function identityFromRecord(run: SavedRun, saved: SavedBody, order: readonly string[], manifest: Manifest): BaseRun | undefined {
  const [id, key, step, labels, resources, site, earlyStopLoss, upstreamRoles, , table, own] = run;
  const record: SavedIdentity | undefined = own ?? manifest.runs.get(key);
  if (!record || record.key !== key || (record.scheme ?? HASH_SCHEME_VERSION) !== HASH_SCHEME_VERSION) return undefined;
  const paths = saved.inputs[table];
  if (!paths || !record.inputs || Object.keys(paths).length !== Object.keys(record.inputs).length) return undefined;
  const inputs: Record<string, RecordedInput> = {};
  for (const role in paths) {
    const input = record.inputs[role];
    if (!input) return undefined;
    // The path as the experiment writes it now (a record may remember where the same bytes were).
    inputs[role] = { path: paths[role]!, sha256: input.sha256, size: input.size };
  }
  if (!record.upstream || upstreamRoles.length !== Object.keys(record.upstream).length) return undefined;
  const upstream: Record<string, { id: string; key: string }> = {};
  for (const [role, index] of upstreamRoles) {
    const upstreamId = order[index]!;
    const upstreamKey = saved.runs[index]![1];
    if (record.upstream[role]?.key !== upstreamKey) return undefined;
    upstream[role] = { id: upstreamId, key: upstreamKey };
  }
  return {
    id,
    key,
    name: readableName(key),
    step: step as BaseRun['step'],
    rule: record.rule,
    ruleVersion: record.rule_version,
    params: record.params,
    model: record.model,
    inputs,
    upstream,
    labels,
    resources,
    earlyStopLoss: earlyStopLoss ?? undefined,
    site: site ?? undefined,
  };
}
