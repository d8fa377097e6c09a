import assert from 'node:assert/strict';
import { test } from 'node:test';
import { canonicalJson, compact, compactMerged, merged, objectOf, stableStringify } from '../../core/json.js';
import { computeKey, keyDescription } from '../../core/identity.js';
import { sha256 } from '../../core/hash.js';
import { parseSourceText } from '../../core/source.js';

test('canonical JSON sorts keys at every depth and ignores how numbers were written', () => {
  const a = parseSourceText('a.yaml', 'lr: 1e-4\nb: {y: 2, x: 1}\n').source!.data!;
  const b = parseSourceText('b.yaml', 'b: {x: 1, y: 2.0}\nlr: 0.0001\n').source!.data!;
  assert.equal(canonicalJson(a), canonicalJson(b));
  assert.equal(canonicalJson({ z: [3, { b: 1, a: -0 }] }), '{"z":[3,{"a":0,"b":1}]}');
});

test('canonical JSON writes every string and number exactly as JSON.stringify does (its shortcuts change no key)', () => {
  const strings = ['', 'plain', 'a"b', 'back\\slash', 'tab\tnew\nline', '\u0000\u001f\u007f', '\u2028\u2029', 'é ü 日本', '😀 pair', '\ud83d lone high', 'lone low \ude00', '{input}\n', '0', 'null'];
  for (let code = 0; code < 0x80; code++) strings.push(`x${String.fromCharCode(code)}y`);
  for (const text of strings) {
    assert.equal(canonicalJson(text), JSON.stringify(text), JSON.stringify(text));
    assert.equal(canonicalJson({ [text]: text }), `{${JSON.stringify(text)}:${JSON.stringify(text)}}`);
  }
  for (const number of [0, 1, -1, 0.1 + 0.2, 1e-7, 1e-6, 1e21, 1e20, 123456789012345680000, Number.MAX_SAFE_INTEGER, Number.MIN_VALUE, -Number.MAX_VALUE, 2 ** 53 + 2, 5e-324, 1 / 3]) {
    assert.equal(canonicalJson(number), JSON.stringify(number), String(number));
  }
  // Keys in any insertion order, integer-like ones included, sort as JSON strings.
  assert.equal(canonicalJson({ b: 1, 10: 2, a: 3, 2: 4, A: 5 }), '{"10":2,"2":4,"A":5,"a":3,"b":1}');
});

test('canonical JSON refuses non-finite numbers: a key must never hash NaN', () => {
  assert.throws(() => canonicalJson({ x: Number.NaN }));
});

test('stableStringify is pretty, sorted and newline-terminated', () => {
  assert.equal(stableStringify({ b: 1, a: { d: 2, c: 3 } }), '{\n  "a": {\n    "c": 3,\n    "d": 2\n  },\n  "b": 1\n}\n');
});

test('keys are stable: same description, same key; any ingredient changed, another key', () => {
  const base = { rule: 'torchtune', ruleVersion: 1, params: { learning_rate: 0.0001, lora_rank: 8 }, inputs: { dataset: { path: 'd.json', sha256: 'aa', size: 1 } }, upstream: {} };
  const key = computeKey(base);
  assert.match(key, /^[0-9a-f]{64}$/);
  assert.equal(computeKey({ ...base, params: { lora_rank: 8, learning_rate: 1e-4 } }), key);
  // The path of an input is not part of the key: only its content.
  assert.equal(computeKey({ ...base, inputs: { dataset: { path: 'moved/d.json', sha256: 'aa', size: 1 } } }), key);
  assert.notEqual(computeKey({ ...base, params: { ...base.params, lora_rank: 16 } }), key);
  assert.notEqual(computeKey({ ...base, inputs: { dataset: { path: 'd.json', sha256: 'bb', size: 1 } } }), key);
  assert.notEqual(computeKey({ ...base, ruleVersion: 2 }), key);
  assert.notEqual(computeKey({ ...base, upstream: { dataset: { id: 'prepare/x', key: 'k' } } }), key);
  assert.notEqual(computeKey({ ...base, model: { name: 'Llama-3.2-1B-Instruct' } }), key);
});

test('a key is the sha256 of the canonical key description, whatever the roles and their order', () => {
  const input = (hash: string) => ({ path: `${hash}.json`, sha256: hash, size: 1 });
  const identities: Array<Parameters<typeof computeKey>[0]> = [
    { rule: 'torchtune', ruleVersion: 1, params: { b: [1, { d: 'x', c: null }], a: -0 }, inputs: {}, upstream: {} },
    { rule: 'inspect', ruleVersion: 3, params: { task: 't\n"q"' }, model: { name: 'm', z: 1, a: 2 }, inputs: { script: input('aa'), dataset: input('bb') }, upstream: { checkpoint: { id: 'finetune/x', key: 'k1' } } },
    { rule: 'r\u00e9"', ruleVersion: 2, params: {}, inputs: { 10: input('cc'), 2: input('dd'), 'b"\\': input('ee'), A: input('ff') }, upstream: { z: { id: 'a', key: 'k2' }, a: { id: 'b', key: 'k3' } } },
  ];
  for (const identity of identities) assert.equal(computeKey(identity), sha256(canonicalJson(keyDescription(identity))), identity.rule);
});

test('canonical JSON remembers each key order it sorted, and still sorts every order it meets, past its bound too', () => {
  const reference = (value: unknown): string => JSON.stringify(value, (_key, item: unknown) => (item && typeof item === 'object' && !Array.isArray(item) ? Object.fromEntries(Object.entries(item).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : item));
  // Same keys, every insertion order; a prefix of another object's keys; undefined members left out.
  const orders = [['c', 'a', 'b'], ['a', 'b', 'c'], ['b', 'c', 'a'], ['c', 'a'], ['c', 'a', 'b', 'd']];
  for (let round = 0; round < 3; round++) {
    for (const keys of orders) {
      const object = Object.fromEntries(keys.map((key, i) => [key, { n: i, [`k${i}`]: [round] }]));
      assert.equal(canonicalJson(object), reference(object), keys.join());
    }
  }
  assert.equal(canonicalJson({ b: undefined, a: 1 } as never), '{"a":1}');
  // Far more distinct shapes than are remembered (50,000 nodes): sorted all the same.
  for (let i = 0; i < 60_000; i++) {
    const object = { [`z${i}`]: 1, [`a${i}`]: 2, m: i };
    assert.equal(canonicalJson(object), `{"a${i}":2,"m":${i},"z${i}":1}`);
  }
});

test('objectOf makes the object its members say, in their order, whatever the shapes seen before', () => {
  const keys = Array.from({ length: 30 }, (_, i) => `param_${i}`);
  for (let round = 0; round < 3; round++) {
    const values = keys.map((_, i) => i * round);
    const made = objectOf(keys, values);
    assert.deepEqual(Object.entries(made), keys.map((key, i) => [key, i * round]), `round ${round}: from a template after the first`);
  }
  // A shorter and a reordered sequence are shapes of their own, not the template of another.
  assert.deepEqual(Object.keys(objectOf(['b', 'a'], [1, 2])), ['b', 'a']);
  assert.deepEqual(Object.keys(objectOf(['b'], [1])), ['b']);
  assert.deepEqual(objectOf(['x', 'y', 'x'], [1, 2, 3]), { x: 3, y: 2 }, 'a repeated member: the last value, at its first place');
  const withProto = objectOf(['__proto__', 'z'], [{ polluted: true }, 1]);
  assert.equal(Object.getPrototypeOf(withProto), Object.prototype, '__proto__ is a member, never the prototype');
  assert.deepEqual(Object.keys(withProto), ['__proto__', 'z']);
  assert.deepEqual(compact({ a: 1, b: undefined, c: 'x' }), { a: 1, c: 'x' });
});

test('merged and compactMerged are the spreads they replace: order, last value wins, __proto__ a member', () => {
  const hostile = JSON.parse('{"__proto__": {"polluted": true}, "b": 2}') as Record<string, unknown>;
  const cases: Array<Array<Record<string, unknown> | undefined>> = [
    [{ a: 1, b: 2 }, { c: 3, a: 4 }],
    [{}, { x: [1] }, undefined, { y: { z: 1 }, x: null }],
    [{ self: ['config'] }, hostile],
    [{ a: undefined, b: 1 }, { b: undefined, c: 2 }, { a: 3 }],
    [Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`k${i}`, i])), { k3: 'three', extra: true }],
  ];
  for (const sources of cases) {
    const spread = sources.reduce<Record<string, unknown>>((out, source) => ({ ...out, ...source }), {});
    const made = merged(...sources);
    assert.deepEqual(Object.keys(made), Object.keys(spread));
    assert.deepEqual(made, spread);
    assert.equal(Object.getPrototypeOf(made), Object.prototype, 'a __proto__ key never becomes the prototype');
    const compacted = compactMerged(...(sources as Array<Record<string, never>>));
    assert.equal(JSON.stringify(compacted), JSON.stringify(compact(spread as Record<string, never>)));
  }
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  assert.deepEqual(Object.keys(merged({ self: ['config'] }, hostile)), ['self', '__proto__', 'b']);
});
