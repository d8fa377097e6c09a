/**
 * One conversion in progress: its diagnostics and notes, where each native field came from, and
 * the reads every section uses (keys checked against the format, mappings, strings, parameters,
 * files, compute settings).
 */
import { statSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import type { Resources } from '../../rule.js';
import { type Diagnostic, type FieldPath, didYouMean, hasErrors, type DiagnosticCode } from '../../diagnostics.js';
import { resolveProjectPath } from '../../experiment/load.js';
import type { ExperimentDocument, OriginMap } from '../../experiment/model.js';
import { isObject, type Json, type JsonObject } from '../../json.js';
import { describeValue, readValue } from '../../params.js';
import { promptProblem } from '../../prompt.js';
import { diagnosticAt, type SourceFile } from '../../source.js';
import { LEGACY_DATASET_TYPES, MEMORY, type ParamSpec, WALL_TIME } from './spec.js';

export interface CruijffConversion {
  document?: ExperimentDocument;
  /** Where each field of `document` came from in experiment_summary.yaml (with `document`). */
  origins?: OriginMap;
  diagnostics: Diagnostic[];
  /** What the conversion chose not to carry, in words, for `ckbuild import` to print. */
  notes: string[];
}

/** A value in words, for messages. */
export const describe = describeValue;

const key = (path: FieldPath): string => JSON.stringify(path);

/** A relative dataset path is relative to the project folder; absolute paths (the usual case there) are kept. */
function isFile(projectDir: string, path: string): boolean {
  try {
    return statSync(resolveProjectPath(projectDir, path)).isFile();
  } catch {
    return false;
  }
}

export class Conversion {
  readonly diagnostics: Diagnostic[] = [];
  readonly notes: string[] = [];
  private readonly origins = new Map<string, FieldPath>();

  constructor(
    readonly source: SourceFile,
    readonly projectDir: string,
  ) {}

  error(path: FieldPath, message: string, code: DiagnosticCode, at: 'value' | 'key' = 'value'): void {
    this.diagnostics.push(diagnosticAt(this.source, path, message, { code, at }));
  }

  warn(path: FieldPath, message: string, code: DiagnosticCode, at: 'value' | 'key' = 'value'): void {
    this.diagnostics.push(diagnosticAt(this.source, path, message, { code, severity: 'warning', at }));
  }

  /** Records that the native field `native` came from `original`. */
  from(native: FieldPath, original: FieldPath): void {
    this.origins.set(key(native), original);
  }

  /** Native path → original path: the longest recorded prefix, with the rest appended. */
  readonly translate = (path: FieldPath): FieldPath => {
    for (let length = path.length; length >= 0; length--) {
      const found = this.origins.get(key(path.slice(0, length)));
      if (found) return [...found, ...path.slice(length)];
    }
    return [];
  };

  /** Checks the keys of a mapping: known, renamed (legacy), retired, or unknown. */
  keys(object: JsonObject, path: FieldPath, what: string, known: readonly string[], legacy: Record<string, { rename?: string; message?: string; severity?: 'error' | 'warning' }> = {}): void {
    for (const name of Object.keys(object)) {
      if (known.includes(name)) continue;
      const old = legacy[name];
      if (old?.rename) {
        this.error([...path, name], `\`${name}\` was renamed \`${old.rename}\` (cruijff_kit 0.3.4)${old.message ? `; ${old.message}` : ''}`, 'renamed-key', 'key');
      } else if (old) {
        if (old.severity === 'warning') this.warn([...path, name], old.message ?? `\`${name}\` is no longer part of the format; ignored`, 'retired-key', 'key');
        else this.error([...path, name], old.message ?? `\`${name}\` is no longer part of the format`, 'retired-key', 'key');
      } else {
        const hint = didYouMean(name, known) || `; valid keys here: ${known.join(', ')}`;
        this.error([...path, name], `unknown key \`${name}\` in ${what}${hint}`, 'unknown-key', 'key');
      }
    }
  }

  mapping(value: Json | undefined, path: FieldPath, what: string): JsonObject | undefined {
    if (value === undefined || value === null) return undefined;
    if (!isObject(value)) {
      this.error(path, `${what} must be a mapping (key: value lines), got ${describe(value)}`, 'invalid-type');
      return undefined;
    }
    return value;
  }

  /** A required (or optional) key; `missing` says how bad its absence is. */
  need(object: JsonObject, name: string, path: FieldPath, missing: 'error' | 'warning' | 'optional', why = ''): Json | undefined {
    const value = object[name];
    if (value !== undefined && value !== null) return value;
    if (missing === 'error') this.error(path, `missing required key \`${name}\`${why}`, 'missing-key');
    else if (missing === 'warning') this.warn(path, `missing \`${name}\` (required by cruijff_kit${why ? `; ${why}` : ''})`, 'missing-key');
    return undefined;
  }

  string(object: JsonObject, name: string, path: FieldPath, missing: 'error' | 'warning' | 'optional', options: { nonEmpty?: boolean; why?: string; legacy?: string } = {}): string | undefined {
    // Under its old name the key was already reported as renamed: no second message for its absence.
    const renamed = options.legacy !== undefined && object[options.legacy] !== undefined;
    const value = this.need(object, name, path, renamed ? 'optional' : missing, options.why);
    if (value === undefined) return undefined;
    if (typeof value !== 'string') {
      this.error([...path, name], `expected a string, got ${describe(value)}`, 'invalid-type');
      return undefined;
    }
    if (options.nonEmpty && value.trim() === '') {
      this.error([...path, name], 'must not be empty', 'invalid-value');
      return undefined;
    }
    return value;
  }

  /**
   * A value of a typed parameter, read by core's one parameter reader with the earlier toolkit's
   * leniency (quoted numbers, yes/no), except where it was strict (`resolve_seed`, counts).
   */
  param(spec: ParamSpec, value: Json, path: FieldPath): Json | undefined {
    const named = [...path].reverse().find((part): part is string => typeof part === 'string');
    const name = named ?? spec.native;
    if (spec.type === 'string' && spec.native === 'dataset_type' && typeof value === 'string' && LEGACY_DATASET_TYPES.includes(value)) {
      this.error(path, `\`${value}\` passed cruijff_kit’s validation but its config generator fails on it (KeyError); use chat_completion (instruct/chat models) or text_completion (base models)`, 'invalid-value');
      return undefined;
    }
    const type = spec.type === 'int' ? 'integer' : spec.type === 'bool' ? 'boolean' : spec.type;
    const read = readValue(name, value, { type, min: spec.min, above: spec.exclusiveMin, max: spec.max, values: spec.values, lenient: !spec.strict }, (message, code) => this.error(path, message, code));
    if (typeof read !== 'string') return read;
    if (spec.native === 'prompt') this.placeholder(read, path);
    // torchtune's function name there, the schedule's name here: get_cosine_schedule_with_warmup → cosine.
    if (spec.native === 'lr_scheduler') return read.replace(/^get_/, '').replace(/_schedule_with_warmup$/, '');
    return read;
  }

  placeholder(prompt: string, path: FieldPath): void {
    const problem = promptProblem(prompt);
    if (problem) this.error(path, problem.message, problem.code);
  }

  /** A file ckbuild hashes must exist where the file says. */
  file(path: string, at: FieldPath, what: string): boolean {
    if (isFile(this.projectDir, path)) return true;
    this.error(at, `${what} \`${path}\` does not exist${isAbsolute(path) ? '' : ` (relative paths are relative to the project folder ${this.projectDir})`}`, 'missing-file');
    return false;
  }

  /** SLURM settings of `runs[].compute` / `evaluation.compute`, as ckbuild resources. */
  compute(value: Json | undefined, path: FieldPath, native: FieldPath): Resources | undefined {
    const compute = this.mapping(value, path, 'compute');
    if (!compute) return undefined;
    this.keys(compute, path, 'compute', ['time', 'gpus', 'mem', 'cpus_per_task']);
    const resources: Resources = {};
    if (compute.time !== undefined) {
      if (typeof compute.time !== 'string' || !WALL_TIME.test(compute.time)) this.error([...path, 'time'], `${describe(compute.time)} is not a time limit; use HH:MM:SS (e.g. "0:15:00")`, 'invalid-value');
      else resources.time = compute.time;
    }
    for (const name of ['gpus', 'cpus_per_task'] as const) {
      if (compute[name] === undefined) continue;
      const count = this.param({ native: name, type: 'int', min: 1, strict: true }, compute[name]!, [...path, name]);
      if (typeof count === 'number') resources[name] = count;
    }
    if (compute.mem !== undefined) {
      if (typeof compute.mem !== 'string' || !MEMORY.test(compute.mem)) this.error([...path, 'mem'], `${describe(compute.mem)} is not a memory size; use a number and a unit (e.g. "80G")`, 'invalid-value');
      else resources.mem = compute.mem;
    }
    for (const name of Object.keys(resources)) this.from([...native, name], [...path, name]);
    return resources;
  }

  finish(document: ExperimentDocument): CruijffConversion {
    if (hasErrors(this.diagnostics)) return { diagnostics: this.diagnostics, notes: this.notes };
    return { document, origins: this.translate, diagnostics: this.diagnostics, notes: this.notes };
  }
}
