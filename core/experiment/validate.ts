/**
 * Schema validation with ajv, translated into diagnostics a person can act on: the field,
 * what is wrong, and what would be right ("unknown key `lora_rnak`; did you mean `lora_rank`?").
 */
import type { ErrorObject, ValidateFunction } from 'ajv';
import { type Diagnostic, type FieldPath, didYouMean, nearest } from '../diagnostics.js';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { Script } from 'node:vm';
import { canonicalJson, isObject, type Json, type JsonObject } from '../json.js';
import { diagnosticAt, type SourceFile } from '../source.js';

const compiled = new WeakMap<object, ValidateFunction>();

/** The options the schema is compiled with, at build time (scripts/precompile.mjs) and at run time alike. */
export const AJV_OPTIONS = { allErrors: true, verbose: true, strict: false } as const;

export function schemaSha256(schema: JsonObject): string {
  return createHash('sha256').update(canonicalJson(schema)).digest('hex');
}

/**
 * The validator ajv compiled for this schema when ckbuild was built, if it is this schema's
 * (dist/core/experiment/experimentValidator.cjs carries the hash it was made from); else none.
 */
function precompiled(schema: JsonObject): ValidateFunction | undefined {
  try {
    const loaded = loadValidator(fileURLToPath(new URL('./experimentValidator.cjs', import.meta.url)));
    return loaded.schemaSha256 === schemaSha256(schema) ? loaded : undefined;
  } catch {
    return undefined; // not built (a checkout compiled by tsc alone): compile it now
  }
}

/**
 * The compiled validator, a CommonJS module, loaded with the V8 code cache the build made of it
 * (`experimentValidator.cjs.v8cache`, scripts/precompile.mjs): its 350 KB took ~10 ms to compile
 * and its first call ~15 ms more. V8 checks the cache against the source and its own version and
 * flags, and compiles the source as usual where the cache does not fit.
 */
function loadValidator(path: string): ValidateFunction & { schemaSha256?: string } {
  const source = readFileSync(path, 'utf8');
  let cachedData: Buffer | undefined;
  try {
    cachedData = readFileSync(`${path}${CODE_CACHE}`);
  } catch {
    // no cache: compiled from the source
  }
  return runCommonJs(source, path, cachedData).exports as ValidateFunction & { schemaSha256?: string };
}

/** The suffix of the validator's code cache beside it. */
export const CODE_CACHE = '.v8cache';

type CommonJsModule = (module: { exports: unknown }, exports: unknown, require: NodeJS.Require) => void;

/**
 * A CommonJS module's source compiled (from `cachedData` where V8 takes it) and run, wrapped as
 * Node wraps one: the same at build time, where the cache is made (script.createCachedData), and
 * at run time.
 */
export function runCommonJs(source: string, path: string, cachedData?: Buffer): { exports: unknown; script: Script } {
  const script = new Script(`(function (module, exports, require) {${source}\n})`, { filename: path, cachedData });
  const module = { exports: {} as unknown };
  (script.runInThisContext() as CommonJsModule)(module, module.exports, createRequire(path));
  return { exports: module.exports, script };
}

function compile(schema: JsonObject): ValidateFunction {
  let validate = compiled.get(schema);
  if (!validate) {
    validate = precompiled(schema) ?? compileNow(schema);
    compiled.set(schema, validate);
  }
  return validate;
}

/** ajv itself (~40 ms to load) only where the build's validator does not fit the schema. */
function compileNow(schema: JsonObject): ValidateFunction {
  const { Ajv } = createRequire(import.meta.url)('ajv') as typeof import('ajv');
  return new Ajv(AJV_OPTIONS).compile(schema);
}

/** Whether validation uses the build's compiled validator (for the tests). */
export function usesPrecompiledValidator(schema: JsonObject): boolean {
  return precompiled(schema) !== undefined;
}

export function validateAgainstSchema(source: SourceFile, data: Json | undefined, schema: JsonObject): Diagnostic[] {
  const validate = compile(schema);
  if (validate(data)) return [];
  const errors = validate.errors ?? [];
  // A oneOf failure also reports every branch's failure; keep only the summary.
  const oneOfPaths = new Set(errors.filter((e) => e.keyword === 'oneOf').map((e) => e.instancePath));
  const diagnostics: Diagnostic[] = [];
  const seen = new Set<string>();
  for (const error of errors) {
    if (error.keyword !== 'oneOf' && [...oneOfPaths].some((p) => error.instancePath === p || error.schemaPath.includes('/oneOf/'))) {
      if (error.schemaPath.includes('/oneOf/')) continue;
    }
    if (error.keyword === 'if') continue;
    const diagnostic = translate(source, error);
    const identity = `${diagnostic.field}|${diagnostic.message}`;
    if (seen.has(identity)) continue;
    seen.add(identity);
    diagnostics.push(diagnostic);
  }
  return diagnostics;
}

/** What a schema node on the way to a sequence may say, and the sequence itself, for its items to be validated alone. */
const ON_THE_WAY = new Set(['$schema', '$id', '$comment', 'title', 'description', 'examples', 'type', 'additionalProperties', 'required', 'properties']);
const OF_THE_SEQUENCE = new Set(['$comment', 'title', 'description', 'examples', 'type', 'items']);

/**
 * Whether the schema judges each item of the sequence at `path` (mapping keys from the top) on
 * its own: nothing on the way there combines subschemas (allOf, if, oneOf …) and the sequence
 * says nothing of itself as a whole (no minItems, uniqueItems, contains …). Then a document that
 * differs from a valid one only in some of those items is valid when those items are, which is
 * how a one-trial edit validates one trial (core/experiment/load.ts).
 */
export function itemsValidateAlone(schema: JsonObject, path: readonly string[]): boolean {
  let node: Json | undefined = schema;
  for (const key of path) {
    if (!isObject(node) || !Object.keys(node).every((name) => ON_THE_WAY.has(name))) return false;
    node = isObject(node.properties) ? node.properties[key] : undefined;
  }
  return isObject(node) && node.type === 'array' && isObject(node.items) && Object.keys(node).every((name) => OF_THE_SEQUENCE.has(name));
}

/**
 * The document as it was meant, when its only schema errors are unknown keys: a key with a near
 * spelling that is absent (`learning_rte`) is read as that key, any other unknown key is dropped.
 * The rest of loading and expansion then runs on it, so a typo in one key does not hide the
 * file's other mistakes. Undefined when other schema errors remain (the shape is not known).
 * `renames` maps each key read as another back to where it is written (for positions).
 */
export interface AsMeant {
  data: Json | undefined;
  renames: Array<{ parent: FieldPath; written: string; meant: string }>;
}

export function asMeant(data: Json | undefined, schema: JsonObject): AsMeant | undefined {
  const validate = compile(schema);
  const current = structuredClone(data);
  const renames: AsMeant['renames'] = [];
  // Each pass fixes the outermost unknown keys; a misspelled section's own keys show in the next.
  for (let pass = 0; pass < 4; pass++) {
    if (validate(current)) return { data: current, renames };
    const errors = (validate.errors ?? []).filter((error) => error.keyword !== 'if');
    if (errors.length === 0 || errors.some((error) => error.keyword !== 'additionalProperties')) return undefined;
    for (const error of errors) {
      const parentPath = pointerToPath(error.instancePath);
      const parent = parentPath.reduce<Json | undefined>((node, part) => (node as Record<string | number, Json> | undefined)?.[part], current);
      if (!isObject(parent)) return undefined;
      const key = String((error.params as { additionalProperty: unknown }).additionalProperty);
      if (!(key in parent)) continue;
      const properties = isObject(error.parentSchema) && isObject(error.parentSchema.properties) ? Object.keys(error.parentSchema.properties) : [];
      const meant = nearest(key, properties);
      if (meant !== undefined && !(meant in parent)) {
        parent[meant] = parent[key]!;
        renames.push({ parent: parentPath, written: key, meant });
      }
      delete parent[key];
    }
  }
  return validate(current) ? { data: current, renames } : undefined;
}

/** Positions of the document as meant: a path through a key read as another finds where it is written. */
export function locatedAsWritten(source: SourceFile, renames: AsMeant['renames']): SourceFile {
  if (renames.length === 0) return source;
  const written = (path: FieldPath): FieldPath => {
    const result = [...path];
    for (let depth = 0; depth < result.length; depth++) {
      const prefix = result.slice(0, depth).join('\u0000');
      const rename = renames.find((r) => r.meant === result[depth] && r.parent.join('\u0000') === prefix);
      if (rename) result[depth] = rename.written;
    }
    return result;
  };
  return { ...source, locate: (path, which) => source.locate(written(path), which) };
}

export function pointerToPath(pointer: string): Array<string | number> {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((part) => (/^(0|[1-9][0-9]*)$/.test(part) ? Number(part) : part));
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (isObject(value)) return 'a mapping';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? value.slice(0, 40) + '…' : value)}`;
  return `${typeof value} ${String(value)}`;
}

function translate(source: SourceFile, error: ErrorObject): Diagnostic {
  const path: FieldPath = pointerToPath(error.instancePath);
  const params = error.params as Record<string, unknown>;
  const parentSchema = (error.parentSchema ?? {}) as JsonObject;
  switch (error.keyword) {
    case 'additionalProperties': {
      const key = String(params.additionalProperty);
      const allowed = isObject(parentSchema.properties) ? Object.keys(parentSchema.properties) : [];
      const hint = didYouMean(key, allowed) || (allowed.length > 0 && allowed.length <= 12 ? `; valid keys here: ${allowed.join(', ')}` : '');
      return diagnosticAt(source, [...path, key], `unknown key \`${key}\`${hint}`, { code: 'unknown-key', at: 'key' });
    }
    case 'required': {
      const key = String(params.missingProperty);
      return { ...diagnosticAt(source, path, `missing required key \`${key}\``, { code: 'missing-key' }), field: [...fieldOf(path), key].join('.') };
    }
    case 'type': {
      const expected = Array.isArray(params.type) ? params.type.join(' or ') : String(params.type);
      const hint = typeof error.data === 'string' && (expected === 'number' || expected === 'integer') && error.data.trim() !== '' && !Number.isNaN(Number(error.data)) ? ' (remove the quotes)' : '';
      return diagnosticAt(source, path, `expected ${article(expected)}, got ${describe(error.data)}${hint}`, { code: 'invalid-type' });
    }
    case 'enum': {
      const allowed = (params.allowedValues as unknown[]).map((v) => String(v));
      const hint = typeof error.data === 'string' ? didYouMean(error.data, allowed) : '';
      return diagnosticAt(source, path, `${describe(error.data)} is not allowed; expected one of ${allowed.join(', ')}${hint}`, { code: 'invalid-value' });
    }
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum': {
      const comparison = { minimum: '≥', maximum: '≤', exclusiveMinimum: '>', exclusiveMaximum: '<' }[error.keyword];
      return diagnosticAt(source, path, `must be ${comparison} ${String(params.limit)}, got ${String(error.data)}`, { code: 'out-of-range' });
    }
    case 'pattern': {
      const what = typeof parentSchema.description === 'string' ? ` (${parentSchema.description})` : ` (pattern ${String(params.pattern)})`;
      return diagnosticAt(source, path, `${describe(error.data)} is not valid here${what}`, { code: 'invalid-value' });
    }
    case 'minItems':
      return diagnosticAt(source, path, `needs at least ${String(params.limit)} item(s)`, { code: 'too-few' });
    case 'maxItems':
      return diagnosticAt(source, path, `takes at most ${String(params.limit)} item(s)`, { code: 'too-many' });
    case 'minLength':
      return diagnosticAt(source, path, 'must not be empty', { code: 'invalid-value' });
    case 'maxLength':
      return diagnosticAt(source, path, `is longer than ${String(params.limit)} characters`, { code: 'invalid-value' });
    case 'uniqueItems':
      return diagnosticAt(source, path, 'lists the same value twice', { code: 'duplicate' });
    case 'oneOf': {
      const branches = Array.isArray(parentSchema.oneOf) ? parentSchema.oneOf.map(branchSummary).join(' or ') : 'another shape';
      return diagnosticAt(source, path, `${describe(error.data)} is not valid here; expected ${branches}`, { code: 'invalid-value' });
    }
    default:
      return diagnosticAt(source, path, error.message ?? 'is not valid', { code: 'invalid' });
  }
}

function fieldOf(path: FieldPath): string[] {
  return path.map((p) => (typeof p === 'number' ? `[${p}]` : p)).reduce<string[]>((acc, part) => {
    if (part.startsWith('[') && acc.length > 0) acc[acc.length - 1] += part;
    else acc.push(part);
    return acc;
  }, []);
}

function branchSummary(branch: Json): string {
  if (!isObject(branch)) return 'a value';
  if (Array.isArray(branch.enum)) return branch.enum.map(String).join(' / ');
  if (branch.type === 'integer' && typeof branch.minimum === 'number') return `an integer ≥ ${branch.minimum}`;
  if (typeof branch.type === 'string') return article(branch.type);
  return 'a value';
}

function article(type: string): string {
  if (type === 'array') return 'a list';
  if (type === 'object') return 'a mapping';
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}
