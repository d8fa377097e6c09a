/**
 * experiment_summary.yaml → native document: what each key becomes, and every validation rule
 * of the earlier toolkit as a diagnostic with the line and column of the field at fault.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Diagnostic } from '../../core/diagnostics.js';
import { convertCruijff, detectCruijff } from '../../core/formats/cruijff.js';
import { foreignFormats } from '../../core/formats/index.js';
import { parseSourceText } from '../../core/source.js';
import { diagnosticFor, type Placed, place, positionOf } from './fixtures.js';

function convert(placed: Placed) {
  const source = parseSourceText(placed.file, placed.text).source!;
  return convertCruijff(source, placed.dir);
}

function errors(diagnostics: readonly Diagnostic[]): Diagnostic[] {
  return diagnostics.filter((d) => d.severity === 'error');
}

function describeAll(diagnostics: readonly Diagnostic[]): string {
  return diagnostics.map((d) => `${d.line}:${d.column} ${d.severity} ${d.code} ${d.field}: ${d.message}`).join('\n');
}

/** Asserts a diagnostic's severity, code, position and wording. */
function expectAt(placed: Placed, diagnostics: readonly Diagnostic[], field: string, expected: { severity?: 'error' | 'warning'; code: string; at: { line: number; column: number }; message: RegExp }): void {
  const d = diagnosticFor(diagnostics, field, expected.code);
  assert.equal(d.severity, expected.severity ?? 'error', `${field}: severity`);
  assert.deepEqual({ line: d.line, column: d.column }, expected.at, `${field}: position (${d.message})`);
  assert.match(d.message, expected.message, field);
  assert.equal(d.file, placed.file);
}

test('the format is recognised by its sections, and a native file is not mistaken for it', () => {
  assert.ok(detectCruijff({ experiment: { name: 'x' }, runs: [] }));
  assert.ok(detectCruijff({ runs: [], controls: {} }));
  assert.ok(!detectCruijff({ version: '1.0', experiment_name: 'x', config: { base_model: 'm' } }));
  assert.ok(!detectCruijff({ experiment_name: 'x', experiment: {} }));
  assert.equal(foreignFormats.find((format) => format.name === 'cruijff')?.detect({ experiment: {} }), true);
});

test('a two-variable sweep with a control and an eval-only run converts without a word', () => {
  const placed = place('rank_lr_sweep');
  const { document, diagnostics, notes } = convert(placed);
  assert.deepEqual(diagnostics, [], describeAll(diagnostics));
  assert.ok(document);
  assert.equal(document.experiment_name, 'cap_5L_rank_lr_sweep_2026-05-04');
  assert.equal(document.project, 'capitalization');
  assert.equal(document.date, '2026-05-04');
  assert.match(document.question ?? '', /generalises to 8-letter words/);
  assert.deepEqual(document.dataset, { path: `${placed.scratch}ck-data/capitalization/words_5L_80P_1000.json`, format: 'json' });
  // controls → config, renamed to ckbuild's names, the earlier toolkit's defaults written out.
  assert.deepEqual(document.config, {
    base_model: 'Llama-3.2-1B-Instruct',
    system_prompt: 'You are a helpful assistant.',
    prompt: 'Capitalize the given word: {input}\n',
    dataset_type: 'chat_completion',
    epochs: 2,
    batch_size: 4,
    gradient_accumulation: 2,
    seed: 42,
    weight_decay: 0.01,
    warmup_steps: 10,
    learning_rate: 1e-4,
    lora_rank: 64,
    lora_dropout: 0,
    max_seq_len: 2048,
    validation_every_n_steps: 50,
    max_samples: 800,
    // The earlier toolkit's own dataset builders, token for token (proven in the real tier).
    tokenization: 'cruijff_kit',
  });
  // Fine-tuned runs → a list protocol: names, their parameters, their own seed, prompt and resources.
  assert.equal(document.protocol?.type, 'list');
  assert.deepEqual(document.protocol?.runs, [
    { name: 'Llama-3.2-1B-Instruct_rank4_lr1e-4', lora_rank: 4, learning_rate: 1e-4, resources: { time: '0:30:00', gpus: 1, mem: '80G' } },
    { name: 'Llama-3.2-1B-Instruct_rank4_lr3e-4', lora_rank: 4, learning_rate: 3e-4 },
    { name: 'Llama-3.2-1B-Instruct_rank16_lr1e-4', lora_rank: 16, learning_rate: 1e-4, seed: 7 },
    { name: 'Llama-3.2-1B-Instruct_rank16_lr3e-4', lora_rank: 16, learning_rate: 3e-4, prompt: 'Rewrite with a capital first letter: {input}\n', resources: { constraint: 'gpu80' } },
  ]);
  // Control and eval-only runs → checkpoints (no path: the base model as-is).
  assert.deepEqual(document.evaluation?.checkpoints, [
    { name: 'Llama-3.2-1B-Instruct_base', base_model: 'Llama-3.2-1B-Instruct' },
    { name: 'prior_rank8_epoch0', base_model: 'Llama-3.2-1B-Instruct', path: `${placed.scratch}ck-projects/capitalization/cap_5L_lora_2026-03-01/Llama-3.2-1B-Instruct_rank8/artifacts/epoch_0` },
  ]);
  const evaluation = document.evaluation!;
  assert.equal(evaluation.seed, 21);
  assert.equal(evaluation.do_sample, false);
  assert.equal(evaluation.temperature, undefined);
  assert.equal(evaluation.max_tokens, 20);
  assert.deepEqual(evaluation.scorers, [{ name: 'match', params: { location: 'exact', ignore_case: false } }, { name: 'includes' }]);
  assert.deepEqual(evaluation.tasks[1], {
    name: 'capitalization_8L',
    script: `${placed.scratch}cruijff_kit/blueprints/capitalization/inspect_task.py`,
    task: 'capitalization',
    description: 'Capitalization of 8-letter words (length generalisation)',
    dataset: { path: `${placed.scratch}ck-data/capitalization/words_8L_80P_1000.json`, format: 'json' },
    prompt: 'Capitalize this word: {input}\n',
    system_prompt: 'You are a careful copy editor.',
  });
  // The matrix, with every cell labelled (the run's name when no vis_label is given), null epochs dropped.
  assert.deepEqual(evaluation.matrix?.map((row) => [row.run.replace('Llama-3.2-1B-Instruct_', ''), row.tasks, row.epochs, row.vis_label]), [
    ['rank4_lr1e-4', ['capitalization', 'capitalization_8L'], [0, 1], 'rank4 lr1e-4'],
    ['rank4_lr3e-4', ['capitalization'], [1], 'Llama-3.2-1B-Instruct_rank4_lr3e-4'],
    ['rank16_lr1e-4', ['capitalization'], [0, 1], 'rank16 lr1e-4'],
    ['rank16_lr3e-4', ['capitalization', 'capitalization_8L'], [1], 'rank16 lr3e-4'],
    ['base', ['capitalization', 'capitalization_8L'], undefined, 'base'],
    ['prior_rank8_epoch0', ['capitalization'], undefined, 'prior rank8'],
  ]);
  assert.deepEqual(document.resources, { evaluate: { time: '0:10:00', gpus: 1, mem: '40G' } });
  assert.deepEqual(document.models, { 'Llama-3.2-1B-Instruct': { path: `${placed.scratch}pretrained-llms/Llama-3.2-1B-Instruct` } });
  assert.ok(notes.some((note) => note.startsWith('experiment.dir')));
  assert.ok(notes.some((note) => note.startsWith('output.wandb_project')));
});

test('constants the earlier toolkit dropped (controls.lr, controls.lora_rank) reach the config', () => {
  const placed = place('legacy', (text) =>
    text
      .replace('  directory:', '  project: capitalization\n  dir:')
      .replace(/^ {2}(seed|type): .*\n/gm, '')
      .replace('    label:', '    dataset_label:')
      .replace('    split: 0.8', '    split_ratio: 0.8')
      .replace('  system_prompt: "You are a helpful assistant."\n', '')
      .replace('  scorer:', '  scorers:')
      .replace('      finetuned: true\n', ''),
  );
  const { document, diagnostics } = convert(placed);
  assert.deepEqual(errors(diagnostics), [], describeAll(diagnostics));
  assert.equal(document?.config?.learning_rate, 3e-4);
  assert.equal(document?.config?.lora_rank, 8);
  assert.deepEqual(document?.protocol?.runs, [{ name: 'Llama-3.2-1B-Instruct_rank8', lora_rank: 8 }]);
  // What remains is said, not dropped: the generator is not run; a greedy temperature is inert.
  assert.deepEqual(diagnostics.map((d) => `${d.severity} ${d.field}`).sort(), ['warning data.data_generation', 'warning evaluation.temperature', 'warning output.base_directory']);
});

test('a file of cruijff_kit 0.3.3 or earlier is read through the migration: each renamed or retired key a warning where it is written', () => {
  const placed = place('legacy');
  const { document, diagnostics } = convert(placed);
  assert.equal(document, undefined, 'two edits only the reader can make remain');
  const text = placed.text;
  const migrated = (field: string, needle: string, message: RegExp): void => expectAt(placed, diagnostics, field, { severity: 'warning', code: 'legacy-format', at: positionOf(text, needle), message });
  migrated('experiment.directory', 'directory:', /a file of cruijff_kit 0\.3\.3 or earlier, read in 0\.3\.4's names: `directory` becomes `dir` \(renamed in cruijff_kit 0\.3\.4.*`ckbuild import --migrate experiment_summary\.yaml` shows the edit as a diff/);
  migrated('data.training.label', 'label: words', /`label` becomes `dataset_label`/);
  migrated('data.data_generation.split', 'split: 0.8', /`split` becomes `split_ratio`.*ignored there/);
  migrated('evaluation.scorer', 'scorer:', /`scorer` becomes `scorers`/);
  migrated('output.base_directory', 'base_directory:', /`base_directory` is removed \(retired in cruijff_kit 0\.3\.4/);
  migrated('experiment.type', 'type: sanity', /`type` is removed \(dropped in cruijff_kit 0\.3\.0/);
  migrated('evaluation.matrix[0].finetuned', 'finetuned: true', /`finetuned` is removed \(renamed `is_finetuned`.*derived from the run’s type/);
  // What the file alone cannot decide stays an error, with the exact edit.
  expectAt(placed, diagnostics, 'experiment.seed', { code: 'retired-key', at: positionOf(text, 'seed: 1234'), message: /replace it with `controls\.seed: 1234` \(training\) and `evaluation\.seed: 1234` \(evaluation\)/ });
  expectAt(placed, diagnostics, 'evaluation.system_prompt', { code: 'retired-key', at: positionOf(text, 'system_prompt: "You are'), message: /removed.*controls\.system_prompt/ });
  // A key read under its new name is not also reported missing, nor renamed.
  assert.ok(!diagnostics.some((d) => (d.code === 'missing-key' && /`(dir|dataset_label|scorers)`/.test(d.message)) || d.code === 'renamed-key'), describeAll(diagnostics));
  assert.equal(errors(diagnostics).length, 2, describeAll(errors(diagnostics)));
});

test('a 0.3.3 file without dataset_type: reading names the value 0.3.3 inferred; `import --migrate` writes it', () => {
  const placed = place('rank_lr_sweep', (t) => t.replace(/\n  dataset_type: chat_completion/, ''));
  const { diagnostics } = convert(placed);
  assert.match(diagnosticFor(diagnostics, 'controls').message, /missing required key `dataset_type`.*cruijff_kit 0\.3\.3 and earlier inferred `chat_completion` for this model: add `dataset_type: chat_completion` under `controls` \(`ckbuild import --migrate` writes it\)/);
});

test('every mistake at once, each at its line and column', () => {
  const placed = place('invalid');
  const { document, diagnostics } = convert(placed);
  assert.equal(document, undefined);
  const text = placed.text;
  const at = (needle: string, offset = 0, after?: string) => positionOf(text, needle, { offset, after });
  const expected: Array<[string, string, { line: number; column: number }, RegExp]> = [
    ['experiment.date', 'invalid-value', at('05/04/2026'), /not a date; use YYYY-MM-DD/],
    ['tools.evaluation', 'invalid-value', at('lm-eval'), /only evaluation tool is `inspect-ai`/],
    ['variables.lora_rank[2]', 'unused-variable', at('[4, 8, 32]', 7), /no run trains with lora_rank = 32/],
    ['controls.prompt', 'prompt-placeholder', at('"Capitalize the given word:"'), /must contain the `\{input\}` placeholder/],
    ['controls.learning_rate', 'unknown-key', at('learning_rate: 1e-4'), /this format calls it `lr`/],
    ['controls.lora_rnak', 'unknown-key', at('lora_rnak'), /did you mean `lora_rank`\?/],
    ['controls', 'missing-key', at('system_prompt: ""', 0, 'controls:'), /missing required key `dataset_type`/],
    ['data.training.format', 'invalid-value', at('parquet'), /the format is "json"/],
    ['runs[0].type', 'invalid-value', at('type: finetuned', 6), /did you mean `fine-tuned`\?/],
    ['runs[1].model', 'dangling-reference', at('model: Llama-3.2-3B-Instruct', 7), /not one of models\.base: Llama-3\.2-1B-Instruct/],
    ['runs[2].name', 'invalid-value', at('name: rank 8', 6), /only letters, digits, _, \. and -/],
    ['runs[3].parameters', 'missing-key', at('parameters: {}', 12, 'name: prior'), /eval-only run needs `checkpoint_path`/],
    ['runs[4].compute.time', 'invalid-value', at('25min'), /use HH:MM:SS/],
    ['runs[4].compute.gpus', 'out-of-range', at('gpus: 0', 6), /must be ≥ 1, got 0/],
    ['runs[4].compute.mem', 'invalid-value', at('mem: "80"', 5), /number and a unit/],
    ['runs[5].name', 'duplicate-run', at('name: Llama-3.2-1B-Instruct_rank8', 6, 'mem: "80"'), /two runs are named `Llama-3\.2-1B-Instruct_rank8` \(the first is runs\[4\]\)/],
    ['evaluation.temperature', 'out-of-range', at('temperature: 0', 13), /must be > 0 when sampling/],
    ['evaluation.matrix[0].run', 'dangling-reference', at('run: Llama-3.2-1B-Instruct_rank16', 5), /no run named `Llama-3\.2-1B-Instruct_rank16`/],
    ['evaluation.matrix[1].tasks[0]', 'dangling-reference', at('capitalisation'), /did you mean `capitalization`\?/],
    ['evaluation.matrix[1].epochs', 'missing-key', at('epochs: null', 8), /is fine-tuned: list the 0-indexed epochs/],
    ['evaluation.matrix[2].epochs', 'invalid-value', at('epochs: [0]', 8, '- run: Llama-3.2-1B-Instruct_base'), /is a control run: it has no training epochs, so use `epochs: null`/],
    ['evaluation.matrix[3].epochs[0]', 'invalid-value', at('-1, 1]'), /expected a 0-indexed epoch/],
  ];
  for (const [field, code, position, message] of expected) expectAt(placed, diagnostics, field, { code, at: position, message });
  assert.deepEqual(errors(diagnostics).map((d) => d.field).sort(), expected.map(([field]) => field).sort(), describeAll(errors(diagnostics)));
});

test('decoding: greedy by default, a temperature only under sampling, where it is required and > 0', () => {
  const sampling = place('rank_lr_sweep', (t) => t.replace('do_sample: false', 'do_sample: true'));
  const d = diagnosticFor(convert(sampling).diagnostics, 'evaluation.do_sample');
  assert.equal(d.code, 'missing-key');
  assert.match(d.message, /needs `evaluation\.temperature` > 0/);
  assert.deepEqual({ line: d.line, column: d.column }, positionOf(sampling.text, 'do_sample: true', { offset: 11 }));

  const sampled = convert(place('rank_lr_sweep', (t) => t.replace('do_sample: false', 'do_sample: true\n  temperature: 0.7')));
  assert.deepEqual(errors(sampled.diagnostics), []);
  assert.equal(sampled.document?.evaluation?.temperature, 0.7);
  assert.equal(sampled.document?.evaluation?.do_sample, true);

  const greedy = place('rank_lr_sweep', (t) => t.replace('do_sample: false', 'temperature: 1.0e-7'));
  const result = convert(greedy);
  const warning = diagnosticFor(result.diagnostics, 'evaluation.temperature');
  assert.equal(warning.severity, 'warning');
  assert.match(warning.message, /no effect under greedy decoding/);
  assert.equal(result.document?.evaluation?.temperature, undefined, 'an inert temperature is not part of any key');
  assert.equal(result.document?.evaluation?.do_sample, undefined);
});

test('seeds: training and evaluation independent, both 14 when unset, integers only', () => {
  const unset = convert(place('rank_lr_sweep', (t) => t.replace('  seed: 42\n', '').replace('  seed: 21\n', '')));
  assert.equal(unset.document?.config?.seed, 14);
  assert.equal(unset.document?.evaluation?.seed, 14);
  const quoted = place('rank_lr_sweep', (t) => t.replace('seed: 42', 'seed: "42"').replace('seed: 21', 'seed: true'));
  const { diagnostics } = convert(quoted);
  const train = diagnosticFor(diagnostics, 'controls.seed');
  assert.match(train.message, /`seed` must be a whole number, got the string "42" \(remove the quotes\)/);
  assert.deepEqual({ line: train.line, column: train.column }, positionOf(quoted.text, '"42"'));
  assert.match(diagnosticFor(diagnostics, 'evaluation.seed').message, /`seed` must be a whole number, got boolean true/);
});

test('prompts: {input} is required in every prompt, per run and per task too', () => {
  const placed = place('rank_lr_sweep', (t) => t.replace('Rewrite with a capital first letter: {input}', 'Rewrite with a capital first letter').replace('Capitalize this word: {input}\\n', '{input} and {input}'));
  const { diagnostics } = convert(placed);
  assert.match(diagnosticFor(diagnostics, 'runs[3].parameters.prompt').message, /must contain the `\{input\}` placeholder/);
  assert.match(diagnosticFor(diagnostics, 'evaluation.tasks[1].prompt').message, /more than once/);
});

test('dataset_type: required, two values only; the legacy three are explained', () => {
  const legacy = place('rank_lr_sweep', (t) => t.replace('dataset_type: chat_completion', 'dataset_type: instruct_dataset'));
  const d = diagnosticFor(convert(legacy).diagnostics, 'controls.dataset_type');
  assert.match(d.message, /config generator fails on it \(KeyError\)/);
  assert.deepEqual({ line: d.line, column: d.column }, positionOf(legacy.text, 'instruct_dataset'));
});

test('text_completion: a system prompt has nowhere to go, so it is said and left out', () => {
  const placed = place('rank_lr_sweep', (t) => t.replace('dataset_type: chat_completion', 'dataset_type: text_completion'));
  const { document, diagnostics } = convert(placed);
  assert.equal(diagnosticFor(diagnostics, 'controls.system_prompt').severity, 'warning');
  assert.equal(diagnosticFor(diagnostics, 'evaluation.tasks[1].system_prompt').severity, 'warning');
  assert.equal(document?.config?.system_prompt, undefined);
  assert.equal(document?.evaluation?.tasks[1]?.system_prompt, undefined);
});

test('validation_during_training: every 50 steps, or none', () => {
  const off = convert(place('rank_lr_sweep', (t) => t.replace('validation_during_training: true', 'validation_during_training: false')));
  assert.equal(off.document?.config?.validation_every_n_steps, 0);
  const on = convert(place('rank_lr_sweep'));
  assert.equal(on.document?.config?.validation_every_n_steps, 50);
  const bad = place('rank_lr_sweep', (t) => t.replace('validation_during_training: true', 'validation_during_training: sometimes'));
  assert.match(diagnosticFor(convert(bad).diagnostics, 'controls.validation_during_training').message, /`validation_during_training` must be true or false/);
});

test('variables: every value trained somewhere (error); the full product covered (warning)', () => {
  const placed = place('rank_lr_sweep', (t) => t.replace('lr: [1e-4, 3e-4]', 'lr: [1e-4, 3e-4, 1e-3]'));
  const { diagnostics } = convert(placed);
  const unused = diagnosticFor(diagnostics, 'variables.lr[2]');
  assert.match(unused.message, /no run trains with lr = 0\.001/);
  assert.deepEqual({ line: unused.line, column: unused.column }, positionOf(placed.text, '1e-3]'));
  const partial = convert(place('rank_lr_sweep', (t) => t.replace('lora_rank: [4, 16]', 'lora_rank: [4, 16]\n  batch_size: [4, 8]').replace('    parameters:\n      lora_rank: 4\n      lr: 1e-4', '    parameters:\n      lora_rank: 4\n      lr: 1e-4\n      batch_size: 8')));
  const warning = diagnosticFor(partial.diagnostics, 'variables', 'incomplete-product');
  assert.equal(warning.severity, 'warning');
  assert.match(warning.message, /8 combinations/);
  // Quoted numbers are the earlier toolkit's argparse leniency: accepted, and equal to unquoted ones.
  const quoted = convert(place('rank_lr_sweep', (t) => t.replace('lr: [1e-4, 3e-4]', 'lr: ["1e-4", 3e-4]')));
  assert.deepEqual(errors(quoted.diagnostics), []);
});

test('unknown and unsupported keys are errors, never silently dropped', () => {
  const placed = place('rank_lr_sweep', (t) =>
    t
      .replace('  num_warmup_steps: 10\n', '  num_warmup_steps: 10\n  base_recipe: llama3_2/1B_lora_single_device\n  warmup_ratio: 0.1\n')
      .replace('output:\n', 'notes: hello\n\noutput:\n')
      .replace('      seed: 7\n', '      seed: 7\n      lora_aplha: 32\n')
      .replace('    slurm_overrides:\n      constraint: gpu80', '    slurm_overrides:\n      constraint: gpu80\n      qos: long')
      .replace('      description: Capitalization of held-out 5-letter words', '      description: Capitalization of held-out 5-letter words\n      eval_condition: words_test'),
  );
  const { diagnostics } = convert(placed);
  // base_recipe is migrated: the nine values the earlier toolkit copied from torchtune's recipe, under the file's own.
  const recipe = diagnosticFor(diagnostics, 'controls.base_recipe');
  assert.equal(recipe.severity, 'warning');
  assert.match(recipe.message, /`base_recipe` is removed \(its values are written out: lora_rank 64, lora_dropout 0, lr 0\.0003\)/);
  assert.match(diagnosticFor(diagnostics, 'controls.warmup_ratio').message, /unknown key `warmup_ratio`/);
  assert.match(diagnosticFor(diagnostics, 'notes').message, /unknown key `notes`/);
  assert.match(diagnosticFor(diagnostics, 'runs[2].parameters.lora_aplha').message, /did you mean `lora_alpha`\?/);
  assert.match(diagnosticFor(diagnostics, 'runs[3].slurm_overrides.qos').message, /valid keys here: constraint, partition/);
  assert.match(diagnosticFor(diagnostics, 'evaluation.tasks[0].eval_condition').message, /replace `eval_condition: words_test` with `dataset: <that file>`/);
  const key = diagnosticFor(diagnostics, 'controls.warmup_ratio');
  assert.deepEqual({ line: key.line, column: key.column }, positionOf(placed.text, 'warmup_ratio'));
});

test('run types: training settings on a control are said to be ignored; checkpoint_path only for eval-only', () => {
  const placed = place('rank_lr_sweep', (t) =>
    t.replace('    type: control\n    model: Llama-3.2-1B-Instruct\n    parameters: {}', '    type: control\n    model: Llama-3.2-1B-Instruct\n    parameters: {lora_rank: 8}').replace('      seed: 7\n', '      seed: 7\n      checkpoint_path: /tmp/x\n'),
  );
  const { diagnostics } = convert(placed);
  const ignored = diagnosticFor(diagnostics, 'runs[4].parameters.lora_rank');
  assert.equal(ignored.severity, 'warning');
  assert.match(ignored.message, /a control run is not trained here/);
  assert.match(diagnosticFor(diagnostics, 'runs[2].parameters.checkpoint_path').message, /for eval-only runs \(this run is fine-tuned\)/);
});

test('datasets: "same" means the training data; a label that is not the file name is pointed out; missing files are errors', () => {
  const placed = place('rank_lr_sweep', (t) =>
    t.replace('      description: Capitalization of held-out 5-letter words', '      description: Capitalization of held-out 5-letter words\n      dataset: same').replace('dataset_label: words_5L_80P_1000', 'dataset_label: words_5L').replace('words_8L_80P_1000.json', 'words_9L.json'),
  );
  const { document, diagnostics } = convert(placed);
  assert.equal(diagnosticFor(diagnostics, 'evaluation.tasks[0].dataset').severity, 'warning');
  const label = diagnosticFor(diagnostics, 'data.training.dataset_label');
  assert.equal(label.severity, 'warning');
  assert.match(label.message, /cruijff_kit read `<folder of path>\/words_5L\.json`; ckbuild reads data\.training\.path/);
  const missing = diagnosticFor(diagnostics, 'evaluation.tasks[1].dataset');
  assert.equal(missing.code, 'missing-file');
  assert.deepEqual({ line: missing.line, column: missing.column }, positionOf(placed.text, `${placed.scratch}ck-data/capitalization/words_9L.json`));
  assert.equal(document, undefined);
});

test('missing sections and keys: errors where ckbuild needs them, warnings where only the earlier toolkit did', () => {
  const placed = place('rank_lr_sweep', (t) => t.replace(/^tools:\n.*\n.*\n/m, '').replace('  date: "2026-05-04"\n', '').replace(/^ {2}matrix:[\s\S]*$/m, ''));
  const { diagnostics } = convert(placed);
  assert.equal(diagnostics.find((d) => /missing `tools`/.test(d.message))?.severity, 'warning');
  assert.equal(diagnostics.find((d) => /missing `date`/.test(d.message))?.severity, 'warning');
  const matrix = diagnostics.find((d) => /missing required key `matrix`/.test(d.message));
  assert.equal(matrix?.severity, 'error');
  assert.equal(matrix?.field, 'evaluation');
});

test('a run with its own dataset_path trains on all of it; the splits.train cap stays with the runs on the shared dataset', () => {
  const placed = place('rank_lr_sweep', (text) =>
    text.replace(
      '      lora_rank: 4\n      lr: 3e-4\n',
      '      lora_rank: 4\n      lr: 3e-4\n      dataset_path: /scratch/gpfs/MSALGANIK/ck-data/capitalization/words_8L_80P_1000.json\n',
    ),
  );
  const { document, diagnostics } = convert(placed);
  assert.deepEqual(errors(diagnostics), [], describeAll(diagnostics));
  assert.equal(document!.config!.max_samples, undefined, 'no experiment-wide cap');
  const runs = (document!.protocol as { runs: Array<{ name: string; max_samples?: number; dataset?: unknown }> }).runs;
  const own = runs.find((run) => run.name === 'Llama-3.2-1B-Instruct_rank4_lr3e-4')!;
  assert.ok(own.dataset);
  assert.equal(own.max_samples, undefined, 'its own file is used whole, as the earlier toolkit did');
  for (const run of runs.filter((r) => r !== own)) assert.equal(run.max_samples, 800, run.name);
});

test('model_organism data ({train, validation} only): evaluations read the validation split, as the toolkit\'s tasks do', () => {
  const generation = '  data_generation:\n    tool: model_organism\n    input_type: bits\n    rule: parity\n    k: 8\n    N: 1000\n    seed: 1\n    design: in_distribution\n    output_path: /scratch/gpfs/MSALGANIK/ck-data/capitalization/words_5L_80P_1000.json\n\noutput:';
  const placed = place('rank_lr_sweep', (text) => text.replace('\noutput:', `\n${generation}`));
  const { document, diagnostics } = convert(placed);
  assert.deepEqual(errors(diagnostics), [], describeAll(diagnostics));
  const tasks = document!.evaluation!.tasks;
  const plain = tasks.filter((task) => (task.dataset?.path ?? '').endsWith('words_5L_80P_1000.json'));
  assert.ok(plain.length > 0);
  for (const task of plain) assert.equal(task.dataset!.split, 'validation', task.name);
  const own = tasks.filter((task) => !(task.dataset?.path ?? '').endsWith('words_5L_80P_1000.json'));
  for (const task of own) assert.notEqual(task.dataset?.split, 'validation', `${task.name} names its own dataset`);
});
