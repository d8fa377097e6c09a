/**
 * Re-planning after an edit that touched a few trials (one learning rate of a 10,000-trial sweep
 * changed). Planning from scratch expands, resolves and hashes every run again; here only the
 * trials whose definition changed are expanded (with every shared step: prepare steps, base-model
 * evaluations) and every other run keeps its identity from a base: the previous plan of this
 * process (watch mode), or the plan a build saved (core/planBase.ts), whose runs' identities come
 * from their manifest records. The result must be exactly what planning from scratch gives, so the
 * splice is refused (the caller plans in full) unless it can show that nothing else moved:
 *
 *  - the experiment's data is the same apart from `protocol.runs` items, the local config is the
 *    same, neither plan has a diagnostic, and the protocol has as many trials as before, each
 *    under the name it had (so the expansion, and the plan's order, keep every run in its place);
 *  - every input file of the new plan hashes as the base recorded it, and every file the base's
 *    resolution read (ResolveContext.readText and exists: a task script, a checkpoint's
 *    config.json and weight index) reads the same;
 *  - the partial expansion closes on itself (no dangling need), each of its runs already existed
 *    with the same upstream runs, and belongs to the same trials as before;
 *  - no run outside it needs a run whose key changed (an ensemble merge, an optimisation over all
 *    fine-tunes), every run the changed trials had before is produced again (none vanished), and
 *    the base can vouch for every run kept (a saved plan: the manifest has its key's record).
 *
 * Refusing is always safe; the tests compare spliced plans with plans from scratch.
 */
import type { ExpandedRun } from './rule.js';
import { expandExperiment, type RuleRegistry } from './experiment/expand.js';
import { readFingerprint } from './experiment/expand/context.js';
import type { Experiment } from './experiment/model.js';
import type { EarlierListing, Trial } from './experiment/trials.js';
import { resolveProjectPath } from './experiment/load.js';
import { buildGraph, type RunGraph } from './graph.js';
import { RunsById } from './runsById.js';
import { InputHasher, sha256 } from './hash.js';
import { computeIdentities, type RunIdentity } from './identity.js';
import { canonicalJson, type Json, type JsonObject, sameData } from './json.js';
import type { LocalConfig } from './localConfig.js';
import type { Plan } from './plan.js';
import type { ItemsReading } from './editedYaml.js';

/** What planning keeps of a run's expansion besides its identity (rendered, never hashed). */
export type RunTraits = Pick<ExpandedRun, 'labels' | 'resources' | 'earlyStopLoss' | 'site'>;

/** The runs of a plan before they are compared with the manifest. */
export interface IdentifiedRuns {
  graph: RunGraph;
  /** The identity of the run at this position of graph.order (by position: a splice keeps 20,000 runs, which maps by id were slow to fill and ask). */
  identityAt(position: number): RunIdentity;
  traitsAt(position: number): RunTraits;
  trials: readonly Trial[];
  /** The input files read, absolute. */
  files: string[];
  /** What resolution read (Expansion.reads). */
  reads: ReadonlyMap<string, string>;
  hasher: InputHasher;
}

/** A run of the base: its identity and what the expansion said besides. */
export type BaseRun = RunIdentity & RunTraits;

/**
 * What a re-plan splices into: the previous plan of this process (watch mode, spliceBaseOf) or
 * one an earlier process saved (core/planBase.ts). Only plans without diagnostics of a native
 * experiment make a base.
 */
export interface SpliceBase {
  experimentFile: string;
  /** The experiment's data the base was planned from. */
  document: unknown;
  /** Its local config, as localConfigDigest gives it (a digest: the config may hold setup lines with secrets). */
  local: string;
  trialCount: number;
  /** The label of the base's trial with this id (1-based). */
  trialLabel(trialId: number): string | undefined;
  /** A list protocol's listing, when the base knows each item's training identity: unchanged items are not worked out again. */
  listing?: EarlierListing;
  graph: RunGraph;
  /** What the base's resolution read, with fingerprints: all must read the same now. */
  reads: ReadonlyMap<string, string>;
  /** What the base knows of each of its runs: key, step, labels, upstream runs by role. */
  shape(id: string): RunShape | undefined;
  /** The trial (its trial_id) whose fine-tune this run of the base is; undefined for any other run. Asked of every run: cheaper than its shape. */
  trialOf(id: string): number | undefined;
  /** The run at this position of graph.order, kept as the base has it, in full; undefined when the base cannot vouch for it (the splice is then refused). */
  runAt(position: number): BaseRun | undefined;
}

export interface RunShape {
  key: string;
  step: string;
  labels: JsonObject;
  upstream: Record<string, { id: string }>;
}

/**
 * A digest of the experiment's data with `protocol.runs` reduced to its length: what a splice
 * needs unchanged, cheap to compare before a saved plan is read in full (the full comparison,
 * sameApartFromTrials, still decides: JSON cannot tell every value apart).
 */
export function outlineDigest(document: object): string {
  const doc = document as Record<string, unknown>;
  const protocol = doc.protocol as Record<string, unknown> | undefined;
  const outline = isPlainObject(protocol) && Array.isArray(protocol.runs) ? { ...doc, protocol: { ...protocol, runs: protocol.runs.length } } : doc;
  return sha256(JSON.stringify(outline));
}

const isPlainObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** What a base keeps of the local config it was planned with. */
export function localConfigDigest(local: LocalConfig): string {
  return sha256(canonicalJson(local as Json));
}

/** The previous plan of this process as a base; none when it had diagnostics or came from another format. */
export function spliceBaseOf(plan: Plan): SpliceBase | undefined {
  if (plan.diagnostics.length > 0 || plan.experiment.format !== 'native') return undefined;
  return {
    experimentFile: plan.experiment.file,
    document: plan.experiment.document,
    local: localConfigDigest(plan.local),
    trialCount: plan.trials.length,
    trialLabel: (trialId) => plan.trials[trialId - 1]?.label,
    listing: listingOf(plan.experiment.document, plan.trials),
    graph: plan.graph,
    reads: plan.reads,
    shape: (id) => plan.byId.get(id),
    trialOf: (id) => trialOf(plan.byId.get(id)),
    // A plan's runs are in its graph's order (planExperiment makes them so); a plan that is not
    // cannot vouch for its runs, and the splice is refused.
    runAt: (position) => {
      const run = plan.runs[position];
      return run?.id === plan.graph.order[position] ? run : undefined;
    },
  };
}

/**
 * A list protocol's listing as a plan without diagnostics made it: each item's training identity,
 * by its place (every item is a trial then). None for another protocol.
 */
export function listingOf(document: unknown, trials: readonly Trial[]): EarlierListing | undefined {
  const items = (document as { protocol?: { runs?: unknown } }).protocol?.runs;
  if (!Array.isArray(items) || items.length !== trials.length) return undefined;
  const trainings = trials.map((trial) => trial.training);
  return trainings.every((training): training is string => training !== undefined) ? { items, trainings } : undefined;
}

/**
 * The previous plan's reading of its experiment file, to read an edit of its trials from (core/
 * editedYaml.ts); none when it had diagnostics (its document may then not be valid) or is not of
 * this file.
 */
export function readingOf(plan: Plan, file: string): ItemsReading | undefined {
  const { source, document } = plan.experiment;
  if (plan.diagnostics.length > 0 || plan.experiment.format !== 'native' || plan.experiment.file !== file || !source.items) return undefined;
  return { text: source.text, data: document as unknown as Json, spans: source.items };
}

export async function replanChangedTrials(base: SpliceBase, experiment: Experiment, local: LocalConfig, rules: RuleRegistry, statCache: string): Promise<IdentifiedRuns | undefined> {
  if (experiment.format !== 'native' || base.experimentFile !== experiment.file || base.local !== localConfigDigest(local)) return undefined;
  if (!sameApartFromTrials(base.document as object, experiment.document)) return undefined;
  // What the kept runs' resolution read (a task script, a checkpoint's config.json) is unchanged.
  for (const [read, fingerprint] of base.reads) if (readFingerprint(read) !== fingerprint) return undefined;

  const changedTrials = new Set<number>();
  let renamed = false;
  const expansion = expandExperiment(experiment, rules, {
    earlierListing: base.listing,
    onlyTrials: (trial) => {
      const changed = trialChanged(base.document, experiment.document, trial);
      if (changed) changedTrials.add(trial.trialId);
      // A trial keeps its place in the expansion, and so the plan's order, only under its own name.
      renamed ||= base.trialLabel(trial.trialId) !== trial.label;
      return changed;
    },
  });
  if (renamed || expansion.diagnostics.length > 0 || expansion.trials.length !== base.trialCount) return undefined;
  const partial = buildGraph(expansion, experiment.source);
  if (!partial.graph) return undefined;
  const runs = new RunsById(expansion.runs, (id) => expansion.positionOf.get(id));
  if (!fitsBase(base, runs, partial.graph, changedTrials)) return undefined;

  const hasher = new InputHasher(statCache);
  const identified = await computeIdentities({
    expansion,
    graph: partial,
    rules,
    hasher,
    projectDir: experiment.projectDir,
    source: experiment.source,
  });
  if (identified.diagnostics.length > 0) return undefined;
  const fresh = new Map<string, RunIdentity>();
  for (let i = 0; i < identified.ordered.length; i++) {
    const identity = identified.ordered[i];
    if (!identity) return undefined; // an upstream unidentified: planning from scratch says why
    fresh.set(identity.id, identity);
  }
  const rekeyed = new Set<string>();
  for (const [id, identity] of fresh) if (identity.key !== base.shape(id)!.key) rekeyed.add(id);

  // Every run outside the partial expansion keeps its identity: nothing it needs was re-keyed
  // (asked of the few re-keyed runs' dependents, not of every kept run's upstream), and its input
  // files still hash as recorded.
  for (const id of rekeyed) for (const down of base.graph.downstreamOf(id)) if (!fresh.has(down)) return undefined;
  const order = base.graph.order;
  const kept: Array<BaseRun | undefined> = new Array(order.length);
  const files: string[] = [];
  const recorded = new Map<string, string>();
  // Runs of a saved base share their input tables: each is looked through once.
  const seenInputs = new Set<object>();
  for (let position = 0; position < order.length; position++) {
    let identity: RunIdentity | undefined = fresh.get(order[position]!);
    if (!identity) {
      const run = base.runAt(position);
      if (!run) return undefined;
      kept[position] = run;
      identity = run;
    }
    if (seenInputs.has(identity.inputs)) continue;
    seenInputs.add(identity.inputs);
    for (const input of Object.values(identity.inputs)) {
      if (recorded.has(input.path)) continue;
      recorded.set(input.path, input.sha256);
      files.push(resolveProjectPath(experiment.projectDir, input.path));
    }
  }
  // `files` holds the absolute path of each recorded input, in the same order.
  const digests = await hasher.digestAll(files);
  let index = 0;
  for (const sha of recorded.values()) if (digests.get(files[index++]!)?.hash !== sha) return undefined;

  return {
    graph: base.graph,
    // Kept runs first: all but a few are.
    identityAt: (position) => kept[position] ?? fresh.get(order[position]!)!,
    traitsAt: (position) => kept[position] ?? runs.get(order[position]!)!,
    trials: expansion.trials,
    files,
    reads: new Map([...base.reads, ...expansion.reads]),
    hasher,
  };
}

/**
 * Whether an edit changed a trial: its item of `protocol.runs`. A list protocol makes each trial
 * from its item and place alone, given the rest of the document (which sameApartFromTrials found
 * unchanged); what relates items (two with one name, two that train the same) is a diagnostic,
 * which refuses the splice. A trial of any other protocol is made from that rest alone.
 */
function trialChanged(before: unknown, after: unknown, trial: Trial): boolean {
  return trial.path !== undefined && !sameData(valueAt(before, trial.path), valueAt(after, trial.path));
}

function valueAt(document: unknown, path: readonly (string | number)[]): unknown {
  let value = document;
  for (const step of path) value = typeof value === 'object' && value !== null ? (value as Record<string | number, unknown>)[step] : undefined;
  return value;
}

/** The same document apart from the items of `protocol.runs` (a list protocol's trials). */
function sameApartFromTrials(before: object, after: object): boolean {
  const a = before as Record<string, unknown>;
  const b = after as Record<string, unknown>;
  const keys = Object.keys(a);
  if (!sameData(keys, Object.keys(b))) return false;
  for (const key of keys) {
    if (key !== 'protocol') {
      if (!sameData(a[key], b[key])) return false;
      continue;
    }
    const protocolA = a.protocol as Record<string, unknown> | undefined;
    const protocolB = b.protocol as Record<string, unknown> | undefined;
    if (typeof protocolA !== 'object' || typeof protocolB !== 'object' || protocolA === null || protocolB === null) {
      if (!sameData(protocolA, protocolB)) return false;
      continue;
    }
    const { runs: runsA, ...restA } = protocolA;
    const { runs: runsB, ...restB } = protocolB;
    if (!sameData(restA, restB) || Array.isArray(runsA) !== Array.isArray(runsB)) return false;
  }
  return true;
}

/** A trial's runs: its fine-tunes (a curriculum has several) and every run that needs one. */
function runsOfTrials(graph: RunGraph, isTheirFinetune: (id: string) => boolean): Set<string> {
  return graph.closureDownstream(graph.order.filter(isTheirFinetune));
}

const trialOf = (run: { step: string; labels: Record<string, unknown> } | undefined): number | undefined =>
  run?.step === 'finetune' && typeof run.labels.trial_id === 'number' ? run.labels.trial_id : undefined;

/**
 * The partial expansion fits the base: each of its runs existed, with the same upstream runs; the
 * runs of the changed trials are the ones they had before, no more, no fewer; and a shared run (a
 * prepare step, a base-model evaluation) was no trial's run before.
 */
function fitsBase(base: SpliceBase, runs: ReadonlyMap<string, ExpandedRun>, graph: RunGraph, changedTrials: ReadonlySet<number>): boolean {
  const before = runsOfTrials(base.graph, (id) => changedTrials.has(base.trialOf(id) ?? 0));
  const now = runsOfTrials(graph, (id) => trialOf(runs.get(id)) !== undefined);
  if (before.size !== now.size) return false;
  for (const id of before) if (!now.has(id)) return false;
  for (const [id, run] of runs) {
    const was = base.shape(id);
    if (!was) return false;
    const roles = Object.keys(run.needs);
    if (roles.length !== Object.keys(was.upstream).length) return false;
    for (const role of roles) if (was.upstream[role]?.id !== run.needs[role]) return false;
    if (!now.has(id)) for (const up of base.graph.closureUpstream([id])) if (base.trialOf(up) !== undefined) return false;
  }
  return true;
}
