/**
 * `ckbuild report` on a finished sweep (test/helpers/finishedSweep.ts: rank × seed, two tasks, a
 * failed run, an unbuilt run, a missing log): the CSV's rows and values, the markdown's tables and
 * verdicts, byte-identical output on every regeneration (and from a fresh clone, which has the
 * manifest but no run directories), `report: true` refreshing and committing after a build, and the
 * budget warning when dollars cannot be checked.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { TempProject } from '../helpers/project.js';
import { parseCsv } from '../helpers/csv.js';
import { accuracyOf, FAILED_RUN, finishedSweep, MISSING_LOG_RUN, UNBUILT_RUN } from '../helpers/finishedSweep.js';

const REPORT = ['results.csv', 'summary.md', 'report.html'];

test('report: a tidy CSV, the summary tables and verdicts, byte-identical on every regeneration and from a clone', async () => {
  const project = await finishedSweep();
  const first = project.run(['report', 'experiments/sweep.yaml']);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, /rank-seeds: report of 14 runs \(12 succeeded\) in experiments\/sweep\.report/);
  const dir = project.path('experiments', 'sweep.report');
  const bytes = REPORT.map((name) => readFileSync(join(dir, name)));

  // results.csv: one row per run (the evaluations carry task and epoch), every swept parameter and the seed.
  const rows = parseCsv(readFileSync(join(dir, 'results.csv'), 'utf8'));
  assert.equal(rows.length, 14);
  const header = Object.keys(rows[0]!);
  assert.deepEqual(header.slice(0, 10), ['run', 'name', 'key', 'step', 'status', 'model', 'task', 'epoch', 'seed', 'lora_rank']);
  for (const column of ['match_accuracy', 'match_stderr', 'final_loss', 'min_loss', 'steps', 'gpu_hours', 'elapsed_s', 'note']) assert.ok(header.includes(column), column);
  const cell = rows.find((r) => r.run === 'evaluate/capitalization/lora_rank=8,seed=2/epoch0')!;
  assert.deepEqual([cell.step, cell.status, cell.model, cell.task, cell.epoch, cell.seed, cell.lora_rank, cell.match_accuracy, cell.gpu_hours], ['evaluate', 'succeeded', 'finetuned', 'capitalization', '0', '2', '8', String(accuracyOf('capitalization', 8, 2)), '0.1']);
  const base = rows.find((r) => r.run === 'evaluate/capitalization/base')!;
  assert.deepEqual([base.model, base.lora_rank, base.seed, base.match_accuracy], ['base', '', '', '0.1']);
  assert.equal(rows.find((r) => r.run === UNBUILT_RUN)!.status, 'not run');
  assert.match(rows.find((r) => r.run === FAILED_RUN)!.note!, /illegal memory access/);
  assert.match(rows.find((r) => r.run === MISSING_LOG_RUN)!.note!, /no inspect log/);
  const finetune = rows.find((r) => r.run === 'finetune/lora_rank=8,seed=2')!;
  assert.equal(finetune.steps, '20');
  assert.ok(Number(finetune.final_loss) < Number(rows.find((r) => r.run === 'finetune/lora_rank=4,seed=1')!.final_loss), 'the per-run logs were read, not copied');

  const summary = readFileSync(join(dir, 'summary.md'), 'utf8');
  assert.match(summary, /^# rank-seeds\n\n\*\*Question\.\*\* Does a larger LoRA rank help/);
  assert.match(summary, /- `lora_rank` ∈ \{4, 8\}\n- Seeds: 1, 2\n/);
  assert.match(summary, /12 of 14 runs succeeded\./);
  assert.match(summary, /\| failed \| 1 \|\n\| not run \| 1 \|\n\| succeeded \| 12 \|/);
  // Mean ± sample std over the two seeds of rank 8: 0.8 and 0.84.
  assert.match(summary, /\| capitalization \| 0 \| finetuned \| 8 \| 0\.82 ± 0\.02828 \| 2 \|/);
  // Rank 4 on capitalization has one seed left: the other's log is missing (a note, not a failure).
  assert.match(summary, /\| capitalization \| 0 \| finetuned \| 4 \| 0\.64 \| 1 \|/);
  assert.match(summary, /\| capitalization \| 0\.1 \| 0\.82 ± 0\.02828 \(lora_rank=8\) \| 0\.73 \| \+0\.72 \|/);
  assert.match(summary, /Ranked by `match_accuracy`, higher is better \(chosen by ckbuild/);
  assert.match(summary, /- lora_rank=8 on capitalization \(epoch 0\): 0\.82 ± 0\.02828 over 2 seed\(s\)/);
  assert.match(summary, new RegExp(`\\| \`${FAILED_RUN}\` \\| failed \\| exit code 1: CUDA error`));
  assert.match(summary, new RegExp(`\\| \`${UNBUILT_RUN}\` \\| not run \\| not built yet`));
  assert.match(summary, /- Used: 2\.9 GPU-hours\n- Still to run: 2 run\(s\), an estimated [0-9.]+ GPU-hours\n- Budget: 50 GPU-hours; used and estimated together [0-9.]+ \(within budget\)/);
  assert.match(summary, new RegExp(`## Notes on metrics\\n\\n- \`${MISSING_LOG_RUN}\`: no inspect log`));
  assert.doesNotMatch(summary + readFileSync(join(dir, 'report.html'), 'utf8'), /2026-12-0\dT|\d{2}:\d{2}:\d{2}/, 'no timestamps inside');

  // Regenerated: the same bytes.
  assert.equal(project.run(['report', 'experiments/sweep.yaml']).code, 0);
  REPORT.forEach((name, i) => assert.ok(readFileSync(join(dir, name)).equals(bytes[i]!), `${name} changed on regeneration`));

  // A fresh clone has the manifest and not the run directories: the report is the same, bytes and all.
  const clone = new TempProject({ git: false });
  clone.git('clone', '-q', project.dir, '.');
  const cloned = clone.run(['report', 'experiments/sweep.yaml', '--report-dir', 'elsewhere']);
  assert.equal(cloned.code, 0, cloned.stderr);
  REPORT.forEach((name, i) => assert.ok(readFileSync(clone.path('elsewhere', name)).equals(bytes[i]!), `${name} differs in a fresh clone`));

  // The primary metric declared in the experiment ranks instead.
  project.write('experiments/sweep.yaml', project.read('experiments/sweep.yaml').replace('question:', 'report: { primary_metric: includes_accuracy, dir: reports/sweep }\nquestion:'));
  assert.equal(project.run(['report', 'experiments/sweep.yaml']).code, 0);
  assert.match(project.read('reports/sweep/summary.md'), /Ranked by `includes_accuracy`, higher is better \(declared by the experiment/);
});

test('report --json names the files, the primary metric and every note', async () => {
  const project = await finishedSweep();
  const result = project.run(['report', 'experiments/sweep.yaml', '--json']);
  assert.equal(result.code, 0, result.stderr);
  const parsed = JSON.parse(result.stdout) as { dir: string; files: { path: string; bytes: number }[]; runs: number; succeeded: number; primary_metric: string; notes: { run: string; note: string }[] };
  assert.equal(parsed.dir, 'experiments/sweep.report');
  assert.deepEqual(parsed.files.map((f) => f.path), REPORT.map((name) => `experiments/sweep.report/${name}`));
  assert.deepEqual([parsed.runs, parsed.succeeded, parsed.primary_metric], [14, 12, 'match_accuracy']);
  assert.deepEqual(parsed.notes.map((n) => n.run).sort(), [FAILED_RUN, MISSING_LOG_RUN].sort());
});

test('report: true: a build refreshes the report and commits it with the manifest; a command step’s metrics.json is in it', () => {
  const project = new TempProject();
  project.write(
    'experiments/exp.yaml',
    ['version: "1.0"', 'experiment_name: counted', 'report: true', 'prepare:', '  count:', `    command: 'echo "{\\"words\\": 1000, \\"ok\\": true}" > "$CK_OUTPUTS/metrics.json"'`, '    outputs: [metrics.json]', ''].join('\n'),
  );
  const built = project.run(['experiments/exp.yaml']);
  assert.equal(built.code, 0, built.stderr);
  assert.match(built.stdout, /report: experiments\/exp\.report \(results\.csv, summary\.md, report\.html\)/);
  const rows = parseCsv(project.read('experiments/exp.report/results.csv'));
  assert.deepEqual([rows[0]!.run, rows[0]!.status, rows[0]!.words, rows[0]!.ok], ['prepare/count', 'succeeded', '1000', 'true']);
  const committed = project.git('show', '--name-only', '--format=', 'HEAD').trim().split('\n').sort();
  assert.deepEqual(committed, ['experiments/exp.manifest.json', 'experiments/exp.report/report.html', 'experiments/exp.report/results.csv', 'experiments/exp.report/summary.md']);
  assert.equal(project.git('status', '--porcelain', 'experiments/exp.report', 'experiments/exp.manifest.json').trim(), '', 'nothing left uncommitted');
});

test('budget_dollars without a gpu_hour_cost is a warning in plan, check and build, at its line', () => {
  const project = new TempProject();
  project.write('experiments/exp.yaml', ['version: "1.0"', 'experiment_name: priced', 'protocol: { budget_dollars: 5 }', 'prepare:', '  a: { command: "touch $CK_OUTPUTS/x", outputs: [x] }', ''].join('\n'));
  const warning = /experiments\/exp\.yaml:3:29: warning: protocol\.budget_dollars: budget_dollars cannot be enforced: no gpu_hour_cost is configured/;
  for (const args of [['plan', 'experiments/exp.yaml'], ['check', 'experiments/exp.yaml'], ['experiments/exp.yaml', '--no-commit']]) {
    const result = project.run(args);
    assert.equal(result.code, 0, `${args.join(' ')}: ${result.stderr}`);
    assert.match(result.stdout + result.stderr, warning, args.join(' '));
  }
  assert.equal(project.run(['check', '--strict', 'experiments/exp.yaml']).code, 1, '--strict fails on it');
  project.write('ckbuild.local.yaml', 'gpu_hour_cost: 2.5\n');
  assert.doesNotMatch(project.run(['plan', 'experiments/exp.yaml']).stderr, /cannot be enforced/);
});
