/**
 * The real tier: the capitalization pipeline through the real CLI with real torchtune, inspect-ai,
 * transformers and PEFT on the CPU, against a tiny random-initialised Llama checkpoint the test
 * generates (test/real/make_tiny_model.py; nothing is downloaded). Needs the project's Python
 * environment (`bash scripts/python-env.sh install`, which .ci/run does); without it every test
 * here skips and says why. Assertions are on what the frameworks wrote (adapters that load,
 * eval logs that parse, finite losses), never on a file ckbuild wrote about itself.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { projectRoot } from '../helpers/paths.js';
import { chromiumSkipReason, screenshot, visit } from '../helpers/chromium.js';
import { parseCsv } from '../helpers/csv.js';
import { TempProject } from '../helpers/project.js';

const env = spawnSync('bash', [join(projectRoot, 'scripts', 'python-env.sh'), 'path'], { encoding: 'utf8' });
const pythonEnv = env.status === 0 ? env.stdout.trim() : undefined;
const skip = pythonEnv ? false : `real tier skipped: no Python environment (${env.stderr.trim() || 'scripts/python-env.sh path failed'}); run \`bash scripts/python-env.sh install\``;
if (skip) console.log(`# ${skip}`);
const python = pythonEnv ? join(pythonEnv, 'bin', 'python') : 'python3';
const timings: Record<string, number> = {};
/** A real build on 2 loaded cores: generous, so a slow machine is slow, not a failure. */
const BUILD_TIMEOUT_MS = 900_000;

const EXPERIMENT = (rank: number) => `version: "1.0"
experiment_name: cap-real
question: Does a LoRA fine-tune on the CPU train and evaluate end to end?
prepare:
  words:
    command: node data/capitalization/generate.mjs --word-len 5 --num-words 60 --seed 1 --out "$CK_OUTPUTS/words.json"
    inputs: [data/capitalization/generate.mjs, data/capitalization/words.txt]
    outputs: [words.json]
dataset: { from: words, path: words.json, format: json }
config:
  base_model: ./models/tiny
  learning_rate: 3e-3
  batch_size: 4
  epochs: 1
  max_steps_per_epoch: 4
  warmup_steps: 1
  lora_rank: 4
  prompt: "Capitalize the given word: {input}\\n"
  dataset_type: chat_completion
protocol:
  type: grid
  vary: { lora_rank: [4, ${rank}] }
evaluation:
  tasks: [{ name: capitalization, script: tasks/capitalization/inspect_task.py }]
  models: [base, finetuned]
  epochs: [last]
  limit: 5
  max_tokens: 5
output: { export_format: safetensors, merge_after: true }
resources:
  finetune: { gpus: 0 }
  evaluate: { gpus: 0 }
  export: { gpus: 0 }
`;

let project: TempProject;

function timed<T>(label: string, run: () => T): T {
  const started = Date.now();
  try {
    return run();
  } finally {
    timings[label] = (Date.now() - started) / 1000;
  }
}

function records(): Array<{ id: string; key: string; status: string; run_dir: string; metrics?: Record<string, unknown> }> {
  return project.manifest('experiments/cap.manifest.json').runs as never;
}

function started(output: string): string[] {
  return [...output.matchAll(/^start\s+(\S+)/gm)].map((m) => m[1]!).sort();
}

before(() => {
  if (skip) return;
  project = new TempProject();
  for (const folder of ['data', 'tasks']) cpSync(join(projectRoot, folder), project.path(folder), { recursive: true });
  const made = timed('model generation', () => spawnSync(python, [join(projectRoot, 'test', 'real', 'make_tiny_model.py'), project.path('models', 'tiny'), '--seed', '1'], { encoding: 'utf8', timeout: 300_000 }));
  assert.equal(made.status, 0, made.stderr);
  project.write('.gitignore', 'runs/\n.ckbuild/\nmodels/\nckbuild.local.yaml\n');
  project.write('ckbuild.local.yaml', `jobs: 2\nenv:\n  venv: ${pythonEnv}\n  setup:\n    - export HF_HUB_OFFLINE=1\n`);
  project.write('experiments/cap.yaml', EXPERIMENT(8));
  project.git('add', '.');
  project.git('commit', '-qm', 'experiment');
});

test('real: training and evaluation see the same prompt token ids (torchtune dataset vs inspect-ai hf provider)', { skip }, () => {
  const parity = spawnSync(python, [join(projectRoot, 'test', 'real', 'parity_check.py'), project.path('models', 'tiny')], { encoding: 'utf8', timeout: 300_000, env: { ...process.env, HF_HUB_OFFLINE: '1', PYTHONPATH: join(projectRoot, 'templates', 'python') } });
  assert.equal(parity.status, 0, parity.stdout + parity.stderr);
  assert.match(parity.stdout, /PARITY OK/);
});

test('real: prepare → torchtune LoRA on the CPU → inspect-ai of base and adapters → PEFT export; metrics from the real logs', { skip }, () => {
  const build = timed('first build', () => project.run(['experiments/cap.yaml'], { CKBUILD_EXECUTOR: 'local' }, BUILD_TIMEOUT_MS));
  assert.equal(build.code, 0, build.stdout + build.stderr);
  const runs = records();
  assert.deepEqual(runs.filter((r) => r.status !== 'succeeded').map((r) => r.id), []);
  const finetunes = runs.filter((r) => r.id.startsWith('finetune/'));
  assert.equal(finetunes.length, 2);
  for (const run of finetunes) {
    // torchtune's own DiskLogger file, read back by ckbuild: a finite loss near ln(vocab) for random weights.
    const loss = run.metrics?.final_loss;
    assert.ok(typeof loss === 'number' && Number.isFinite(loss) && loss > 5 && loss < 20, `${run.id}: final_loss ${String(loss)}`);
    const logs = readdirSync(project.path(run.run_dir, 'outputs', 'logs')).filter((f) => /^log_\d+\.txt$/.test(f));
    assert.equal(logs.length, 1);
    assert.match(readFileSync(project.path(run.run_dir, 'outputs', 'logs', logs[0]!), 'utf8'), /^Step 4 \| loss:/m);
    // The adapter loads with the real PEFT onto the real base model.
    const load = spawnSync(python, ['-c', `import sys; from transformers import AutoModelForCausalLM; from peft import PeftModel
base = AutoModelForCausalLM.from_pretrained(sys.argv[1]); model = PeftModel.from_pretrained(base, sys.argv[2])
print("loaded", sum(p.numel() for n, p in model.named_parameters() if "lora_" in n))`, project.path('models', 'tiny'), project.path(run.run_dir, 'outputs', 'epoch_0')], { encoding: 'utf8', timeout: 300_000, env: { ...process.env, HF_HUB_OFFLINE: '1' } });
    assert.equal(load.status, 0, load.stderr);
    assert.match(load.stdout, /^loaded [1-9]\d*/m);
  }
  const evaluations = runs.filter((r) => r.id.startsWith('evaluate/'));
  assert.equal(evaluations.length, 3, 'the base model and each fine-tuned adapter');
  for (const run of evaluations) {
    const logDir = project.path(run.run_dir, 'outputs', 'logs');
    const logs = readdirSync(logDir).filter((f) => f.endsWith('.json'));
    assert.equal(logs.length, 1, run.id);
    const log = JSON.parse(readFileSync(join(logDir, logs[0]!), 'utf8')) as { status: string; results: { total_samples: number; scores: Array<{ metrics: Record<string, { value: number }> }> } };
    assert.equal(log.status, 'success');
    assert.equal(log.results.total_samples, 5);
    assert.equal(run.metrics?.samples, 5);
    assert.equal(run.metrics?.match_accuracy, log.results.scores[0]!.metrics.accuracy!.value, 'the recorded accuracy is the log’s');
  }
  const adapterEval = evaluations.find((r) => !r.id.endsWith('/base'))!;
  assert.match(project.read(`${adapterEval.run_dir}/config/job.sh`), /model_path=\S+\/outputs\/epoch_0\/adapter/, 'the fine-tuned cell loads the adapter view');
  // The export merged each adapter into the base with PEFT and saved a loadable model.
  const exports = runs.filter((r) => r.id.startsWith('export/'));
  assert.equal(exports.length, 2);
  for (const run of exports) {
    const merged = readdirSync(project.path(run.run_dir, 'outputs'), { recursive: true }).map(String).filter((f) => f.endsWith('.safetensors'));
    assert.ok(merged.length > 0, `${run.id} left no safetensors`);
  }
});

test('real: the report of the real capitalization experiment: loss curves and accuracies from the real logs, in CSV, markdown and a page Chromium opens cleanly', { skip }, () => {
  const result = project.run(['report', 'experiments/cap.yaml']);
  assert.equal(result.code, 0, result.stdout + result.stderr);
  const runs = records() as Array<{ id: string; run_dir: string; metrics?: Record<string, unknown>; curves?: Record<string, Array<[number, number | null]>> }>;
  const rows = parseCsv(project.read('experiments/cap.report/results.csv'));
  assert.equal(rows.length, runs.length, 'one row per run (each evaluation is one task at one epoch)');
  for (const run of runs.filter((r) => r.id.startsWith('finetune/'))) {
    // The curve is torchtune's own: every logged step of the DiskLogger file, in order.
    const log = readdirSync(project.path(run.run_dir, 'outputs', 'logs')).find((f) => /^log_\d+\.txt$/.test(f))!;
    const steps = readFileSync(project.path(run.run_dir, 'outputs', 'logs', log), 'utf8').split('\n').filter((line) => /^Step \d+ \| loss:/.test(line));
    assert.deepEqual(run.curves?.loss?.map(([step]) => step), steps.map((line) => Number(/^Step (\d+)/.exec(line)![1])), run.id);
    assert.equal(rows.find((r) => r.run === run.id)!.final_loss, String(run.metrics?.final_loss));
  }
  for (const run of runs.filter((r) => r.id.startsWith('evaluate/'))) assert.equal(rows.find((r) => r.run === run.id)!.match_accuracy, String(run.metrics?.match_accuracy), run.id);
  const summary = project.read('experiments/cap.report/summary.md');
  assert.match(summary, /^# cap-real\n\n\*\*Question\.\*\* Does a LoRA fine-tune on the CPU/);
  assert.match(summary, /- `lora_rank` ∈ \{4, 8\}/);
  assert.match(summary, /## Base model versus fine-tuned/);
  assert.match(summary, /Ranked by `match_accuracy`/);
  const page = project.path('experiments', 'cap.report', 'report.html');
  if (chromiumSkipReason()) return console.log(`# the real report's page not opened: ${chromiumSkipReason()}`);
  const visited = visit(page);
  assert.deepEqual(visited.console, []);
  assert.match(visited.dom, /data-chart="loss-curves"/);
  assert.match(visited.dom, /data-chart="metric-by-lora-rank"/);
  screenshot(page, project.path('report.png'));
});

test('real: reproduce a fine-tune and its evaluation by key prefix: artifacts identical, metrics compared', { skip }, () => {
  const runs = records();
  // Throughput is a measurement of the machine, not a result: shown, never judged.
  for (const id of ['finetune/lora_rank=8', 'evaluate/capitalization/lora_rank=8/epoch0']) {
    const run = runs.find((r) => r.id === id)!;
    const reproduced = timed(`reproduce ${id}`, () => project.run(['reproduce', run.key.slice(0, 10), '--tolerance', '*=0.05'], { CKBUILD_EXECUTOR: 'local' }, BUILD_TIMEOUT_MS));
    assert.equal(reproduced.code, 0, reproduced.stdout + reproduced.stderr);
    console.log(`# reproduce ${id}:\n${reproduced.stdout.split('\n').map((line) => `#   ${line}`).join('\n')}`);
    assert.match(reproduced.stdout, id.startsWith('finetune') ? /final_loss/ : /match_accuracy/);
    if (id.startsWith('finetune')) assert.match(reproduced.stdout, /tokens_per_second\S*\s.*measured/);
  }
});

test('real: a second build does nothing; changing one rank reruns exactly that fine-tune, its evaluation and its export', { skip }, () => {
  const again = timed('no-op build', () => project.run(['experiments/cap.yaml'], { CKBUILD_EXECUTOR: 'local' }, BUILD_TIMEOUT_MS));
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /up to date: \d+ runs, nothing to do/);
  const before = new Map(records().map((r) => [r.id, r.key]));
  project.write('experiments/cap.yaml', EXPERIMENT(16));
  const changed = timed('one-rank rebuild', () => project.run(['experiments/cap.yaml'], { CKBUILD_EXECUTOR: 'local' }, BUILD_TIMEOUT_MS));
  assert.equal(changed.code, 0, changed.stdout + changed.stderr);
  assert.deepEqual(started(changed.stdout), ['evaluate/capitalization/lora_rank=16/epoch0', 'export/lora_rank=16', 'finetune/lora_rank=16'].sort());
  for (const run of records()) if (before.has(run.id) && !run.id.includes('lora_rank=16')) assert.equal(run.key, before.get(run.id), `${run.id} kept its key`);
  console.log(`# real tier timings (s): ${JSON.stringify(timings)}`);
  void existsSync;
});

test('real: an ensemble of two CPU fine-tunes merged with the real PEFT (add_weighted_adapter), and the merged adapter evaluated', { skip }, () => {
  project.write(
    'experiments/ensemble.yaml',
    EXPERIMENT(8)
      .replace('experiment_name: cap-real', 'experiment_name: cap-ensemble')
      .replace(/protocol:\n  type: grid\n  vary: \{ lora_rank: \[4, 8\] \}\n/, 'protocol: { type: ensemble, members: 2, merge: { method: linear } }\n')
      .replace(/output: .*\n/, '')
      .replace('models: [base, finetuned]', 'models: [finetuned]'),
  );
  const build = timed('ensemble build', () => project.run(['experiments/ensemble.yaml'], { CKBUILD_EXECUTOR: 'local' }, BUILD_TIMEOUT_MS));
  assert.equal(build.code, 0, build.stdout + build.stderr);
  const runs = project.manifest('experiments/ensemble.manifest.json').runs as unknown as Array<{ id: string; status: string; run_dir: string; metrics?: Record<string, unknown> }>;
  assert.deepEqual(runs.filter((r) => r.status !== 'succeeded').map((r) => r.id), []);
  const merge = runs.find((r) => r.id.startsWith('merge/'));
  assert.ok(merge, runs.map((r) => r.id).join(', '));
  const adapter = project.path(merge.run_dir, 'outputs', 'adapter');
  const load = spawnSync(python, ['-c', `import sys; from transformers import AutoModelForCausalLM; from peft import PeftModel
model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(sys.argv[1]), sys.argv[2]); print("merged adapter loaded", type(model).__name__)`, project.path('models', 'tiny'), adapter], { encoding: 'utf8', timeout: 300_000, env: { ...process.env, HF_HUB_OFFLINE: '1' } });
  assert.equal(load.status, 0, load.stderr);
  const evaluation = runs.find((r) => r.id.startsWith('evaluate/') && r.id.includes('ensemble'));
  assert.ok(evaluation, `no evaluation of the merged adapter among ${runs.map((r) => r.id).join(', ')}`);
  assert.equal(evaluation.metrics?.samples, 5);
  console.log(`# real tier timings (s): ${JSON.stringify(timings)}`);
});

/** An experiment_summary.yaml written for cruijff_kit 0.3.3 (before the 0.3.4 renames), on the tiny model. */
const TOOLKIT_033 = (root: string): string => `# Written for cruijff_kit 0.3.3: before the 0.3.4 renames.
experiment:
  name: cap_tiny_toolkit
  question: Does the tiny model train what the earlier toolkit trained?
  date: "2025-11-01"
  directory: /scratch/ck-projects/capitalization/cap_tiny_toolkit   # where the toolkit wrote everything
  project: capitalization
tools:
  preparation: torchtune
  evaluation: inspect-ai
controls:
  system_prompt: ""
  prompt: "Capitalize the given word: {input}\\n"
  dataset_type: chat_completion
  epochs: 1
  batch_size: 4
  gradient_accumulation_steps: 1
  lr: 3e-3
  num_warmup_steps: 1
  max_steps_per_epoch: 4
  validation_during_training: true
models:
  base:
    - name: tiny
      path: ${root}/models/tiny
      size_gb: 0.01
data:
  training:
    path: ${root}/data/toolkit-words.json
    label: toolkit-words
    format: json
    size_kb: 3
    splits: {train: 48, validation: 6, test: 6}
output:
  wandb_project: capitalization
runs:
  - name: tiny_rank4
    type: fine-tuned
    model: tiny
    parameters:
      lora_rank: 4
evaluation:
  tasks:
    - name: capitalization
      script: ${root}/tasks/capitalization/inspect_task.py
      description: held-out words
  scorer:
    - name: match
  matrix:
    - run: tiny_rank4
      tasks: [capitalization]
      epochs: [0]
      vis_label: rank4
`;

test('real: a cruijff_kit 0.3.3 file: migrated as a diff, imported, trained on the CPU with a validation loss, on the earlier toolkit’s token ids (chat and text)', { skip }, () => {
  const words = spawnSync(process.execPath, [project.path('data', 'capitalization', 'generate.mjs'), '--word-len', '5', '--num-words', '60', '--seed', '2', '--out', project.path('data', 'toolkit-words.json')], { encoding: 'utf8' });
  assert.equal(words.status, 0, words.stderr);
  project.write('old/experiment_summary.yaml', TOOLKIT_033(project.dir));
  // The old names are read, each a warning at its line; --migrate shows the edit as a diff, and writes it with -o.
  const planned = project.run(['plan', 'old/experiment_summary.yaml']);
  assert.equal(planned.code, 0, planned.stderr);
  assert.match(planned.stderr, /old\/experiment_summary\.yaml:6:3: warning: experiment\.directory: a file of cruijff_kit 0\.3\.3 or earlier, read in 0\.3\.4's names: `directory` becomes `dir`/);
  const diff = project.run(['import', '--migrate', 'old/experiment_summary.yaml']);
  assert.equal(diff.code, 0, diff.stderr);
  assert.match(diff.stdout, /^-  directory: \/scratch.*\n\+  dir: \/scratch.*# where the toolkit wrote everything$/m);
  assert.match(diff.stdout, /^-    label: toolkit-words\n\+    dataset_label: toolkit-words$/m);
  assert.match(diff.stdout, /^-  scorer:\n\+  scorers:$/m);
  assert.equal(project.run(['import', '--migrate', 'old/experiment_summary.yaml', '-o', 'old/experiment_summary.yaml', '--force']).code, 0);
  assert.doesNotMatch(project.run(['plan', 'old/experiment_summary.yaml']).stderr, /0\.3\.3 or earlier/, 'migrated: nothing left to read in old names');
  assert.match(project.read('old/experiment_summary.yaml'), /^  dir: \/scratch.*# where the toolkit wrote everything$/m, 'the comment survives');

  // Imported, and run on the CPU (the toolkit's format always asks for a GPU; the native file can say 0).
  const imported = project.run(['import', 'old/experiment_summary.yaml', '-o', 'experiments/toolkit.yaml']);
  assert.equal(imported.code, 0, imported.stderr);
  assert.match(project.read('experiments/toolkit.yaml'), /tokenization: cruijff_kit/);
  project.write('experiments/toolkit.yaml', `${project.read('experiments/toolkit.yaml')}resources:\n  finetune: { gpus: 0 }\n  evaluate: { gpus: 0 }\n`);
  const build = timed('toolkit fine-tune', () => project.run(['experiments/toolkit.yaml', '--until', 'finetune'], { CKBUILD_EXECUTOR: 'local' }, BUILD_TIMEOUT_MS));
  assert.equal(build.code, 0, build.stdout + build.stderr);
  const finetune = (project.manifest('experiments/toolkit.manifest.json').runs as unknown as Array<{ id: string; status: string; run_dir: string; metrics?: Record<string, number>; curves?: Record<string, Array<[number, number]>> }>).find((r) => r.id === 'finetune/tiny_rank4')!;
  assert.equal(finetune.status, 'succeeded');
  // validation_during_training: ckbuild's validating recipe wrote the validation loss into torchtune's own log.
  const logs = project.path(finetune.run_dir, 'outputs', 'logs');
  const log = readFileSync(join(logs, readdirSync(logs).find((f) => /^log_\d+\.txt$/.test(f))!), 'utf8');
  const validation = /^Step 4 \| val_loss:(\S+)/m.exec(log);
  assert.ok(validation, log);
  assert.equal(finetune.metrics?.val_loss, Number(validation[1]));
  assert.ok(Number.isFinite(finetune.metrics?.val_loss) && finetune.metrics!.val_loss! > 0);
  assert.deepEqual(finetune.curves?.val_loss, [[4, Number(validation[1])]]);

  // The token ids: the recipe's dataset against the earlier toolkit's builders, on the real tokenizer.
  const parity = (config: string) => spawnSync(python, [join(projectRoot, 'test', 'real', 'toolkit_parity_check.py'), config], { encoding: 'utf8', timeout: 300_000, env: { ...process.env, HF_HUB_OFFLINE: '1' } });
  const chat = parity(project.path(finetune.run_dir, 'config', 'finetune.yaml'));
  assert.equal(chat.status, 0, chat.stdout + chat.stderr);
  assert.match(chat.stdout, /TOOLKIT PARITY OK chat_completion: 48 examples identical/);
  project.write('experiments/toolkit-text.yaml', project.read('experiments/toolkit.yaml').replace('dataset_type: chat_completion', 'dataset_type: text_completion').replace(/^  system_prompt: .*\n/m, '').replace(/^experiment_name: .*$/m, 'experiment_name: cap-tiny-toolkit-text'));
  const text = project.run(['build', 'experiments/toolkit-text.yaml', '--dry-run', '--until', 'finetune']);
  assert.equal(text.code, 0, text.stderr);
  const textRun = JSON.parse(project.run(['plan', 'experiments/toolkit-text.yaml', '--json']).stdout) as { runs: Array<{ step: string; run_dir: string }> };
  const textParity = parity(project.path(textRun.runs.find((r) => r.step === 'finetune')!.run_dir, 'config', 'finetune.yaml'));
  assert.equal(textParity.status, 0, textParity.stdout + textParity.stderr);
  assert.match(textParity.stdout, /TOOLKIT PARITY OK text_completion: 48 examples identical/);
  // And the check can fail: ckbuild's own tokenization (what inspect evaluates: a second BOS) is not the toolkit's.
  const native = JSON.parse(project.run(['plan', 'experiments/cap.yaml', '--json']).stdout) as { runs: Array<{ id: string; run_dir: string }> };
  const own = parity(project.path(native.runs.find((r) => r.id === 'finetune/lora_rank=4')!.run_dir, 'config', 'finetune.yaml'));
  assert.equal(own.status, 1, own.stdout + own.stderr);
  assert.match(own.stdout, /MISMATCH \(tokenization inspect\)/);
  console.log(`# real tier timings (s): ${JSON.stringify(timings)}`);
});
