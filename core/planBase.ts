/**
 * A plan saved for the next process to splice into (core/replan.ts): `ckbuild build` after a
 * one-trial edit of a 10,000-trial sweep then expands that trial only, as watch mode does in
 * memory. Kept in `.ckbuild/plans/<experiment>.json`, git-ignored: only an accelerator, so one
 * that is missing, damaged, of another version or of other code means "plan in full".
 *
 * It holds each run's id, place in the graph and upstream ids, labels, resources and site, key,
 * rule, and inputs (path, hash and size by role, in tables shared by the runs that have the same).
 * The resolved parameters and model, the bulk of a run's identity, are not kept: they are read
 * from the manifest record of that key when something asks for them (generating one of the few
 * runs an edit made stale, `plan --json`), through the manifest's index, so neither the base nor
 * the 36 MB manifest of a 20,000-run sweep is parsed in full. Only a run the manifest has no
 * record of when the plan is saved (never built, or edited and dry-run) carries them here.
 * ckbuild's own code is part of it (a new version may expand or resolve differently); the local
 * config only as a digest, since its setup lines may hold secrets. */
import { join } from 'node:path';
import { closeSync, openSync, readSync } from 'node:fs';
import { writeFileAtomic } from './atomicFile.js';
import { readText } from './textFile.js';
import { graphOf } from './graph.js';
import { readFingerprint } from './experiment/expand/context.js';
import type { RecordedInput } from './identity.js';
import { ensureIgnoredDir, projectCachePath } from './ignoredDir.js';
import type { Json, JsonObject } from './json.js';
import { Manifest, type RunRecord } from './manifest.js';
import type { Plan } from './plan.js';
import { readableName } from './names.js';
import type { Resources } from './rule.js';
import { type BaseRun, localConfigDigest, outlineDigest, type RunShape, type SpliceBase } from './replan.js';
import type { Experiment } from './experiment/model.js';
import type { LocalConfig } from './localConfig.js';
import { codeDigest } from './upToDate.js';

const BASE_VERSION = 3;

/**
 * One run: id, key, step, labels, resources, site, earlyStopLoss, upstream [role, index],
 * downstream indexes, index into `inputs`, rule, rule version, and its parameters and model when
 * the manifest had no record of its key (a run never built, a dry run's edit): null when the
 * record says them.
 */
type SavedRun = [string, string, string, JsonObject, Resources, JsonObject | null, number | null, Array<[string, number]>, number[], number, string, number, SavedParams | null];

/** What a record says that the base does not keep, in the record's own field names. */
type SavedParams = Pick<RunRecord, 'params' | 'model'>;

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
  /** Each trial's label. */
  labels: string[];
  /** The distinct input tables (role → path, hash, size) the runs use. */
  inputs: Array<Record<string, RecordedInput>>;
  runs: SavedRun[];
}

function basePath(projectDir: string, experimentFile: string): string {
  return projectCachePath(projectDir, 'plans', experimentFile);
}

/**
 * Saves a plan as the base of the next process's re-plan; only a plan without diagnostics of a
 * native experiment (what a splice needs) is saved. False when it could not be written.
 */
export function savePlanBase(plan: Plan): boolean {
  if (plan.diagnostics.length > 0 || plan.experiment.format !== 'native') return false;
  const index = new Map(plan.graph.order.map((id, i) => [id, i]));
  const tables = new Map<string, number>();
  const inputs: Array<Record<string, RecordedInput>> = [];
  const runs: SavedRun[] = plan.graph.order.map((id) => {
    const run = plan.byId.get(id)!;
    const signature = JSON.stringify(run.inputs);
    let table = tables.get(signature);
    if (table === undefined) {
      table = inputs.push(run.inputs) - 1;
      tables.set(signature, table);
    }
    const upstream = Object.entries(run.upstream).map(([role, up]): [string, number] => [role, index.get(up.id)!]);
    let own: SavedParams | null = null;
    if (!plan.manifest.has(run.key)) {
      own = { params: run.params };
      if (run.model) own.model = run.model;
    }
    return [id, run.key, run.step, run.labels, run.resources, run.site ?? null, run.earlyStopLoss ?? null, upstream, plan.graph.downstreamOf(id).map((down) => index.get(down)!), table, run.rule, run.ruleVersion, own];
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
  // Neither runs nor shapes are kept here: a splice asks once for each, and keeps what it uses.
  const shapeOf = (id: string): RunShape | undefined => {
    const run = byId.get(id);
    if (!run) return undefined;
    const upstream: RunShape['upstream'] = {};
    for (const [role, index] of run[7]) upstream[role] = { id: order[index]! };
    return { key: run[1], step: run[2], labels: run[3], upstream };
  };
  const runOf = (id: string): BaseRun | undefined => {
    const run = byId.get(id);
    return run && baseRunOf(run, saved, order, manifest);
  };
  return {
    experimentFile,
    document: saved.document,
    local: header.local as string,
    trialCount: saved.labels.length,
    trialLabel: (trialId) => saved.labels[trialId - 1],
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

const isRecordedInput = (value: unknown): value is RecordedInput => isObject(value) && typeof value.path === 'string' && typeof value.sha256 === 'string' && typeof value.size === 'number';

/** The body has the shape this module writes: anything else (damaged, hand-edited) is no base. */
function isSavedBody(value: unknown): value is SavedBody {
  if (!isObject(value)) return false;
  if (!isObject(value.document) || !isStrings(value.labels)) return false;
  const { inputs, runs } = value;
  if (!Array.isArray(inputs) || !inputs.every((table) => isObject(table) && Object.values(table).every(isRecordedInput))) return false;
  if (!Array.isArray(runs)) return false;
  return runs.every(
    (run) =>
      Array.isArray(run) &&
      run.length === 13 &&
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
      typeof run[10] === 'string' &&
      typeof run[11] === 'number' &&
      (run[12] === null || isSavedParams(run[12])),
  );
}

function isSavedParams(value: unknown): value is SavedParams {
  return isObject(value) && isObject(value.params) && (value.model === undefined || isObject(value.model));
}

/**
 * A saved run as a run of the base. Its parameters and model are the saved ones or, read when
 * first asked for, those of the manifest record of its key; without either, the base cannot vouch
 * for the run (undefined). The record's key says the rest is the same: the key is the hash of it.
 */
function baseRunOf(run: SavedRun, saved: SavedBody, order: readonly string[], manifest: Manifest): BaseRun | undefined {
  const [, key, , , , , , upstreamRoles, , , , , own] = run;
  if (!own && !manifest.has(key)) return undefined;
  const upstream: Record<string, { id: string; key: string }> = {};
  for (const [role, index] of upstreamRoles) upstream[role] = { id: order[index]!, key: saved.runs[index]![1] };
  return new SavedBaseRun(run, saved.inputs[run[9]]!, upstream, own ?? manifest);
}

/**
 * A class, not an object literal with getters: 20,000 of them are made per re-plan, and a literal's
 * getters are closures made anew for each (about 3× the time, and as much more to collect).
 */
class SavedBaseRun implements BaseRun {
  readonly id: string;
  readonly key: string;
  readonly name: string;
  readonly step: BaseRun['step'];
  readonly rule: string;
  readonly ruleVersion: number;
  readonly labels: JsonObject;
  readonly resources: Resources;
  readonly earlyStopLoss: number | undefined;
  readonly site: JsonObject | undefined;
  private read: SavedParams | undefined;

  constructor(
    run: SavedRun,
    readonly inputs: Record<string, RecordedInput>,
    readonly upstream: Record<string, { id: string; key: string }>,
    private readonly from: SavedParams | Manifest,
  ) {
    this.id = run[0];
    this.key = run[1];
    this.name = readableName(run[1]);
    this.step = run[2] as BaseRun['step'];
    this.labels = run[3];
    this.resources = run[4];
    this.site = run[5] ?? undefined;
    this.earlyStopLoss = run[6] ?? undefined;
    this.rule = run[10];
    this.ruleVersion = run[11];
  }

  get params(): JsonObject {
    return this.saved().params;
  }

  get model(): JsonObject | undefined {
    return this.saved().model;
  }

  private saved(): SavedParams {
    this.read ??= this.from instanceof Manifest ? this.from.recordAsRead(this.key)! : this.from;
    return this.read;
  }
}
