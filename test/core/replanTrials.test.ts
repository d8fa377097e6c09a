/**
 * Re-planning only the trials an edit changed (core/replan.ts) must give exactly the plan that
 * planning from scratch gives: the same runs with the same keys, states, reasons, labels and
 * resources, the same order, trials and files, the same diagnostics. Each case edits an experiment
 * planned before, plans it with the previous plan at hand and from scratch, and compares; whether
 * the splice was taken is asserted where it must be, so a splice that always refuses cannot pass.
 * The plan an earlier process saved (core/planBase.ts) is spliced into the same way and compared.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { foreignFormats } from '../../core/formats/index.js';
import { keepManifestIndex, writeManifest } from '../../core/manifest.js';
import { copyOfRun, type Plan, type PlanResult, planExperiment } from '../../core/plan.js';
import { savePlanBase } from '../../core/planBase.js';
import { baseRecord } from '../../core/records.js';
import { ruleRegistry } from '../../rules/index.js';
import { lrOf, pointId, sweepProject } from '../../bench/workload.js';
import { NATIVE } from '../formats/fixtures.js';

const TASK = (name: string): string => `from inspect_ai import task\n\n@task\ndef ${name}(config_path: str = ""):\n    pass\n`;

/**
 * The native format's list experiment (matrix, checkpoints, per-run datasets, prompts, resources)
 * with a fourth run, and a non-ASCII system prompt: the saved plan is UTF-8.
 */
const MATRIX = [
  replace('system_prompt: "Be brief."', 'system_prompt: "Sois bref, s’il te plaît."'),
  replace(/( {4}- \{ name: rank8-long[^\n]*\n)/, '$1    - { name: rank16, lora_rank: 16 }\n'),
  replace('    - { run: base-model, tasks: [cap] }', '    - { run: rank16 }\n    - { run: base-model, tasks: [cap] }'),
].reduce((text, edit) => edit(text), NATIVE);

/** Prepare steps feeding the datasets, base and fine-tuned evaluations of every epoch, exports, an optimisation over a fine-tune. */
const PIPELINE = `version: "1.0"
experiment_name: pipeline
prepare:
  words:
    command: node make.mjs > "$CK_OUTPUTS/words.json"
    inputs: [make.mjs]
    outputs: [words.json]
dataset: { from: words, path: words.json, format: json }
config:
  base_model: Llama-3.2-1B-Instruct
  epochs: 2
  prompt: "Capitalize: {input}\\n"
  dataset_type: chat_completion
protocol:
  type: list
  runs:
    - { name: a, learning_rate: 1e-4 }
    - { name: b, learning_rate: 2e-4 }
    - { name: c, learning_rate: 3e-4, dataset: { path: data/other.json } }
evaluation:
  tasks: [{ name: cap, script: tasks/cap.py }]
  models: [base, finetuned]
  epochs: [all]
optimize:
  tune:
    program: programs/cap.py
    lm: finetuned
output: { merge_after: true }
`;

function project(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'ckbuild-replan-'));
  mkdirSync(join(dir, '.git'));
  mkdirSync(join(dir, 'data'));
  for (const name of ['words', 'other', 'long']) writeFileSync(join(dir, 'data', `${name}.json`), JSON.stringify({ train: [{ input: name, output: name }], test: [{ input: name, output: name }] }));
  mkdirSync(join(dir, 'tasks'));
  writeFileSync(join(dir, 'tasks', 'cap.py'), TASK('cap'));
  mkdirSync(join(dir, 'programs'));
  writeFileSync(join(dir, 'programs', 'cap.py'), 'import dspy\n');
  writeFileSync(join(dir, 'make.mjs'), 'console.log("[]")\n');
  mkdirSync(join(dir, 'experiments'));
  writeFileSync(join(dir, 'experiments', 'x.yaml'), text);
  return join(dir, 'experiments', 'x.yaml');
}

const planOf = (file: string, previous?: Plan): Promise<PlanResult> => planExperiment(file, { rules: ruleRegistry, foreign: foreignFormats, previous });

/** Everything a plan says, in a form deepEqual compares (the graph by its edges). */
function comparable(result: PlanResult): unknown {
  const diagnostics = result.diagnostics.map((d) => `${d.line}:${d.column} ${d.severity} ${d.field}: ${d.message}`);
  const plan = result.plan;
  if (!plan) return { diagnostics };
  return {
    diagnostics,
    runs: plan.runs.map(copyOfRun),
    byId: [...plan.byId.keys()],
    edges: plan.graph.order.map((id) => [id, plan.graph.upstreamOf(id), plan.graph.downstreamOf(id)]),
    // What each trial says, field by field (a list trial works its overrides out when asked).
    trials: plan.trials.map((trial) => ({ trialId: trial.trialId, label: trial.label, overrides: trial.overrides, origins: trial.origins, labels: trial.labels, path: trial.path, dataset: trial.dataset, evalDataset: trial.evalDataset, resources: trial.resources, training: trial.training })),
    files: [...plan.files].sort(),
    fileStats: [...plan.fileStats.keys()].sort(),
  };
}

/** Every run recorded, as succeeded (with its outputs), failed or planned: states and reasons vary. */
function recordAll(plan: Plan): void {
  const now = new Date().toISOString();
  plan.runs.forEach((run, index) => {
    const record = baseRecord(run, plan, now);
    record.status = index % 3 === 0 ? 'succeeded' : index % 3 === 1 ? 'failed' : 'planned';
    if (record.status === 'succeeded') {
      record.outputs = [{ path: 'outputs/done', size: 0 }];
      mkdirSync(join(run.runDir, 'outputs'), { recursive: true });
      writeFileSync(join(run.runDir, 'outputs', 'done'), '');
    }
    plan.manifest.set(run.key, record);
  });
  // Indexed, as a build writes it: the plans below read it through the index, scratchOf in full.
  writeManifest(plan.manifestPath, plan.manifest, plan.manifestIndex);
}

/** Planned from scratch with the manifest parsed in full, not read through its index; the index is then kept again, as the CLI does. */
async function scratchOf(file: string): Promise<PlanResult> {
  rmSync(join(dirname(dirname(file)), '.ckbuild', 'manifests'), { recursive: true, force: true });
  const result = await planOf(file);
  if (result.plan) assert.ok(keepManifestIndex(result.plan.manifest) || result.plan.manifest.summaries.size === 0, 'a full read makes an index');
  return result;
}

/** `inTrials`: the edit stays inside `protocol.runs` and leaves it readable alone (asserted to be read so). */
type Edit = { name: string; edit: (text: string) => string; spliced?: boolean; inTrials?: boolean; also?: (file: string) => void };

/**
 * Each edit on a fresh project: planned from scratch, spliced into the previous plan in memory
 * (watch) and into the plan a previous process saved (build); all three must agree.
 */
async function check(base: string, edits: Edit[]): Promise<void> {
  for (const { name, edit, spliced, inTrials, also } of edits) {
    const file = project(base);
    const first = await planOf(file);
    assert.ok(first.plan && first.diagnostics.length === 0, `${name}: the base plans cleanly: ${first.diagnostics.map((d) => d.message).join('; ')}`);
    recordAll(first.plan);
    const previous = (await planOf(file)).plan!;
    assert.ok(savePlanBase(previous));
    const edited = edit(readFileSync(file, 'utf8'));
    writeFileSync(file, edited);
    also?.(file);
    const replanned = await planOf(file, previous);
    const fromSaved = await planExperiment(file, { rules: ruleRegistry, foreign: foreignFormats, savedBase: true });
    const scratch = await scratchOf(file);
    assert.deepEqual(comparable(replanned), comparable(scratch), `${name}: as planned from scratch`);
    assert.deepEqual(comparable(fromSaved), comparable(scratch), `${name}: from the saved plan, as planned from scratch`);
    if (spliced !== undefined) {
      assert.equal(replanned.plan?.spliced, spliced, `${name}: ${spliced ? 'spliced' : 'planned in full'}`);
      assert.equal(fromSaved.plan?.spliced, spliced, `${name}: ${spliced ? 'spliced' : 'planned in full'} from the saved plan`);
    }
    // An edit inside the trials is read from the earlier reading, the edited trials alone (core/editedYaml.ts).
    if (inTrials) for (const result of [replanned, fromSaved]) assert.ok(result.plan?.experiment.reread, `${name}: the edited trials alone read again`);
  }
}

function replace(from: string | RegExp, to: string): (text: string) => string {
  return (text) => {
    const next = text.replace(from, to);
    assert.notEqual(next, text, `the edit ${String(from)} applies`);
    return next;
  };
}

test('a re-plan of a matrix experiment splices exactly the edited trials, and plans in full whenever it cannot vouch for a splice', async () => {
  await check(MATRIX, [
    { name: 'one parameter', edit: replace('lora_rank: 16 }', 'lora_rank: 32 }'), spliced: true, inTrials: true },
    { name: 'a run with its own dataset and prompt', edit: replace('prompt: "Word: {input}\\n"', 'prompt: "W: {input}\\n"'), spliced: true },
    { name: 'per-run epochs change its `all` cells', edit: replace('epochs: 4,', 'epochs: 2,'), spliced: false },
    { name: 'per-run resources (no key moves)', edit: replace('time: "02:00:00"', 'time: "03:00:00"'), spliced: true },
    { name: 'an evaluation dataset of one run', edit: replace('eval_dataset: { path: data/long.json }', 'eval_dataset: { path: data/other.json }'), spliced: true },
    { name: 'two trials', edit: (t) => replace('lora_rank: 4,', 'lora_rank: 2,')(replace('lora_rank: 16 }', 'lora_rank: 64 }')(t)), spliced: true, inTrials: true },
    { name: 'a comment', edit: (t) => `${t}# note\n`, spliced: true },
    { name: 'a renamed run (its matrix entry now dangles)', edit: replace('name: rank16,', 'name: rank17,') },
    { name: 'a run made a twin of another', edit: replace('lora_rank: 16 }', 'lora_rank: 8 }') },
    { name: 'a duplicate name', edit: replace('name: rank16,', 'name: rank4,') },
    { name: 'the last run removed, with its matrix entry', edit: (t) => replace(/ {4}- \{ run: rank16 \}\n/, '')(replace(/ {4}- \{ name: rank16, lora_rank: 16 \}\n/, '')(t)), spliced: false },
    { name: 'the experiment config', edit: replace('epochs: 3', 'epochs: 5'), spliced: false },
    { name: 'a matrix entry', edit: replace('- { run: rank16 }', '- { run: rank16, tasks: [cap] }'), spliced: false },
    { name: 'an unknown key in a run', edit: replace('lora_rank: 16 }', 'lora_rank: 16, lora_rnak: 3 }') },
    {
      name: 'a run edited and a dataset rewritten',
      edit: replace('lora_rank: 16 }', 'lora_rank: 32 }'),
      also: (file) => writeFileSync(join(file, '..', '..', 'data', 'words.json'), JSON.stringify({ train: [], test: [] })),
      spliced: false,
    },
    { name: 'the local config changed as well', edit: replace('lora_rank: 16 }', 'lora_rank: 32 }'), also: (file) => writeFileSync(join(file, '..', '..', 'ckbuild.local.yaml'), 'runs_root: elsewhere\n'), spliced: false },
    { name: 'a task script rewritten as well', edit: replace('lora_rank: 16 }', 'lora_rank: 32 }'), also: (file) => writeFileSync(join(file, '..', '..', 'tasks', 'cap.py'), `${TASK('cap')}# v2\n`), spliced: false },
  ]);
});

test('a re-plan with prepare steps, base evaluations of every epoch and exports', async () => {
  const withoutOptimize = PIPELINE.replace(/optimize:\n(  .*\n)+/, '');
  await check(withoutOptimize, [
    { name: 'a later trial', edit: replace('learning_rate: 3e-4', 'learning_rate: 4e-4'), spliced: true, inTrials: true },
    { name: 'the first trial renamed', edit: replace('name: a,', 'name: a2,'), spliced: false },
    { name: 'trials reordered', edit: replace(/( {4}- \{ name: a[^\n]*\n)( {4}- \{ name: b[^\n]*\n)/, '$2$1'), spliced: false },
    { name: 'a run with its own dataset file, another one', edit: replace('dataset: { path: data/other.json }', 'dataset: { path: data/long.json }'), spliced: true },
    // Its fine-tune no longer needs the prepare step (or now does): the graph changes, planned in full.
    { name: 'a run given its own dataset', edit: replace('learning_rate: 2e-4 }', 'learning_rate: 2e-4, dataset: { path: data/long.json } }'), spliced: false },
    { name: 'a run dataset from the prepare step', edit: replace('dataset: { path: data/other.json }', 'dataset: { from: words, path: words.json }'), spliced: false },
    { name: 'the prepare step', edit: replace('outputs: [words.json]', 'outputs: [words.json, more.json]'), spliced: false },
  ]);
});

test('an optimisation trained from the first fine-tune: a splice of that trial only', async () => {
  await check(PIPELINE, [
    { name: 'the first trial, which the optimisation trains from', edit: replace('learning_rate: 1e-4', 'learning_rate: 5e-4'), spliced: true },
    // Expanded alone, a later trial would be the optimisation's "first" fine-tune: refused.
    { name: 'a later trial', edit: replace('learning_rate: 3e-4', 'learning_rate: 4e-4'), spliced: false },
  ]);
});

test('random edits of a sweep re-plan as from scratch', async () => {
  let seed = 7;
  const random = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  const trials = 40;
  const dir = sweepProject(trials);
  const file = join(dir, 'experiments', 'sweep.yaml');
  const first = (await planOf(file)).plan!;
  recordAll(first);
  let previous = (await planOf(file)).plan!;
  assert.ok(savePlanBase(previous));
  let spliced = 0;
  let reread = 0;
  let fromDisk = 0;
  for (let round = 0; round < 60; round++) {
    let text = readFileSync(file, 'utf8');
    const edits = 1 + random(3);
    for (let e = 0; e < edits; e++) {
      const i = random(trials);
      const line = new RegExp(`( {4}- \\{ name: )${pointId(i)}(, learning_rate: )[^,]+(, seed: )(\\d+)( \\})`);
      const choice = random(10);
      if (choice < 6) text = text.replace(line, `$1${pointId(i)}$2${lrOf(i, round + 1)}$3$4$5`);
      else if (choice < 8) text = text.replace(line, `$1${pointId(i)}$2${lrOf(i)}$3${random(1000)}$5`);
      else if (choice < 9) text = text.replace(line, `$1${pointId(i)}-x$2${lrOf(i)}$3$4$5`); // renamed
      else text = text.replace(line, `$1${pointId(i)}$2${lrOf(random(trials))}$3${random(trials)}$5`); // maybe a twin
    }
    writeFileSync(file, text);
    const replanned = await planOf(file, previous);
    const scratch = await scratchOf(file);
    assert.deepEqual(comparable(replanned), comparable(scratch), `round ${round}`);
    if (replanned.plan?.spliced) spliced++;
    if (replanned.plan?.experiment.reread) reread++;
    const fromSaved = await planExperiment(file, { rules: ruleRegistry, foreign: foreignFormats, savedBase: true });
    assert.deepEqual(comparable(fromSaved), comparable(scratch), `round ${round}: from the saved plan`);
    if (fromSaved.plan?.spliced) fromDisk++;
    if (scratch.plan) previous = replanned.plan!;
    // Now and then a build saves the plan it made: runs edited since have no record yet.
    if (scratch.plan && round % 7 === 6) assert.ok(savePlanBase(scratch.plan));
  }
  assert.ok(spliced >= 20, `most rounds splice (${spliced} of 60)`);
  // Every round edits trials only; a round after one with diagnostics has no reading to start from.
  assert.ok(reread >= 40, `most rounds read the edited trials alone (${reread} of 60)`);
  // Between saves, the trials edited since the saved plan accumulate; a rename ends its use.
  assert.ok(fromDisk >= 1, `the saved plan is spliced into (${fromDisk} of 60)`);
});

test('a saved plan whose edited trial never ran still takes the next edit of that trial', async () => {
  const dir = sweepProject(5);
  const file = join(dir, 'experiments', 'sweep.yaml');
  recordAll((await planOf(file)).plan!);
  const saved = async (): Promise<PlanResult> => planExperiment(file, { rules: ruleRegistry, foreign: foreignFormats, savedBase: true });
  assert.ok(savePlanBase((await planOf(file)).plan!));
  for (const bump of [1, 2, 3]) {
    const text = readFileSync(file, 'utf8');
    writeFileSync(file, text.replace(/(- \{ name: r00002, learning_rate: )[^,]+/, `$1${lrOf(2, bump)}`));
    const spliced = await saved();
    assert.equal(spliced.plan?.spliced, true, `edit ${bump}: spliced into the saved plan`);
    assert.deepEqual(comparable(spliced), comparable(await scratchOf(file)), `edit ${bump}: as planned from scratch`);
    // What a dry run leaves: the plan saved with trial 2's new runs stale, recorded nowhere.
    assert.equal(spliced.plan!.byId.get('finetune/r00002')!.record, undefined);
    assert.ok(savePlanBase(spliced.plan!));
  }
});

test('a sweep never built: the saved plan carries its runs and takes edits of any trial', async () => {
  const dir = sweepProject(6);
  const file = join(dir, 'experiments', 'sweep.yaml');
  assert.ok(savePlanBase((await planOf(file)).plan!));
  for (const [i, bump] of [[1, 1], [4, 2], [1, 3]] as const) {
    const text = readFileSync(file, 'utf8');
    writeFileSync(file, text.replace(new RegExp(`(- \\{ name: ${pointId(i)}, learning_rate: )[^,]+`), `$1${lrOf(i, bump)}`));
    const spliced = await planExperiment(file, { rules: ruleRegistry, foreign: foreignFormats, savedBase: true });
    assert.equal(spliced.plan?.spliced, true, `trial ${i}: spliced, with no record of any run`);
    assert.deepEqual(comparable(spliced), comparable(await scratchOf(file)), `trial ${i}: as planned from scratch`);
  }
});

/** A sweep of a local, sharded Llama checkpoint: resolution reads its config.json and weight index. */
function shardedProject(): { file: string; model: string } {
  const file = join(sweepProject(4), 'experiments', 'sweep.yaml');
  const model = join(file, '..', '..', 'model');
  mkdirSync(join(model, 'original'), { recursive: true });
  const llama = { architectures: ['LlamaForCausalLM'], model_type: 'llama', vocab_size: 128257, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, hidden_size: 64, intermediate_size: 128, max_position_embeddings: 2048, rms_norm_eps: 1e-5, rope_theta: 500000, tie_word_embeddings: false };
  writeFileSync(join(model, 'config.json'), JSON.stringify(llama));
  for (const name of ['tokenizer.json', 'tokenizer_config.json', 'original/tokenizer.model', 'a.safetensors', 'b.safetensors']) writeFileSync(join(model, name), name);
  writeFileSync(join(model, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { w1: 'a.safetensors' } }));
  writeFileSync(file, readFileSync(file, 'utf8').replace('base_model: Llama-3.2-1B-Instruct', 'base_model: ./model'));
  return { file, model };
}

test('what resolution read is checked too: a checkpoint re-indexed to other weight files is planned in full', async () => {
  const { file, model } = shardedProject();
  const previous = await planOf(file);
  assert.ok(previous.plan && previous.diagnostics.length === 0, previous.diagnostics.map((d) => d.message).join('; '));
  assert.ok(savePlanBase(previous.plan));
  assert.ok([...previous.plan.reads.keys()].some((read) => read.endsWith('model.safetensors.index.json')), 'the index is a recorded read');
  const edit = (bump: number): void => writeFileSync(file, readFileSync(file, 'utf8').replace(/(- \{ name: r00001, learning_rate: )[^,]+/, `$1${lrOf(1, bump)}`));
  edit(1);
  const untouched = await planOf(file, previous.plan);
  assert.equal(untouched.plan?.spliced, true, 'the index as it was: spliced');
  // The same weight file plus another: no input of a kept run changed, but the index did.
  writeFileSync(join(model, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { w1: 'a.safetensors', w2: 'b.safetensors' } }));
  edit(2);
  const scratch = await scratchOf(file);
  for (const [how, replanned] of [['in memory', await planOf(file, previous.plan)], ['from the saved plan', await planExperiment(file, { rules: ruleRegistry, foreign: foreignFormats, savedBase: true })]] as const) {
    assert.equal(replanned.plan?.spliced, false, `${how}: planned in full`);
    assert.deepEqual(comparable(replanned), comparable(scratch), `${how}: as planned from scratch`);
  }
  assert.deepEqual(scratch.plan!.byId.get('finetune/r00000')!.params.checkpoint_files, ['a.safetensors', 'b.safetensors']);
});

test('a task script edited while watching is read again: its @task check sees the new text', async () => {
  const dir = sweepProject(3);
  const file = join(dir, 'experiments', 'sweep.yaml');
  const first = await planOf(file);
  assert.deepEqual(first.diagnostics, []);
  writeFileSync(join(dir, 'task.py'), 'from inspect_ai import task\n\n@task\ndef renamed(config_path: str = ""):\n    pass\n');
  const again = await planOf(file, first.plan);
  assert.ok(again.diagnostics.some((d) => /has no function `t`/.test(d.message)), again.diagnostics.map((d) => d.message).join('; ') || 'no diagnostics');
});

test('a saved reading damaged on disk is never taken for the file’s data: the file is read whole', async () => {
  const dir = sweepProject(5);
  const file = join(dir, 'experiments', 'sweep.yaml');
  assert.ok(savePlanBase((await planOf(file)).plan!));
  const saved = join(dir, '.ckbuild', 'plans', 'experiments_sweep.yaml.json');
  const [header, reading, body] = readFileSync(saved, 'utf8').split('\n') as [string, string, string];
  const damaged = reading.replace('"learning_rate":0.00001,', '"learning_rate":0.00009,');
  assert.notEqual(damaged, reading, 'the damage applies');
  writeFileSync(saved, [header, damaged, body].join('\n'));
  const again = await planExperiment(file, { rules: ruleRegistry, foreign: foreignFormats, savedBase: true });
  assert.equal(again.plan?.experiment.reread, undefined, 'read whole');
  assert.equal(again.plan?.spliced, false, 'planned in full');
  assert.deepEqual(comparable(again), comparable(await scratchOf(file)));
});
