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
import { canonicalJson, type JsonObject } from './json.js';
import { resolveProjectPath } from './experiment/load.js';
import type { InputHasher } from './hash.js';
import { readableName } from './names.js';
import { sha256 } from './hash.js';
import { diagnosticAt, type SourceFile } from './source.js';

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

export function computeKey(identity: Omit<RunIdentity, 'key' | 'name' | 'id' | 'step'>): string {
  return sha256(canonicalJson(keyDescription(identity)));
}

export async function computeIdentities(options: {
  order: readonly string[];
  runs: ReadonlyMap<string, ExpandedRun>;
  resolved: ReadonlyMap<string, ResolvedParams>;
  rules: { get(name: string): Rule | undefined };
  hasher: InputHasher;
  projectDir: string;
  source: SourceFile;
}): Promise<{ identities: Map<string, RunIdentity>; diagnostics: Diagnostic[]; files: string[] }> {
  const identities = new Map<string, RunIdentity>();
  const diagnostics: Diagnostic[] = [];
  const files = new Set<string>();
  // Hash every distinct input once, concurrently; most experiments share one dataset.
  const paths = new Set<string>();
  for (const id of options.order) {
    const run = options.runs.get(id)!;
    const extra = options.resolved.get(id)?.inputs ?? {};
    for (const path of [...Object.values(run.inputs), ...Object.values(extra)]) paths.add(path);
  }
  const digests = new Map<string, Awaited<ReturnType<InputHasher['digest']>>>();
  await Promise.all(
    [...paths].map(async (path) => {
      const absolute = resolveProjectPath(options.projectDir, path);
      files.add(absolute);
      digests.set(path, await options.hasher.digest(absolute));
    }),
  );
  for (const id of options.order) {
    const run = options.runs.get(id)!;
    const resolved = options.resolved.get(id)!;
    const rule = options.rules.get(run.rule)!;
    const inputs: Record<string, RecordedInput> = {};
    let missing = false;
    for (const [role, path] of Object.entries({ ...run.inputs, ...(resolved.inputs ?? {}) })) {
      const digest = digests.get(path);
      if (!digest) {
        missing = true;
        diagnostics.push(diagnosticAt(options.source, run.origins[role] ?? run.origins[`input:${path}`] ?? run.origins.self ?? [], `input \`${path}\` of run \`${id}\` cannot be read`, { code: 'missing-file' }));
        continue;
      }
      inputs[role] = { path, sha256: digest.hash, size: digest.size };
    }
    const upstream: Record<string, { id: string; key: string }> = {};
    for (const [role, upstreamId] of Object.entries(run.needs)) {
      const up = identities.get(upstreamId);
      if (!up) {
        missing = true;
        continue;
      }
      upstream[role] = { id: upstreamId, key: up.key };
    }
    if (missing) continue;
    const partial = { rule: run.rule, ruleVersion: rule.version, params: resolved.params, model: resolved.model, inputs, upstream };
    const key = computeKey(partial);
    identities.set(id, { id, key, name: readableName(key), step: run.step, ...partial });
  }
  return { identities, diagnostics, files: [...files] };
}
