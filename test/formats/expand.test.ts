/**
 * experiment_summary.yaml → runs, with the real rules (rules/index.ts): the fine-tunes, the cells of
 * the evaluation matrix, their parameters, resources and dependencies; diagnostics raised after
 * conversion still point into the file the user wrote; `import` then `plan` gives the same keys.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { expandExperiment } from '../../core/experiment/expand.js';
import { loadExperiment } from '../../core/experiment/load.js';
import { experimentSchema } from '../../core/experiment/schema.js';
import { foreignFormats } from '../../core/formats/index.js';
import { importExperiment } from '../../core/formats/importer.js';
import type { JsonObject } from '../../core/json.js';
import { type Plan, type PlannedRun, planExperiment } from '../../core/plan.js';
import { diagnosticFor, place, positionOf } from './fixtures.js';
import { ruleRegistry } from '../../rules/index.js';
import { paramsSchema } from '../../rules/torchtune/params.js';

async function plan(file: string, rules = ruleRegistry): Promise<Plan> {
  const result = await planExperiment(file, { rules, foreign: foreignFormats });
  assert.ok(result.plan, result.diagnostics.map((d) => `${d.line}:${d.column} ${d.field}: ${d.message}`).join('\n'));
  return result.plan;
}

const RUN = 'Llama-3.2-1B-Instruct';
const short = (id: string): string => id.replaceAll(`${RUN}_`, '');

test('the sweep expands to its fine-tunes and exactly the cells of its matrix, named as the earlier toolkit named them', async () => {
  const placed = place('rank_lr_sweep');
  const { runs, byId } = await plan(placed.file);
  assert.deepEqual(runs.map((run) => short(run.id)), [
    'finetune/rank4_lr1e-4',
    'finetune/rank4_lr3e-4',
    'finetune/rank16_lr1e-4',
    'finetune/rank16_lr3e-4',
    'evaluate/capitalization/rank4_lr1e-4/epoch0',
    'evaluate/capitalization/rank4_lr1e-4/epoch1',
    'evaluate/capitalization_8L/rank4_lr1e-4/epoch0',
    'evaluate/capitalization_8L/rank4_lr1e-4/epoch1',
    'evaluate/capitalization/rank4_lr3e-4/epoch1',
    'evaluate/capitalization/rank16_lr1e-4/epoch0',
    'evaluate/capitalization/rank16_lr1e-4/epoch1',
    'evaluate/capitalization/rank16_lr3e-4/epoch1',
    'evaluate/capitalization_8L/rank16_lr3e-4/epoch1',
    'evaluate/capitalization/base', // Llama-3.2-1B-Instruct_base, shortened
    'evaluate/capitalization_8L/base',
    'evaluate/capitalization/prior_rank8_epoch0',
  ]);
  assert.equal(new Set(runs.map((run) => run.key)).size, runs.length, 'every run has its own key');
  const get = (id: string): PlannedRun => byId.get(id.replace(/\/(rank)/g, `/${RUN}_$1`))!;

  // Each evaluation needs its own run's fine-tune and nothing else; controls and eval-only cells need nothing.
  for (const run of runs.filter((r) => r.step === 'evaluate')) {
    const owner = run.id.split('/')[2]!;
    const upstream = Object.fromEntries(Object.entries(run.upstream).map(([role, up]) => [role, up.id]));
    assert.deepEqual(upstream, owner.includes('_lr') ? { checkpoint: `finetune/${owner}` } : {}, run.id);
  }

  // Fine-tunes: the variables, the defaults of the earlier toolkit, per-run seed and prompt, resources.
  const first = get('finetune/rank4_lr1e-4');
  assert.equal(first.params.lora_rank, 4);
  assert.equal(first.params.learning_rate, 1e-4);
  assert.equal(first.params.seed, 42);
  assert.equal(first.params.gradient_accumulation, 2);
  assert.equal(first.params.validation_every_n_steps, 50);
  assert.equal(first.params.max_samples, 800);
  assert.equal(first.params.dataset_type, 'chat_completion');
  assert.equal(first.params.system_prompt, 'You are a helpful assistant.');
  assert.deepEqual(first.resources, { time: '0:30:00', gpus: 1, mem: '80G' });
  assert.deepEqual(first.inputs.dataset?.path, `${placed.scratch}ck-data/capitalization/words_5L_80P_1000.json`);
  assert.equal(get('finetune/rank16_lr1e-4').params.seed, 7);
  assert.equal(get('finetune/rank16_lr3e-4').params.prompt, 'Rewrite with a capital first letter: {input}\n');
  assert.deepEqual(get('finetune/rank16_lr3e-4').resources, { constraint: 'gpu80' });
  assert.deepEqual(get('finetune/rank4_lr3e-4').resources, {});

  // Cells: epoch, prompt precedence (task > run > controls), system prompt (task > controls), eval seed.
  const cell = get('evaluate/capitalization/rank16_lr3e-4/epoch1');
  assert.equal(cell.params.epoch, 1);
  assert.equal(cell.params.model_kind, 'finetuned');
  assert.equal(cell.params.prompt, 'Rewrite with a capital first letter: {input}\n', 'the run’s prompt');
  assert.equal(cell.params.system_prompt, 'You are a helpful assistant.');
  assert.equal(cell.params.seed, 21, 'the evaluation seed, not the training seed');
  assert.equal(cell.params.do_sample, false);
  assert.equal(cell.params.temperature, undefined);
  assert.deepEqual(cell.params.scorers, [{ name: 'match', params: { location: 'exact', ignore_case: false } }, { name: 'includes' }]);
  assert.deepEqual(cell.resources, { time: '0:10:00', gpus: 1, mem: '40G' });
  const eightLetters = get('evaluate/capitalization_8L/rank16_lr3e-4/epoch1');
  assert.equal(eightLetters.params.prompt, 'Capitalize this word: {input}\n', 'the task’s prompt wins');
  assert.equal(eightLetters.params.system_prompt, 'You are a careful copy editor.');
  assert.equal(eightLetters.params.task_function, 'capitalization');
  assert.equal(eightLetters.inputs.dataset?.path, `${placed.scratch}ck-data/capitalization/words_8L_80P_1000.json`);
  assert.equal(get('evaluate/capitalization/rank4_lr1e-4/epoch0').params.prompt, 'Capitalize the given word: {input}\n', 'the controls’ prompt');

  // The earlier toolkit's cell name and vis_label: labels of the cell, for people and reports (not its key).
  const labelled = get('evaluate/capitalization_8L/rank4_lr1e-4/epoch0');
  assert.equal(labelled.labels.cell, 'capitalization_8L_epoch0');
  assert.equal(labelled.labels.vis_label, 'rank4 lr1e-4 (capitalization_8L)', 'several tasks: "(task)" added');
  assert.equal(labelled.params.args, undefined);
  assert.equal(get('evaluate/capitalization/rank16_lr1e-4/epoch0').labels.vis_label, 'rank16 lr1e-4');
  assert.equal(get('evaluate/capitalization/rank4_lr3e-4/epoch1').labels.vis_label, `${RUN}_rank4_lr3e-4`, 'the run’s name by default');

  // Control: the base model as-is; eval-only: the checkpoint's path. No epochs.
  const control = byId.get(`evaluate/capitalization_8L/${RUN}_base`)!;
  assert.equal(control.params.model_kind, 'base');
  assert.equal(control.params.base_model, RUN);
  assert.equal(control.params.epoch, undefined);
  assert.equal(control.params.prompt, 'Capitalize this word: {input}\n');
  const prior = byId.get('evaluate/capitalization/prior_rank8_epoch0')!;
  assert.equal(prior.params.model_kind, 'checkpoint');
  assert.equal(prior.params.checkpoint_path, `${placed.scratch}ck-projects/capitalization/cap_5L_lora_2026-03-01/Llama-3.2-1B-Instruct_rank8/artifacts/epoch_0`);
  assert.equal(prior.labels.vis_label, 'prior rank8');
  assert.equal(prior.labels.cell, 'capitalization');
});

test('where a base model lives reaches the runs as site information, outside their keys', async () => {
  const placed = place('rank_lr_sweep');
  const before = await plan(placed.file);
  const loaded = loadExperiment(placed.file, ruleRegistry.schema(), foreignFormats);
  const expansion = expandExperiment(loaded.experiment!, ruleRegistry);
  const finetune = expansion.runs.find((run) => run.id === `finetune/${RUN}_rank4_lr1e-4`)!;
  assert.deepEqual(finetune.site, { model_path: `${placed.scratch}pretrained-llms/${RUN}` });
  assert.deepEqual(expansion.runs.find((run) => run.id === `evaluate/capitalization/${RUN}_base`)!.site, { model_path: `${placed.scratch}pretrained-llms/${RUN}` });
  // Moving the model directory changes no key.
  writeFileSync(placed.file, placed.text.replace(`${placed.scratch}pretrained-llms/`, '/projects/shared/models/'));
  const after = await plan(placed.file);
  assert.deepEqual(after.runs.map((run) => run.key), before.runs.map((run) => run.key));
});

test('a control-and-eval-only experiment trains nothing; per-run prompt and eval data apply to its cells', async () => {
  const placed = place('base_vs_instruct');
  const { runs, byId } = await plan(placed.file);
  assert.deepEqual(runs.map((run) => run.id), ['evaluate/plain/Llama-3.2-1B_base', 'evaluate/cued/Llama-3.2-1B_base', 'evaluate/plain/Qwen2.5-3B_base', 'evaluate/cued/Qwen2.5-3B_base', 'evaluate/plain/llama1b_rank8_epoch1']);
  const qwen = byId.get('evaluate/plain/Qwen2.5-3B_base')!;
  assert.equal(qwen.params.base_model, 'Qwen2.5-3B');
  assert.equal(qwen.params.prompt, 'Word: {input}\nCapitalized:', 'the run’s prompt');
  assert.equal(byId.get('evaluate/cued/Qwen2.5-3B_base')!.params.prompt, 'Capitalize the first letter. {input} ->', 'the task’s prompt');
  assert.equal(qwen.params.system_prompt, undefined, 'text_completion: no system prompt');
  assert.equal(qwen.params.dataset_type, 'text_completion');
  assert.equal(qwen.params.do_sample, true);
  assert.equal(qwen.params.temperature, 0.7);
  assert.equal(qwen.params.seed, 3);
  assert.deepEqual(qwen.params.scorers, [{ name: 'match' }]);
  assert.equal(qwen.labels.vis_label, 'Qwen2.5-3B_base (plain)');
  const checkpoint = byId.get('evaluate/plain/llama1b_rank8_epoch1')!;
  assert.equal(checkpoint.inputs.dataset?.path, `${placed.scratch}ck-data/capitalization/words_8L_80P_1000.json`);
  assert.equal(byId.get('evaluate/plain/Llama-3.2-1B_base')!.inputs.dataset?.path, `${placed.scratch}ck-data/capitalization/words_5L_80P_1000.json`);
});

test('diagnostics raised after conversion point at the line of experiment_summary.yaml', async () => {
  // An epoch the run does not train: found at expansion, reported at the matrix entry.
  const placed = place('rank_lr_sweep', (t) => t.replace('epochs: [0, 1]\n    - run: Llama-3.2-1B-Instruct_rank4_lr3e-4', 'epochs: [0, 2]\n    - run: Llama-3.2-1B-Instruct_rank4_lr3e-4'));
  const result = await planExperiment(placed.file, { rules: ruleRegistry, foreign: foreignFormats });
  assert.equal(result.plan, undefined);
  const d = diagnosticFor(result.diagnostics, 'evaluation.matrix[0].epochs[1]');
  assert.match(d.message, /epoch 2 does not exist: `Llama-3\.2-1B-Instruct_rank4_lr1e-4` trains 2 epoch\(s\), numbered from 0/);
  assert.deepEqual({ line: d.line, column: d.column }, positionOf(placed.text, '2]'));

  // A parameter the rules in this build do not accept: reported where the file sets it, naming ckbuild's field.
  const { max_samples: _dropped, ...properties } = paramsSchema;
  const schema = experimentSchema(properties, ['torchtune']);
  const strict = { ...ruleRegistry, schema: (): JsonObject => schema };
  const other = place('rank_lr_sweep');
  const rejected = await planExperiment(other.file, { rules: strict, foreign: foreignFormats });
  const unknown = diagnosticFor(rejected.diagnostics, 'data.training.splits.train');
  assert.match(unknown.message, /unknown key `max_samples`.*\(as ckbuild’s `config\.max_samples`\)/);
  assert.deepEqual({ line: unknown.line, column: unknown.column }, positionOf(other.text, 'train: 800'));
});

test('a fine-tuned run nobody evaluates, and a control in no matrix row, are pointed out', async () => {
  const placed = place('rank_lr_sweep', (t) => t.replace(/ {4}- run: prior_rank8_epoch0\n.*\n.*\n.*\n/, '').replace(/ {4}- run: Llama-3.2-1B-Instruct_rank4_lr3e-4\n.*\n.*\n/, ''));
  const result = await planExperiment(placed.file, { rules: ruleRegistry, foreign: foreignFormats });
  assert.ok(result.plan);
  const trained = diagnosticFor(result.diagnostics, 'runs[1]');
  assert.equal(trained.severity, 'warning');
  assert.match(trained.message, /trained but no evaluation\.matrix row evaluates it/);
  assert.match(diagnosticFor(result.diagnostics, 'runs[5]').message, /nothing evaluates it/);
});

test('import writes a native file that plans to exactly the same runs and keys', async () => {
  const placed = place('rank_lr_sweep');
  const output = join(placed.dir, 'experiments', 'sweep.yaml');
  mkdirSync(join(placed.dir, 'experiments'));
  const imported = importExperiment(placed.file, { output, rules: ruleRegistry, cwd: placed.dir });
  assert.ok(imported.text, imported.diagnostics.map((d) => d.message).join('\n'));
  assert.equal(imported.output, output);
  assert.match(imported.text, /^# yaml-language-server: \$schema=\.\.\/schema\/experiment\.schema\.json\n/);
  writeFileSync(output, imported.text);
  const direct = await plan(placed.file);
  const native = await plan(output);
  assert.equal(native.experiment.format, 'native');
  // validation_during_training asks for validation every 50 steps: on one GPU ckbuild's validating
  // recipe runs it, so neither file has anything to warn about.
  const warnings = (p: Plan) => p.diagnostics.map((d) => [d.severity, d.code, d.field, d.line]);
  assert.deepEqual(warnings(native), []);
  assert.deepEqual(warnings(direct), []);
  const summary = (p: Plan) => p.runs.map((run) => ({ id: run.id, key: run.key, needs: Object.values(run.upstream).map((up) => up.id), resources: run.resources }));
  assert.deepEqual(summary(native), summary(direct));

  // Also for the experiment that trains nothing, and with the default output path.
  const other = place('base_vs_instruct');
  const second = importExperiment(other.file, { rules: ruleRegistry, cwd: other.dir });
  assert.equal(second.output, join(other.dir, 'experiments', 'cap_base_prompt_sweep_2026-06-02.yaml'));
  mkdirSync(join(other.dir, 'experiments'));
  writeFileSync(second.output!, second.text!);
  assert.deepEqual((await plan(second.output!)).runs.map((run) => run.key), (await plan(other.file)).runs.map((run) => run.key));
});

test('import refuses a file that would not plan, with the reasons where they are written', () => {
  const placed = place('invalid');
  const imported = importExperiment(placed.file, { rules: ruleRegistry, cwd: placed.dir });
  assert.equal(imported.text, undefined);
  assert.ok(imported.diagnostics.some((d) => d.field === 'controls.lora_rnak' && d.line === positionOf(placed.text, 'lora_rnak').line));
  const native = place('rank_lr_sweep');
  writeFileSync(native.file, 'version: "1.0"\nexperiment_name: x\n');
  assert.match(importExperiment(native.file, { rules: ruleRegistry, cwd: native.dir }).diagnostics[0]!.message, /not an experiment_summary\.yaml/);
});
