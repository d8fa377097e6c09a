/** JSON value types shared by every module, and the canonical form that run keys hash. */

export type Json = null | boolean | number | string | Json[] | JsonObject;
export interface JsonObject {
  [key: string]: Json;
}

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** What JSON.stringify escapes in a string: quote, backslash, control characters, and (lone) surrogates, checked conservatively. */
const NEEDS_ESCAPE = /[\u0000-\u001f"\\\ud800-\udfff]/;

/** Whether an object has an enumerable member: without listing its keys (Object.keys(x).length makes an array). */
export function hasMembers(value: object): boolean {
  for (const _ in value) return true;
  return false;
}

/**
 * Canonical JSON: object keys sorted, numbers in JavaScript's shortest round-trip form
 * (so `1e-4`, `0.0001` and `1.0e-4` are one value), `-0` folded into `0`, no whitespace.
 * Two descriptions that mean the same thing serialise to the same string, which is what
 * makes a key independent of how the user happened to write the YAML.
 */
export function canonicalJson(value: Json): string {
  // Built by concatenation: measured on the 20,000 key descriptions of the benchmark sweep,
  // canonical form and sha256 took 107–119 ms this way against 125–137 ms when the parts were
  // pushed to an array and joined (V8 flattens the rope once, when it is hashed).
  const scalar = canonicalScalar(value);
  if (scalar !== undefined) return scalar;
  if (Array.isArray(value)) {
    let text = '[';
    for (let i = 0; i < value.length; i++) text += (i > 0 ? ',' : '') + canonicalJson(value[i]!);
    return text + ']';
  }
  const object = value as JsonObject;
  let text = '{';
  let first = true;
  for (const key of sortedKeys(object)) {
    const item = object[key];
    if (item === undefined) continue;
    const start = memberStart(key);
    text += (first ? start.first : start.next) + canonicalJson(item);
    first = false;
  }
  return text + '}';
}

function canonicalScalar(value: Json): string | undefined {
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
  return undefined;
}

/**
 * An object's keys in sorted order, remembered by the order they come in: the runs of a sweep
 * build their parameters alike, so one sort serves them all (a trie of the key sequences seen,
 * bounded: past the bound, objects are sorted each time). The list returned is shared: never change it.
 */
interface KeyOrderNode {
  next: Map<string, KeyOrderNode>;
  sorted?: string[];
}
const keyOrders: KeyOrderNode = { next: new Map() };
let keyOrderNodes = 0;
const KEY_ORDER_NODES = 50_000;

export function sortedKeys(object: JsonObject): string[] {
  const keys = Object.keys(object);
  let node = keyOrders;
  for (const key of keys) {
    let next = node.next.get(key);
    if (next === undefined) {
      if (keyOrderNodes >= KEY_ORDER_NODES) return keys.sort();
      next = { next: new Map() };
      node.next.set(key, next);
      keyOrderNodes += 1;
    }
    node = next;
  }
  node.sorted ??= [...keys].sort();
  return node.sorted;
}

/** `"key":` and `,"key":` for the same few dozen parameter names in every key: remembered, bounded (labels may hold arbitrary keys). */
const memberStarts = new Map<string, { first: string; next: string }>();

function memberStart(key: string): { first: string; next: string } {
  let start = memberStarts.get(key);
  if (start === undefined) {
    const quoted = JSON.stringify(key);
    start = { first: `${quoted}:`, next: `,${quoted}:` };
    if (memberStarts.size < 10_000) memberStarts.set(key, start);
  }
  return start;
}

/** Pretty JSON with sorted keys: stable on disk, so git diffs show only what changed. */
export function stableStringify(value: Json, indent = 2): string {
  return JSON.stringify(sortKeysDeep(value), null, indent) + '\n';
}

export function sortKeysDeep(value: Json): Json {
  if (Array.isArray(value)) return value.map(sortKeysDeep);
  if (!isObject(value)) return value;
  const keys: string[] = [];
  const values: Json[] = [];
  for (const key of Object.keys(value).sort()) {
    const item = value[key];
    if (item === undefined) continue;
    keys.push(key);
    values.push(sortKeysDeep(item));
  }
  return objectOf(keys, values);
}

/** The key sequences objectOf has seen, as a trie; each ends at a template of that shape. */
interface Shape {
  next: Map<string, Shape>;
  template?: JsonObject;
}
const shapes: Shape = { next: new Map() };
let shapesKnown = 0;
/** Past this many trie nodes (shapes that never recur), objects are made without a template. */
const MAX_SHAPES = 10_000;

/**
 * An object with these members, in this order, in V8's fast form. Built member by member with
 * computed names (`out[key] = value`), an object of more than ~16 members becomes a hash table
 * ("dictionary mode"): a fine-tune's ~30 parameters then cost twice as much to serialise (its key,
 * the manifest, `plan --json`). Object.fromEntries keeps the fast form but is slower to build; a
 * copy of a template of the same shape, then filled, is neither.
 */
export function objectOf(keys: readonly string[], values: readonly Json[]): JsonObject {
  let shape = shapes;
  for (const key of keys) {
    let next = shape.next.get(key);
    if (next === undefined) {
      if (shapesKnown >= MAX_SHAPES) return Object.fromEntries(keys.map((name, i) => [name, values[i]!])) as JsonObject;
      shape.next.set(key, (next = { next: new Map() }));
      shapesKnown += 1;
    }
    shape = next;
  }
  shape.template ??= Object.fromEntries(keys.map((name) => [name, null])) as JsonObject;
  const out: JsonObject = { ...shape.template };
  for (let i = 0; i < keys.length; i++) out[keys[i]!] = values[i]!;
  return out;
}

/**
 * `{ ...a, ...b, … }` for the small plain objects made once per run (a run's origins, its labels).
 * V8 11 (Node 20) adds the members a spread brings that the object lacks through its runtime:
 * 10,000 `{ ...configOrigins, ...trial.origins }` took 18–23 ms, these assignments 2–4. The
 * members a spread copies (own, enumerable, string keys), in its order, the last value winning;
 * a `__proto__` key (YAML may hold one) is defined, not assigned, so it stays a member and never
 * becomes the prototype. Past ~16 members V8 keeps such an object as a hash table: parameters,
 * which are serialised, are merged by compactMerged instead.
 */
export function merged<T extends object>(...sources: ReadonlyArray<Readonly<T> | undefined>): T {
  const out: Record<string, unknown> = {};
  for (const source of sources) {
    if (source === undefined) continue;
    const members = source as Readonly<Record<string, unknown>>;
    for (const key of Object.keys(members)) {
      if (key === '__proto__') Object.defineProperty(out, key, { value: members[key], enumerable: true, writable: true, configurable: true });
      else out[key] = members[key];
    }
  }
  return out as T;
}

/** compact({ ...a, ...b, … }), made as objectOf makes objects (see merged for why not by spreads). */
export function compactMerged(...sources: ReadonlyArray<Readonly<Record<string, Json | undefined>> | undefined>): JsonObject {
  const keys: string[] = [];
  const values: Array<Json | undefined> = [];
  for (const source of sources) {
    if (source === undefined) continue;
    for (const key of Object.keys(source)) {
      // A later source's value replaces an earlier one in its first place, as in a spread.
      const at = keys.indexOf(key);
      if (at >= 0) values[at] = source[key];
      else {
        keys.push(key);
        values.push(source[key]);
      }
    }
  }
  if (!values.includes(undefined)) return objectOf(keys, values as Json[]);
  const kept = keys.filter((_, i) => values[i] !== undefined);
  return objectOf(kept, values.filter((value): value is Json => value !== undefined));
}

/** Removes keys whose value is undefined, so optional fields can be spread into a JsonObject. */
export function compact(record: Record<string, Json | undefined>): JsonObject {
  const keys: string[] = [];
  const values: Json[] = [];
  for (const key of Object.keys(record)) {
    const value = record[key];
    if (value === undefined) continue;
    keys.push(key);
    values.push(value);
  }
  return objectOf(keys, values);
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
