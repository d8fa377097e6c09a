/**
 * The one reader of parameters as written: each read returns a value of the expected type (or
 * the fallback), or reports what is wrong with it, positioned by the caller, and returns the
 * fallback, so every problem of a run is reported at once instead of stopping at the first.
 *
 * The rules read their runs' parameters with `ParamReader`; the reader of the earlier toolkit's
 * format checks single values with `readValue` (leniently, as that toolkit did: quoted numbers,
 * yes/no). Both word their messages the same way: "`name` must be …, got …".
 */
import { type Diagnostic, type DiagnosticCode, didYouMean } from './diagnostics.js';
import { isObject, type Json, type JsonObject } from './json.js';

export type Severity = 'error' | 'warning';

/** Where problems go: positioned by the parameter they concern. */
export type ParamReport = (param: string, message: string, code: DiagnosticCode, severity?: Severity) => void;

export interface NumberRange {
  /** value ≥ min */
  min?: number;
  /** value > above */
  above?: number;
  /** value ≤ max */
  max?: number;
  /** value < below */
  below?: number;
}

export interface ValueSpec extends NumberRange {
  type: 'integer' | 'number' | 'boolean' | 'string';
  /** The strings a string value may take. */
  values?: readonly string[];
  /** Said after the allowed values: why the list is what it is. */
  why?: string;
  /** The earlier toolkit's leniency: a quoted number ("42") is a number, yes/no/1/0 a boolean. */
  lenient?: boolean;
}

/** A value in words, for messages: `the string "abc"`, `number 3`, `a list`. */
export function describeValue(value: Json | undefined): string {
  if (value === undefined || value === null) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  if (isObject(value)) return 'a mapping';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? value.slice(0, 40) + '…' : value)}`;
  return `${typeof value} ${String(value)}`;
}

const EXPECTED: Record<ValueSpec['type'], string> = {
  integer: 'a whole number',
  number: 'a number',
  boolean: 'true or false',
  string: 'a string',
};

function isNumeric(value: Json): value is string {
  return typeof value === 'string' && value.trim() !== '' && !Number.isNaN(Number(value));
}

function wrongType(name: string, expected: string, value: Json, numeric = false): string {
  return `\`${name}\` must be ${expected}, got ${describeValue(value)}${numeric && isNumeric(value) ? ' (remove the quotes)' : ''}`;
}

/** The whole range in words (`≥ 0 and ≤ 1`) when `value` is outside it. */
function outOfRange(range: NumberRange, value: number): string | undefined {
  const inside = (range.min === undefined || value >= range.min) && (range.above === undefined || value > range.above) && (range.max === undefined || value <= range.max) && (range.below === undefined || value < range.below);
  if (inside) return undefined;
  const bounds = [
    range.min !== undefined ? `≥ ${range.min}` : '',
    range.above !== undefined ? `> ${range.above}` : '',
    range.max !== undefined ? `≤ ${range.max}` : '',
    range.below !== undefined ? `< ${range.below}` : '',
  ];
  return bounds.filter(Boolean).join(' and ');
}

/**
 * One value checked against `spec`: the value read (a quoted number made a number when lenient),
 * or undefined after `problem` was told what is wrong.
 */
export function readValue(name: string, value: Json, spec: ValueSpec, problem: (message: string, code: DiagnosticCode) => void): number | boolean | string | undefined {
  switch (spec.type) {
    case 'integer':
    case 'number': {
      let number: number | undefined;
      if (typeof value === 'number' && Number.isFinite(value)) number = value;
      else if (spec.lenient && isNumeric(value)) number = Number(value);
      if (number === undefined) {
        problem(wrongType(name, EXPECTED[spec.type], value, true), 'invalid-type');
        return undefined;
      }
      if (spec.type === 'integer' && !Number.isInteger(number)) {
        problem(wrongType(name, EXPECTED.integer, number), 'invalid-type');
        return undefined;
      }
      const bounds = outOfRange(spec, number);
      if (bounds !== undefined) {
        problem(`\`${name}\` must be ${bounds}, got ${number}`, 'out-of-range');
        return undefined;
      }
      return number;
    }
    case 'boolean': {
      if (typeof value === 'boolean') return value;
      if (spec.lenient) {
        const text = typeof value === 'string' ? value.toLowerCase() : typeof value === 'number' ? String(value) : '';
        if (['true', 'yes', '1'].includes(text)) return true;
        if (['false', 'no', '0'].includes(text)) return false;
      }
      problem(wrongType(name, EXPECTED.boolean, value), 'invalid-type');
      return undefined;
    }
    case 'string': {
      if (typeof value !== 'string') {
        problem(wrongType(name, spec.values ? `one of ${spec.values.join(', ')}${spec.why ?? ''}` : EXPECTED.string, value), spec.values ? 'invalid-value' : 'invalid-type');
        return undefined;
      }
      if (spec.values && !spec.values.includes(value)) {
        problem(`\`${name}\` must be one of ${spec.values.join(', ')}${spec.why ?? ''}, got ${describeValue(value)}${didYouMean(value, spec.values)}`, 'invalid-value');
        return undefined;
      }
      return value;
    }
  }
}

/** What builds a positioned diagnostic for a parameter (a rule's ResolveContext). */
export interface DiagnosticSink {
  diagnostic(param: string, message: string, options: { code: DiagnosticCode; severity?: Severity }): Diagnostic;
}

/**
 * Typed reads of a mapping of parameters. Given a `DiagnosticSink`, problems are collected in
 * `diagnostics`; given a `ParamReport`, they go to it. `null` reads as absent.
 */
export class ParamReader {
  readonly diagnostics: Diagnostic[] = [];
  readonly report: ParamReport;

  constructor(
    private readonly values: JsonObject,
    sink: ParamReport | DiagnosticSink,
  ) {
    this.report = typeof sink === 'function' ? sink : (param, message, code, severity = 'error') => this.diagnostics.push(sink.diagnostic(param, message, { code, severity }));
  }

  has(name: string): boolean {
    return this.raw(name) !== undefined;
  }

  raw(name: string): Json | undefined {
    const value = this.values[name];
    return value === null ? undefined : value;
  }

  private read(name: string, spec: ValueSpec): number | boolean | string | undefined {
    const value = this.raw(name);
    if (value === undefined) return undefined;
    return readValue(name, value, spec, (message, code) => this.report(name, message, code));
  }

  string(name: string): string | undefined;
  string(name: string, fallback: string): string;
  string(name: string, fallback?: string): string | undefined {
    const value = this.read(name, { type: 'string' });
    return typeof value === 'string' ? value : fallback;
  }

  number(name: string): number | undefined;
  number(name: string, fallback: number, range?: NumberRange): number;
  number(name: string, fallback: undefined, range: NumberRange): number | undefined;
  number(name: string, fallback?: number, range: NumberRange = {}): number | undefined {
    const value = this.read(name, { type: 'number', ...range });
    return typeof value === 'number' ? value : fallback;
  }

  /** A whole number ≥ `min`. */
  integer(name: string, min: number): number | undefined;
  integer(name: string, min: number, fallback: number): number;
  integer(name: string, min: number, fallback?: number): number | undefined {
    const value = this.read(name, { type: 'integer', min });
    return typeof value === 'number' ? value : fallback;
  }

  boolean(name: string): boolean | undefined;
  boolean(name: string, fallback: boolean): boolean;
  boolean(name: string, fallback?: boolean): boolean | undefined {
    const value = this.read(name, { type: 'boolean' });
    return typeof value === 'boolean' ? value : fallback;
  }

  /** One of `allowed`; `why` is said after the list when the value is not in it. */
  oneOf<T extends string>(name: string, allowed: readonly T[]): T | undefined;
  oneOf<T extends string>(name: string, allowed: readonly T[], fallback: T, why?: string): T;
  oneOf<T extends string>(name: string, allowed: readonly T[], fallback?: T, why?: string): T | undefined {
    const value = this.read(name, { type: 'string', values: allowed, why });
    return allowed.find((item) => item === value) ?? fallback;
  }

  stringArray(name: string): string[] | undefined {
    const value = this.raw(name);
    if (value === undefined) return undefined;
    if (Array.isArray(value) && value.every((item): item is string => typeof item === 'string')) return value;
    this.report(name, wrongType(name, 'a list of strings', value), 'invalid-type');
    return undefined;
  }

  numberArray(name: string): number[] | undefined {
    const value = this.raw(name);
    if (value === undefined) return undefined;
    if (Array.isArray(value) && value.every((item): item is number => typeof item === 'number' && Number.isFinite(item))) return value;
    this.report(name, wrongType(name, 'a list of numbers', value), 'invalid-type');
    return undefined;
  }

  object(name: string): JsonObject | undefined {
    const value = this.raw(name);
    if (value === undefined) return undefined;
    if (isObject(value)) return value;
    this.report(name, wrongType(name, 'a mapping', value), 'invalid-type');
    return undefined;
  }
}
