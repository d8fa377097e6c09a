/** JSON value types shared by every module, and the canonical form that run keys hash. */

export type Json = null | boolean | number | string | Json[] | JsonObject;
export interface JsonObject {
  [key: string]: Json;
}

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Canonical JSON: object keys sorted, numbers in JavaScript's shortest round-trip form
 * (so `1e-4`, `0.0001` and `1.0e-4` are one value), `-0` folded into `0`, no whitespace.
 * Two descriptions that mean the same thing serialise to the same string, which is what
 * makes a key independent of how the user happened to write the YAML.
 */
/** What JSON.stringify escapes in a string: quote, backslash, control characters, and (lone) surrogates, checked conservatively. */
const NEEDS_ESCAPE = /[\u0000-\u001f"\\\ud800-\udfff]/;

export function canonicalJson(value: Json): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw new Error(`non-finite number in canonical JSON: ${value}`);
      // String() is JSON's number form for finite numbers (both Number::toString), without its call.
      return Object.is(value, -0) ? '0' : String(value);
    case 'string':
      return NEEDS_ESCAPE.test(value) ? JSON.stringify(value) : `"${value}"`;
  }
  // String concatenation, not map/join: keys of 100,000 runs are computed on every plan.
  let out: string;
  if (Array.isArray(value)) {
    out = '[';
    for (let i = 0; i < value.length; i++) out += (i === 0 ? '' : ',') + canonicalJson(value[i]!);
    return out + ']';
  }
  const keys = Object.keys(value);
  // Most objects are built in sorted order (the rules' canonical forms): checking is cheaper than sorting.
  for (let i = 1; i < keys.length; i++) {
    if (keys[i - 1]! > keys[i]!) {
      keys.sort();
      break;
    }
  }
  out = '{';
  let first = true;
  for (const key of keys) {
    const item = value[key];
    if (item === undefined) continue;
    out += (first ? '' : ',') + quotedKey(key) + ':' + canonicalJson(item);
    first = false;
  }
  return out + '}';
}

/** The same few dozen parameter names are quoted in every key: remembered, ~25% of canonicalJson's time. */
const quotedKeys = new Map<string, string>();

function quotedKey(key: string): string {
  let quoted = quotedKeys.get(key);
  if (quoted === undefined) {
    quoted = JSON.stringify(key);
    if (quotedKeys.size < 10_000) quotedKeys.set(key, quoted); // bounded: labels may hold arbitrary keys
  }
  return quoted;
}

/** Pretty JSON with sorted keys: stable on disk, so git diffs show only what changed. */
export function stableStringify(value: Json, indent = 2): string {
  return JSON.stringify(sortKeysDeep(value), null, indent) + '\n';
}

export function sortKeysDeep(value: Json): Json {
  if (Array.isArray(value)) return value.map(sortKeysDeep);
  if (!isObject(value)) return value;
  const out: JsonObject = {};
  for (const key of Object.keys(value).sort()) {
    const item = value[key];
    if (item !== undefined) out[key] = sortKeysDeep(item);
  }
  return out;
}

/** Removes keys whose value is undefined, so optional fields can be spread into a JsonObject. */
export function compact(record: Record<string, Json | undefined>): JsonObject {
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(record)) if (value !== undefined) out[key] = value;
  return out;
}

/**
 * Whether two plain data values (parsed YAML, JSON, objects built from them) are the same, key
 * order included: order can matter (a grid's axes name its runs in the order of `vary`). A
 * property holding `undefined` counts as a key. Cheaper than comparing two serialisations.
 */
export function sameData(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameData(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const keysA = Object.keys(a);
  const keysB = Object.keys(b);
  if (keysA.length !== keysB.length) return false;
  for (let i = 0; i < keysA.length; i++) {
    const key = keysA[i]!;
    if (key !== keysB[i] || !sameData((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key])) return false;
  }
  return true;
}
