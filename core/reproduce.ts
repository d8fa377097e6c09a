/**
 * Reproducing a run from its manifest record alone (`ckbuild reproduce <run>`), as stages the CLI
 * composes:
 *
 *   prepareReproduction  check the record can be reproduced by this ckbuild (hash scheme, rule
 *                        version, key); verify every input (working tree, else git history, else
 *                        the run's inputs/ snapshot, never another file); find the upstream runs,
 *                        reproducing those whose outputs are gone; regenerate every artifact in
 *                        memory and compare it with the recorded artifact hashes
 *   materialize          write the fresh run directories (nothing before: `--dry-run` stops here)
 *   (execute)            the normal scheduler and executors (core/schedule.ts), run by the CLI
 *   compareReproduction  per output and per metric: recorded, reproduced, difference, tolerance
 *   recordReproduction   the reproduction, in the new run directory and in the manifest record
 *
 * Core never prints: every stage returns values.
 */
import { parse as parseYaml } from 'yaml';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { copyFileAtomic, writeFileAtomic } from './atomicFile.js';
import { liveHolder } from './claim.js';
import type { Experiment, ExperimentDocument } from './experiment/model.js';
import { artifactHashes, type ArtifactPlaces, type GeneratedRun, portableArtifact, readsSnapshot, renderRunFiles } from './generate.js';
import type { RunGraph } from './graph.js';
import { InputHasher, sha256 } from './hash.js';
import { type FoundRecord, git } from './history.js';
import { computeKey, HASH_SCHEME_VERSION } from './identity.js';
import { isObject, type Json, type JsonObject, stableStringify } from './json.js';
import type { LocalConfig } from './localConfig.js';
import { emptyManifest, readManifest, type RecordedOutput, type RunRecord, writeManifest } from './manifest.js';
import { resolveProjectPath } from './projectDir.js';
import type { Plan, PlannedRun } from './plan.js';
import { describeOutputs, readMetricsSafely } from './records.js';
import type { RenderedRun, Resources, Rule, RuleRegistry } from './rule.js';
import { jobScriptPath, retireStatusFile, runDirName } from './runDir.js';
import type { Targets } from './targets.js';
import { CKBUILD_VERSION } from './version.js';

export interface ReproduceSetup {
  projectDir: string;
  runsRoot: string;
  /** This machine's local config (executor, environment activation, models folder). */
  local: LocalConfig;
  rules: Pick<RuleRegistry, 'get'>;
  /** The record of a key, from the working tree's manifests or git history. */
  lookup(key: string): FoundRecord | undefined;
}

export type InputSource =
  | { kind: 'working-tree'; file: string }
  | { kind: 'git'; commit: string; file: string }
  | { kind: 'snapshot'; file: string };

export interface VerifiedInput {
  role: string;
  path: string;
  sha256: string;
  size: number;
  source: InputSource;
  /** The recorded bytes, when they are not the working tree's file. */
  content?: Buffer;
}

export interface ArtifactDifference {
  path: string;
  kind: 'missing' | 'extra' | 'different';
  recordedHash?: string;
  reproducedHash?: string;
  /** The first line that differs (portable form), when the original run directory still has the file. */
  line?: { number: number; recorded: string; reproduced: string };
}

export interface ArtifactCheck {
  /** Whether the record holds artifact hashes (records made before ckbuild recorded them do not). */
  recorded: boolean;
  compared: number;
  differences: ArtifactDifference[];
  hashes: Record<string, string>;
}

export interface ReproductionStep {
  found: FoundRecord;
  run: PlannedRun;
  rule: Rule;
  /** The run asked for, or an upstream run whose outputs are gone and must run first. */
  role: 'target' | 'upstream';
  inputs: VerifiedInput[];
  files: Map<string, string>;
  rendered: RenderedRun;
  resources: Resources;
  /** Snapshot path in the run directory → the input role it holds. */
  snapshotRoles: Map<string, string>;
  artifacts: ArtifactCheck;
}

export interface Reproduction {
  plan: Plan;
  /** Upstream first; the target last. */
  steps: ReproductionStep[];
  /** Upstream runs whose recorded outputs are still there: used as they are. */
  reused: Array<{ found: FoundRecord; runDir: string }>;
  targets: Targets;
}

export type Prepared = { reproduction: Reproduction; problems: [] } | { reproduction?: undefined; problems: string[] };

/** Why this ckbuild cannot regenerate the record's artifacts, if it cannot. */
export function incompatibility(record: RunRecord, rule: Rule | undefined): string | undefined {
  const version = typeof record.env?.ckbuild === 'string' ? record.env.ckbuild : 'an unknown version';
  const origin = `recorded by ckbuild ${version}, hash scheme ${record.scheme ?? 'unknown'}`;
  if (record.scheme !== HASH_SCHEME_VERSION) return `${record.id} (${record.key.slice(0, 12)}) was ${origin}; this ckbuild (${CKBUILD_VERSION}) uses hash scheme ${HASH_SCHEME_VERSION} and cannot regenerate it: reproduce it with ckbuild ${version}`;
  if (!rule) return `${record.id} (${record.key.slice(0, 12)}) was ${origin} with rule \`${record.rule}\`, which this ckbuild (${CKBUILD_VERSION}) does not have`;
  if (rule.version !== record.rule_version) return `${record.id} (${record.key.slice(0, 12)}) was ${origin} with rule ${record.rule} version ${record.rule_version}; this ckbuild (${CKBUILD_VERSION}) has version ${rule.version}, which renders it differently: reproduce it with ckbuild ${version}`;
  const key = computeKey({ rule: record.rule, ruleVersion: record.rule_version, params: record.params, model: record.model, inputs: record.inputs, upstream: record.upstream });
  if (key !== record.key) return `${record.id}: its record does not hash to its key (${origin}; recomputed ${key.slice(0, 12)}, recorded ${record.key.slice(0, 12)}): the record was edited by hand or written by another ckbuild`;
  return undefined;
}

/** The versions of a file in git history, newest first: (commit, content). */
function historyVersions(projectDir: string, path: string): Array<{ commit: string; blob: string }> {
  const output = git(projectDir, ['log', '--all', '--format=%x00%H', '--raw', '--no-abbrev', '--no-renames', '--', path]);
  if (!output) return [];
  const versions: Array<{ commit: string; blob: string }> = [];
  const seen = new Set<string>();
  for (const chunk of output.toString().split('\0')) {
    const lines = chunk.split('\n');
    const commit = lines.shift()?.trim() ?? '';
    for (const line of lines) {
      const match = /^:\d+ \d+ [0-9a-f]+ ([0-9a-f]+) [A-Z]\d*\t/.exec(line);
      if (match && !/^0+$/.test(match[1]!) && !seen.has(match[1]!)) {
        seen.add(match[1]!);
        versions.push({ commit, blob: match[1]! });
      }
    }
  }
  return versions;
}

/**
 * Where the recorded bytes of an input are: the working-tree file if it hashes to the recorded
 * value, else a version in git history that does, else the run's inputs/ snapshot that does.
 * Never another file: an input found nowhere is a problem naming it and its expected hash.
 */
export async function verifyInput(projectDir: string, role: string, input: { path: string; sha256: string; size: number }, snapshotDirs: string[]): Promise<VerifiedInput | string> {
  const file = resolveProjectPath(projectDir, input.path);
  const hasher = new InputHasher();
  const here = await hasher.digest(file);
  const base = { role, path: input.path, sha256: input.sha256, size: input.size };
  if (here?.hash === input.sha256) return { ...base, source: { kind: 'working-tree', file } };
  for (const version of historyVersions(projectDir, input.path).slice(0, 500)) {
    const content = git(projectDir, ['cat-file', 'blob', version.blob]);
    if (content && sha256(content) === input.sha256) return { ...base, source: { kind: 'git', commit: version.commit, file }, content };
  }
  for (const dir of snapshotDirs) {
    let snapshot: string | undefined;
    try {
      const manifest = JSON.parse(readFileSync(join(dir, 'inputs', 'inputs.json'), 'utf8')) as Record<string, { snapshot?: string | null }>;
      snapshot = manifest[role]?.snapshot ?? undefined;
    } catch {
      continue;
    }
    if (!snapshot) continue;
    const path = join(dir, snapshot);
    const digest = await hasher.digest(path);
    if (digest?.hash === input.sha256) return { ...base, source: { kind: 'snapshot', file: path }, content: readFileSync(path) };
  }
  const now = here ? `the working-tree file hashes to ${here.hash.slice(0, 12)}…` : 'the working-tree file is missing';
  return `input ${role} (${input.path}) must hash to sha256 ${input.sha256}: ${now}, no version in git history has that hash, and no inputs/ snapshot of the run holds it${snapshotDirs.length ? ` (looked in ${snapshotDirs.map((d) => relative(projectDir, d) || d).join(', ')})` : ''}. Restore that file (or pass the run's directory from another checkout) and rerun; ckbuild never uses another input.`;
}

/** A planned run made from a record alone. */
export function plannedFromRecord(record: RunRecord, runDir: string, state: PlannedRun['state']): PlannedRun {
  const run: PlannedRun = {
    id: record.id,
    key: record.key,
    name: record.name,
    step: record.step,
    rule: record.rule,
    ruleVersion: record.rule_version,
    params: record.params,
    inputs: record.inputs,
    upstream: record.upstream,
    labels: record.labels ?? {},
    resources: record.resources ?? {},
    state,
    reasons: [],
    runDir,
  };
  if (record.model) run.model = record.model;
  if (record.site) run.site = record.site;
  if (record.early_stop_loss !== undefined) run.earlyStopLoss = record.early_stop_loss;
  return run;
}

function recordedRunDir(projectDir: string, record: RunRecord): string {
  return record.run_dir.startsWith('/') ? record.run_dir : join(projectDir, record.run_dir);
}

/** Whether a succeeded record's outputs are all still in `dir`. */
function outputsPresent(record: RunRecord, dir: string): boolean {
  if (record.status !== 'succeeded' || !existsSync(dir)) return false;
  return (record.outputs ?? []).every((output) => existsSync(join(dir, output.path)));
}

/** A directory nobody has used: the run's own (content-addressed) one if absent, else `<it>.reproduce-N`. */
export function freshRunDir(canonical: string): string {
  if (!existsSync(canonical)) return canonical;
  for (let n = 1; ; n++) {
    const candidate = `${canonical}.reproduce-${n}`;
    if (!existsSync(candidate)) return candidate;
  }
}

function firstDifference(recorded: string, reproduced: string): { number: number; recorded: string; reproduced: string } | undefined {
  const a = recorded.split('\n');
  const b = reproduced.split('\n');
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (a[i] !== b[i]) return { number: i + 1, recorded: a[i] ?? '(end of file)', reproduced: b[i] ?? '(end of file)' };
  }
  return undefined;
}

export function compareArtifacts(record: RunRecord, hashes: Record<string, string>, files: Map<string, string>, here: ArtifactPlaces, original: ArtifactPlaces | undefined): ArtifactCheck {
  const recorded = record.artifacts;
  if (!recorded) return { recorded: false, compared: 0, differences: [], hashes };
  const differences: ArtifactDifference[] = [];
  for (const path of [...new Set([...Object.keys(recorded), ...Object.keys(hashes)])].sort()) {
    const was = recorded[path];
    const now = hashes[path];
    if (was === now) continue;
    if (now === undefined) differences.push({ path, kind: 'missing', recordedHash: was });
    else if (was === undefined) differences.push({ path, kind: 'extra', reproducedHash: now });
    else {
      const difference: ArtifactDifference = { path, kind: 'different', recordedHash: was, reproducedHash: now };
      if (original) {
        try {
          const old = portableArtifact(readFileSync(join(original.runDir, path), 'utf8'), original);
          if (sha256(old) === was) {
            const line = firstDifference(old, portableArtifact(files.get(path)!, here));
            if (line) difference.line = line;
          }
        } catch {
          // The original directory is gone: the hashes say it all.
        }
      }
      differences.push(difference);
    }
  }
  return { recorded: true, compared: Object.keys(recorded).length, differences, hashes };
}

/**
 * The run, its upstream runs whose outputs are gone, their inputs verified and artifacts regenerated (in memory).
 * Long on purpose: it is the recipe of a reproduction read top to bottom (find the chain, check the
 * scheme and rule, verify each input, rebuild the plan), each step a few lines that share its state.
 */
export async function prepareReproduction(target: FoundRecord, setup: ReproduceSetup): Promise<Prepared> {
  const problems: string[] = [];
  const steps: ReproductionStep[] = [];
  const reused: Array<{ found: FoundRecord; runDir: string }> = [];
  const runs = new Map<string, PlannedRun>();
  const byId = new Map<string, PlannedRun>();
  const visiting = new Set<string>();
  const experiment = experimentOf(target, setup.projectDir);
  const plan: Plan = {
    experiment,
    local: setup.local,
    runs: [],
    byId,
    graph: emptyGraph(),
    trials: [],
    spliced: false,
    reads: new Map(),
    manifest: emptyManifest(target.experiment, experiment.file),
    manifestPath: '',
    runsRoot: setup.runsRoot,
    hashes: new InputHasher(),
    files: [],
    fileStats: new Map(),
    diagnostics: [],
  };

  const visit = async (found: FoundRecord, role: 'target' | 'upstream'): Promise<PlannedRun | undefined> => {
    const record = found.record;
    const done = runs.get(record.key);
    if (done) return done;
    if (visiting.has(record.key)) {
      problems.push(`${record.id}: its upstream runs form a cycle`);
      return undefined;
    }
    visiting.add(record.key);
    const recordedDir = recordedRunDir(setup.projectDir, record);
    const canonical = join(setup.runsRoot, runDirName(record.key, record.name));
    if (role === 'upstream') {
      const present = [recordedDir, canonical].find((dir) => outputsPresent(record, dir));
      if (present) {
        const run = plannedFromRecord(record, present, 'up-to-date');
        runs.set(record.key, run);
        byId.set(run.id, run);
        reused.push({ found, runDir: present });
        return run;
      }
    }
    // Only a run that is regenerated must be one this ckbuild can regenerate.
    const rule = setup.rules.get(record.rule);
    const problem = incompatibility(record, rule);
    if (problem) {
      problems.push(problem);
      return undefined;
    }
    // Upstream first: this run's artifacts name their outputs' folders.
    for (const [upRole, up] of Object.entries(record.upstream)) {
      const upstream = setup.lookup(up.key);
      if (!upstream) {
        problems.push(`${record.id} needs ${up.id} (${upRole}, key ${up.key.slice(0, 12)}), whose outputs are gone and which no manifest records, in the working tree or in git history`);
        continue;
      }
      await visit(upstream, 'upstream');
    }
    const snapshotDirs = [...new Set([recordedDir, canonical])].filter((dir) => existsSync(join(dir, 'inputs')));
    const inputs: VerifiedInput[] = [];
    for (const [inputRole, input] of Object.entries(record.inputs)) {
      const verified = await verifyInput(setup.projectDir, inputRole, input, snapshotDirs);
      if (typeof verified === 'string') {
        problems.push(verified);
        continue;
      }
      if (verified.source.kind !== 'working-tree' && !readsSnapshot(inputRole, input.size)) {
        const where = verified.source.kind === 'git' ? `commit ${verified.source.commit.slice(0, 12)}` : `the snapshot ${verified.source.file}`;
        problems.push(`input ${inputRole} (${input.path}) changed in the working tree, and the job reads it at its own path (it is code, or too large to snapshot); its recorded version (sha256 ${input.sha256}) is in ${where}. Restore it there (e.g. \`git checkout ${verified.source.kind === 'git' ? verified.source.commit.slice(0, 12) : '<commit>'} -- ${input.path}\`), or reproduce in a checkout of that commit (\`git worktree add ../reproduce ${verified.source.kind === 'git' ? verified.source.commit.slice(0, 12) : '<commit>'}\`).`);
        continue;
      }
      inputs.push(verified);
    }
    const runDir = role === 'target' ? freshRunDir(canonical) : canonical;
    if (role === 'upstream' && existsSync(runDir) && liveHolder(runDir)) problems.push(`${record.id} (${relative(setup.projectDir, runDir)}) is being run by another ckbuild: wait for it, then reproduce again`);
    const run = plannedFromRecord(record, runDir, 'stale');
    runs.set(record.key, run);
    byId.set(run.id, run);
    if (problems.length > 0 || !rule) return run;
    const rendered = renderRunFiles(run, plan, rule);
    const here: ArtifactPlaces = { runDir, runsRoot: dirname(runDir), projectDir: setup.projectDir };
    const hashes = artifactHashes(rendered.files, here);
    const original = existsSync(recordedDir) && recordedDir !== runDir ? { runDir: recordedDir, runsRoot: dirname(recordedDir), projectDir: setup.projectDir } : undefined;
    const snapshotRoles = new Map<string, string>();
    const inputsJson = JSON.parse(rendered.files.get('inputs/inputs.json') ?? '{}') as Record<string, { snapshot?: string | null }>;
    for (const [inputRole, entry] of Object.entries(inputsJson)) if (entry.snapshot) snapshotRoles.set(entry.snapshot, inputRole);
    steps.push({ found, run, rule, role, inputs, files: rendered.files, rendered: rendered.rendered, resources: rendered.resources, snapshotRoles, artifacts: compareArtifacts(record, hashes, rendered.files, here, original) });
    return run;
  };

  await visit(target, 'target');
  if (problems.length > 0) return { problems };
  plan.runs = [...reused.map(({ found }) => runs.get(found.record.key)!), ...steps.map((step) => step.run)];
  const targetStep = steps.at(-1)!;
  plan.manifestPath = join(targetStep.run.runDir, 'metadata', 'reproduction.manifest.json');
  const targets: Targets = { runs: steps.map((step) => step.run), executing: (id) => id, twins: new Map(steps.map((step) => [step.run.key, [step.run]])) };
  return { reproduction: { plan, steps, reused, targets }, problems: [] };
}

function experimentOf(found: FoundRecord, projectDir: string): Experiment {
  const document = { experiment_name: found.experiment } as unknown as ExperimentDocument;
  return { file: join(projectDir, found.experimentFile), projectDir, source: undefined as never, document, format: 'native' };
}

function emptyGraph(): RunGraph {
  const none = (ids: Iterable<string>): Set<string> => new Set(ids);
  return { order: [], indexOf: () => undefined, upstreamOf: () => [], downstreamOf: () => [], closureDownstream: none, closureUpstream: none };
}

/** Writes the fresh run directories, restored inputs in their snapshots. Returns what the scheduler runs. */
export function materialize(reproduction: Reproduction): Map<string, GeneratedRun> {
  const generated = new Map<string, GeneratedRun>();
  for (const step of reproduction.steps) {
    const { run } = step;
    const exists = existsSync(run.runDir);
    const root = exists ? run.runDir : `${run.runDir}.partial-${process.pid}`;
    try {
      for (const [path, content] of step.files) writeFileAtomic(join(root, path), content, path.endsWith('.sh') ? 0o755 : 0o644);
      for (const [snapshot, role] of step.snapshotRoles) {
        const input = step.inputs.find((i) => i.role === role)!;
        if (input.content) writeFileAtomic(join(root, snapshot), input.content);
        else copyFileAtomic(input.source.file, join(root, snapshot));
      }
      mkdirSync(join(root, 'outputs'), { recursive: true });
      mkdirSync(join(root, 'metadata'), { recursive: true });
      if (!exists) {
        mkdirSync(dirname(run.runDir), { recursive: true });
        renameSync(root, run.runDir);
      } else retireStatusFile(run.runDir);
    } catch (error) {
      if (!exists) rmSync(root, { recursive: true, force: true });
      throw error;
    }
    generated.set(run.id, { run, rendered: step.rendered, resources: step.resources, jobScript: jobScriptPath(run.runDir), changed: true, diagnostics: step.rendered.diagnostics, artifacts: step.artifacts.hashes });
  }
  return generated;
}

export interface MetricComparison {
  name: string;
  recorded?: Json;
  reproduced?: Json;
  /** reproduced − recorded, for numbers. */
  difference?: number;
  tolerance: number;
  within: boolean;
  /** A measurement of the machine (the rule's `measurements`): shown, never in the verdict. */
  measurement?: boolean;
}

export interface OutputComparison {
  path: string;
  recorded?: RecordedOutput;
  reproduced?: RecordedOutput;
  /** identical: same sha256; different; unhashed: a folder or a large file (only sizes are recorded); missing. */
  verdict: 'identical' | 'different' | 'unhashed' | 'missing';
}

export type Verdict = 'reproduced exactly' | 'reproduced within tolerance' | 'differs' | 'failed';

export interface ReproductionResult {
  step: ReproductionStep;
  status: string;
  detail?: string;
  outputs: OutputComparison[];
  metrics: MetricComparison[];
  verdict: Verdict;
}

/** Tolerances by metric name; `*` applies to every metric not named. Absent: exact. */
export type Tolerances = ReadonlyMap<string, number>;

/**
 * The tolerances the experiment declares (`reproduce: { tolerances: { loss: 0.01 } }`) for
 * metrics that are not bit-reproducible: read from the experiment file in the working tree, or,
 * when it is gone, as it was in the commit the record came from. Empty when neither says.
 */
export function declaredTolerances(projectDir: string, found: Pick<FoundRecord, 'experimentFile' | 'source'>): { tolerances: Map<string, number>; from?: string } {
  const tolerances = new Map<string, number>();
  const file = join(projectDir, found.experimentFile);
  let text: string | undefined;
  let from: string | undefined;
  if (existsSync(file)) {
    text = readFileSync(file, 'utf8');
    from = found.experimentFile;
  } else if (found.source.kind === 'history') {
    text = git(projectDir, ['show', `${found.source.commit}:${found.experimentFile}`])?.toString('utf8');
    from = `${found.experimentFile} at ${found.source.commit.slice(0, 12)}`;
  }
  if (text === undefined) return { tolerances };
  let document: unknown;
  try {
    document = parseYaml(text);
  } catch {
    return { tolerances };
  }
  const declared = isObject(document) && isObject(document.reproduce) && isObject(document.reproduce.tolerances) ? document.reproduce.tolerances : {};
  for (const [name, value] of Object.entries(declared)) if (typeof value === 'number' && Number.isFinite(value) && value >= 0) tolerances.set(name, value);
  return tolerances.size > 0 && from ? { tolerances, from } : { tolerances };
}

/**
 * Metric by metric: the recorded and reproduced values and whether they agree within the tolerance.
 * A rule's measurements (throughput, peak memory) describe the machine, not the result: they are
 * shown with their difference and never decide the verdict.
 */
export function compareMetrics(recorded: JsonObject | undefined, reproduced: JsonObject | undefined, tolerances: Tolerances, measurements: ReadonlySet<string> = new Set()): MetricComparison[] {
  const names = [...new Set([...Object.keys(recorded ?? {}), ...Object.keys(reproduced ?? {})])].sort();
  return names.map((name) => {
    const was = recorded?.[name];
    const now = reproduced?.[name];
    const tolerance = tolerances.get(name) ?? tolerances.get('*') ?? 0;
    const comparison: MetricComparison = { name, tolerance, within: false };
    if (was !== undefined) comparison.recorded = was;
    if (now !== undefined) comparison.reproduced = now;
    if (measurements.has(name)) {
      comparison.measurement = true;
      comparison.within = true;
      if (typeof was === 'number' && typeof now === 'number') comparison.difference = Number((now - was).toPrecision(12));
    } else if (typeof was === 'number' && typeof now === 'number') {
      comparison.difference = Number((now - was).toPrecision(12));
      comparison.within = Math.abs(now - was) <= tolerance;
    } else comparison.within = was !== undefined && now !== undefined && stableStringify(was) === stableStringify(now);
    return comparison;
  });
}

/** Compares what the reproduction left with what the record says. */
export function compareReproduction(step: ReproductionStep, executed: RunRecord | undefined, tolerances: Tolerances): ReproductionResult {
  const status = executed?.status ?? 'not run';
  const record = step.found.record;
  const produced = describeOutputs(step.run.runDir, step.rendered.outputs);
  const outputs: OutputComparison[] = [];
  for (const path of [...new Set([...(record.outputs ?? []).map((o) => o.path), ...produced.map((o) => o.path)])].sort()) {
    const was = record.outputs?.find((o) => o.path === path);
    const now = produced.find((o) => o.path === path);
    const comparison: OutputComparison = { path, verdict: !now || !was ? 'missing' : was.sha256 && now.sha256 ? (was.sha256 === now.sha256 ? 'identical' : 'different') : 'unhashed' };
    if (was) comparison.recorded = was;
    if (now) comparison.reproduced = now;
    outputs.push(comparison);
  }
  const metrics = compareMetrics(record.metrics, status === 'succeeded' ? (executed?.metrics ?? readMetricsSafely(step.rule, step.run.runDir, step.run.params).metrics) : undefined, tolerances, new Set(step.rule.measurements ?? []));
  const artifactsOk = step.artifacts.differences.length === 0;
  let verdict: Verdict;
  if (status !== 'succeeded') verdict = 'failed';
  else if (!artifactsOk || !metrics.every((m) => m.within) || outputs.some((o) => o.verdict === 'missing')) verdict = 'differs';
  else if (metrics.every((m) => m.difference === undefined || m.difference === 0) && outputs.every((o) => o.verdict !== 'different')) verdict = 'reproduced exactly';
  else verdict = 'reproduced within tolerance';
  const result: ReproductionResult = { step, status, outputs, metrics, verdict };
  if (executed?.detail) result.detail = executed.detail;
  return result;
}

/** The reproduction as recorded: in the new run directory and in the run's manifest record. */
export function reproductionEntry(result: ReproductionResult, projectDir: string, now: string, environment: JsonObject): JsonObject {
  const { step } = result;
  const runDir = relative(projectDir, step.run.runDir);
  const entry: JsonObject = {
    reproduced_at: now,
    verdict: result.verdict,
    status: result.status,
    run_dir: runDir.startsWith('..') ? step.run.runDir : runDir,
    env: environment,
    artifacts: step.artifacts.recorded ? { compared: step.artifacts.compared, different: step.artifacts.differences.map((d) => `${d.path} (${d.kind})`) } : 'not recorded',
    inputs: Object.fromEntries(step.inputs.map((input) => [input.role, input.source.kind === 'git' ? `git ${input.source.commit}` : input.source.kind])),
    outputs: Object.fromEntries(result.outputs.map((o) => [o.path, o.verdict])),
    metrics: Object.fromEntries(
      result.metrics.map((m) => [m.name, { recorded: m.recorded ?? null, reproduced: m.reproduced ?? null, difference: m.difference ?? null, tolerance: m.tolerance, within: m.within }]),
    ),
  };
  if (result.detail) entry.detail = result.detail;
  return entry;
}

/**
 * Writes metadata/reproduction.json in the new run directory and appends the entry to the run's
 * record in its manifest (adding the record back when only history had it). Returns the manifest
 * path written, or undefined when the manifest is gone (the experiment was deleted).
 */
export function recordReproduction(result: ReproductionResult, entry: JsonObject, projectDir: string): string | undefined {
  const { step } = result;
  writeFileAtomic(join(step.run.runDir, 'metadata', 'reproduction.json'), stableStringify({ of: step.found.record.key, id: step.found.record.id, ...entry }));
  const manifestPath = join(projectDir, step.found.manifest);
  if (!existsSync(manifestPath)) return undefined;
  const { manifest, diagnostics } = readManifest(manifestPath, step.found.experiment, join(projectDir, step.found.experimentFile));
  if (diagnostics.length > 0) return undefined;
  const record = manifest.get(step.found.record.key) ?? step.found.record;
  const reproductions = Array.isArray(record.reproductions) ? record.reproductions.filter(isObject) : [];
  manifest.set(record.key, { ...record, reproductions: [...reproductions, entry] });
  writeManifest(manifestPath, manifest);
  return manifestPath;
}

/** Where an input's recorded bytes came from, in words. */
export function describeSource(input: VerifiedInput, projectDir: string): string {
  if (input.source.kind === 'working-tree') return 'working tree';
  if (input.source.kind === 'git') return `restored from git (commit ${input.source.commit.slice(0, 12)})`;
  return `restored from the snapshot ${relative(projectDir, input.source.file) || basename(input.source.file)}`;
}
