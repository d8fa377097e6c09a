/**
 * The earlier toolkit's experiment_summary.yaml through the real `ckbuild` binary and the real
 * rules: read directly by plan and check, and converted by import into a native file that plans
 * to the same keys.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { TempProject } from '../helpers/project.js';
import { place, positionOf } from './fixtures.js';

interface PlanJson {
  ok: boolean;
  runs: Array<{ id: string; key: string; step: string; needs: Record<string, string>; params: Record<string, unknown>; labels: Record<string, unknown> }>;
  diagnostics: Array<{ severity: string; line: number; column: number; field: string; message: string }>;
}

function planJson(project: TempProject, file: string): PlanJson {
  const result = project.run(['plan', file, '--json']);
  return JSON.parse(result.stdout) as PlanJson;
}

/** The sweep without its eval-only run (see the last test for that one). */
const withoutEvalOnly = (text: string): string => text.replace(/ {2}- name: prior_rank8_epoch0[\s\S]*?epoch_0\n/, '').replace(/ {4}- run: prior_rank8_epoch0[\s\S]*$/, '');

test('ckbuild plan and check read experiment_summary.yaml directly', () => {
  const project = new TempProject();
  const placed = place('rank_lr_sweep', withoutEvalOnly, project.dir);
  const file = relative(project.dir, placed.file);
  const check = project.run(['check', file]);
  assert.equal(check.code, 0, check.stdout + check.stderr);
  assert.match(check.stdout, /ok {2}experiment\/experiment_summary\.yaml: 15 runs/);
  const plan = planJson(project, file);
  assert.ok(plan.ok);
  assert.equal(plan.runs.filter((run) => run.step === 'finetune').length, 4);
  const cell = plan.runs.find((run) => run.id === 'evaluate/capitalization_8L/Llama-3.2-1B-Instruct_rank16_lr3e-4/epoch1')!;
  assert.deepEqual(cell.needs, { checkpoint: 'finetune/Llama-3.2-1B-Instruct_rank16_lr3e-4' });
  assert.equal(cell.labels.cell, 'capitalization_8L_epoch1');
  assert.equal(cell.params.prompt, 'Capitalize this word: {input}\n');
  assert.equal(cell.params.seed, 21);
  const finetune = plan.runs.find((run) => run.id === 'finetune/Llama-3.2-1B-Instruct_rank16_lr1e-4')!;
  assert.equal(finetune.params.seed, 7);
  assert.equal(finetune.params.lora_rank, 16);
  assert.equal(finetune.params.learning_rate, 1e-4);
  const human = project.run(['plan', file]);
  assert.match(human.stdout, /cap_5L_rank_lr_sweep_2026-05-04: 15 runs — 15 stale/);
});

test('ckbuild import writes a native experiment that plans to the same keys, and never overwrites by accident', () => {
  const project = new TempProject();
  const placed = place('rank_lr_sweep', withoutEvalOnly, project.dir);
  const source = relative(project.dir, placed.file);
  const imported = project.run(['import', source]);
  assert.equal(imported.code, 0, imported.stderr);
  const output = 'experiments/cap_5L_rank_lr_sweep_2026-05-04.yaml';
  assert.equal(imported.stdout.trim(), output);
  const text = project.read(output);
  assert.match(text, /^# yaml-language-server: \$schema=\.\.\/schema\/experiment\.schema\.json\n/);
  assert.match(text, /\n {2}type: list\n/);

  const direct = planJson(project, source);
  const native = planJson(project, output);
  assert.ok(native.ok);
  assert.deepEqual(native.runs.map((run) => [run.id, run.key, run.needs]), direct.runs.map((run) => [run.id, run.key, run.needs]));
  assert.equal(project.run(['check', output]).code, 0);

  // An existing file is kept unless --force; -o writes elsewhere.
  const again = project.run(['import', source]);
  assert.equal(again.code, 2);
  assert.match(again.stderr, /already exists; pass --force/);
  assert.equal(project.read(output), text);
  assert.equal(project.run(['import', source, '--force']).code, 0);
  const elsewhere = project.run(['import', source, '-o', 'experiments/sweep.yaml']);
  assert.equal(elsewhere.code, 0, elsewhere.stderr);
  assert.equal(elsewhere.stdout.trim(), 'experiments/sweep.yaml');
  assert.deepEqual(planJson(project, 'experiments/sweep.yaml').runs.map((run) => run.key), direct.runs.map((run) => run.key));
});

/** The generated files of each run, by run id, after `ckbuild build --dry-run`. */
function generated(project: TempProject): Map<string, (file: string) => string> {
  const runs = new Map<string, (file: string) => string>();
  for (const dir of readdirSync(project.path('runs'))) {
    const config = project.path('runs', dir, 'config');
    if (!existsSync(join(config, 'run.json'))) continue;
    const spec = JSON.parse(readFileSync(join(config, 'run.json'), 'utf8')) as { id: string };
    runs.set(spec.id, (file) => readFileSync(join(config, file), 'utf8'));
  }
  return runs;
}

test('the generated configs carry what the earlier generators carried', () => {
  const project = new TempProject();
  const placed = place('rank_lr_sweep', withoutEvalOnly, project.dir);
  const dry = project.run(['build', relative(project.dir, placed.file), '--dry-run']);
  assert.equal(dry.code, 0, dry.stdout + dry.stderr);
  const runs = generated(project);
  assert.equal(runs.size, 15);

  const finetune = runs.get('finetune/Llama-3.2-1B-Instruct_rank16_lr3e-4')!;
  const config = finetune('finetune.yaml');
  for (const pattern of [/lora_rank: 16\n/, /lora_alpha: 32\n/, /\blr: 0\.0003\n/, /seed: 42\n/, /epochs: 2\n/, /gradient_accumulation_steps: 2\n/, /num_warmup_steps: 10\n/, /weight_decay: 0\.01\n/, /max_seq_len: 2048\n/, /max_samples: 800\n/, /You are a helpful assistant\./, /Rewrite with a capital first letter: /]) {
    assert.match(config, pattern);
  }
  assert.match(finetune('job.sh'), /#SBATCH --constraint=gpu80\n/);
  assert.match(runs.get('finetune/Llama-3.2-1B-Instruct_rank4_lr1e-4')!('job.sh'), /#SBATCH --time=0:30:00\n/);
  assert.match(runs.get('finetune/Llama-3.2-1B-Instruct_rank16_lr1e-4')!('finetune.yaml'), /seed: 7\n/);

  const cell = runs.get('evaluate/capitalization_8L/Llama-3.2-1B-Instruct_rank4_lr1e-4/epoch0')!;
  const job = cell('job.sh');
  assert.match(job, /inspect_task\.py@capitalization\b/);
  assert.match(job, /-M do_sample=false/);
  assert.match(job, /--seed 21\b/);
  assert.match(job, /-T use_chat_template=true/);
  assert.match(job, /words_8L_80P_1000\.json/);
  assert.match(job, /epoch_0/);
  assert.match(job, /#SBATCH --time=0:10:00\n/);
  assert.match(job, /#SBATCH --mem=40G\n/);
  // The matrix row's vis_label, with the task when the row lists several (cruijff_kit's "{vis_label} ({task})").
  assert.match(job, /-T 'vis_label="rank4 lr1e-4 \(capitalization_8L\)"'/);
  const evalYaml = cell('eval.yaml');
  assert.match(evalYaml, /Capitalize this word: \{input\}/);
  assert.match(evalYaml, /You are a careful copy editor\./);
  assert.match(evalYaml, /name: match/);
  const control = runs.get('evaluate/capitalization/Llama-3.2-1B-Instruct_base')!('job.sh');
  assert.match(control, /is_finetuned=false/);
  assert.ok(!/--temperature/.test(control), 'greedy: no temperature');
});

test('mistakes are reported at their line in experiment_summary.yaml, by plan and by import, and nothing is written', () => {
  const project = new TempProject();
  const placed = place('invalid', (t) => t, project.dir);
  const file = relative(project.dir, placed.file);
  const plan = project.run(['plan', file]);
  assert.equal(plan.code, 2);
  const { line, column } = positionOf(placed.text, 'lora_rnak');
  assert.ok(plan.stderr.includes(`${file}:${line}:${column}: error: controls.lora_rnak: unknown key \`lora_rnak\` in \`controls\`; did you mean \`lora_rank\`?`), plan.stderr);
  assert.ok(!/at .*\.js:\d+/.test(plan.stderr), 'no stack trace');
  const imported = project.run(['import', file]);
  assert.equal(imported.code, 2);
  assert.match(imported.stderr, /import failed/);
  assert.ok(!existsSync(join(project.dir, 'experiments')));
});

test('the rules’ own checks point into experiment_summary.yaml too', () => {
  const project = new TempProject();
  // An lr_scheduler the earlier toolkit accepted but torchtune does not ship.
  const placed = place('rank_lr_sweep', (t) => withoutEvalOnly(t).replace('  num_warmup_steps: 10\n', '  num_warmup_steps: 10\n  lr_scheduler: get_linear_schedule_with_warmup\n'), project.dir);
  const result = planJson(project, relative(project.dir, placed.file));
  assert.equal(result.ok, false);
  const problem = result.diagnostics.find((d) => d.field === 'controls.lr_scheduler');
  assert.ok(problem, JSON.stringify(result.diagnostics, null, 2));
  assert.deepEqual({ line: problem.line, column: problem.column }, positionOf(placed.text, 'get_linear_schedule_with_warmup'));
});

test('an eval-only run evaluates the existing checkpoint at its checkpoint_path', () => {
  const project = new TempProject();
  const placed = place('rank_lr_sweep', (t) => t, project.dir);
  const file = relative(project.dir, placed.file);
  const check = project.run(['check', file]);
  assert.equal(check.code, 0, check.stdout + check.stderr);
  const plan = planJson(project, file);
  const cell = plan.runs.find((run) => run.id === 'evaluate/capitalization/prior_rank8_epoch0')!;
  assert.equal(cell.params.model_kind, 'checkpoint');
  assert.deepEqual(cell.needs, {});
  assert.ok(readFileSync(placed.file, 'utf8').includes(String(cell.params.checkpoint_path)));
});
