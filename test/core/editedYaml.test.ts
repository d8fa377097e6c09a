/**
 * Reading an edited text again from an earlier reading (core/editedYaml.ts) must give exactly
 * what reading the whole new text gives — the same data and the same item places — or refuse.
 * Every case below compares with the whole reading (and that one with the yaml library), and
 * counts how often the fast path was taken, so a reader that always refuses cannot pass.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseDocument } from 'yaml';
import { readCommonYamlWithSpans } from '../../core/commonYaml.js';
import { type ItemsReading, rereadEdited } from '../../core/editedYaml.js';
import { loadExperiment, TRIAL_ITEMS } from '../../core/experiment/load.js';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sweepProject } from '../../bench/workload.js';
import { itemsValidateAlone } from '../../core/experiment/validate.js';
import type { JsonObject } from '../../core/json.js';
import { ruleRegistry } from '../../rules/index.js';

/** Trials of every shape the subset has, comments between them, and keys of `protocol` and the top after them. */
const DOCUMENTS = [
  `version: "1.0"
experiment_name: sweep
protocol:
  type: list
  runs:
    - { name: a, learning_rate: 1e-4, seed: 0 }
    # a comment between trials
    - { name: b, learning_rate: 2e-4, seed: 1 }

    - { name: c, learning_rate: 3e-4, dataset: { path: data/c.json } }
  seeds_note: after
evaluation:
  tasks: [{ name: t, script: t.py }]
`,
  `protocol:
  runs:
  - name: a
    lora_rank: 4
    target_modules:
      - q_proj
      - v_proj
  - name: b
    lora_rank: 8
    eval_dataset:
      path: data/b.json
  -
    name: c
  - name: "d: quoted"
    system_prompt: 'it''s'
# trailing comment
  type: list
`,
  `experiment_name: last
protocol:
  type: list
  runs:
    - { name: a, seed: 1 }
    - { name: b, seed: 2 }
    - { name: c, seed: 3 }`,
];

function readingOf(text: string): ItemsReading {
  const read = readCommonYamlWithSpans(text, TRIAL_ITEMS);
  assert.ok(read?.spans, `the trials of this document have places:\n${text}`);
  return { text, data: read.data, spans: read.spans };
}

/** A reread must be the whole reading, which must be the library's. */
function assertSameAsWhole(reread: ItemsReading, text: string, context: string): void {
  const whole = readCommonYamlWithSpans(text, TRIAL_ITEMS);
  assert.ok(whole, `${context}: read again, so read whole too`);
  assert.deepEqual(reread.data, whole.data, `${context}: the same data`);
  assert.deepEqual(reread.spans, whole.spans, `${context}: the same places`);
  assert.deepEqual(reread.data, parseDocument(text, { uniqueKeys: true, strict: true }).toJS(), `${context}: as the library reads it`);
}

function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

test('an edit of one trial is read from that trial alone, and only it is validated again', () => {
  const earlier = readingOf(DOCUMENTS[0]!);
  const text = DOCUMENTS[0]!.replace('learning_rate: 2e-4', 'learning_rate: 5e-4');
  const reread = rereadEdited(earlier, text);
  assert.ok(reread);
  assert.deepEqual(reread.changed, { from: 1, to: 2 });
  assertSameAsWhole(reread, text, 'one value');
  // Unchanged trials are the earlier reading's own values, not read again.
  const runs = (data: unknown): unknown[] => ((data as JsonObject).protocol as JsonObject).runs as unknown[];
  assert.equal(runs(reread.data)[0], runs(earlier.data)[0]);
  assert.equal(runs(reread.data)[2], runs(earlier.data)[2]);
  assert.deepEqual(rereadEdited(earlier, DOCUMENTS[0]!)?.changed, { from: 0, to: 0 }, 'the same text: nothing read');
  assert.ok(itemsValidateAlone(ruleRegistry.schema(), TRIAL_ITEMS), "the experiment schema judges each trial on its own");
});

test('an edit reaching outside the trials, or leaving them unreadable alone, is read whole', () => {
  const [first, second, last] = DOCUMENTS as [string, string, string];
  const refused: Array<[string, string, string]> = [
    ['above the trials', first, first.replace('experiment_name: sweep', 'experiment_name: other')],
    ['below the trials', first, first.replace('seeds_note: after', 'seeds_note: later')],
    ['a trial and the config', first, first.replace('seed: 0', 'seed: 9').replace('version: "1.0"', 'version: "1.1"')],
    ['two trial lines joined', first, first.replace('seed: 1 }\n\n', 'seed: 1 }')],
    ['a protocol key among the trials', first, first.replace('    # a comment between trials\n', '  seeds: 3\n')],
    ['every trial removed', last, last.replace(/ {4}- .*\n?/g, '')],
    ['a key of the item outdented out of it', second, second.replace('    lora_rank: 8', '  lora_rank: 8')],
    ['an anchor', first, first.replace('seed: 1 }', 'seed: &s 1 }')],
    ['a line outside the trials commented out', first, first.replace('  seeds_note: after', '#  seeds_note: after')],
    ['a comment with a tab (outside the subset)', first, `${first}#\tnote\n`],
  ];
  for (const [name, before, text] of refused) {
    assert.notEqual(text, before, `${name}: the edit applies`);
    assert.equal(rereadEdited(readingOf(before), text), undefined, name);
  }
  const accepted: Array<[string, string, string]> = [
    ['a trial appended at the end of the file', last, `${last}\n    - { name: d, seed: 4 }`],
    ['a trial inserted before the first', first, first.replace('    - { name: a,', '    - { name: z, seed: 7 }\n    - { name: a,')],
    ['a trial removed', first, first.replace(/ {4}- \{ name: b.*\n/, '')],
    ['a block trial given a key', second, second.replace('    name: c\n', '    name: c\n    lora_alpha: 32\n')],
    ['a trial at the key column renamed', second, second.replace('- name: b', '- name: bb')],
    ['a comment between trials edited', first, first.replace('between trials', 'between two trials')],
    ['a comment appended after everything', first, `${first}# edit 1\n`],
    ['a comment line above everything', first, `# top\n${first}`],
    ['a comment line removed', first, first.replace('    # a comment between trials\n', '')],
    ['a comment appended to a file that ends in a trial', last, `${last}\n# done\n`],
  ];
  for (const [name, before, text] of accepted) {
    assert.notEqual(text, before, `${name}: the edit applies`);
    const reread = rereadEdited(readingOf(before), text);
    assert.ok(reread, `${name}: read from the earlier reading`);
    assertSameAsWhole(reread, text, name);
  }
});

test('random edits, one after another as watch mode makes them: each reread is the whole reading, or refused', () => {
  const next = random(11);
  const alphabet = [' ', ' ', '\n', ':', '-', '#', ',', '{', '}', '[', ']', '"', "'", 'a', '1', '.', 'e', '&', '*', '|', '~', 'é'];
  const lines = ['    - { name: x, seed: 5 }\n', '  - name: y\n', '    lora_rank: 2\n', '# note\n', '\n', '  type: grid\n', '- z\n'];
  let reread = 0;
  let refused = 0;
  for (let round = 0; round < 400; round++) {
    const base = DOCUMENTS[round % DOCUMENTS.length]!;
    let earlier = readingOf(base);
    let text = base;
    for (let step = 0; step < 10; step++) {
      // Mostly inside the trials, where edits land, sometimes anywhere.
      const { starts, end } = earlier.spans;
      const inside = next() < 0.8;
      const at = inside ? starts[0]! + Math.floor(next() * (end - starts[0]! + 1)) : Math.floor(next() * (text.length + 1));
      if (next() < 0.7) {
        const char = alphabet[Math.floor(next() * alphabet.length)]!;
        text = text.slice(0, at) + char + text.slice(at + (next() < 0.5 ? 1 : 0));
      } else {
        const lineStart = text.lastIndexOf('\n', at - 1) + 1;
        const lineEnd = text.indexOf('\n', at);
        text = next() < 0.5 ? text.slice(0, lineStart) + lines[Math.floor(next() * lines.length)]! + text.slice(lineStart) : text.slice(0, lineStart) + (lineEnd < 0 ? '' : text.slice(lineEnd + 1));
      }
      const result = rereadEdited(earlier, text);
      if (!result) {
        refused++;
        const whole = readCommonYamlWithSpans(text, TRIAL_ITEMS);
        if (!whole?.spans) break; // no longer a document with trials to edit
        earlier = { text, data: whole.data, spans: whole.spans };
        continue;
      }
      reread++;
      assertSameAsWhole(result, text, `round ${round}, edit ${step}`);
      earlier = result;
    }
  }
  assert.ok(reread > 300, `only ${reread} edits were read from the earlier reading (${refused} refused)`);
  assert.ok(refused > 100, `only ${refused} edits were refused`);
});

test('a schema that judges the trials together (a count, uniqueness, a condition above them) makes them validated whole', () => {
  const items = { type: 'array', items: { type: 'object' } };
  const schema = (runs: JsonObject = items, protocol: JsonObject = {}, top: JsonObject = {}): JsonObject => ({ type: 'object', ...top, properties: { protocol: { type: 'object', ...protocol, properties: { runs } } } });
  assert.ok(itemsValidateAlone(schema(), TRIAL_ITEMS));
  assert.ok(!itemsValidateAlone(schema({ ...items, minItems: 1 }), TRIAL_ITEMS));
  assert.ok(!itemsValidateAlone(schema({ ...items, uniqueItems: true }), TRIAL_ITEMS));
  assert.ok(!itemsValidateAlone(schema(items, { if: { required: ['runs'] }, then: {} }), TRIAL_ITEMS));
  assert.ok(!itemsValidateAlone(schema(items, {}, { allOf: [{}] }), TRIAL_ITEMS));
  assert.ok(!itemsValidateAlone({ type: 'object', properties: {} }, TRIAL_ITEMS));
});

test('an experiment read from an earlier reading: a valid edit validates the edited trial only, an invalid one reports as a whole reading does', () => {
  const file = join(sweepProject(30), 'experiments', 'sweep.yaml');
  const schema = ruleRegistry.schema();
  const first = loadExperiment(file, schema);
  assert.deepEqual(first.diagnostics, []);
  const { source, document } = first.experiment!;
  const earlier: ItemsReading = { text: source.text, data: document as unknown as JsonObject, spans: source.items! };
  const text = readFileSync(file, 'utf8');
  const cases: Array<[string, string, boolean]> = [
    ['a learning rate', text.replace('learning_rate: 0.000120', 'learning_rate: 0.000125'), true],
    ['an unknown key', text.replace('learning_rate: 0.000120', 'learning_rte: 0.000120'), false],
    ['a negative learning rate', text.replace('learning_rate: 0.000120', 'learning_rate: -1'), false],
    ['a trial without a name', text.replace('name: r00011, ', ''), false],
  ];
  for (const [name, edited, valid] of cases) {
    assert.notEqual(edited, text, `${name}: the edit applies`);
    writeFileSync(file, edited);
    const again = loadExperiment(file, schema, [], { earlier });
    const whole = loadExperiment(file, schema);
    const shown = (d: { line: number; column: number; field: string; message: string }): string => `${d.line}:${d.column} ${d.field}: ${d.message}`;
    assert.deepEqual(again.diagnostics.map(shown), whole.diagnostics.map(shown), `${name}: the diagnostics of a whole reading, at the same places`);
    assert.equal(again.diagnostics.length === 0, valid, name);
    if (valid) {
      assert.deepEqual(again.experiment?.reread, { from: 11, to: 12 }, `${name}: trial 11 read again alone`);
      assert.deepEqual(again.experiment?.document, whole.experiment?.document, `${name}: the whole reading's document`);
    }
  }
});
