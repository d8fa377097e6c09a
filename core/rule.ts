/**
 * The contract between core and the rules. A rule knows one framework: which parameters it
 * accepts, their defaults, how to render its artifacts, what it outputs and how to read its
 * metrics. Core only ever sees these types, so adding a framework touches rules/ and
 * templates/ alone.
 */
import type { Diagnostic, DiagnosticCode, FieldPath } from './diagnostics.js';
import { hasMembers, type Json, type JsonObject } from './json.js';

/** The steps of a pipeline, in the order they usually run. */
export type StepKind = 'prepare' | 'finetune' | 'evaluate' | 'merge' | 'export' | 'optimize';

/** Scheduling only: never part of a run's identity. */
export interface Resources {
  gpus?: number;
  cpus_per_task?: number;
  mem?: string;
  time?: string;
  partition?: string;
  constraint?: string;
  account?: string;
  qos?: string;
}

/** A node of the DAG as the expansion produced it, before its rule applied defaults. */
export interface ExpandedRun {
  /** Stable logical id inside the experiment, e.g. `finetune/lora_rank=8,seed=1`. */
  id: string;
  step: StepKind;
  rule: string;
  /** Parameters as written (after protocol expansion), before defaults. */
  params: JsonObject;
  /** Input files by role (project-relative or absolute paths); their content goes into the key. */
  inputs: Record<string, string>;
  /** Upstream runs by role (e.g. `checkpoint` → a fine-tune's id); their keys go into the key. */
  needs: Record<string, string>;
  /** Where each parameter came from in the experiment file, for positioned diagnostics. */
  origins: Record<string, FieldPath>;
  /** What varies across the sweep, for display (`lora_rank=8`, `seed=1`); not hashed separately. */
  labels: JsonObject;
  resources: Resources;
  /** Divergence guard enforced by the job wrapper; not part of the key (a failed run reruns anyway). */
  earlyStopLoss?: number;
  /**
   * Site settings the experiment gives for this run, rendered but never hashed: `model_path`, where
   * its base model lives (the experiment's `models.<name>.path`).
   */
  site?: JsonObject;
}

/** Runs by id: a map, or the expansion's runs looked up by their place (no second map of 100,000 ids). */
export interface RunLookup {
  get(id: string): ExpandedRun | undefined;
}

export interface ResolveContext {
  /** Builds a diagnostic positioned at the origin of a parameter (or at `fallback`). */
  diagnostic(param: string, message: string, options: { code: DiagnosticCode; severity?: 'error' | 'warning' }): Diagnostic;
  /** The expanded runs by id, so a rule can read an upstream's parameters (e.g. its epochs). */
  runs: RunLookup;
  /** The project folder, against which relative paths in the experiment resolve. */
  projectDir: string;
  /**
   * A file's text (undefined when it cannot be read), read at most once per plan: a later plan in
   * the same process (watch mode) reads it again. Resolution reads files only through this and
   * `exists`, so a plan knows everything its resolution depended on (Plan.reads) and a re-plan
   * that reuses runs can check that none of it changed.
   */
  readText(path: string): string | undefined;
  /** Whether a file exists, recorded like readText. */
  exists(path: string): boolean;
}

export interface ResolvedParams {
  /** Every parameter with defaults applied and values normalised: this is what the key hashes. */
  params: JsonObject;
  /** The identity of the model the run starts from (name, revision), or undefined. */
  model?: JsonObject;
  /** Extra input files the rule itself depends on (a task script, a custom recipe). */
  inputs?: Record<string, string>;
  diagnostics: Diagnostic[];
}

/** One upstream run as seen from a downstream rule at render time. */
export interface UpstreamView {
  id: string;
  key: string;
  rule: string;
  step: StepKind;
  params: JsonObject;
  runDir: string;
  outputsDir: string;
}

/** Site settings from the git-ignored local config that rules may use when rendering. */
export interface RenderSite {
  modelsDir: string;
  projectDir: string;
  /** Where this run's base model lives, when the experiment says (else `<modelsDir>/<model>`). */
  modelPath?: string;
}

export interface RenderContext<P = JsonObject> {
  id: string;
  key: string;
  name: string;
  params: P;
  model?: JsonObject;
  /** Absolute paths of the run's input files by role. */
  inputs: Record<string, string>;
  upstream: Record<string, UpstreamView>;
  runDir: string;
  outputsDir: string;
  resources: Resources;
  site: RenderSite;
  experiment: { name: string; project?: string };
  /** What varies across the sweep, for display (`vis_label` of an evaluation cell); never hashed. */
  labels?: JsonObject;
}

export interface RenderedRun {
  /** Files to write, by path relative to the run directory (`config/finetune.yaml`). */
  files: Record<string, string>;
  /** Shell lines that run the framework, every interpolated value already quoted. */
  command: string;
  /** Executables that must be on PATH when the job runs, checked by the job after environment activation. */
  requires: string[];
  /** How to install each required executable, for the message when it is missing. */
  install?: Record<string, string>;
  /** Outputs the run must leave, relative to the run directory; checked after success. */
  outputs: string[];
  /** A file the job writes its training loss into, watched for divergence (`early_stop_loss`). */
  lossLog?: string;
  diagnostics: Diagnostic[];
}

/**
 * What a rule module writes: its parameters are a typed value `P` from `resolve` to `render`.
 * `toJson` is the one canonical serialisation of `P` (what the key hashes and the manifest
 * records); `fromJson` reads it back, so a run renders the same from a fresh plan and from a
 * manifest record (reproduce).
 */
/**
 * A rule as a framework's module defines it. `P` is its parameters as it reads them (fromJson);
 * `E`, what its resources and GPU-hour estimate are worked out from (a part of `P`, read alone by
 * estimateFromJson where reading all of `P` for every run of a plan would cost).
 */
export interface RuleDefinition<P extends E, E = P> {
  name: string;
  /** Bump when rendering changes in a way that changes results: every key of the rule changes. */
  version: number;
  steps: readonly StepKind[];
  description: string;
  /** JSON Schema properties of the parameters the rule accepts (used in the experiment schema). */
  paramsSchema?: JsonObject;
  resolve(run: ExpandedRun, context: ResolveContext): Resolved<P>;
  /**
   * Everything `resolve` reads of the run and of the context apart from files (which it reads
   * through ResolveContext.readText and exists, the same for every run of a plan), as values
   * compared by identity. Runs of one plan that give the same values resolve once: a sweep's
   * 10,000 evaluation cells share one parameter object, expanded once (core/experiment/expand)
   * and resolved, hashed and written once. A run whose resolution has diagnostics is never shared.
   * Without it, every run is resolved on its own.
   */
  resolvesBy?(run: ExpandedRun, context: ResolveContext): readonly unknown[];
  toJson(params: P): JsonObject;
  fromJson(json: JsonObject): P;
  render(context: RenderContext<P>): RenderedRun;
  /**
   * Reads what defaultResources and estimateGpuHours use of a run's parameters, and only that: a
   * plan asks both of every run (a torchtune fine-tune's parameters read in full, 10,000 times, were
   * ~30 ms of a 20,000-run plan). Without it, fromJson.
   */
  estimateFromJson?(json: JsonObject): E;
  /** Resources the rule suggests (memory follows the model); experiment and local config override. */
  defaultResources?(params: E): Resources;
  /** Estimated GPU-hours, for budgets and `plan`; undefined when the rule cannot tell. */
  estimateGpuHours?(params: E, resources: Resources, context?: EstimateContext): number | undefined;
  /** Reads the metrics a finished run left in its outputs (loss, accuracy…). */
  readMetrics?(runDir: string, params: P): MetricsReading;
  /** Metrics that measure the machine rather than the result (throughput, peak memory): `reproduce` never judges them. */
  measurements?: readonly string[];
  /**
   * JSON Schemas of rendered YAML or JSON artifacts, by their path in the run directory
   * (`config/finetune.yaml`): what the framework will read, checked by `ckbuild check`.
   */
  artifactSchemas?: Readonly<Record<string, JsonObject>>;
}

/** A finished run of the same rule, from any manifest of the repository: what estimates calibrate from. */
export interface FinishedRun {
  params: JsonObject;
  metrics?: JsonObject;
  elapsed_s?: number;
  gpu_hours?: number;
  /** Sizes in bytes of its inputs, by role, as recorded. */
  inputSizes?: Record<string, number>;
}

export interface EstimateContext {
  /** Sizes in bytes of the run's inputs, by role (`dataset`…). */
  inputSizes: Record<string, number>;
  /** Succeeded runs of this rule recorded in the repository's manifests, newest first. */
  history: readonly FinishedRun[];
}

/** A series of (x, y) points in x order: training loss by step, validation loss by step. */
export type Curve = [x: number, y: number | null][];

/**
 * What a finished run's logs say. Expected trouble is a value: a log that is missing or cannot be
 * read gives `note` (shown per run by status and the report), never an exception or a failed build.
 */
export interface MetricsReading {
  /** Flat scalars, recorded in the manifest (final_loss, match_accuracy, samples…). */
  metrics?: JsonObject;
  /** Series, thinned to at most a few hundred points so the committed manifest stays small. */
  curves?: Record<string, Curve>;
  note?: string;
}

export interface Resolved<P> extends Omit<ResolvedParams, 'params'> {
  params: P;
}

/**
 * A rule as core holds it: parameters in their canonical JSON form, whatever the rule's own type.
 * Made from a definition by `defineRule`, so the conversion happens in one place.
 */
export interface Rule {
  name: string;
  version: number;
  steps: readonly StepKind[];
  description: string;
  paramsSchema?: JsonObject;
  resolve(run: ExpandedRun, context: ResolveContext): ResolvedParams;
  render(context: RenderContext): RenderedRun;
  defaultResources?(params: JsonObject): Resources;
  estimateGpuHours?(params: JsonObject, resources: Resources, context?: EstimateContext): number | undefined;
  readMetrics?(runDir: string, params: JsonObject): MetricsReading;
  measurements?: readonly string[];
  artifactSchemas?: Readonly<Record<string, JsonObject>>;
}

export function defineRule<P extends E, E = P>(definition: RuleDefinition<P, E>): Rule {
  const { toJson, fromJson, defaultResources, estimateGpuHours, readMetrics } = definition;
  const readForEstimate: (json: JsonObject) => E = definition.estimateFromJson ?? fromJson;
  // The last parameters read back for an estimate: a plan asks for a run's default resources,
  // then for its GPU-hours, with the same parameter object (20,000 runs read theirs once each,
  // not twice). Only for these two, which read the value and keep nothing of it.
  let lastJson: JsonObject | undefined;
  let lastParams: E | undefined;
  const estimateParams = (json: JsonObject): E => {
    if (json !== lastJson) {
      lastParams = readForEstimate(json);
      lastJson = json;
    }
    return lastParams as E;
  };
  const rule: Rule = {
    name: definition.name,
    version: definition.version,
    steps: definition.steps,
    description: definition.description,
    resolve(run, context) {
      const by = definition.resolvesBy?.(run, context);
      const memo = by && resolutionMemo(context, by);
      const known = memo?.get(RESOLVED) as ResolvedParams | undefined;
      if (known) return known;
      const resolved = definition.resolve(run, context);
      // Member by member, not spread: this runs once per run of a plan.
      const json: ResolvedParams = { params: toJson(resolved.params), diagnostics: resolved.diagnostics };
      if (resolved.model !== undefined) json.model = resolved.model;
      // None rather than an empty table: runs with no inputs of their rule's share one table of
      // recorded inputs (core/identity.ts; a sweep's 50,000 fine-tunes had one each).
      if (resolved.inputs !== undefined && hasMembers(resolved.inputs)) json.inputs = resolved.inputs;
      if (memo && json.diagnostics.length === 0) memo.set(RESOLVED, json);
      return json;
    },
    render: (context) => definition.render({ ...context, params: fromJson(context.params) }),
  };
  if (definition.paramsSchema) rule.paramsSchema = definition.paramsSchema;
  if (definition.artifactSchemas) rule.artifactSchemas = definition.artifactSchemas;
  if (definition.measurements) rule.measurements = definition.measurements;
  if (defaultResources) rule.defaultResources = (params) => defaultResources(estimateParams(params));
  if (estimateGpuHours) rule.estimateGpuHours = (params, resources, context) => estimateGpuHours(estimateParams(params), resources, context);
  if (readMetrics) rule.readMetrics = (runDir, params) => readMetrics(runDir, fromJson(params));
  return rule;
}

/**
 * The resolutions of one plan, by what they were resolved from (RuleDefinition.resolvesBy): a
 * trie of maps, one level per value, under the plan's run table (one per expansion, so nothing is
 * shared across plans, whose files may have changed). The node for `by`; its RESOLVED entry, once
 * set, is the shared resolution.
 */
type MemoNode = Map<unknown, unknown>;
const memos = new WeakMap<object, MemoNode>();
const RESOLVED = Symbol('resolved');

function resolutionMemo(context: ResolveContext, by: readonly unknown[]): MemoNode {
  let node = memos.get(context.runs);
  if (!node) memos.set(context.runs, (node = new Map()));
  for (const value of by) {
    let next = node.get(value) as MemoNode | undefined;
    if (!next) node.set(value, (next = new Map()));
    node = next;
  }
  return node;
}

/** The rules core can use, by name, and which rule each step uses by default. */
export interface RuleRegistry {
  get(name: string): Rule | undefined;
  names(): string[];
  defaultFor(step: StepKind): string;
  /** The experiment schema, with the fine-tune rules' parameters as `config`. */
  schema(): JsonObject;
}

export type { Json, JsonObject };

/** The most points a curve keeps in the manifest: enough for a chart, small enough to commit. */
export const CURVE_POINTS = 200;

/** Evenly spaced points of `curve`, always keeping the first and the last (deterministic). */
export function thinCurve(curve: Curve, points = CURVE_POINTS): Curve {
  if (curve.length <= points) return curve;
  const kept: Curve = [];
  for (let i = 0; i < points; i++) kept.push(curve[Math.round((i * (curve.length - 1)) / (points - 1))]!);
  return kept;
}
