/**
 * A run's key: sha256 of the canonical description of everything that can change its result.
 *
 *   { scheme, rule, rule_version, params (resolved), model, inputs: {role: sha256},
 *     upstream: {role: key} }
 *
 * Not in it: resources (time, memory, GPUs, partition, account), paths (a moved dataset with the
 * same bytes is the same input), the runs root, log settings. Upstream keys make the key a
 * Merkle hash of the run's whole history: retraining changes exactly the evaluations of that
 * checkpoint.
 */
import type { ExpandedRun, ResolvedParams, Rule } from './rule.js';
import { type Diagnostic } from './diagnostics.js';
import { canonicalJson, hasMembers, type JsonObject, sortedKeys } from './json.js';
import { resolveProjectPath } from './experiment/load.js';
import type { InputHasher } from './hash.js';
import { readableName } from './names.js';
import { sha256 } from './hash.js';
import { diagnosticAt, type SourceFile } from './source.js';
import type { BuiltGraph } from './graph.js';

const NO_UPSTREAM: RunIdentity['upstream'] = Object.freeze({});

/** Bump when the description's shape changes; every key changes with it. */
export const HASH_SCHEME_VERSION = 1;

export interface RecordedInput {
  /** As written in the experiment (project-relative or absolute). */
  path: string;
  sha256: string;
  size: number;
}

export interface RunIdentity {
  id: string;
  key: string;
  name: string;
  step: ExpandedRun['step'];
  rule: string;
  ruleVersion: number;
  params: JsonObject;
  model?: JsonObject;
  inputs: Record<string, RecordedInput>;
  upstream: Record<string, { id: string; key: string }>;
}

export function keyDescription(identity: Omit<RunIdentity, 'key' | 'name' | 'id' | 'step'>): JsonObject {
  const inputs: JsonObject = {};
  for (const [role, input] of Object.entries(identity.inputs)) inputs[role] = input.sha256;
  const upstream: JsonObject = {};
  for (const [role, up] of Object.entries(identity.upstream)) upstream[role] = up.key;
  const description: JsonObject = {
    scheme: HASH_SCHEME_VERSION,
    rule: identity.rule,
    rule_version: identity.ruleVersion,
    params: identity.params,
    inputs,
    upstream,
  };
  if (identity.model) description.model = identity.model;
  return description;
}

export function computeKey(identity: Omit<RunIdentity, 'key' | 'name' | 'id' | 'step'>, shared?: SharedText): string {
  // canonicalJson(keyDescription(identity)), written in its sorted member order without building
  // the description first. Once per run: with canonicalJson's concatenation, the 20,000 keys of
  // the benchmark sweep take 100–110 ms instead of 130–150 (a test pins it to the description).
  let text = `{"inputs":${shared?.inputs ?? inputsJson(identity.inputs)}`;
  if (identity.model) text += `,"model":${shared?.model ?? canonicalJson(identity.model)}`;
  text += `,"params":${shared?.params ?? canonicalJson(identity.params)},"rule":${canonicalJson(identity.rule)},"rule_version":${canonicalJson(identity.ruleVersion)}`;
  text += `,"scheme":${HASH_SCHEME_VERSION},"upstream":${rolesJson(identity.upstream, (up) => up.key)}}`;
  return sha256(text);
}

/** Parts of a key's description in canonical JSON, written once for the many runs that share them. */
interface SharedText {
  params?: string;
  model?: string;
  inputs?: string;
}

/** A resolution's parameters and model: shared by runs that resolved alike. */
type ResolvedText = Pick<SharedText, 'params' | 'model'>;

const inputsJson = (inputs: Record<string, RecordedInput>): string => rolesJson(inputs, (input) => input.sha256);

/**
 * Runs that resolved alike share one resolution (RuleDefinition.resolvesBy: a sweep's evaluation
 * cells): its canonical JSON is written once, when it is met a second time, for all of them. A
 * resolution met once keeps no text (a WeakMap of every run's text cost more in GC than it saved).
 */
function sharedTexts(): (resolved: ResolvedParams) => ResolvedText | undefined {
  const texts = new Map<ResolvedParams, ResolvedText | null>();
  return (resolved) => {
    const known = texts.get(resolved);
    if (known === undefined) {
      texts.set(resolved, null);
      return undefined;
    }
    if (known !== null) return known;
    const text: ResolvedText = { params: canonicalJson(resolved.params) };
    if (resolved.model) text.model = canonicalJson(resolved.model);
    texts.set(resolved, text);
    return text;
  };
}

/** `{role: value}` in canonical JSON: roles sorted as canonicalJson sorts keys (and as often: once per order met). */
function rolesJson<T>(roles: Record<string, T>, value: (entry: T) => string): string {
  const names = sortedKeys(roles as JsonObject);
  let text = '{';
  for (let i = 0; i < names.length; i++) text += `${i > 0 ? ',' : ''}${canonicalJson(names[i]!)}:${canonicalJson(value(roles[names[i]!]!))}`;
  return text + '}';
}

export async function computeIdentities(options: {
  /** The expansion's runs, and the resolution of each at the same position. */
  expansion: { runs: readonly ExpandedRun[]; resolutions: readonly ResolvedParams[] };
  /** Their graph (buildGraph): every upstream run comes before its dependents in its order. */
  graph: BuiltGraph;
  rules: { get(name: string): Rule | undefined };
  hasher: InputHasher;
  projectDir: string;
  source: SourceFile;
}): Promise<{ ordered: Array<RunIdentity | undefined>; diagnostics: Diagnostic[]; files: string[] }> {
  // The runs and their resolutions in the graph's order, by position: no map of them by id.
  const { positions, graph } = options.graph;
  const runs = positions.map((at) => options.expansion.runs[at]!);
  const resolutions = positions.map((at) => options.expansion.resolutions[at]!);
  /** The identity of each run, at its place in the graph's order (none for a run with a missing input or upstream). */
  const ordered: Array<RunIdentity | undefined> = new Array(runs.length);
  const diagnostics: Diagnostic[] = [];
  const files = new Set<string>();
  // Hash every distinct input once, concurrently; most experiments share one dataset.
  const paths = new Set<string>();
  let lastInputs: Record<string, string> | undefined;
  for (let i = 0; i < runs.length; i++) {
    const run = runs[i]!;
    const extra = resolutions[i]!.inputs;
    // Runs that share their input table (a sweep's evaluation cells) are looked through once.
    if (run.inputs !== lastInputs) for (const role in run.inputs) paths.add(run.inputs[role]!);
    lastInputs = run.inputs;
    if (extra !== undefined) for (const role in extra) paths.add(extra[role]!);
  }
  const reportMissing = (run: ExpandedRun, role: string, path: string): true => {
    diagnostics.push(diagnosticAt(options.source, run.origins[role] ?? run.origins[`input:${path}`] ?? run.origins.self ?? [], `input \`${path}\` of run \`${run.id}\` cannot be read`, { code: 'missing-file' }));
    return true;
  };
  const absolutes = new Map<string, string>();
  for (const path of paths) absolutes.set(path, resolveProjectPath(options.projectDir, path));
  const digests = await options.hasher.digestAll(absolutes.values());
  // One recorded input per file, shared by every run that reads it (most runs read the same few).
  const recorded = new Map<string, RecordedInput>();
  for (const [path, absolute] of absolutes) {
    files.add(absolute);
    const digest = digests.get(absolute);
    if (digest) recorded.set(path, { path, sha256: digest.hash, size: digest.size });
  }
  // The run's inputs, then the rule's, whose path for a role wins: `{ ...run.inputs, ...extra }`
  // without building it. undefined when one cannot be read (each is reported).
  const inputTable = (run: ExpandedRun, extra: Record<string, string> | undefined): Record<string, RecordedInput> | undefined => {
    const inputs: Record<string, RecordedInput> = {};
    let missing = false;
    for (const role in run.inputs) {
      const path = extra !== undefined && role in extra ? extra[role]! : run.inputs[role]!;
      const input = recorded.get(path);
      if (input) inputs[role] = input;
      else missing = reportMissing(run, role, path);
    }
    if (extra !== undefined) {
      for (const role in extra) {
        if (role in run.inputs) continue;
        const input = recorded.get(extra[role]!);
        if (input) inputs[role] = input;
        else missing = reportMissing(run, role, extra[role]!);
      }
    }
    return missing ? undefined : inputs;
  };
  // Runs with the same table of paths and no inputs of their rule's (every fine-tune of a sweep
  // reads its dataset, every cell its script and test split) share one table of recorded inputs
  // and its canonical JSON, made once. Tables are never changed once made.
  const tables = new Map<object, { inputs: Record<string, RecordedInput>; text: string }>();
  const sharedTable = (run: ExpandedRun, extra: Record<string, string> | undefined): { inputs: Record<string, RecordedInput>; text: string } | undefined => {
    let table = extra === undefined ? tables.get(run.inputs) : undefined;
    if (!table) {
      const inputs = inputTable(run, extra);
      if (!inputs) return undefined;
      table = { inputs, text: inputsJson(inputs) };
      if (extra === undefined) tables.set(run.inputs, table);
    }
    return table;
  };
  const textOf = sharedTexts();
  for (let i = 0; i < runs.length; i++) {
    const run = runs[i]!;
    const id = run.id;
    const resolved = resolutions[i]!;
    const rule = options.rules.get(run.rule)!;
    const table = sharedTable(run, resolved.inputs);
    let missing = table === undefined;
    const inputs = table?.inputs ?? {};
    // Runs that need nothing (every fine-tune of a sweep) share one empty table.
    const upstream: Record<string, { id: string; key: string }> = hasMembers(run.needs) ? {} : NO_UPSTREAM;
    for (const role in run.needs) {
      const upstreamId = run.needs[role]!;
      // An upstream run comes earlier in the order; one not identified (its input is missing) leaves this one unidentified too.
      const at = graph.indexOf(upstreamId);
      const up = at !== undefined && at < i ? ordered[at] : undefined;
      if (!up) {
        missing = true;
        continue;
      }
      upstream[role] = { id: upstreamId, key: up.key };
    }
    if (missing) continue;
    const partial = { rule: run.rule, ruleVersion: rule.version, params: resolved.params, model: resolved.model, inputs, upstream };
    const resolvedText = textOf(resolved);
    const key = computeKey(partial, { params: resolvedText?.params, model: resolvedText?.model, inputs: table!.text });
    const identity: RunIdentity = { id, key, name: readableName(key), step: run.step, rule: run.rule, ruleVersion: rule.version, params: resolved.params, model: resolved.model, inputs, upstream };
    ordered[i] = identity;
  }
  return { ordered, diagnostics, files: [...files] };
}
