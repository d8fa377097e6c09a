/**
 * A plan saved for the next process to splice into (core/replan.ts): `ckbuild build` after a
 * one-trial edit of a 10,000-trial sweep then expands that trial only, as watch mode does in
 * memory. Kept in `.ckbuild/plans/<experiment>.json`, git-ignored: only an accelerator, so one
 * that is missing, damaged, of another version or of other code means "plan in full".
 *
 * It holds each run's id, place in the graph and upstream ids, labels, resources and site, key,
 * rule, and inputs (path, hash and size by role, in tables shared by the runs that have the same),
 * as columns: one array per field, values that repeat (steps, rules, resources, input tables) in
 * tables the columns index. 20,000 runs parse as a few dozen arrays instead of 20,000 rows and
 * their objects: 17–30 ms against 83–103 ms for rows, parse and indexing together.
 * The resolved parameters and model, the bulk of a run's identity, are not kept: they are read
 * from the manifest record of that key when something asks for them (generating one of the few
 * runs an edit made stale, `plan --json`), through the manifest's index, so neither the base nor
 * the 36 MB manifest of a 20,000-run sweep is parsed in full. Only a run the manifest has no
 * record of when the plan is saved (never built, or edited and dry-run) carries them here.
 * ckbuild's own code is part of it (a new version may expand or resolve differently); the local
 * config only as a digest, since its setup lines may hold secrets.
 * It also keeps the experiment file's text as planned, with its data and where its trials are
 * (a SavedReading): the next process reads an edit inside the trials by reading those trials only
 * (core/editedYaml.ts), which needs no more than the header to match this code and file. */
import { join } from 'node:path';
import { writeFileAtomic } from './atomicFile.js';
import { isIndexColumn, isStrings, joinedKeys, KEY_LENGTH, keyAt, ValueTable } from './columns.js';
import { graphFrom } from './graph.js';
import { readFingerprint } from './experiment/expand/context.js';
import type { RecordedInput } from './identity.js';
import { ensureIgnoredDir } from './ignoredDir.js';
import type { Json, JsonObject } from './json.js';
import { Manifest, type RunRecord } from './manifest.js';
import type { Plan } from './plan.js';
import { readableName } from './names.js';
import type { Resources } from './rule.js';
import { type BaseRun, listingOf, localConfigDigest, outlineDigest, type RunShape, type SpliceBase } from './replan.js';
import type { EarlierListing } from './experiment/trials.js';
import type { Experiment } from './experiment/model.js';
import type { LocalConfig } from './localConfig.js';
import { codeDigest } from './upToDate.js';
import { BASE_VERSION, basePath, type SavedHeader, type SavedPlan, type SavedReading } from './savedPlan.js';
import { sha256 } from './hash.js';

/** What a record says that the base does not keep, in the record's own field names. */
type SavedParams = Pick<RunRecord, 'params' | 'model'>;

/**
 * The runs in graph order, a column per field; run i's value of a field is its column's item i,
 * or the item of the field's table that it indexes.
 */
interface SavedRuns {
  ids: string[];
  /** The keys, KEY_LENGTH hex characters each, one after another. */
  keys: string;
  steps: string[];
  step: number[];
  /** [name, version] of each rule. */
  rules: Array<[string, number]>;
  rule: number[];
  /** The label names of each label shape; run i's values are its shape's many items of labelValues, in turn. */
  labelKeys: string[][];
  labelShape: number[];
  labelValues: Json[];
  resources: Resources[];
  resource: number[];
  sites: JsonObject[];
  /** Index into sites, -1 for none. */
  site: number[];
  earlyStopLoss: Array<number | null>;
  /** Into `inputs` of the body. */
  input: number[];
  roles: string[];
  /** Run i's upstream edges are items upStart[i] to upStart[i + 1] of upRole (into roles) and upTarget (run indexes). */
  upStart: number[];
  upRole: number[];
  upTarget: number[];
  /** Run i's downstream runs are items downStart[i] to downStart[i + 1] of down (run indexes). */
  downStart: number[];
  down: number[];
  /** [run index, its parameters and model] of each run whose key the manifest had no record of. */
  own: Array<[number, SavedParams]>;
}

interface SavedBody {
  /** Each trial's label. */
  labels: string[];
  /** A list protocol's training identity of each item (Trial.training), when every trial has one. */
  trainings?: string[];
  /** The distinct input tables (role → path, hash, size) the runs use. */
  inputs: Array<Record<string, RecordedInput>>;
  runs: SavedRuns;
}

/**
 * Saves a plan as the base of the next process's re-plan; only a plan without diagnostics of a
 * native experiment (what a splice needs) is saved. False when it could not be written.
 */
export function savePlanBase(plan: Plan): boolean {
  if (plan.diagnostics.length > 0 || plan.experiment.format !== 'native') return false;
  const order = plan.graph.order;
  const index = new Map(order.map((id, i) => [id, i]));
  const inputs = new ValueTable<Record<string, RecordedInput>>();
  const steps = new ValueTable<string>();
  const rules = new ValueTable<[string, number]>();
  const labelKeys = new ValueTable<string[]>();
  const resources = new ValueTable<Resources>();
  const sites = new ValueTable<JsonObject>();
  const roles = new ValueTable<string>();
  const runs: SavedRuns = { ids: order, keys: '', steps: steps.items, step: [], rules: rules.items, rule: [], labelKeys: labelKeys.items, labelShape: [], labelValues: [], resources: resources.items, resource: [], sites: sites.items, site: [], earlyStopLoss: [], input: [], roles: roles.items, upStart: [0], upRole: [], upTarget: [], downStart: [0], down: [], own: [] };
  const keys: string[] = [];
  order.forEach((id, i) => {
    const run = plan.byId.get(id)!;
    keys.push(run.key);
    runs.step.push(steps.indexOf(run.step));
    runs.rule.push(rules.indexOf([run.rule, run.ruleVersion]));
    const labelNames = Object.keys(run.labels);
    runs.labelShape.push(labelKeys.indexOf(labelNames));
    for (const name of labelNames) runs.labelValues.push(run.labels[name]!);
    runs.resource.push(resources.indexOf(run.resources));
    runs.site.push(run.site ? sites.indexOf(run.site) : -1);
    runs.earlyStopLoss.push(run.earlyStopLoss ?? null);
    runs.input.push(inputs.indexOf(run.inputs));
    for (const [role, up] of Object.entries(run.upstream)) {
      runs.upRole.push(roles.indexOf(role));
      runs.upTarget.push(index.get(up.id)!);
    }
    runs.upStart.push(runs.upTarget.length);
    for (const down of plan.graph.downstreamOf(id)) runs.down.push(index.get(down)!);
    runs.downStart.push(runs.down.length);
    if (!plan.manifest.has(run.key)) {
      const own: SavedParams = { params: run.params };
      if (run.model) own.model = run.model;
      runs.own.push([i, own]);
    }
  });
  const joined = joinedKeys(keys);
  if (joined === undefined) return false; // not sha256 keys: nothing to splice into next time
  runs.keys = joined;
  let code: string;
  try {
    code = codeDigest();
  } catch {
    return false; // ckbuild's own files being replaced (an install in progress): save nothing
  }
  const { source, document } = plan.experiment;
  const reading: SavedReading = source.items ? { document: document as unknown as Json, text: source.text, spans: source.items } : { document: document as unknown as Json };
  const readingLine = JSON.stringify(reading);
  const header: SavedHeader = { version: BASE_VERSION, code, experiment: plan.experiment.file, local: localConfigDigest(plan.local), outline: outlineDigest(plan.experiment.document), reads: [...plan.reads], reading: sha256(readingLine) };
  const listing = listingOf(plan.experiment.document, plan.trials);
  const body: SavedBody = {
    labels: plan.trials.map((trial) => trial.label),
    ...(listing ? { trainings: [...listing.trainings] } : {}),
    inputs: inputs.items,
    runs,
  };
  const path = basePath(plan.experiment.projectDir, plan.experiment.file);
  try {
    ensureIgnoredDir(join(plan.experiment.projectDir, '.ckbuild'), plan.experiment.projectDir);
    writeFileAtomic(path, `${JSON.stringify(header)}\n${readingLine}\n${JSON.stringify(body)}`);
    return true;
  } catch {
    return false; // a read-only checkout plans in full next time
  }
}

/**
 * The base an earlier process saved for this experiment (`saved`, read by readSavedPlan), if its
 * header fits the experiment and local config as they are now; its runs' identities are read from
 * `manifest`. Undefined when there is none it can trust.
 */
export function loadPlanBase(experiment: Experiment, local: LocalConfig, manifest: Manifest, saved: SavedPlan): SpliceBase | undefined {
  const { header } = saved;
  if (header.local !== localConfigDigest(local) || header.outline !== outlineDigest(experiment.document)) return undefined;
  const reads = new Map(header.reads);
  for (const [read, fingerprint] of reads) if (readFingerprint(read) !== fingerprint) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(saved.body);
  } catch {
    return undefined;
  }
  const columns = isSavedBody(parsed) ? checkedRuns(parsed.runs, parsed.inputs.length) : undefined;
  if (!columns) return undefined;
  const body = parsed as SavedBody;
  const runs = body.runs;
  const ids = runs.ids;
  const index = new Map<string, number>();
  ids.forEach((id, i) => index.set(id, i));
  if (index.size !== ids.length) return undefined;
  const own = new Map(runs.own);
  const upstreamOf = (id: string): string[] => {
    const i = index.get(id);
    const found: string[] = [];
    if (i === undefined) return found;
    for (let edge = runs.upStart[i]!; edge < runs.upStart[i + 1]!; edge++) {
      const up = ids[runs.upTarget[edge]!]!;
      if (!found.includes(up)) found.push(up); // one run may be needed in two roles
    }
    return found;
  };
  const downstreamOf = (id: string): string[] => {
    const i = index.get(id);
    return i === undefined ? [] : runs.down.slice(runs.downStart[i], runs.downStart[i + 1]).map((down) => ids[down]!);
  };
  // Neither runs nor shapes are kept here: a splice asks once for each, and keeps what it uses.
  const shapeOf = (id: string): RunShape | undefined => {
    const i = index.get(id);
    return i === undefined ? undefined : new SavedShape(columns, i);
  };
  // The graph's order is the saved order: a position is the run's index in the columns.
  const runAt = (i: number): BaseRun | undefined => {
    if (i < 0 || i >= ids.length) return undefined;
    const key = columns.key(i);
    const from = own.get(i) ?? manifest;
    return from === manifest && !manifest.has(key) ? undefined : new SavedBaseRun(columns, i, key, body.inputs[runs.input[i]!]!, from);
  };
  const finetune = runs.steps.indexOf('finetune');
  return {
    experimentFile: experiment.file,
    document: saved.document,
    local: header.local,
    trialCount: body.labels.length,
    trialLabel: (trialId) => body.labels[trialId - 1],
    listing: savedListing(saved.document, body),
    graph: graphFrom(ids, upstreamOf, downstreamOf, (id) => index.get(id)),
    reads,
    shape: shapeOf,
    trialOf: (id) => {
      const i = index.get(id);
      if (i === undefined || runs.step[i] !== finetune) return undefined;
      const trial = columns.label(i, 'trial_id');
      return typeof trial === 'number' ? trial : undefined;
    },
    runAt,
  };
}

/** The saved listing of the list protocol's items, when there is one for every item of the document planned. */
function savedListing(document: Json, body: SavedBody): EarlierListing | undefined {
  const items = (document as { protocol?: { runs?: unknown } }).protocol?.runs;
  const { trainings } = body;
  return Array.isArray(items) && isStrings(trainings) && trainings.length === items.length ? { items, trainings } : undefined;
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

const isRecordedInput = (value: unknown): value is RecordedInput => isObject(value) && typeof value.path === 'string' && typeof value.sha256 === 'string' && typeof value.size === 'number';

/** The body has the shape this module writes: anything else (damaged, hand-edited) is no base. */
function isSavedBody(value: unknown): value is SavedBody {
  if (!isObject(value)) return false;
  if (!isStrings(value.labels) || !isObject(value.runs)) return false;
  const { inputs } = value;
  return Array.isArray(inputs) && inputs.every((table) => isObject(table) && Object.values(table).every(isRecordedInput));
}

/** A saved plan's runs, field by field from their columns (checkedRuns has checked them). */
class SavedColumns {
  private readonly labelStart: Int32Array;
  private readonly labelsMade: Array<JsonObject | undefined>;

  constructor(readonly runs: SavedRuns) {
    const count = runs.ids.length;
    this.labelStart = new Int32Array(count + 1);
    for (let i = 0; i < count; i++) this.labelStart[i + 1] = this.labelStart[i]! + runs.labelKeys[runs.labelShape[i]!]!.length;
    this.labelsMade = new Array<JsonObject | undefined>(count);
  }

  get count(): number {
    return this.runs.ids.length;
  }

  key(i: number): string {
    return keyAt(this.runs.keys, i);
  }

  /** Run i's labels, made once: its fine-tune's trial is read from them by every splice. */
  labels(i: number): JsonObject {
    let labels = this.labelsMade[i];
    if (!labels) {
      labels = {};
      const names = this.runs.labelKeys[this.runs.labelShape[i]!]!;
      const start = this.labelStart[i]!;
      names.forEach((name, n) => (labels![name] = this.runs.labelValues[start + n]!));
      this.labelsMade[i] = labels;
    }
    return labels;
  }

  /** Run i's label `name`, without making its labels. */
  label(i: number, name: string): Json | undefined {
    const n = this.runs.labelKeys[this.runs.labelShape[i]!]!.indexOf(name);
    return n < 0 ? undefined : this.runs.labelValues[this.labelStart[i]! + n];
  }

  /** Run i's upstream runs by role, each as `entry` of the upstream run's index gives it. */
  upstream<T>(i: number, entry: (target: number) => T): Record<string, T & { id: string }> {
    const { runs } = this;
    const upstream: Record<string, T & { id: string }> = {};
    for (let edge = runs.upStart[i]!; edge < runs.upStart[i + 1]!; edge++) {
      const target = runs.upTarget[edge]!;
      upstream[runs.roles[runs.upRole[edge]!]!] = { ...entry(target), id: runs.ids[target]! };
    }
    return upstream;
  }

  labelsTotal(): number {
    return this.labelStart[this.count]!;
  }
}

/**
 * The runs' columns, if every column has one item per run (or the edge lists' lengths), each index
 * is within its table and each table holds what it should; undefined otherwise. Checked in plain
 * loops, once per load: 20,000 runs are a few hundred thousand numbers.
 */
function checkedRuns(value: unknown, inputTables: number): SavedColumns | undefined {
  if (!isObject(value)) return undefined;
  const runs = value as unknown as SavedRuns;
  const { ids } = runs;
  if (!isStrings(ids) || typeof runs.keys !== 'string' || runs.keys.length !== ids.length * KEY_LENGTH) return undefined;
  const count = ids.length;
  if (!isStrings(runs.steps) || !isStrings(runs.roles)) return undefined;
  if (!Array.isArray(runs.rules) || !runs.rules.every((rule) => Array.isArray(rule) && rule.length === 2 && typeof rule[0] === 'string' && typeof rule[1] === 'number')) return undefined;
  if (!Array.isArray(runs.labelKeys) || !runs.labelKeys.every(isStrings)) return undefined;
  if (!Array.isArray(runs.resources) || !runs.resources.every(isObject) || !Array.isArray(runs.sites) || !runs.sites.every(isObject)) return undefined;
  if (!isIndexColumn(runs.step, count, 0, runs.steps.length) || !isIndexColumn(runs.rule, count, 0, runs.rules.length) || !isIndexColumn(runs.labelShape, count, 0, runs.labelKeys.length)) return undefined;
  if (!isIndexColumn(runs.resource, count, 0, runs.resources.length) || !isIndexColumn(runs.site, count, -1, runs.sites.length) || !isIndexColumn(runs.input, count, 0, inputTables)) return undefined;
  if (!Array.isArray(runs.earlyStopLoss) || runs.earlyStopLoss.length !== count || !runs.earlyStopLoss.every((loss) => loss === null || typeof loss === 'number')) return undefined;
  const edges = (start: unknown, lists: unknown[]): boolean => {
    if (!Array.isArray(start) || start.length !== count + 1 || start[0] !== 0) return false;
    for (let i = 0; i < count; i++) if (!Number.isInteger(start[i + 1]) || start[i + 1] < start[i]) return false;
    return lists.every((list) => Array.isArray(list) && list.length === start[count]);
  };
  if (!edges(runs.upStart, [runs.upRole, runs.upTarget]) || !isIndexColumn(runs.upRole, runs.upRole.length, 0, runs.roles.length) || !isIndexColumn(runs.upTarget, runs.upTarget.length, 0, count)) return undefined;
  if (!edges(runs.downStart, [runs.down]) || !isIndexColumn(runs.down, runs.down.length, 0, count)) return undefined;
  if (!Array.isArray(runs.own) || !runs.own.every((entry) => Array.isArray(entry) && entry.length === 2 && Number.isInteger(entry[0]) && entry[0] >= 0 && entry[0] < count && isSavedParams(entry[1]))) return undefined;
  if (!Array.isArray(runs.labelValues)) return undefined;
  const columns = new SavedColumns(runs);
  if (runs.labelValues.length !== columns.labelsTotal()) return undefined;
  // Shared by every run that has them: a run's resources or site can never be changed through another's.
  for (const table of [runs.resources, runs.sites]) for (const item of table) Object.freeze(item);
  return columns;
}

function isSavedParams(value: unknown): value is SavedParams {
  return isObject(value) && isObject(value.params) && (value.model === undefined || isObject(value.model));
}

/** A saved run's place and labels, read from the columns when asked: a splice reads every run's step and trial, few runs' upstream. */
class SavedShape implements RunShape {
  constructor(
    private readonly columns: SavedColumns,
    private readonly at: number,
  ) {}

  get key(): string {
    return this.columns.key(this.at);
  }

  get step(): string {
    const { runs } = this.columns;
    return runs.steps[runs.step[this.at]!]!;
  }

  get labels(): JsonObject {
    return this.columns.labels(this.at);
  }

  get upstream(): Record<string, { id: string }> {
    return this.columns.upstream(this.at, () => ({}));
  }
}

/**
 * A saved run as a run of the base. Its parameters and model are the saved ones or, read when
 * first asked for, those of the manifest record of its key. The record's key says the rest is the
 * same: the key is the hash of it. A class, not an object literal with getters: 20,000 of them are
 * made per re-plan, and a literal's getters are closures made anew for each (about 3× the time,
 * and as much more to collect).
 */
class SavedBaseRun implements BaseRun {
  readonly id: string;
  private read: SavedParams | undefined;
  private upstreamRuns: Record<string, { id: string; key: string }> | undefined;

  constructor(
    private readonly columns: SavedColumns,
    private readonly at: number,
    readonly key: string,
    readonly inputs: Record<string, RecordedInput>,
    private readonly from: SavedParams | Manifest,
  ) {
    this.id = columns.runs.ids[at]!;
  }

  get name(): string {
    return readableName(this.key);
  }

  get step(): BaseRun['step'] {
    const { runs } = this.columns;
    return runs.steps[runs.step[this.at]!] as BaseRun['step'];
  }

  get rule(): string {
    const { runs } = this.columns;
    return runs.rules[runs.rule[this.at]!]![0];
  }

  get ruleVersion(): number {
    const { runs } = this.columns;
    return runs.rules[runs.rule[this.at]!]![1];
  }

  get labels(): JsonObject {
    return this.columns.labels(this.at);
  }

  get resources(): Resources {
    const { runs } = this.columns;
    return runs.resources[runs.resource[this.at]!]!;
  }

  get site(): JsonObject | undefined {
    const { runs } = this.columns;
    const site = runs.site[this.at]!;
    return site < 0 ? undefined : runs.sites[site];
  }

  get earlyStopLoss(): number | undefined {
    return this.columns.runs.earlyStopLoss[this.at] ?? undefined;
  }

  get upstream(): Record<string, { id: string; key: string }> {
    this.upstreamRuns ??= this.columns.upstream(this.at, (target) => ({ key: this.columns.key(target) }));
    return this.upstreamRuns;
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
