/**
 * Re-planning after an edit that touched a few trials (watch mode: one learning rate of a
 * 10,000-trial sweep changed). Planning from scratch expands, resolves and hashes every run
 * again; here only the trials whose definition changed are expanded (with every shared step:
 * prepare steps, base-model evaluations) and every other run keeps its identity from the previous
 * plan. The result must be exactly what planning from scratch gives, so the splice is refused (the
 * caller plans in full) unless it can show that nothing else moved:
 *
 *  - the experiment's data is the same apart from `protocol.runs` items, the local config is the
 *    same, neither plan has a diagnostic, and the protocol has as many trials as before, each
 *    under the name it had (so the expansion, and the plan's order, keep every run in its place);
 *  - every input file of the new plan hashes as the previous plan recorded it (a rule's resolve
 *    reads only files it declares as inputs, so this covers what resolution read too);
 *  - the partial expansion closes on itself (no dangling need), each of its runs already existed
 *    with the same upstream runs, and belongs to the same trials as before;
 *  - no run outside it needs a run whose key changed (an ensemble merge, an optimisation over all
 *    fine-tunes), and every run the changed trials had before is produced again (none vanished).
 *
 * Refusing is always safe; the tests compare spliced plans with plans from scratch.
 */
import type { ExpandedRun } from './rule.js';
import { expandExperiment, type RuleRegistry } from './experiment/expand.js';
import type { Experiment } from './experiment/model.js';
import type { Trial } from './experiment/trials.js';
import { resolveProjectPath } from './experiment/load.js';
import { buildGraph, type RunGraph } from './graph.js';
import { InputHasher } from './hash.js';
import { computeIdentities, type RunIdentity } from './identity.js';
import { canonicalJson, type Json, sameData } from './json.js';
import type { LocalConfig } from './localConfig.js';
import type { Plan, PlannedRun } from './plan.js';

/** What planning keeps of a run's expansion besides its identity (rendered, never hashed). */
export type RunTraits = Pick<ExpandedRun, 'labels' | 'resources' | 'earlyStopLoss' | 'site'>;

/** The runs of a plan before they are compared with the manifest. */
export interface IdentifiedRuns {
  graph: RunGraph;
  identityOf(id: string): RunIdentity;
  traitsOf(id: string): RunTraits;
  trials: readonly Trial[];
  /** The input files read, absolute. */
  files: string[];
  hasher: InputHasher;
}

export async function replanChangedTrials(previous: Plan, experiment: Experiment, local: LocalConfig, rules: RuleRegistry, statCache: string): Promise<IdentifiedRuns | undefined> {
  if (previous.diagnostics.length > 0 || experiment.format !== 'native' || previous.experiment.format !== 'native') return undefined;
  if (previous.experiment.file !== experiment.file || canonicalJson(previous.local as Json) !== canonicalJson(local as Json)) return undefined;
  if (!sameApartFromTrials(previous.experiment.document, experiment.document)) return undefined;

  const changedTrials = new Set<number>();
  let renamed = false;
  const expansion = expandExperiment(experiment, rules, {
    onlyTrials: (trial) => {
      const before = previous.trials[trial.trialId - 1];
      const changed = !sameData(trial, before);
      if (changed) changedTrials.add(trial.trialId);
      // A trial keeps its place in the expansion, and so the plan's order, only under its own name.
      renamed ||= before?.label !== trial.label;
      return changed;
    },
  });
  if (renamed || expansion.diagnostics.length > 0 || expansion.trials.length !== previous.trials.length) return undefined;
  const partial = buildGraph(expansion.runs, experiment.source);
  if (!partial.graph) return undefined;
  const runs = new Map(expansion.runs.map((run) => [run.id, run]));
  if (!fitsPrevious(previous, runs, partial.graph, changedTrials)) return undefined;

  const hasher = new InputHasher(statCache);
  const identified = await computeIdentities({ order: partial.graph.order, runs, resolved: expansion.resolved, rules, hasher, projectDir: experiment.projectDir, source: experiment.source });
  if (identified.diagnostics.length > 0) return undefined;
  const fresh = identified.identities;
  const rekeyed = new Set<string>();
  for (const [id, identity] of fresh) if (identity.key !== previous.byId.get(id)!.key) rekeyed.add(id);

  // Every run outside the partial expansion keeps its identity: nothing it needs was re-keyed, and
  // its input files still hash as recorded.
  const files: string[] = [];
  const recorded = new Map<string, string>();
  for (const id of previous.graph.order) {
    const identity = fresh.get(id) ?? previous.byId.get(id)!;
    for (const input of Object.values(identity.inputs)) {
      if (recorded.has(input.path)) continue;
      recorded.set(input.path, input.sha256);
      files.push(resolveProjectPath(experiment.projectDir, input.path));
    }
    if (fresh.has(id)) continue;
    for (const up of Object.values(identity.upstream)) if (rekeyed.has(up.id)) return undefined;
  }
  const digests = await Promise.all([...recorded].map(async ([path, sha]) => (await hasher.digest(resolveProjectPath(experiment.projectDir, path)))?.hash === sha));
  if (digests.includes(false)) return undefined;

  return {
    graph: previous.graph,
    identityOf: (id) => fresh.get(id) ?? previous.byId.get(id)!,
    traitsOf: (id) => runs.get(id) ?? previous.byId.get(id)!,
    trials: expansion.trials,
    files,
    hasher,
  };
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
 * The partial expansion fits the previous plan: each of its runs existed, with the same upstream
 * runs; the runs of the changed trials are the ones they had before, no more, no fewer; and a
 * shared run (a prepare step, a base-model evaluation) was no trial's run before.
 */
function fitsPrevious(previous: Plan, runs: ReadonlyMap<string, ExpandedRun>, graph: RunGraph, changedTrials: ReadonlySet<number>): boolean {
  const before = runsOfTrials(previous.graph, (id) => changedTrials.has(trialOf(previous.byId.get(id)) ?? 0));
  const now = runsOfTrials(graph, (id) => trialOf(runs.get(id)) !== undefined);
  if (before.size !== now.size) return false;
  for (const id of before) if (!now.has(id)) return false;
  for (const [id, run] of runs) {
    const was: PlannedRun | undefined = previous.byId.get(id);
    if (!was) return false;
    const roles = Object.keys(run.needs);
    if (roles.length !== Object.keys(was.upstream).length) return false;
    for (const role of roles) if (was.upstream[role]?.id !== run.needs[role]) return false;
    if (!now.has(id)) for (const up of previous.graph.closureUpstream([id])) if (trialOf(previous.byId.get(up)) !== undefined) return false;
  }
  return true;
}
