/**
 * The fast reader of common YAML must never disagree with the yaml library: for every text it
 * either answers "not sure" or gives exactly the library's data (and it is never sure of a text the
 * library rejects). Checked on every YAML file of the project, on a corpus of edge cases, and on
 * thousands of generated documents.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseDocument } from 'yaml';
import { readCommonYaml } from '../../core/commonYaml.js';
import { packageRoot } from '../../core/paths.js';
import { parseSourceText } from '../../core/source.js';

/** The library's reading, with the options source.ts uses; undefined when it reports an error. */
function library(text: string): { data: unknown } | undefined {
  const document = parseDocument(text, { prettyErrors: false, uniqueKeys: true, strict: true });
  if (document.errors.length > 0) return undefined;
  try {
    return { data: document.toJS({ maxAliasCount: 100 }) };
  } catch {
    return undefined;
  }
}

/** Fails when the fast reader is sure of something the library reads otherwise (or rejects). */
function agrees(text: string): boolean {
  const common = readCommonYaml(text);
  if (common === undefined) return false;
  const expected = library(text);
  assert.ok(expected, `the fast reader accepted a text the library rejects:\n${text}`);
  assert.deepStrictEqual(common, expected.data, `the readers disagree on:\n${text}`);
  return true;
}

function yamlFiles(dir: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir)) {
    if (entry === 'node_modules' || entry === 'dist' || entry.startsWith('.')) continue;
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) found.push(...yamlFiles(path));
    else if (/\.ya?ml$/.test(entry)) found.push(path);
  }
  return found;
}

test('every YAML file of the project is read as the library reads it, and the experiments take the fast path', () => {
  const files = yamlFiles(packageRoot);
  assert.ok(files.length >= 10, `only ${files.length} YAML files found`);
  const fast = files.filter((file) => agrees(readFileSync(file, 'utf8')));
  const experiments = files.filter((file) => file.includes('/experiments/'));
  for (const file of experiments) assert.ok(fast.includes(file), `${file} is in the common subset but was not read fast`);
  assert.ok(fast.length >= files.length / 2, `only ${fast.length} of ${files.length} files read fast`);
});

const SCALARS = [
  'abc', 'a b  c', 'Llama-3.2-1B-Instruct', 'data/x.json', 'http://host:8000/x', 'a#b', 'a,b', 'a[0]', 'x-y', '-x', '-1', '+1', '007',
  '0', '-0', '1.', '.5', '+.5', '1.0', '1e5', '1E-5', '-1.5e+3', '1e', 'e5', '.e5', '1_000', '0x1F', '0o17', '0b101', '1.2.3', '3B', '10GB',
  '2024-01-01', '00:30:00', '12:30', '1:2', '123456789012345', '1234567890123456789', 'null', 'Null', 'NULL', 'nULL', '~', '~x', '~~', 'true', 'True',
  'TRUE', 'tRUE', 'false', 'yes', 'no', 'on', 'off', 'y', 'n', '.inf', '-.Inf', '.nan', 'NaN', '"quoted"', "'single'", '"a \\"b\\" c"',
  '"tab\\there"', '"\\u00e9"', '"\\x41"', "'it''s'", '"a: b"', "'a # b'", '"#"', '"unclosed', "'unclosed", '[a, b]', '[a,b]', '[ a , b ]',
  '[]', '{}', '{ }', '[a, [b, c], {d: e}]', '{a: 1, b: [2, 3]}', '{a:1}', '{"a": 1}', '{"a":1}', '{a: }', '{a}', '[a: 1]', '[a, b,]',
  '[a,, b]', '{a: 1, a: 2}', '[a # b]', '[a, "b, c"]', "['x', 'y']", '&anchor x', '*alias', '!tag x', '!!str 1', '|', '>', '|-', '%x', '@x',
  '`x`', '? x', ': x', '- x', '-', 'a: b', 'a:b', 'a :b', 'x # comment', 'x #', 'x#', '"x" # c', '"x"# c', '"x" y', '[a] b', '{a: 1} # c',
  'é', '日本語', 'a\\b', '"a\\\\b"', '"\\/"', '__proto__', '<<', '{__proto__: 1}', '{<<: 1}', '[a:]', '{a: b, c}', '{ a: 1 }x', '[a]]',
  "'x'y", '{"k": v}', ':', '::', '-- x', '--', '[-1, -x]', '[--]', '{a: -}', '[?x]', '[:x]', 'a:', '"a":', '[a]:', '😀', 'a  # two spaces',
  'x\u00a0', '\u00a0x', 'x \u3000', 'x\u2003y', '\ufeffx', 'x\u200b', '"x\u00a0"',
];

test('scalars and flow collections resolve exactly as the library resolves them, or are left to it', () => {
  let fast = 0;
  for (const scalar of SCALARS) {
    for (const text of [`k: ${scalar}\n`, `- ${scalar}\n`, `k: [${scalar}]\n`, `k: {x: ${scalar}}\n`, `${scalar}: v\n`, `k:\n  - ${scalar}\n  - z: ${scalar}\n`]) {
      if (agrees(text)) fast++;
    }
  }
  assert.ok(fast > SCALARS.length * 2, `only ${fast} snippets read fast`);
});

const DOCUMENTS = [
  'a: 1\nb:\n  c: 2\n  d: [3]\n',
  'a:\n- 1\n- 2\nb: 3\n',
  'a:\n  - 1\n  - 2\n',
  '- a: 1\n  b: 2\n- c: 3\n',
  '- - a\n  - b\n- c\n',
  '-\n- a\n',
  '-\n  a: 1\n',
  'a:\nb: 1\n',
  'a:\n  # a comment\n  b: 1\n',
  'a: # a comment\n  b: 1\n',
  'a: 1\n  b: 2\n',
  'a:\n    b: 1\n  c: 2\n',
  'a: x\n  continued\n',
  'a:\n  plain below\n',
  'a: 1\n- b\n',
  'a: 1\na: 2\n',
  '- a: 1\n  - b\n',
  '- a:\n  - b\n',
  '- a:\n    - b\n',
  'a:\n  b:\n    c:\n      d: 1\n  e: 2\nf: 3\n',
  '  a: 1\n',
  '---\na: 1\n',
  'a: 1\n---\nb: 2\n',
  'a: 1\n...\n',
  '%YAML 1.2\n---\na: 1\n',
  'a: |\n  text\n',
  'a: >\n  text\n',
  'a: "multi\n  line"\n',
  'a: [1,\n  2]\n',
  'a: &x 1\nb: *x\n',
  'a:\r\n  b: 1\r\n',
  'a:\t1\n',
  '\ufeffa: 1\n',
  '# only a comment\n',
  '',
  'a: 1',
  'a: 1\n\n\n# trailing\n',
  'a:  spaced   out  \n',
  '"quoted key": 1\n\'single key\': 2\n',
  '"a" : 1\n',
  '? complex\n: value\n',
  '[a, b]\n',
  'plain\n',
  'a: b: c\n',
  'a: b:\n',
  'x: - a\n',
  'a:\n-  b: 1\n   c: 2\n',
  'a:\n  -   b\n  -\n  - c\n',
];

test('block structure: what the fast reader accepts, it reads as the library does', () => {
  for (const text of DOCUMENTS) agrees(text);
  // The common shapes are taken fast.
  for (const text of ['a: 1\nb:\n  c: 2\n  d: [3]\n', 'a:\n- 1\n- 2\nb: 3\n', '- a: 1\n  b: 2\n- c: 3\n', '- - a\n  - b\n- c\n'])
    assert.ok(readCommonYaml(text) !== undefined, `not read fast:\n${text}`);
});

/** Deterministic pseudo-random numbers (mulberry32), so a failure can be replayed. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test('generated documents: the readers never disagree', () => {
  const next = random(13);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!;
  const heads = ['a:', 'b:', 'k:', '- ', '-', '- a:', '- b: 1', 'c: 2', 'd: x', 'a: [1, 2]', 'b: {x: 1}', '# c', '', 'e: "q"', "f: 'q'", 'g: a b', '- x', '- - y'];
  let fast = 0;
  for (let n = 0; n < 4000; n++) {
    const lines: string[] = [];
    const count = 1 + Math.floor(next() * 6);
    for (let i = 0; i < count; i++) {
      const head = pick(heads);
      const tail = head.endsWith(':') && next() < 0.6 ? ` ${pick(SCALARS)}` : '';
      lines.push(`${' '.repeat(pick([0, 0, 0, 1, 2, 2, 4]))}${head}${tail}`);
    }
    if (agrees(`${lines.join('\n')}\n`)) fast++;
  }
  assert.ok(fast > 200, `only ${fast} generated documents read fast`);
});

test('mutated documents: changing any character never makes the readers disagree', () => {
  const next = random(29);
  const alphabet = [' ', ' ', '\n', ':', '-', '#', ',', '[', ']', '{', '}', '"', "'", '\\', 'a', '1', '.', 'e', '&', '*', '!', '|', '>', '?', '~', '\u00a0', '\u3000', 'é'];
  let fast = 0;
  for (let n = 0; n < 6000; n++) {
    let text = DOCUMENTS[Math.floor(next() * 20)]!;
    for (let edits = 1 + Math.floor(next() * 3); edits > 0; edits--) {
      const at = Math.floor(next() * (text.length + 1));
      const char = alphabet[Math.floor(next() * alphabet.length)]!;
      const replace = next() < 0.5 ? 1 : 0;
      text = text.slice(0, at) + char + text.slice(at + replace);
    }
    if (agrees(text)) fast++;
  }
  assert.ok(fast > 500, `only ${fast} mutated documents read fast`);
});

test('a file read fast still points diagnostics at the right line and column', () => {
  const text = 'version: "1.0"\nconfig:\n  lr: 1e-4\n  seeds: [1, 2]\nruns:\n  - { name: a, rank: 8 }\n';
  const loaded = parseSourceText('x.yaml', text);
  assert.ok(readCommonYaml(text) !== undefined);
  assert.deepEqual(loaded.source!.locate(['config', 'lr']), { line: 3, column: 7 });
  assert.deepEqual(loaded.source!.locate(['config', 'lr'], 'key'), { line: 3, column: 3 });
  assert.deepEqual(loaded.source!.locate(['config', 'seeds', 1]), { line: 4, column: 14 });
  assert.deepEqual(loaded.source!.locate(['runs', 0, 'rank']), { line: 6, column: 22 });
  assert.deepEqual(loaded.source!.locate(['runs', 3]), { line: 6, column: 3 });
});

test('absurdly deep nesting is left to the library, which reports it; nothing overflows the stack', () => {
  for (const text of [`a: ${'['.repeat(20_000)}${']'.repeat(20_000)}\n`, `a: ${'{b: '.repeat(500)}1${'}'.repeat(500)}\n`, Array.from({ length: 300 }, (_, i) => `${' '.repeat(i)}k${i}:`).join('\n') + ' 1\n']) {
    assert.equal(readCommonYaml(text), undefined);
    assert.doesNotThrow(() => parseSourceText('deep.yaml', text));
  }
  assert.ok(readCommonYaml(`a: ${'['.repeat(30)}${']'.repeat(30)}\n`) !== undefined, 'ordinary depths are read fast');
});
