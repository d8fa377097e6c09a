/**
 * Materialises a planned run into its content-addressed directory:
 *
 *   runs/<key16>-<name>/
 *     config/    run.json (the resolved spec), job.sh, the rule's rendered configs
 *     inputs/    snapshots of small inputs; a hash reference for large ones
 *     outputs/   what the framework writes (never touched by generation)
 *     metadata/  status.json, system.txt, gpu.csv — written by the job
 *
 * Idempotent and atomic: a new directory is assembled in the runs root's staging folder
 * (runs/.partial/) and renamed into place, so an interrupted generation never leaves a directory
 * that looks complete; an existing one has each changed file replaced atomically and unchanged
 * files left alone.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { Resources, Rule, RenderedRun, UpstreamView } from './rule.js';
import type { Diagnostic } from './diagnostics.js';
import { resolveProjectPath } from './experiment/load.js';
import { merged, stableStringify, type Json, type JsonObject } from './json.js';
import { type LocalConfig, modelsDirOf } from './localConfig.js';
import { copyFileAtomic, writeFileAtomic } from './atomicFile.js';
import type { Plan, PlannedRun } from './plan.js';
import { renderJobScript } from './jobScript.js';
import { identityFields } from './records.js';
import { ensureIgnoredDir } from './ignoredDir.js';
import { CKBUILD_VERSION } from './version.js';
import { isProcessAlive } from './lock.js';
import { jobScriptPath, readRunSpec, runSpecPath } from './runDir.js';
import { liveHolder } from './claim.js';
import { sha256 } from './hash.js';

/** Inputs up to this size are copied into the run directory; larger ones are referenced by hash. */
const SNAPSHOT_LIMIT = 16 * 1024 * 1024;
/** Roles whose file is code that may import its neighbours: the job uses the original path. */
const CODE_ROLES = new Set(['script', 'program', 'base_config', 'recipe']);

export interface GeneratedRun {
  run: PlannedRun;
  rendered: RenderedRun;
  resources: Resources;
  jobScript: string;
  /** Whether any file was written (false when regeneration found everything identical). */
  changed: boolean;
  diagnostics: Diagnostic[];
  /** sha256 of every generated file, in its portable form (see `artifactHashes`): what `reproduce` compares. */
  artifacts: Record<string, string>;
}

/** Where a run was rendered: the absolute paths that artifacts mention and that differ between checkouts. */
export interface ArtifactPlaces {
  runDir: string;
  runsRoot: string;
  projectDir: string;
}

/**
 * A generated file with this checkout's locations replaced by placeholders (`<run_dir>`,
 * `<runs_root>`, `<project_dir>`): the same record rendered in a fresh clone, another runs root
 * or a fresh run directory gives the same bytes, and anything else that differs is a difference.
 */
export function portableArtifact(content: string, places: ArtifactPlaces): string {
  let text = content;
  for (const [path, placeholder] of [[places.runDir, '<run_dir>'], [places.runsRoot, '<runs_root>'], [places.projectDir, '<project_dir>']] as const) {
    if (path.length > 1) text = text.split(path).join(placeholder);
  }
  return text;
}

export function artifactHashes(files: ReadonlyMap<string, string>, places: ArtifactPlaces): Record<string, string> {
  const hashes: Record<string, string> = {};
  for (const path of [...files.keys()].sort()) hashes[path] = sha256(portableArtifact(files.get(path)!, places));
  return hashes;
}

/** Whether the job reads an input through its snapshot in the run directory (else through its original path). */
export function readsSnapshot(role: string, size: number): boolean {
  return size <= SNAPSHOT_LIMIT && !CODE_ROLES.has(role);
}

export function mergedResources(run: PlannedRun, rule: Rule, local: LocalConfig): Resources {
  const site: Resources = {};
  if (local.account) site.account = local.account;
  if (local.partition) site.partition = local.partition;
  if (local.constraint) site.constraint = local.constraint;
  if (local.qos) site.qos = local.qos;
  // Model defaults, then the site, then what the experiment asks for.
  return merged<Resources>(rule.defaultResources?.(run.params), site, run.resources);
}

export function upstreamViews(run: PlannedRun, plan: Plan): Record<string, UpstreamView> {
  const views: Record<string, UpstreamView> = {};
  for (const [role, up] of Object.entries(run.upstream)) {
    const upstream = plan.byId.get(up.id)!;
    views[role] = { id: upstream.id, key: upstream.key, rule: upstream.rule, step: upstream.step, params: upstream.params, runDir: upstream.runDir, outputsDir: join(upstream.runDir, 'outputs') };
  }
  return views;
}

/** The files of a run directory, as path (relative to it) → content. Pure: no writes. */
export function renderRunFiles(run: PlannedRun, plan: Plan, rule: Rule): { files: Map<string, string>; rendered: RenderedRun; resources: Resources; snapshots: Map<string, string> } {
  const projectDir = plan.experiment.projectDir;
  const outputsDir = join(run.runDir, 'outputs');
  const resources = mergedResources(run, rule, plan.local);
  const inputs: Record<string, string> = {};
  const snapshots = new Map<string, string>();
  const inputManifest: JsonObject = {};
  for (const [role, input] of Object.entries(run.inputs)) {
    const original = resolveProjectPath(projectDir, input.path);
    const snapshot = input.size <= SNAPSHOT_LIMIT ? `inputs/${snapshotName(role, input.path)}` : undefined;
    if (snapshot) snapshots.set(snapshot, original);
    inputs[role] = snapshot && !CODE_ROLES.has(role) ? join(run.runDir, snapshot) : original;
    inputManifest[role] = { path: input.path, sha256: input.sha256, size: input.size, snapshot: snapshot ?? null };
  }
  const rendered = rule.render({
    id: run.id,
    key: run.key,
    name: run.name,
    params: run.params,
    model: run.model,
    inputs,
    upstream: upstreamViews(run, plan),
    runDir: run.runDir,
    outputsDir,
    resources,
    site: { modelsDir: modelsDirOf(projectDir, plan.local), projectDir, ...(typeof run.site?.model_path === 'string' ? { modelPath: resolveProjectPath(projectDir, run.site.model_path) } : {}) },
    experiment: { name: plan.experiment.document.experiment_name, project: plan.experiment.document.project },
    labels: run.labels,
  });
  const files = new Map<string, string>();
  for (const [path, content] of Object.entries(rendered.files)) files.set(path, content);
  files.set('config/job.sh', renderJobScript({ id: run.id, key: run.key, name: run.name, runDir: run.runDir, outputsDir, projectDir, resources, local: plan.local, rendered, earlyStopLoss: run.earlyStopLoss }));
  files.set('config/run.json', stableStringify({ ...runSpec(run, resources, plan), outputs: rendered.outputs }));
  files.set('inputs/inputs.json', stableStringify(inputManifest));
  return { files, rendered, resources, snapshots };
}

/** The resolved run spec: everything the artifacts were generated from. */
export function runSpec(run: PlannedRun, resources: Resources, plan: Plan): JsonObject {
  return {
    ckbuild_version: CKBUILD_VERSION,
    ...(identityFields(run) as unknown as JsonObject),
    model: run.model ?? null,
    site: run.site ?? null,
    resources: resources as unknown as Json,
    experiment: plan.experiment.document.experiment_name,
  };
}

function snapshotName(role: string, path: string): string {
  const safeRole = role.replace(/[^A-Za-z0-9_.-]+/g, '_');
  const file = basename(path);
  return safeRole === file.replace(/[^A-Za-z0-9_.-]+/g, '_') ? safeRole : `${safeRole}--${file.replace(/[^A-Za-z0-9_.-]+/g, '_')}`;
}

export function generateRun(run: PlannedRun, plan: Plan, rule: Rule): GeneratedRun {
  const { files, rendered, resources, snapshots } = renderRunFiles(run, plan, rule);
  let changed = false;
  if (!existsSync(runSpecPath(run.runDir))) {
    // Assemble in the staging folder, then one rename: the directory appears complete or not at all.
    const staging = stagingFolderFor(run.runDir);
    let createdFrom: string | undefined;
    try {
      createdFrom = writeStaged(staging, files, snapshots);
    } catch (error) {
      rmSync(staging, { recursive: true, force: true }); // a full disk leaves nothing half-written
      throw error;
    }
    markRunsRoot(dirname(run.runDir), createdFrom);
    try {
      renameSync(staging, run.runDir); // fails if a non-empty directory is there
      changed = true;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') {
        rmSync(staging, { recursive: true, force: true });
        throw error;
      }
      if (existsSync(runSpecPath(run.runDir))) {
        // Another ckbuild sharing the runs root generated it meanwhile: same key, same run.
        rmSync(staging, { recursive: true, force: true });
        changed = liveHolder(run.runDir) ? false : writeFiles(run.runDir, files, snapshots, true);
      } else {
        // A directory without run.json is a leftover (say, of a crash mid-rename); keep its outputs.
        for (const entry of ['outputs', 'metadata']) {
          if (existsSync(join(run.runDir, entry))) {
            rmSync(join(staging, entry), { recursive: true, force: true });
            renameSync(join(run.runDir, entry), join(staging, entry));
          }
        }
        rmSync(run.runDir, { recursive: true, force: true });
        renameSync(staging, run.runDir);
        changed = true;
      }
    }
  } else if (liveHolder(run.runDir)) {
    // Claimed by another live process (a checkout sharing the runs root): its job may be reading
    // these files right now. Same key, same run: leave them as they are.
    changed = false;
  } else {
    changed = writeFiles(run.runDir, files, snapshots, true);
  }
  const artifacts = artifactHashes(files, { runDir: run.runDir, runsRoot: dirname(run.runDir), projectDir: plan.experiment.projectDir });
  return { run, rendered, resources, jobScript: jobScriptPath(run.runDir), changed, diagnostics: rendered.diagnostics, artifacts };
}

/**
 * Where a new run directory is assembled: runs/.partial/<run dir name>.<pid>, private to this
 * process, on the runs root's file system (one rename publishes it). A folder of its own, so that
 * finding what killed generations left is a listing of a few entries, not of the 20,000 run
 * directories beside them (16–32 ms a re-plan, on every save in watch mode). It is listed once per
 * runs root and process: what a dead process left is removed; what a live one is assembling is
 * left alone; one with this process's pid (a pid reused since) is removed before it is reused.
 */
const STAGING_FOLDER = '.partial';
const cleanedStaging = new Set<string>();

/**
 * The runs root carries its `.gitignore` (core/ignoredDir.ts): checked once per runs root and
 * process (three system calls a run, of a 200-run build, otherwise), and again whenever staging
 * had to create the runs root anew (deleted while watch mode runs).
 */
const markedRunsRoots = new Set<string>();

function markRunsRoot(runsRoot: string, createdFrom: string | undefined): void {
  const recreated = createdFrom !== undefined && !createdFrom.startsWith(join(runsRoot, STAGING_FOLDER));
  if (markedRunsRoots.has(runsRoot) && !recreated) return;
  ensureIgnoredDir(runsRoot);
  markedRunsRoots.add(runsRoot);
}

function stagingFolderFor(runDir: string): string {
  const folder = join(dirname(runDir), STAGING_FOLDER);
  if (!cleanedStaging.has(folder)) {
    removeAbandonedStaging(folder);
    cleanedStaging.add(folder);
  }
  // Every staging folder of this process is published or removed before the next one starts.
  return join(folder, `${basename(runDir)}.${process.pid}`);
}

function removeAbandonedStaging(folder: string): void {
  let entries: string[];
  try {
    entries = readdirSync(folder);
  } catch {
    return; // nothing staged in this runs root yet
  }
  for (const entry of entries) {
    const pid = Number(entry.slice(entry.lastIndexOf('.') + 1));
    if (pid === process.pid || !Number.isInteger(pid) || !isProcessAlive(pid)) rmSync(join(folder, entry), { recursive: true, force: true });
  }
}

/**
 * A new run directory's files, into its private staging folder: nobody can read them before the
 * one rename that publishes the folder, so plain writes suffice (no temporary file and rename per
 * file), and each folder is created once. Returns the first folder it had to create (mkdir's
 * answer): above the staging folder means the runs root itself was new.
 */
function writeStaged(staging: string, files: Map<string, string>, snapshots: Map<string, string>): string | undefined {
  const createdFrom = mkdirSync(staging, { recursive: true });
  const made = new Set<string>([staging]);
  const folder = (path: string): void => {
    const dir = dirname(path);
    if (made.has(dir)) return;
    mkdirSync(dir, { recursive: true });
    made.add(dir);
  };
  for (const [path, content] of files) {
    const target = join(staging, path);
    folder(target);
    writeFileSync(target, content, { mode: path.endsWith('.sh') ? 0o755 : 0o644 });
  }
  for (const [path, original] of snapshots) {
    const target = join(staging, path);
    folder(target);
    copyFileSync(original, target);
  }
  for (const dir of ['outputs', 'metadata']) mkdirSync(join(staging, dir), { recursive: true });
  return createdFrom;
}

function writeFiles(root: string, files: Map<string, string>, snapshots: Map<string, string>, onlyChanged = false): boolean {
  let changed = false;
  for (const [path, content] of files) {
    const target = join(root, path);
    if (onlyChanged && existsSync(target) && readFileSync(target, 'utf8') === content) continue;
    writeFileAtomic(target, content, path.endsWith('.sh') ? 0o755 : 0o644);
    changed = true;
  }
  for (const [path, original] of snapshots) {
    const target = join(root, path);
    if (onlyChanged && existsSync(target)) continue; // same key ⇒ same bytes
    copyFileAtomic(original, target);
    changed = true;
  }
  return changed;
}

/** The outputs a run directory's job must leave (config/run.json), for runs this process did not render. */
export function declaredOutputs(runDir: string): string[] | undefined {
  return readRunSpec(runDir)?.outputs;
}
