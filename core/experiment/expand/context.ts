/**
 * What every step of the expansion shares: the experiment, where diagnostics go, the runs made
 * so far (each resolved by its rule as soon as it is added, because later runs read it: an
 * evaluation of the `last` epoch needs its fine-tune's resolved epoch count), and the dataset
 * bindings, checked once per field of the file.
 */
import { existsSync, readFileSync } from 'node:fs';
import { sha256 } from '../../hash.js';
import { RunsById } from '../../runsById.js';
import type { ExpandedRun, ResolvedParams, Resources, RuleRegistry, RunLookup, StepKind } from '../../rule.js';
import { type Diagnostic, type DiagnosticCode, type FieldPath, formatFieldPath } from '../../diagnostics.js';
import { compact, type Json, type JsonObject } from '../../json.js';
import { diagnosticAt, type SourceFile } from '../../source.js';
import type { DatasetRef, Experiment, ExperimentDocument, OriginMap } from '../model.js';
import type { EarlierListing, Trial } from '../trials.js';

/** A dataset as a run sees it: an input file (hashed) or a prepare step's output, and its parameters. */
export interface DatasetBinding {
  inputs: Record<string, string>;
  needs: Record<string, string>;
  params: JsonObject | undefined;
}

/** A result of the experiment: a fine-tune (or a merge) whose checkpoints are evaluated and exported. */
export interface Final {
  id: string;
  trial: Trial;
  kind: 'finetune' | 'merge';
  /** The config it was trained with: the experiment's, with the trial's (and last stage's) overrides. */
  config: JsonObject;
  /** Its run's resolution (its evaluations read its epochs from it); none when the run was refused. */
  resolved: ResolvedParams | undefined;
}

export type Diag = (path: FieldPath, message: string, options: { code: DiagnosticCode; severity?: 'error' | 'warning' }) => Diagnostic;

/**
 * A source whose positions follow a converted document's origins, and a fix for the `field` of the
 * diagnostics built against it (so they name the field as the user wrote it).
 */
export function translatingSource(source: SourceFile, translate: OriginMap): { source: SourceFile; fix: (d: Diagnostic) => Diagnostic } {
  const fields = new Map<string, string>();
  const wrapped: SourceFile = {
    ...source,
    locate: (path, which) => {
      const target = translate(path);
      fields.set(formatFieldPath(path), formatFieldPath(target));
      return source.locate(target, which);
    },
  };
  return {
    source: wrapped,
    fix: (d) => {
      const field = fields.get(d.field) ?? d.field;
      // Say which of ckbuild's fields the conversion made of the one the user wrote.
      return field === d.field ? d : { ...d, field, message: `${d.message} (as ckbuild’s \`${d.field}\`)` };
    },
  };
}

function readTextOrUndefined(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined; // a missing input is reported by the identity stage
  }
}

/** The fingerprint of one read a plan's resolution made (`text:<path>` or `exists:<path>`), as it is now. */
export function readFingerprint(read: string): string {
  if (read.startsWith('exists:')) return String(existsSync(read.slice('exists:'.length)));
  const text = readTextOrUndefined(read.slice('text:'.length));
  return text === undefined ? 'absent' : sha256(text);
}

export class ExpandContext {
  readonly doc: ExperimentDocument;
  readonly source: SourceFile;
  readonly translate: OriginMap;
  readonly diagnostics: Diagnostic[] = [];
  readonly runs: ExpandedRun[] = [];
  /** The place of each run in `runs`, by id: what ResolveContext.runs and the graph (buildGraph) look runs up by. */
  readonly positionOf = new Map<string, number>();
  /** ResolveContext.runs: one object for the whole expansion (rules memoise resolutions under it). */
  private readonly lookup: RunLookup = new RunsById(this.runs, (id) => this.positionOf.get(id));
  /** The resolution of each run of `runs`, at its position (by position: a map of 100,000 ids was slow to fill and ask). */
  readonly resolutions: ResolvedParams[] = [];
  /** The experiment's fine-tune config, without the `framework` that picks its rule. */
  readonly config: JsonObject;
  private readonly bindings = new Map<DatasetRef, Map<string, DatasetBinding>>();
  private readonly texts = new Map<string, string | undefined>();
  private readonly resources = new Map<StepKind, Resources>();
  /** What resolution read, as readFingerprint gives it: what a re-plan checks before it reuses runs. */
  readonly reads = new Map<string, string>();

  /** ResolveContext.readText: once per file and expansion (every evaluation of a task reads its one script). */
  readonly readText = (path: string): string | undefined => {
    if (!this.texts.has(path)) {
      const text = readTextOrUndefined(path);
      this.texts.set(path, text);
      this.reads.set(`text:${path}`, text === undefined ? 'absent' : sha256(text));
    }
    return this.texts.get(path);
  };

  /** ResolveContext.exists, recorded the same way. */
  readonly exists = (path: string): boolean => {
    const key = `exists:${path}`;
    let known = this.reads.get(key);
    if (known === undefined) this.reads.set(key, (known = String(existsSync(path))));
    return known === 'true';
  };

  constructor(
    readonly experiment: Experiment,
    readonly rules: RuleRegistry,
    /** The trials whose fine-tunes are expanded (all when absent): see ExpandOptions. */
    readonly onlyTrials?: (trial: Trial) => boolean,
    /** See ExpandOptions.earlierListing. */
    readonly earlierListing?: EarlierListing,
  ) {
    this.doc = experiment.document;
    this.source = experiment.source;
    this.translate = experiment.origins ?? ((path: FieldPath) => path);
    const { framework: _framework, ...config } = this.doc.config ?? {};
    this.config = config;
  }

  /** A diagnostic at a field of the native document, positioned where the user wrote it. */
  readonly diag: Diag = (path, message, options) => diagnosticAt(this.source, this.translate(path), message, options);

  /** The experiment's resources for a step: one frozen object that every run of the step shares. */
  resourcesFor(step: StepKind): Resources {
    let resources = this.resources.get(step);
    if (!resources) this.resources.set(step, (resources = Object.freeze({ ...(this.doc.resources?.[step] ?? {}) })));
    return resources;
  }

  /** Where a base model lives on this site, when the experiment says: rendered, never hashed. */
  siteOf(baseModel: Json | undefined): JsonObject | undefined {
    const path = typeof baseModel === 'string' ? this.doc.models?.[baseModel]?.path : undefined;
    return path === undefined ? undefined : { model_path: path };
  }

  /** Adds a run and resolves it with its rule, its resolution; a duplicate id or an unknown rule is reported instead. */
  add(run: ExpandedRun, site?: JsonObject): ResolvedParams | undefined {
    const translator = this.experiment.origins;
    if (translator) run.origins = Object.fromEntries(Object.entries(run.origins).map(([role, path]) => [role, translator(path)]));
    if (site) run.site = site;
    if (this.positionOf.has(run.id)) {
      this.diagnostics.push(diagnosticAt(this.source, run.origins.id ?? [], `two runs would share the id \`${run.id}\``, { code: 'duplicate-run' }));
      return undefined;
    }
    const rule = this.rules.get(run.rule);
    if (!rule) {
      this.diagnostics.push(diagnosticAt(this.source, run.origins.rule ?? [], `unknown framework \`${run.rule}\`; known: ${this.rules.names().join(', ')}`, { code: 'unknown-rule' }));
      return undefined;
    }
    this.positionOf.set(run.id, this.runs.length);
    this.runs.push(run);
    const result = rule.resolve(run, {
      runs: this.lookup,
      projectDir: this.experiment.projectDir,
      readText: this.readText,
      exists: this.exists,
      diagnostic: (param, message, options) => diagnosticAt(this.source, run.origins[param] ?? run.origins.self ?? [], message, options),
    });
    this.resolutions.push(result);
    this.diagnostics.push(...result.diagnostics);
    return result;
  }

  /** A dataset is either a file in the repository (hashed) or a file produced by a prepare step. */
  dataset(dataset: DatasetRef | undefined, path: FieldPath, defaultSplit: string): DatasetBinding {
    if (!dataset) return { inputs: {}, needs: {}, params: undefined };
    // The same dataset (one field of the file) bound twice, once per cell, is checked and reported once.
    let bySplit = this.bindings.get(dataset);
    if (!bySplit) this.bindings.set(dataset, (bySplit = new Map()));
    const known = bySplit.get(defaultSplit);
    if (known) return known;
    const params = compact({ format: dataset.format ?? 'json', split: dataset.split ?? defaultSplit, file: dataset.from ? dataset.path : undefined });
    let binding: DatasetBinding;
    if (dataset.from) {
      this.checkProducer(dataset.from, dataset, path);
      binding = { inputs: {}, needs: { dataset: `prepare/${dataset.from}` }, params };
    } else {
      binding = { inputs: { dataset: dataset.path }, needs: {}, params };
    }
    bySplit.set(defaultSplit, binding);
    return binding;
  }

  /** A dataset `from` a prepare step: the step exists and declares the file among its outputs. */
  private checkProducer(from: string, dataset: DatasetRef, path: FieldPath): void {
    const prepare = this.doc.prepare ?? {};
    const step = prepare[from];
    if (!step) {
      const names = Object.keys(prepare);
      this.diagnostics.push(this.diag([...path, 'from'], `no prepare step named \`${from}\`${names.length ? `; prepare steps: ${names.join(', ')}` : ''}`, { code: 'dangling-reference' }));
    } else if (!step.outputs.includes(dataset.path)) {
      this.diagnostics.push(this.diag([...path, 'path'], `prepare step \`${from}\` does not declare \`${dataset.path}\` among its outputs (${step.outputs.join(', ')})`, { code: 'dangling-reference' }));
    }
  }
}
