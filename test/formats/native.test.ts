/**
 * The native format's extensions that carry an experiment_summary.yaml: `protocol.type: list`,
 * `evaluation.checkpoints`, `evaluation.matrix`, per-run datasets and resources, `models`. Written
 * by hand here, as a ckbuild user would, and planned with the real rules.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { foreignFormats } from '../../core/formats/index.js';
import { planExperiment } from '../../core/plan.js';
import { diagnosticFor, NATIVE, positionOf } from './fixtures.js';
import { ruleRegistry } from '../../rules/index.js';


function project(text: string): { dir: string; file: string } {
  const dir = mkdtempSync(join(tmpdir(), 'ckbuild-native-'));
  mkdirSync(join(dir, '.git'));
  for (const name of ['words', 'other', 'long']) {
    mkdirSync(join(dir, 'data'), { recursive: true });
    writeFileSync(join(dir, 'data', `${name}.json`), JSON.stringify({ train: [], test: [{ input: name, output: name }] }));
  }
  mkdirSync(join(dir, 'tasks'));
  writeFileSync(join(dir, 'tasks', 'cap.py'), '# task\n');
  const file = join(dir, 'experiments', 'rank-list.yaml');
  mkdirSync(join(dir, 'experiments'));
  writeFileSync(file, text);
  return { dir, file };
}

test('a list protocol with a matrix and checkpoints: named fine-tunes, exactly the listed cells', async () => {
  const { file } = project(NATIVE);
  const result = await planExperiment(file, { rules: ruleRegistry, foreign: foreignFormats });
  assert.ok(result.plan, result.diagnostics.map((d) => `${d.line}:${d.column} ${d.field}: ${d.message}`).join('\n'));
  const { runs, byId } = result.plan;
  assert.equal(result.plan.experiment.format, 'native');
  assert.deepEqual(runs.map((run) => run.id), [
    'finetune/rank4',
    'finetune/rank8',
    'finetune/rank8-long',
    'evaluate/cap/rank4/epoch0',
    'evaluate/cap/rank4/epoch2',
    'evaluate/cap-long/rank4/epoch0',
    'evaluate/cap-long/rank4/epoch2',
    'evaluate/cap/rank8/epoch2',
    'evaluate/cap-long/rank8/epoch2',
    'evaluate/cap/rank8-long/epoch0',
    'evaluate/cap/rank8-long/epoch1',
    'evaluate/cap/rank8-long/epoch2',
    'evaluate/cap/rank8-long/epoch3',
    'evaluate/cap/base-model',
    'evaluate/cap-long/old-run',
  ]);
  // Per-run resources over the experiment's; per-run dataset; per-run epochs decide `last` and `all`.
  assert.deepEqual(byId.get('finetune/rank4')!.resources, { gpus: 1, mem: '40G', time: '02:00:00' });
  assert.equal(byId.get('finetune/rank8')!.inputs.dataset?.path, 'data/other.json');
  assert.equal(byId.get('finetune/rank4')!.inputs.dataset?.path, 'data/words.json');
  // Cells read their task's dataset, else their run's evaluation dataset, else its training dataset.
  assert.equal(byId.get('evaluate/cap/rank8/epoch2')!.inputs.dataset?.path, 'data/other.json');
  assert.equal(byId.get('evaluate/cap/rank8-long/epoch3')!.inputs.dataset?.path, 'data/long.json');
  assert.equal(byId.get('evaluate/cap/rank4/epoch0')!.inputs.dataset?.path, 'data/words.json');
  // A run's prompt is its cells' prompt, unless the task has one.
  assert.equal(byId.get('evaluate/cap/rank8/epoch2')!.params.prompt, 'Word: {input}\n');
  assert.equal(byId.get('evaluate/cap-long/rank8/epoch2')!.params.prompt, 'Long: {input}\n');
  assert.equal(byId.get('evaluate/cap/base-model')!.params.model_kind, 'base');
  const old = byId.get('evaluate/cap-long/old-run')!;
  assert.equal(old.params.model_kind, 'checkpoint');
  assert.equal(old.params.checkpoint_path, '/ckpt/old/epoch_0');
  assert.equal(old.params.prompt, 'Long: {input}\n', 'the task’s prompt beats the checkpoint’s');
  assert.deepEqual(Object.keys(old.upstream), []);
  assert.deepEqual(byId.get('evaluate/cap-long/rank4/epoch2')!.labels.vis_label, 'r4 (cap-long)');
  assert.deepEqual(byId.get('evaluate/cap/rank8/epoch2')!.labels.vis_label, undefined);
  assert.deepEqual(byId.get('evaluate/cap/rank8/epoch2')!.labels.run, 'rank8');
});

test('native mistakes in the new sections are positioned diagnostics', async () => {
  const text = NATIVE.replace('{ run: rank8 }', '{ run: rank16 }')
    .replace('{ run: base-model, tasks: [cap] }', '{ run: base-model, tasks: [cap], epochs: [0] }')
    .replace('epochs: [all] }', 'epochs: [all], colour: red }')
    .replace('prompt: "Old: {input}\\n"', 'prompt: "Old"');
  const { file } = project(text);
  const result = await planExperiment(file, { rules: ruleRegistry, foreign: foreignFormats });
  assert.equal(result.plan, undefined);
  const unknown = diagnosticFor(result.diagnostics, 'evaluation.matrix[2].colour');
  assert.deepEqual({ line: unknown.line, column: unknown.column }, positionOf(text, 'colour'));
  const fixed = text.replace(', colour: red', '');
  writeFileSync(file, fixed);
  const second = await planExperiment(file, { rules: ruleRegistry, foreign: foreignFormats });
  const dangling = diagnosticFor(second.diagnostics, 'evaluation.matrix[1].run');
  assert.match(dangling.message, /no run named `rank16`; runs: rank4, rank8, rank8-long, base-model, old-run/);
  assert.deepEqual({ line: dangling.line, column: dangling.column }, positionOf(fixed, 'rank16'));
  assert.match(diagnosticFor(second.diagnostics, 'evaluation.matrix[3].epochs').message, /a control \(the base model as-is\) has no training epochs/);
  assert.match(diagnosticFor(second.diagnostics, 'evaluation.checkpoints[1].prompt').message, /`\{input\}` placeholder/);
  const unused = diagnosticFor(second.diagnostics, 'protocol.runs[1]');
  assert.equal(unused.severity, 'warning');
});

test('two list runs that train the same thing are one run too many', async () => {
  const { file } = project(NATIVE.replace('{ name: rank8-long, lora_rank: 8, epochs: 4,', '{ name: rank8-again, lora_rank: 8, prompt: "Word: {input}\\n", dataset: { path: data/other.json },').replace('{ run: rank8-long, tasks: [cap], epochs: [all] }', '{ run: rank8-again }'));
  const result = await planExperiment(file, { rules: ruleRegistry, foreign: foreignFormats });
  const d = diagnosticFor(result.diagnostics, 'protocol.runs[2].name');
  assert.match(d.message, /trains exactly what `rank8` trains/);
});
