/**
 * Files of cruijff_kit 0.3.3 and earlier: the migration's edits applied to the text (only the lines
 * they change, comments kept), the same edits read in memory, and `ckbuild import --migrate` (a diff;
 * -o writes it; an edit only the reader can make is exit 2). Fixtures: test/fixtures/cruijff/legacy.yaml
 * (written before the 0.3.4 renames) and variants of rank_lr_sweep.yaml.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parse } from 'yaml';
import { migrateText, planMigration } from '../../core/formats/cruijff/migrate.js';
import { STOCK_RECIPE_PARAMS } from '../../core/formats/cruijff/recipes.js';
import type { JsonObject } from '../../core/json.js';
import type { Diagnostic } from '../../core/diagnostics.js';
import { convertCruijff } from '../../core/formats/cruijff.js';
import { parseSourceText } from '../../core/source.js';
import { TempProject } from '../helpers/project.js';
import { fixtureText, type Placed, place } from './fixtures.js';

const convert = (placed: Placed) => convertCruijff(parseSourceText(placed.file, placed.text).source!, placed.dir);
const errors = (diagnostics: readonly Diagnostic[]): Diagnostic[] => diagnostics.filter((d) => d.severity === 'error');

const migrate = (text: string): string => {
  const result = migrateText(text, planMigration(parse(text) as JsonObject).edits);
  assert.deepEqual(result.unapplied, [], 'every edit written in place');
  return result.text;
};

test('the renames change only their own lines; retired keys lose their lines; comments stay', () => {
  const before = fixtureText('legacy');
  const after = migrate(before);
  const removed = before.split('\n').filter((line) => !after.split('\n').includes(line));
  const added = after.split('\n').filter((line) => !before.split('\n').includes(line));
  assert.deepEqual(removed.map((line) => line.trim().split(':')[0]).sort(), ['base_directory', 'directory', 'finetuned', 'label', 'scorer', 'split', 'type'].sort());
  assert.deepEqual(added.map((line) => line.trim().split(':')[0]).sort(), ['dataset_label', 'dir', 'scorers', 'split_ratio'].sort());
  assert.match(after, /^# An experiment written before cruijff_kit 0\.3\.4 renamed its keys/, 'comments are kept');
  assert.match(after, /^  dir: \/scratch\/gpfs\/MSALGANIK\/ck-projects\/capitalization\/cap_4L_lora_comparison_2025-10-18$/m);
  assert.match(after, /^    split_ratio: 0\.8$/m);
  assert.equal(migrate(after), after, 'migrating a migrated file changes nothing');
  const reparsed = parse(after) as { evaluation: { matrix: JsonObject[]; scorers: unknown }; output: JsonObject };
  assert.deepEqual(reparsed.evaluation.matrix[0], { run: 'Llama-3.2-1B-Instruct_rank8', tasks: ['capitalization'], epochs: [0] });
  assert.deepEqual(reparsed.evaluation.scorers, [{ name: 'match' }]);
  assert.deepEqual(reparsed.output, { wandb_project: 'capitalization' });
});

test('base_recipe becomes its nine values under the file’s own; a missing dataset_type is written from the model; evaluation.system_prompt moves to controls', () => {
  const before = fixtureText('rank_lr_sweep')
    .replace(/\n  dataset_type: chat_completion/, '')
    .replace('  num_warmup_steps: 10\n', '  num_warmup_steps: 10\n  base_recipe: llama3_2/1B_lora_single_device\n')
    .replace(/\n  system_prompt: "You are a helpful assistant."/, '')
    .replace('evaluation:\n', 'evaluation:\n  system_prompt: "You are a helpful assistant."\n');
  const after = migrate(before);
  const controls = (parse(after) as { controls: JsonObject }).controls;
  const recipe = STOCK_RECIPE_PARAMS['llama3_2/1B_lora_single_device']!;
  assert.equal(controls.base_recipe, undefined);
  assert.equal(controls.num_warmup_steps, 10, 'the file’s own value wins over the recipe’s');
  assert.equal(controls.lr, recipe.lr);
  assert.equal(controls.gradient_accumulation_steps, (parse(before) as { controls: JsonObject }).controls.gradient_accumulation_steps ?? recipe.gradient_accumulation_steps);
  assert.equal(controls.dataset_type, 'chat_completion', 'Llama-3.2-1B-Instruct is instruction-tuned');
  assert.equal(controls.system_prompt, 'You are a helpful assistant.');
  assert.equal((parse(after) as { evaluation: JsonObject }).evaluation.system_prompt, undefined);
  assert.match(after, /^  dataset_type: "chat_completion"  # required since cruijff_kit 0\.3\.4; 0\.3\.3 inferred it from the model \(Llama-3\.2-1B-Instruct\)$/m);
  assert.match(after, /^  lr: 0\.0003  # from torchtune’s llama3_2\/1B_lora_single_device \(base_recipe\)$/m);
  // The migrated file converts cleanly: nothing left to read in old names.
  const placed = place('rank_lr_sweep', () => after);
  const converted = convert(placed);
  assert.deepEqual(errors(converted.diagnostics), []);
  assert.ok(!converted.diagnostics.some((d) => d.code === 'legacy-format'));
});

test('what the file cannot decide is refused with the edit: models that disagree on dataset_type, an unknown recipe', () => {
  const mixed: JsonObject = { controls: { prompt: '{input}' }, runs: [{ name: 'a', type: 'fine-tuned', model: 'Llama-3.2-1B' }, { name: 'b', type: 'fine-tuned', model: 'Llama-3.2-1B-Instruct' }] };
  const refusals = planMigration(mixed).refusals;
  assert.ok(refusals.some((r) => /these models disagree.*add `dataset_type: chat_completion` or `dataset_type: text_completion` under `controls`/.test(r.message)), JSON.stringify(refusals));
  const unknown = fixtureText('rank_lr_sweep').replace('  num_warmup_steps: 10\n', '  num_warmup_steps: 10\n  base_recipe: my_lab/custom\n');
  assert.match(planMigration(parse(unknown) as JsonObject).refusals[0]!.message, /`base_recipe` "my_lab\/custom" is not a torchtune 0\.6\.1 recipe ckbuild knows.*lora_rank, lora_dropout, lr, weight_decay, batch_size, epochs, gradient_accumulation_steps, num_warmup_steps, max_seq_len/);
});

test('ckbuild import --migrate: the diff on stdout, -o writes it (never over a file without --force), exit 2 when an edit is the reader’s', () => {
  const project = new TempProject();
  const placed = place('legacy', (t) => t, project.dir);
  const run = (args: string[]) => project.run(['import', '--migrate', ...args]);
  const diff = run([placed.file]);
  assert.equal(diff.code, 2, 'experiment.seed and a differing evaluation.system_prompt are the reader’s edits');
  assert.match(diff.stdout, /^--- .*experiment_summary\.yaml\tas written\n\+\+\+ .*experiment_summary\.yaml\tcruijff_kit 0\.3\.4 names$/m);
  assert.match(diff.stdout, /^-  directory: \S+\/scratch\/.*\n\+  dir: \S+\/scratch\//m);
  assert.match(diff.stderr, /experiment_summary\.yaml:\d+:\d+: warning: experiment\.directory: `directory` becomes `dir`/);
  assert.match(diff.stderr, /migration incomplete: make the edits above by hand/);
  const other = new TempProject();
  const clean = place('legacy', (text) => text.replace(/^  seed: 1234\n/m, '').replace(/^  system_prompt: "You are a helpful assistant."\n/m, ''), other.dir);
  const written = other.run(['import', '--migrate', clean.file, '-o', clean.file]);
  assert.equal(written.code, 2);
  assert.match(written.stderr, /already exists; pass --force to overwrite it/);
  const forced = other.run(['import', '--migrate', clean.file, '-o', clean.file, '--force']);
  assert.equal(forced.code, 0, forced.stderr);
  assert.match(other.read('experiment/experiment_summary.yaml'), /^  dir: /m);
  const again = other.run(['import', '--migrate', clean.file]);
  assert.equal(again.code, 0);
  assert.match(again.stderr, /already in cruijff_kit 0\.3\.4's names; nothing to migrate/);
  assert.equal(again.stdout, '');
});

test('variables.model: the models the runs train, checked against runs[].model', () => {
  const placed = place('rank_lr_sweep', (t) => t.replace(/^variables:\n/m, 'variables:\n  model: [Llama-3.2-1B-Instruct, Llama-3.2-3B-Instruct]\n'));
  const converted = convert(placed);
  const problem = converted.diagnostics.find((d) => d.field.startsWith('variables.model'));
  assert.ok(problem, JSON.stringify(converted.diagnostics.map((d) => d.message)));
  assert.match(problem.message, /no run uses the model "Llama-3\.2-3B-Instruct": every value of a variable must appear in some run’s `model`/);
  const fine = convert(place('rank_lr_sweep', (t) => t.replace(/^variables:\n/m, 'variables:\n  model: [Llama-3.2-1B-Instruct]\n')));
  assert.ok(!fine.diagnostics.some((d) => d.field.startsWith('variables.model')), JSON.stringify(fine.diagnostics.map((d) => d.message)));
});

test('awkward places: a key on a list item’s dash line, no final newline, a long multi-line value, a `{ … }` mapping', () => {
  const dash = 'runs:\n  - finetuned: true\n    name: a\n    type: fine-tuned\n  - name: b\n';
  assert.equal(migrate(dash), 'runs:\n  - name: a\n    type: fine-tuned\n  - name: b\n');
  const long = 'A very long system prompt, over eighty characters, with "quotes" and a colon: that YAML would fold.\nSecond line.';
  const moved = migrate(`controls:\n  prompt: "{input}"\nevaluation:\n  system_prompt: ${JSON.stringify(long)}\n  tasks: []`);
  assert.equal((parse(moved) as { controls: JsonObject }).controls.system_prompt, long, 'one valid line, whatever the value');
  assert.ok(!moved.endsWith('tasks: []controls'), moved);
  const noNewline = migrate('controls:\n  base_recipe: llama3_2/1B_lora_single_device\n  lr: 1');
  assert.equal((parse(noNewline) as { controls: JsonObject }).controls.lora_rank, 64);
  assert.equal((parse(noNewline) as { controls: JsonObject }).controls.lr, 1, 'the file’s own value');
  // An item's only key, or a flow mapping: returned for the reader, the text untouched.
  const only = 'evaluation:\n  matrix:\n    - finetuned: true\n';
  const result = migrateText(only, planMigration(parse(only) as JsonObject).edits);
  assert.equal(result.text, only);
  assert.equal(result.unapplied.length, 1);
  const flow = 'output: { base_directory: /x, wandb_project: p }\n';
  assert.equal(migrateText(flow, planMigration(parse(flow) as JsonObject).edits).unapplied.length, 1);
});
