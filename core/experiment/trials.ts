/**
 * Protocols → trials. A trial is one configuration of the fine-tune: the base config plus the
 * overrides the protocol chose, a seed, and labels naming what varies. Everything here is a
 * pure function of the experiment file, so the plan never changes between invocations.
 */
import { createHash } from 'node:crypto';
import type { Resources } from '../rule.js';
import { type Diagnostic, type FieldPath } from '../diagnostics.js';
import { DEFAULT_SEED } from '../defaults.js';
import { canonicalJson, type Json, type JsonObject, merged } from '../json.js';
import { diagnosticAt, type SourceFile } from '../source.js';
import { type DatasetRef, type ExperimentDocument, LIST_RUN_KEYS } from './model.js';

export interface Trial {
  /** 1-based, in expansion order (TrialConfig.trial_id). */
  trialId: number;
  /** Short, unique, readable: `lora_rank=8,seed=1`, `trial-03`, `default`. */
  label: string;
  overrides: JsonObject;
  /** Where each override came from in the file. */
  origins: Record<string, FieldPath>;
  labels: JsonObject;
  /** list protocol: where the run is written, its own datasets and scheduling. */
  path?: FieldPath;
  dataset?: DatasetRef;
  evalDataset?: DatasetRef;
  resources?: Resources;
  /** list protocol: what makes two of its runs one (their overrides and dataset), as a string. */
  training?: string;
}

/**
 * What an earlier listing of a list protocol said of its items (a re-plan's base, core/replan.ts),
 * from a plan without diagnostics: an item that is the very object listed then (the edit did not
 * touch it) trains what it trained then, and that listing found no two items alike.
 */
export interface EarlierListing {
  items: readonly unknown[];
  /** Trial.training of each item, by its place in `items`. */
  trainings: readonly string[];
}


/** Trials a protocol may expand to unless it raises `max_trials`: a typo of a few zeros must fail fast, not exhaust memory. */
export const DEFAULT_MAX_TRIALS = 50_000;

/** How many trials a protocol expands to, counted without expanding it. */
function trialCount(protocol: NonNullable<ExperimentDocument['protocol']>): number {
  const axes = Object.values(protocol.vary ?? {}).map((values) => (Array.isArray(values) ? values.length : 1));
  const seeds = protocol.seeds && protocol.seeds.length > 0 ? protocol.seeds.length : 1;
  switch (protocol.type) {
    case 'grid':
    case 'curriculum':
      return axes.reduce((product, n) => product * Math.max(1, n), 1) * seeds;
    case 'ablation':
      return (1 + axes.reduce((sum, n) => sum + n, 0)) * seeds;
    case 'ensemble':
      return (typeof protocol.members === 'number' ? protocol.members : Array.isArray(protocol.members) ? protocol.members.length : 3) * seeds;
    case 'list':
      return Array.isArray(protocol.runs) ? protocol.runs.length : 0;
    default:
      return (typeof protocol.trials === 'number' ? protocol.trials : 1) * seeds;
  }
}

export function expandTrials(doc: ExperimentDocument, source: SourceFile, diagnostics: Diagnostic[], earlier?: EarlierListing): Trial[] {
  const protocol = doc.protocol ?? { type: 'standard' as const };
  const limit = typeof protocol.max_trials === 'number' ? protocol.max_trials : DEFAULT_MAX_TRIALS;
  const count = trialCount(protocol);
  if (count > limit) {
    const at = protocol.type === 'standard' || protocol.type === undefined ? ['protocol', 'trials'] : protocol.type === 'ensemble' ? ['protocol', 'members'] : ['protocol'];
    diagnostics.push(diagnosticAt(source, at, `this protocol expands to ${count.toLocaleString('en-US')} trials (each a fine-tune with its evaluations), over the limit of ${limit.toLocaleString('en-US')}; raise \`protocol.max_trials\` if you mean it`, { code: 'too-many-runs' }));
    return [];
  }
  let base: Array<Omit<Trial, 'trialId'>>;
  switch (protocol.type) {
    case 'grid':
    case 'curriculum':
      base = grid(protocol.vary ?? {});
      break;
    case 'ablation':
      base = ablation(protocol.vary ?? {}, doc.config, source, diagnostics);
      break;
    case 'ensemble':
      base = ensemble(doc, source, diagnostics);
      break;
    case 'list':
      return list(doc, source, diagnostics, earlier);
    case 'standard':
    default:
      base = standard(doc, source, diagnostics);
      break;
  }
  if (protocol.seeds && protocol.seeds.length > 0) {
    const seeded: Array<Omit<Trial, 'trialId'>> = [];
    for (const trial of base) {
      protocol.seeds.forEach((seed, index) => {
        seeded.push({
          label: trial.label === 'default' ? `seed=${seed}` : `${trial.label},seed=${seed}`,
          overrides: { ...trial.overrides, seed },
          origins: { ...trial.origins, seed: ['protocol', 'seeds', index] },
          labels: { ...trial.labels, seed },
        });
      });
    }
    base = seeded;
  }
  return dedupe(base).map((trial, index) => ({ ...trial, trialId: index + 1 }));
}

function formatValue(value: Json): string {
  return typeof value === 'string' ? value : canonicalJson(value);
}

function grid(vary: Record<string, Json[]>): Array<Omit<Trial, 'trialId'>> {
  let trials: Array<Omit<Trial, 'trialId'>> = [{ label: 'default', overrides: {}, origins: {}, labels: {} }];
  for (const [param, values] of Object.entries(vary)) {
    const next: Array<Omit<Trial, 'trialId'>> = [];
    for (const trial of trials) {
      values.forEach((value, index) => {
        const part = `${param}=${formatValue(value)}`;
        next.push({
          label: trial.label === 'default' ? part : `${trial.label},${part}`,
          overrides: { ...trial.overrides, [param]: value },
          origins: { ...trial.origins, [param]: ['protocol', 'vary', param, index] },
          labels: { ...trial.labels, [param]: value },
        });
      });
    }
    trials = next;
  }
  return trials;
}

function ablation(vary: Record<string, Json[]>, config: JsonObject | undefined, source: SourceFile, diagnostics: Diagnostic[]): Array<Omit<Trial, 'trialId'>> {
  // The baseline is the config itself; each varied value is one trial with only that parameter changed.
  const trials: Array<Omit<Trial, 'trialId'>> = [{ label: 'baseline', overrides: {}, origins: {}, labels: {} }];
  for (const [param, values] of Object.entries(vary)) {
    values.forEach((value, index) => {
      if (config?.[param] !== undefined && canonicalJson(config[param]!) === canonicalJson(value)) return; // the baseline already has it
      trials.push({
        label: `${param}=${formatValue(value)}`,
        overrides: { [param]: value },
        origins: { [param]: ['protocol', 'vary', param, index] },
        labels: { [param]: value },
      });
    });
  }
  if (Object.keys(vary).length === 0) {
    diagnostics.push(diagnosticAt(source, ['protocol', 'type'], 'an ablation needs `protocol.vary` with at least one parameter to vary around the config', { code: 'ablation-without-vary', severity: 'warning' }));
  }
  return trials;
}

/** A number in [0, 1) derived from a string: independent per (seed, trial, parameter). */
function unitInterval(text: string): number {
  const digest = createHash('sha256').update(text).digest();
  return digest.readUInt32BE(0) / 2 ** 32;
}

/** Three significant digits keep drawn learning rates readable and exactly reproducible. */
function roundSignificant(value: number, digits = 3): number {
  return Number(value.toPrecision(digits));
}

function standard(doc: ExperimentDocument, source: SourceFile, diagnostics: Diagnostic[]): Array<Omit<Trial, 'trialId'>> {
  const protocol = doc.protocol ?? { type: 'standard' as const };
  const count = protocol.trials ?? 1;
  const space = protocol.search_space ?? {};
  const experimentSeed = doc.seed ?? 0;
  const logUniform: Record<string, [number, number]> = { ...(space.log_uniform ?? {}) };
  const uniform: Record<string, [number, number]> = { ...(space.uniform ?? {}) };
  const choices: Record<string, Json[]> = { ...(space.choices ?? {}) };
  const origins: Record<string, FieldPath> = {};
  for (const key of Object.keys(logUniform)) origins[key] = ['protocol', 'search_space', 'log_uniform', key];
  for (const key of Object.keys(uniform)) origins[key] = ['protocol', 'search_space', 'uniform', key];
  for (const key of Object.keys(choices)) origins[key] = ['protocol', 'search_space', 'choices', key];
  if (space.lr_min !== undefined || space.lr_max !== undefined) {
    if (space.lr_min === undefined || space.lr_max === undefined) {
      diagnostics.push(diagnosticAt(source, ['protocol', 'search_space'], 'give both `lr_min` and `lr_max` for a log-uniform learning-rate range', { code: 'incomplete-range' }));
    } else if (space.lr_min > space.lr_max) {
      diagnostics.push(diagnosticAt(source, ['protocol', 'search_space', 'lr_min'], `lr_min (${space.lr_min}) is above lr_max (${space.lr_max})`, { code: 'bad-range' }));
    } else {
      logUniform.learning_rate = [space.lr_min, space.lr_max];
      origins.learning_rate = ['protocol', 'search_space', 'lr_min'];
    }
  }
  if (space.rank_choices) {
    choices.lora_rank = space.rank_choices;
    origins.lora_rank = ['protocol', 'search_space', 'rank_choices'];
  }
  const searched = Object.keys(logUniform).length + Object.keys(uniform).length + Object.keys(choices).length > 0;
  const baseSeed = typeof doc.config?.seed === 'number' ? doc.config.seed : DEFAULT_SEED;
  const width = String(count).length;
  const trials: Array<Omit<Trial, 'trialId'>> = [];
  for (let index = 0; index < count; index++) {
    const overrides: JsonObject = {};
    const draw = (param: string): number => unitInterval(`${experimentSeed}:${index}:${param}`);
    for (const [param, [low, high]] of Object.entries(logUniform)) {
      overrides[param] = roundSignificant(Math.exp(Math.log(low) + draw(param) * (Math.log(high) - Math.log(low))));
    }
    for (const [param, [low, high]] of Object.entries(uniform)) overrides[param] = roundSignificant(low + draw(param) * (high - low));
    for (const [param, values] of Object.entries(choices)) overrides[param] = values[Math.floor(draw(param) * values.length)]!;
    // Independent trials differ by seed at least; a single trial keeps the config's own seed.
    if (count > 1 && doc.protocol?.seeds === undefined) overrides.seed = baseSeed + index;
    const label = count === 1 && !searched ? 'default' : `trial-${String(index + 1).padStart(width, '0')}`;
    trials.push({ label, overrides, origins: { ...origins, seed: ['protocol', 'trials'] }, labels: { ...overrides } });
  }
  return trials;
}

function ensemble(doc: ExperimentDocument, source: SourceFile, diagnostics: Diagnostic[]): Array<Omit<Trial, 'trialId'>> {
  const members = doc.protocol?.members ?? 3;
  const baseSeed = typeof doc.config?.seed === 'number' ? doc.config.seed : DEFAULT_SEED;
  if (typeof members === 'number') {
    if (members < 2) diagnostics.push(diagnosticAt(source, ['protocol', 'members'], 'an ensemble needs at least 2 members', { code: 'too-few' }));
    return Array.from({ length: members }, (_, index) => ({
      label: `member-${index + 1}`,
      overrides: { seed: baseSeed + index },
      origins: { seed: ['protocol', 'members'] },
      labels: { member: index + 1, seed: baseSeed + index },
    }));
  }
  return members.map((overrides, index) => {
    const origins: Record<string, FieldPath> = {};
    for (const key of Object.keys(overrides)) origins[key] = ['protocol', 'members', index, key];
    return { label: `member-${index + 1}`, overrides, origins, labels: { member: index + 1, ...overrides } };
  });
}

/** Labels worth showing in tables: short scalar overrides, not prompts. */
function displayable(overrides: JsonObject): JsonObject {
  const labels: JsonObject = {};
  for (const [key, value] of Object.entries(overrides)) {
    if (key === 'prompt' || key === 'system_prompt') continue;
    if (value === null || typeof value === 'object') continue;
    if (typeof value === 'string' && value.length > 40) continue;
    labels[key] = value;
  }
  return labels;
}

/**
 * list: the runs as written, each its own trial named by the user. Nothing is deduplicated: two
 * runs that would train the same thing are reported, since both names were meant. An item the
 * earlier listing holds as the same object takes its training identity from there, and its
 * overrides are made only when asked for: a re-plan of a one-trial edit lists 10,000 items.
 */
function list(doc: ExperimentDocument, source: SourceFile, diagnostics: Diagnostic[], earlier?: EarlierListing): ListTrial[] {
  const runs = doc.protocol?.runs ?? [];
  if (doc.protocol?.seeds !== undefined) {
    diagnostics.push(diagnosticAt(source, ['protocol', 'seeds'], '`seeds` does not apply to a list protocol: give each run its own `seed`', { code: 'ignored-key', severity: 'warning' }));
  }
  const seenNames = new Map<string, number>();
  const seenConfigs = new Map<string, string>();
  const trials: ListTrial[] = [];
  runs.forEach((run, index) => {
    if (seenNames.has(run.name)) {
      diagnostics.push(diagnosticAt(source, ['protocol', 'runs', index, 'name'], `two runs are named \`${run.name}\` (the first is protocol.runs[${seenNames.get(run.name)}])`, { code: 'duplicate-run' }));
      return;
    }
    seenNames.set(run.name, index);
    const known = earlier && earlier.items[index] === run ? earlier.trainings[index] : undefined;
    const overrides = known === undefined ? overridesOf(run) : undefined;
    const identity = known ?? trainingIdentity(overrides!, run.dataset);
    const twin = seenConfigs.get(identity);
    if (twin !== undefined) {
      diagnostics.push(diagnosticAt(source, ['protocol', 'runs', index, 'name'], `run \`${run.name}\` trains exactly what \`${twin}\` trains (same overrides and dataset): they would be one run`, { code: 'duplicate-run' }));
      return;
    }
    seenConfigs.set(identity, run.name);
    trials.push(new ListTrial(trials.length + 1, index, run, identity, overrides));
  });
  return trials;
}

type ListRun = NonNullable<NonNullable<ExperimentDocument['protocol']>['runs']>[number];

const LIST_KEYS = new Set(LIST_RUN_KEYS);

/** What a list run overrides: every key but its name, datasets and resources. */
function overridesOf(run: ListRun): JsonObject {
  const overrides: JsonObject = {};
  for (const key of Object.keys(run)) {
    const value = run[key as keyof typeof run];
    if (LIST_KEYS.has(key) || value === undefined) continue;
    overrides[key] = value as Json;
  }
  return overrides;
}

/**
 * What makes two list runs one: their overrides and dataset. Canonical JSON says it for any
 * value; a run that overrides only scalars and names its dataset (or none), as nearly all do, is
 * said by its dataset's name and its sorted keys with their values instead, at a fraction of the
 * cost (canonical JSON of 10,000 trials took ~20 ms of a one-trial re-plan). Twins take the same
 * path, and the two forms cannot be equal (only canonical JSON starts with `{`).
 */
function trainingIdentity(overrides: JsonObject, dataset: unknown): string {
  const keys = Object.keys(overrides);
  const scalar = (value: Json | undefined): boolean => value === null || (typeof value === 'number' ? Number.isFinite(value) : typeof value !== 'object');
  if ((dataset === undefined || typeof dataset === 'string') && keys.every((key) => scalar(overrides[key]))) {
    // A JSON string never holds a raw newline: the lines cannot run into each other. Joined, not
    // concatenated: each trial keeps its identity (core/replan.ts), and a string built by `+=` is
    // kept as the tree of its pieces (a heap snapshot of 5,000 trials: about a dozen more strings kept per trial).
    const lines = [dataset === undefined ? '' : JSON.stringify(dataset)];
    for (const key of keys.sort()) lines.push(`${JSON.stringify(key)}:${JSON.stringify(overrides[key])}`);
    return lines.join('\n');
  }
  return canonicalJson({ overrides, dataset: (dataset ?? null) as Json });
}

/**
 * A list protocol's trial. Its overrides, origins and labels are worked out when asked: a re-plan
 * lists all 10,000 trials of a sweep (names, duplicates) but expands only the one an edit changed.
 */
class ListTrial implements Trial {
  private made: JsonObject | undefined;
  private labelsMade: JsonObject | undefined;

  constructor(
    readonly trialId: number,
    /** Its position in protocol.runs (a duplicate left out keeps the numbering of the file). */
    private readonly index: number,
    private readonly run: ListRun,
    readonly training: string,
    overrides: JsonObject | undefined,
  ) {
    this.made = overrides;
  }

  get label(): string {
    return this.run.name;
  }

  get overrides(): JsonObject {
    this.made ??= overridesOf(this.run);
    return this.made;
  }

  get dataset(): DatasetRef | undefined {
    return this.run.dataset;
  }

  get evalDataset(): DatasetRef | undefined {
    return this.run.eval_dataset;
  }

  get resources(): Resources | undefined {
    return this.run.resources;
  }

  get path(): FieldPath {
    return ['protocol', 'runs', this.index];
  }

  get origins(): Record<string, FieldPath> {
    // Literal paths, not spreads of `path`: asked once per trial expanded.
    const index = this.index;
    const origins: Record<string, FieldPath> = { self: ['protocol', 'runs', index], id: ['protocol', 'runs', index, 'name'] };
    for (const key of Object.keys(this.overrides)) origins[key] = ['protocol', 'runs', index, key];
    return origins;
  }

  /** Made once: a fine-tune and each of its evaluations spread it into their own labels. */
  get labels(): JsonObject {
    this.labelsMade ??= merged({ run: this.label }, displayable(this.overrides));
    return this.labelsMade;
  }
}

/** Two trials with the same overrides are one trial (an ablation value equal to a grid point, say). */
function dedupe(trials: Array<Omit<Trial, 'trialId'>>): Array<Omit<Trial, 'trialId'>> {
  const seen = new Set<string>();
  return trials.filter((trial) => {
    const identity = canonicalJson(trial.overrides);
    if (seen.has(identity)) return false;
    seen.add(identity);
    return true;
  });
}
