/**
 * Typed reads of a run's raw parameters for `resolve`: each read either returns a value of the
 * expected type (or the default) or records a diagnostic positioned at the parameter and returns
 * undefined, so a rule can report every problem of a run at once instead of stopping at the first.
 */
import type { DiagnosticCode } from '../../core/diagnostics.js';
import type { Diagnostic } from '../../core/diagnostics.js';
import { isObject, type Json, type JsonObject } from '../../core/json.js';
import type { ResolveContext } from '../../core/rule.js';

export type Report = (param: string, message: string, code: DiagnosticCode, severity?: 'error' | 'warning') => void;

export class ParamReader {
  readonly diagnostics: Diagnostic[] = [];

  constructor(
    private readonly params: JsonObject,
    private readonly context: ResolveContext,
  ) {}

  readonly report: Report = (param, message, code, severity = 'error') => {
    this.diagnostics.push(this.context.diagnostic(param, message, { code, severity }));
  };

  has(name: string): boolean {
    return this.params[name] !== undefined && this.params[name] !== null;
  }

  raw(name: string): Json | undefined {
    const value = this.params[name];
    return value === null ? undefined : value;
  }

  string(name: string): string | undefined;
  string(name: string, fallback: string): string;
  string(name: string, fallback?: string): string | undefined {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    if (typeof value === 'string') return value;
    this.report(name, `\`${name}\` must be a string, not ${describe(value)}`, 'invalid-type');
    return fallback;
  }

  number(name: string): number | undefined;
  number(name: string, fallback: number): number;
  number(name: string, fallback?: number): number | undefined {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    if (typeof value === 'number' && Number.isFinite(value)) return value;
    this.report(name, `\`${name}\` must be a number, not ${describe(value)}`, 'invalid-type');
    return fallback;
  }

  /** A whole number ≥ `min`. */
  integer(name: string, min: number): number | undefined;
  integer(name: string, min: number, fallback: number): number;
  integer(name: string, min: number, fallback?: number): number | undefined {
    const value = this.number(name);
    if (value === undefined) return fallback;
    if (!Number.isInteger(value) || value < min) {
      this.report(name, `\`${name}\` must be a whole number ≥ ${min}, not ${value}`, 'out-of-range');
      return fallback;
    }
    return value;
  }

  boolean(name: string): boolean | undefined;
  boolean(name: string, fallback: boolean): boolean;
  boolean(name: string, fallback?: boolean): boolean | undefined {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    if (typeof value === 'boolean') return value;
    this.report(name, `\`${name}\` must be true or false, not ${describe(value)}`, 'invalid-type');
    return fallback;
  }

  oneOf<T extends string>(name: string, allowed: readonly T[]): T | undefined;
  oneOf<T extends string>(name: string, allowed: readonly T[], fallback: T): T;
  oneOf<T extends string>(name: string, allowed: readonly T[], fallback?: T): T | undefined {
    const value = this.string(name);
    if (value === undefined) return fallback;
    if ((allowed as readonly string[]).includes(value)) return value as T;
    this.report(name, `\`${name}\` must be one of ${allowed.join(', ')}, not \`${value}\``, 'invalid-value');
    return fallback;
  }

  stringArray(name: string): string[] | undefined {
    const value = this.raw(name);
    if (value === undefined) return undefined;
    if (Array.isArray(value) && value.every((item): item is string => typeof item === 'string')) return value;
    this.report(name, `\`${name}\` must be a list of strings`, 'invalid-type');
    return undefined;
  }

  numberArray(name: string): number[] | undefined {
    const value = this.raw(name);
    if (value === undefined) return undefined;
    if (Array.isArray(value) && value.every((item): item is number => typeof item === 'number' && Number.isFinite(item))) return value;
    this.report(name, `\`${name}\` must be a list of numbers`, 'invalid-type');
    return undefined;
  }

  object(name: string): JsonObject | undefined {
    const value = this.raw(name);
    if (value === undefined) return undefined;
    if (isObject(value)) return value;
    this.report(name, `\`${name}\` must be a mapping, not ${describe(value)}`, 'invalid-type');
    return undefined;
  }
}

export function describe(value: Json): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (isObject(value)) return 'a mapping';
  return `${typeof value} \`${String(value)}\``;
}

/** The dataset binding the expansion gives a run: `{format, split, file?}`. */
export interface DatasetParams {
  format: string;
  split: string;
  /** A file inside a prepare step's outputs (only when the dataset comes from one). */
  file?: string;
}

export function readDataset(reader: ParamReader, name: string, defaultSplit: string): DatasetParams | undefined {
  const value = reader.object(name);
  if (!value) return undefined;
  const format = typeof value.format === 'string' ? value.format : 'json';
  const split = typeof value.split === 'string' ? value.split : defaultSplit;
  const file = typeof value.file === 'string' ? value.file : undefined;
  return file === undefined ? { format, split } : { format, split, file };
}

export function datasetJson(dataset: DatasetParams): JsonObject {
  return dataset.file === undefined ? { format: dataset.format, split: dataset.split } : { format: dataset.format, split: dataset.split, file: dataset.file };
}
