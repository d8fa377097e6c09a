/**
 * The plan: load → expand → graph → identity → compare with the manifest. Pure apart from
 * reading files; says for every run whether it is up to date, in progress, or stale and why.
 * Staleness reasons are data (the CLI words them; watch mode and CI read them as they are).
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { JobHandle, JobState } from './executors/types.js';
import { unrecordedSuccess } from './reconcile.js';
import type { Resources } from './rule.js';
import { type Diagnostic, hasErrors, mergeRepeated } from './diagnostics.js';
import type { Trial } from './experiment/trials.js';
import { loadPlanBase } from './planBase.js';
import { readSavedPlan } from './savedPlan.js';
import type { Preread } from './experiment/preread.js';
import { type IdentifiedRuns, readingOf, replanChangedTrials, type RunTraits, spliceBaseOf } from './replan.js';
import { unenforceableBudget } from './budget.js';
import { expandExperiment, type RuleRegistry } from './experiment/expand.js';
import { type ForeignFormat, loadExperiment } from './experiment/load.js';
import type { Experiment } from './experiment/model.js';
import { buildGraph, type RunGraph } from './graph.js';
import { RunsById } from './runsById.js';
import { InputHasher, RACY_WINDOW_MS } from './hash.js';
import { computeIdentities, HASH_SCHEME_VERSION, type RunIdentity } from './identity.js';
import { canonicalJson, type Json, type JsonObject } from './json.js';
import { LOCAL_CONFIG_FILE, type LocalConfig, loadLocalConfig, runsRootOf } from './localConfig.js';
import { findProjectDir } from './projectDir.js';
import { runDirName, within } from './runDir.js';
import { ACTIVE_STATUSES, FAILED_STATUSES, type IndexPlace, type Manifest, manifestPathFor, readIndexedManifest, readManifest, type RunRecord, type RunStatus } from './manifest.js';
import { manifestIndexPath, type RecordSummary } from './manifestIndex.js';
import { checkRecordedOutputs, type OutputCheck, startExistenceWorker } from './existence.js';

export type Change =
  | { ingredient: 'param'; name: string; from: Json | undefined; to: Json | undefined }
  | { ingredient: 'input'; role: string; path: string; from?: string; to?: string }
  | { ingredient: 'upstream'; role: string; upstream: string; from?: string; to?: string }
  | { ingredient: 'rule'; from: string; to: string }
  | { ingredient: 'model'; from: Json | undefined; to: Json | undefined }
  | { ingredient: 'scheme'; from: number; to: number };

export type StaleReason =
  | { kind: 'new' }
  | { kind: 'changed'; previousKey: string; changes: Change[] }
  | { kind: 'failed'; status: string; detail?: string }
  /** Paths relative to `runDir`; no paths means the run directory itself is gone. */
  | { kind: 'outputs-missing'; runDir: string; paths: string[] }
  | { kind: 'forced' };

export type RunState = 'up-to-date' | 'in-progress' | 'stale';

export interface PlannedRun extends RunIdentity {
  labels: JsonObject;
  resources: Resources;
  earlyStopLoss?: number;
  /** Rendered, never hashed: see ExpandedRun.site. */
  site?: JsonObject;
  state: RunState;
  reasons: StaleReason[];
  /** The manifest record for this key, if any. */
  record?: RunRecord;
  /** A verdict its job left in the run directory that the manifest lacks (see reconcile.ts). */
  found?: { handle: JobHandle; state: JobState };
  runDir: string;
}

export interface Plan {
  experiment: Experiment;
  local: LocalConfig;
  runs: PlannedRun[];
  byId: ReadonlyMap<string, PlannedRun>;
  graph: RunGraph;
  /** What the expansion made of the protocol: a re-plan compares them to find the trials an edit changed. */
  trials: readonly Trial[];
  /** Whether only the trials an edit changed were re-planned, spliced into a previous plan (core/replan.ts). */
  spliced: boolean;
  /** The files resolution read (a task script, a checkpoint's config.json), with fingerprints. */
  reads: ReadonlyMap<string, string>;
  manifest: Manifest;
  manifestPath: string;
  /** Where the manifest's index is kept (core/manifestIndex.ts): the recorder saves one with its final writes. */
  manifestIndex?: IndexPlace;
  /** The manifest file's stats, taken before it was read (absent: there was none). */
  manifestStat?: FileStat & { readAt: number };
  runsRoot: string;
  /** Input hashes and the stat cache behind them; planning never writes it, callers may save it. */
  hashes: InputHasher;
  /** Every file the plan read: what watch mode watches. */
  files: string[];
  /** Stats of the files the plan read, taken before reading them (absent files are not listed). */
  fileStats: Map<string, { size: number; mtimeMs: number; ino: number }>;
  diagnostics: Diagnostic[];
}

export interface PlanOptions {
  rules: RuleRegistry;
  foreign?: ForeignFormat[];
  force?: (run: PlannedRun) => boolean;
  /** Local-config values from the caller's environment; the file's own values win. */
  localDefaults?: LocalConfig;
  /**
   * The previous plan of this experiment in this process (watch mode). Its manifest is reused when
   * the file's stats show it has not been rewritten since it was read: a 20,000-run manifest takes
   * ~0.2 s to read. The caller must not have changed that manifest in memory.
   */
  previous?: Plan;
  /** Without a previous plan: splice into the one an earlier process saved (core/planBase.ts), when it can vouch for it. */
  savedBase?: boolean;
  /** What the no-op check read (core/experiment/preread.ts): its saved plan stands for savedBase's, its reading is taken while the file holds that text. */
  preread?: Preread;
}

type FileStat = { size: number; mtimeMs: number; ino: number };

/** A manifest of about as many records as a check takes to a worker (core/existence.ts): records are 1–2 KB. */
const MANY_OUTPUTS_MANIFEST_BYTES = 4 << 20;

/** The same problem found by several runs (a config error shared by every trial) is reported once. */
function finalDiagnostics(diagnostics: Diagnostic[]): Diagnostic[] {
  return mergeRepeated(diagnostics);
}

/**
 * A `from:` naming no prepare step is reported once, at that line, by the expansion; the graph
 * would say it again for every run that needs the step (one per fine-tune and evaluation).
 */
function withoutRepeatedDangling(graphDiagnostics: Diagnostic[], expansionDiagnostics: Diagnostic[]): Diagnostic[] {
  const unknown = new Set<string>();
  for (const d of expansionDiagnostics) {
    const match = d.code === 'dangling-reference' ? /^no prepare step named `([^`]+)`/.exec(d.message) : null;
    if (match) unknown.add(`prepare/${match[1]}`);
  }
  if (unknown.size === 0) return graphDiagnostics;
  return graphDiagnostics.filter((d) => {
    const match = d.code === 'dangling-reference' ? /needs `([^`]+)` \(as /.exec(d.message) : null;
    return !(match && unknown.has(match[1]!));
  });
}

export type PlanResult = { plan: Plan; diagnostics: Diagnostic[] } | { plan?: undefined; diagnostics: Diagnostic[] };

export { runDirName } from './runDir.js';

function statOf(path: string): FileStat | undefined {
  try {
    const stat = statSync(path);
    return { size: stat.size, mtimeMs: stat.mtimeMs, ino: stat.ino };
  } catch {
    return undefined;
  }
}

export async function planExperiment(file: string, options: PlanOptions): Promise<PlanResult> {
  const experimentFile = resolve(file);
  // Before anything is read: an edit made while planning must not be vouched for later.
  const experimentStat = statOf(experimentFile);
  const projectDir = findProjectDir(experimentFile);
  const manifestPath = manifestPathFor(experimentFile);
  // Taken before reading: a manifest rewritten while this plan reads it is never taken for the one read.
  const manifestStat = withReadTime(statOf(manifestPath));
  // A manifest this large lists thousands of outputs to check (recordedOutputs): the worker that checks them starts now.
  if ((manifestStat?.size ?? 0) >= MANY_OUTPUTS_MANIFEST_BYTES) startExistenceWorker();
  const localConfigStat = statOf(join(projectDir, LOCAL_CONFIG_FILE));
  const local = loadLocalConfig(projectDir, options.localDefaults, experimentFile);
  const runsRoot = runsRootOf(projectDir, local.config);
  const previous = options.previous;
  const indexPlace: IndexPlace = { path: manifestIndexPath(projectDir, manifestPath), projectDir };
  // Read first when its index vouches for it (it then needs nothing of the experiment): the worker
  // checks every output its records list while this thread reads the saved plan and the experiment.
  const early = previous ? undefined : readIndexedManifest(manifestPath, indexPlace);
  const earlyOutputs = early && recordedOutputs(early, runsRoot);
  // A plan this process or an earlier one made: an edit inside the trials is read (and later
  // expanded) for the trials it touched only.
  const saved = previous || !options.savedBase ? undefined : options.preread ? options.preread.saved : readSavedPlan(projectDir, experimentFile);
  const earlier = previous ? readingOf(previous, experimentFile) : saved?.reading;
  const loaded = loadExperiment(file, options.rules.schema(), options.foreign ?? [], { earlier, already: options.preread?.loaded });
  // A schema-valid file with, say, a missing dataset is still expanded: the rules find the rest of
  // its problems (an unknown model) in the same pass.
  if (!loaded.experiment) return { diagnostics: finalDiagnostics(loaded.diagnostics) };
  const experiment = loaded.experiment;
  const diagnostics = [...loaded.diagnostics];
  diagnostics.push(...local.diagnostics);
  const budget = unenforceableBudget(experiment, local.config);
  if (budget) diagnostics.push(budget);
  const name = experiment.document.experiment_name;
  // Without a previous plan the index was tried already (readIndexedManifest) and did not vouch.
  const read = early
    ? { manifest: early, diagnostics: [] }
    : previous && previous.manifestPath === manifestPath && previous.manifest.experiment === name && unchangedSince(previous.manifestStat, manifestStat)
      ? { manifest: previous.manifest, diagnostics: [] }
      : readManifest(manifestPath, name, experimentFile, indexPlace, previous === undefined);
  const manifest = read.manifest;
  // Checked on a worker while the experiment is expanded: every output the manifest says a run left.
  const outputs = earlyOutputs ?? recordedOutputs(manifest, runsRoot);

  const statCache = join(experiment.projectDir, '.ckbuild', 'stat-cache.json');
  // An edit to a few trials re-plans those trials only, when that provably gives the same plan:
  // against the previous plan of this process (watch), or one an earlier process saved (whose
  // runs' identities come from this manifest's records).
  const clean = diagnostics.length === 0 && read.diagnostics.length === 0;
  const base = !clean ? undefined : previous ? spliceBaseOf(previous) : saved ? loadPlanBase(experiment, local.config, manifest, saved) : undefined;
  const spliced = base ? await replanChangedTrials(base, experiment, local.config, options.rules, statCache) : undefined;
  const identified = spliced ?? (await expandAndIdentify(experiment, options.rules, statCache, diagnostics));
  // A damaged manifest is reported after the experiment's own problems, which are all found too.
  diagnostics.push(...read.diagnostics);
  if (!identified || hasErrors(diagnostics)) return { diagnostics: finalDiagnostics(diagnostics) };
  const { graph, hasher } = identified;

  const latestOf = latestRecordOf(manifest);

  const hasRunDir = runDirLookup(runsRoot);
  const runs: PlannedRun[] = [];
  for (let position = 0; position < graph.order.length; position++) {
    const identity = identified.identityAt(position);
    const traits = identified.traitsAt(position);
    const summary = manifest.summaries.get(identity.key);
    const planned = new PlanRun(identity, traits, runsRoot, summary, manifest);
    classify(planned, summary, latestOf, manifest, outputs);
    if (options.force?.(planned)) {
      planned.state = 'stale';
      planned.reasons = [{ kind: 'forced' }, ...planned.reasons];
    } else if (planned.state === 'stale' && hasRunDir(planned)) {
      const found = unrecordedSuccess(planned);
      if (found) Object.assign(planned, { found, state: 'up-to-date', reasons: [] });
    }
    runs.push(planned);
  }
  const files = [experiment.file, manifestPath, ...identified.files];
  if (local.file) files.push(local.file);
  const fileStats = new Map(hasher.seen);
  if (experimentStat) fileStats.set(experiment.file, experimentStat);
  if (localConfigStat && local.file) fileStats.set(local.file, localConfigStat);
  const plan: Plan = {
    experiment,
    local: local.config,
    runs,
    byId: new RunsById(runs, graph.indexOf),
    graph,
    trials: identified.trials,
    spliced: spliced !== undefined,
    reads: identified.reads,
    manifest,
    manifestPath,
    manifestIndex: indexPlace,
    manifestStat,
    runsRoot,
    hashes: hasher,
    files,
    fileStats,
    diagnostics: finalDiagnostics(diagnostics),
  };
  return { plan, diagnostics: plan.diagnostics };
}

/**
 * A run as planExperiment makes it: its key, id and state as data fields, the rest (its run
 * directory too) read or worked out from its identity and traits when asked (a kept run's come
 * from the saved plan's columns and its manifest record, through the index): a one-trial re-plan
 * of a 20,000-run sweep makes 20,000 of these and reads the labels, upstream runs, inputs or run
 * directories of few. A class, not a literal with getters: those would be closures made anew for
 * each run. A spread copies only the data fields; copy with copyOfRun.
 */
class PlanRun implements PlannedRun {
  readonly id: string;
  readonly key: string;
  state: RunState = 'stale';
  // Replaced, never pushed to (classify): the up-to-date runs of a plan, nearly all, share one.
  reasons: StaleReason[] = NO_REASONS;
  declare found?: PlannedRun['found'];
  readonly #identity: RunIdentity;
  readonly #traits: RunTraits;
  readonly #summary: RecordSummary | undefined;
  readonly #manifest: Manifest;
  readonly #runsRoot: string;
  #runDir: string | undefined;

  // An identity may be the previous plan's PlannedRun or a saved one (core/replan.ts).
  constructor(identity: RunIdentity, traits: RunTraits, runsRoot: string, summary: RecordSummary | undefined, manifest: Manifest) {
    this.id = identity.id;
    this.key = identity.key;
    this.#identity = identity;
    this.#traits = traits;
    this.#runsRoot = runsRoot;
    this.#summary = summary;
    this.#manifest = manifest;
  }

  // Worked out when first asked: a one-trial re-plan asks it of the few runs it regenerates.
  get runDir(): string {
    return (this.#runDir ??= within(this.#runsRoot, runDirName(this.key, this.#identity.name)));
  }

  get name(): string {
    return this.#identity.name;
  }

  get step(): PlannedRun['step'] {
    return this.#identity.step;
  }

  get rule(): string {
    return this.#identity.rule;
  }

  get ruleVersion(): number {
    return this.#identity.ruleVersion;
  }

  get inputs(): PlannedRun['inputs'] {
    return this.#identity.inputs;
  }

  get upstream(): PlannedRun['upstream'] {
    return this.#identity.upstream;
  }

  get params(): JsonObject {
    return this.#identity.params;
  }

  get model(): JsonObject | undefined {
    return this.#identity.model;
  }

  get labels(): JsonObject {
    return this.#traits.labels;
  }

  get resources(): Resources {
    return this.#traits.resources;
  }

  get earlyStopLoss(): number | undefined {
    return this.#traits.earlyStopLoss;
  }

  get site(): JsonObject | undefined {
    return this.#traits.site;
  }

  get record(): RunRecord | undefined {
    return this.#summary && this.#manifest.recordAsRead(this.#summary.key);
  }
}

/** The reasons of a run that has none: frozen, so a reason pushed onto it throws instead of going to every such run. */
const NO_REASONS = Object.freeze([]) as unknown as StaleReason[];
/** The reasons of a run never recorded, shared the same way: a fresh plan has 20,000 such runs. */
const NEW_RUN = Object.freeze([Object.freeze({ kind: 'new' })]) as unknown as StaleReason[];

/**
 * The status of a run's manifest record as read (what `run.record?.status` gives), from the
 * manifest's summary of it: no record is parsed. Asked of every run (`plan --json`, `check`'s
 * budget), the records themselves made an indexed 20,000-record manifest be parsed in full (~0.3 s).
 */
export function recordedStatus(plan: Pick<Plan, 'manifest'>, run: Pick<PlannedRun, 'key'>): RunStatus | undefined {
  return plan.manifest.summaries.get(run.key)?.status;
}

/** A plain copy of a run, every field read into it: what a spread of one would be were they all data. */
export function copyOfRun(run: PlannedRun): PlannedRun {
  const copy: PlannedRun = {
    ...run,
    runDir: run.runDir,
    name: run.name,
    step: run.step,
    rule: run.rule,
    ruleVersion: run.ruleVersion,
    inputs: run.inputs,
    upstream: run.upstream,
    params: run.params,
    labels: run.labels,
    resources: run.resources,
    record: run.record,
  };
  // As planExperiment's runs have them: absent, not undefined, where there is none.
  if (run.model !== undefined) copy.model = run.model;
  if (run.earlyStopLoss !== undefined) copy.earlyStopLoss = run.earlyStopLoss;
  if (run.site !== undefined) copy.site = run.site;
  return copy;
}

/** Expansion, graph and identities of every run; undefined when `diagnostics` gained an error. */
async function expandAndIdentify(experiment: Experiment, rules: RuleRegistry, statCache: string, diagnostics: Diagnostic[]): Promise<IdentifiedRuns | undefined> {
  const expansion = expandExperiment(experiment, rules);
  diagnostics.push(...expansion.diagnostics);
  const built = buildGraph(expansion, experiment.source);
  diagnostics.push(...withoutRepeatedDangling(built.diagnostics, expansion.diagnostics));
  if (!built.graph || hasErrors(diagnostics)) return undefined;
  const hasher = new InputHasher(statCache);
  const identified = await computeIdentities({
    expansion,
    graph: built,
    rules,
    hasher,
    projectDir: experiment.projectDir,
    source: experiment.source,
  });
  diagnostics.push(...identified.diagnostics);
  if (hasErrors(diagnostics)) return undefined;
  const identities = identified.ordered;
  return { graph: built.graph, identityAt: (position) => identities[position]!, traitsAt: (position) => expansion.runs[built.positions[position]!]!, trials: expansion.trials, files: identified.files, reads: expansion.reads, hasher };
}

function withReadTime(stat: FileStat | undefined): (FileStat & { readAt: number }) | undefined {
  return stat && { ...stat, readAt: Date.now() };
}

/**
 * Whether a file read at `before.readAt` is provably the same now: same size, mtime and inode, and
 * modified more than a second before it was read (within that second, a rewrite may keep the mtime).
 */
function unchangedSince(before: (FileStat & { readAt: number }) | undefined, now: FileStat | undefined): boolean {
  if (!before || !now) return false;
  return before.size === now.size && before.mtimeMs === now.mtimeMs && before.ino === now.ino && before.readAt - before.mtimeMs > RACY_WINDOW_MS;
}

/**
 * Whether a stale run's directory exists (it may hold a verdict the manifest lacks). A few are
 * looked up one by one; past that, one listing of the runs root answers the rest, instead of a
 * failed lookup per run of a sweep that has never run (20,000 names listed take ~10 ms).
 */
function runDirLookup(runsRoot: string, oneByOne = 32): (run: PlannedRun) => boolean {
  let listed: Set<string> | undefined;
  let asked = 0;
  return (run) => {
    if (!listed && ++asked <= oneByOne) return existsSync(run.runDir);
    listed ??= listDir(runsRoot);
    // Its name in the runs root: the whole path of each of 100,000 new runs is not made to be cut back to it.
    return listed.has(runDirName(run.key, run.name));
  };
}

function listDir(dir: string): Set<string> {
  try {
    return new Set(readdirSync(dir));
  } catch {
    return new Set();
  }
}

/** Per manifest read: a watch iteration that reuses the manifest reuses its index too. */
const latestByIdOf = new WeakMap<Manifest, Map<string, RecordSummary>>();

/** Runs asked about one by one before the manifest's records are indexed by id. */
const LATEST_ONE_BY_ONE = 8;

/**
 * The newest record of a run id, asked only of runs without a record of their key: a one-trial
 * edit of a 20,000-run sweep asks for 2, found by a pass over the records each, instead of
 * indexing all 20,000 by id; past a few, they are indexed.
 */
function latestRecordOf(manifest: Manifest): (id: string) => RecordSummary | undefined {
  let asked = 0;
  const newer = (current: RecordSummary | undefined, record: RecordSummary): boolean => !current || record.recorded_at > current.recorded_at;
  return (id) => {
    const indexed = latestByIdOf.get(manifest);
    if (indexed) return indexed.get(id);
    if (++asked <= LATEST_ONE_BY_ONE) {
      let latest: RecordSummary | undefined;
      for (const record of manifest.summaries.values()) if (record.id === id && newer(latest, record)) latest = record;
      return latest;
    }
    const latest = new Map<string, RecordSummary>();
    for (const record of manifest.summaries.values()) if (newer(latest.get(record.id), record)) latest.set(record.id, record);
    latestByIdOf.set(manifest, latest);
    return latest.get(id);
  };
}

/**
 * Starts checking every output the manifest's succeeded records list (core/existence.ts), sent as
 * columns: records share their lists of outputs (the index keeps each distinct list once), and
 * each list is sent once.
 */
function recordedOutputs(manifest: Manifest, runsRoot: string): OutputCheck {
  const keys: string[] = [];
  const listOf: number[] = [];
  const lists: string[][] = [];
  const places = new Map<ReadonlyArray<{ path: string }>, number>();
  for (const record of manifest.summaries.values()) {
    const { outputs } = record;
    if (record.status !== 'succeeded' || !outputs || outputs.length === 0) continue;
    let place = places.get(outputs);
    if (place === undefined) places.set(outputs, (place = lists.push(outputs.map((output) => output.path)) - 1));
    keys.push(record.key);
    listOf.push(place);
  }
  return checkRecordedOutputs({ runsRoot, keys, lists, listOf });
}

function classify(run: PlannedRun, record: RecordSummary | undefined, latestOf: (id: string) => RecordSummary | undefined, manifest: Manifest, outputs: OutputCheck): void {
  if (record) {
    if (record.status === 'succeeded') {
      const missing = outputs.missing(record.key);
      // Recorded outputs live inside the run directory: when there are any, they prove it exists.
      if (missing.length === 0 && ((record.outputs?.length ?? 0) > 0 || existsSync(run.runDir))) {
        run.state = 'up-to-date';
        return;
      }
      run.reasons = [{ kind: 'outputs-missing', runDir: run.runDir, paths: missing.length > 0 ? [...missing] : ['.'] }];
      return;
    }
    if (ACTIVE_STATUSES.has(record.status)) {
      run.state = 'in-progress';
      return;
    }
    if (FAILED_STATUSES.has(record.status)) {
      run.reasons = [{ kind: 'failed', status: record.status, detail: record.detail }];
      return;
    }
    // planned / skipped: recorded but never ran.
    run.reasons = NEW_RUN;
    return;
  }
  const latest = latestOf(run.id);
  if (latest && latest.key !== run.key) {
    run.reasons = [{ kind: 'changed', previousKey: latest.key, changes: diffIdentity(manifest.recordAsRead(latest.key)!, run) }];
    return;
  }
  run.reasons = NEW_RUN;
}

/** Which ingredients of the key differ between a recorded run and the planned one. */
export function diffIdentity(before: RunRecord, after: RunIdentity): Change[] {
  const changes: Change[] = [];
  if ((before.scheme ?? HASH_SCHEME_VERSION) !== HASH_SCHEME_VERSION) changes.push({ ingredient: 'scheme', from: before.scheme, to: HASH_SCHEME_VERSION });
  if (before.rule !== after.rule || before.rule_version !== after.ruleVersion) {
    changes.push({ ingredient: 'rule', from: `${before.rule}@${before.rule_version}`, to: `${after.rule}@${after.ruleVersion}` });
  }
  if (canonicalJson(before.model ?? null) !== canonicalJson(after.model ?? null)) changes.push({ ingredient: 'model', from: before.model, to: after.model });
  diffParams('', before.params, after.params, changes);
  for (const role of new Set([...Object.keys(before.inputs), ...Object.keys(after.inputs)])) {
    const was = before.inputs[role];
    const now = after.inputs[role];
    if (was?.sha256 !== now?.sha256) changes.push({ ingredient: 'input', role, path: now?.path ?? was?.path ?? role, from: was?.sha256, to: now?.sha256 });
  }
  for (const role of new Set([...Object.keys(before.upstream), ...Object.keys(after.upstream)])) {
    const was = before.upstream[role];
    const now = after.upstream[role];
    if (was?.key !== now?.key) changes.push({ ingredient: 'upstream', role, upstream: now?.id ?? was?.id ?? role, from: was?.key, to: now?.key });
  }
  return changes;
}

function diffParams(prefix: string, before: JsonObject, after: JsonObject, changes: Change[]): void {
  for (const name of [...new Set([...Object.keys(before), ...Object.keys(after)])].sort()) {
    const was = before[name];
    const now = after[name];
    if (canonicalJson(was ?? null) === canonicalJson(now ?? null)) continue;
    const isMap = (v: Json | undefined): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);
    if (isMap(was) && isMap(now)) diffParams(`${prefix}${name}.`, was, now, changes);
    else changes.push({ ingredient: 'param', name: `${prefix}${name}`, from: was, to: now });
  }
}
