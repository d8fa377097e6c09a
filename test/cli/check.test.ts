/**
 * `ckbuild check` for CI through the real binary: every experiment by default, the three output
 * formats, exit codes, rendered artifacts validated in memory, budgets, and `--strict`'s manifest
 * freshness. Nothing may be written into the runs root.
 */
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { test } from 'node:test';
import { projectRoot } from '../helpers/paths.js';
import { TempProject } from '../helpers/project.js';

const BAD = [
  'version: "1.0"', // 1
  'experiment_name: bad', // 2
  'dataset: { path: data/missing.json }', // 3
  'config:', // 4
  '  base_model: Llama-3.2-1B-Instruct', // 5
  '  lora_rnak: 8', // 6
  '  batch_size: four', // 7
  'protocol:', // 8
  '  type: grid', // 9
  '  vary: { lora_rank: [4, 8] }', // 10
  '  early_stop_loss: -1', // 11
].join('\n') + '\n';

const GOOD = (n: number): string => `version: "1.0"
experiment_name: good
prepare:
  a:
    command: node a.mjs "$CK_PARAM_N" > "$CK_OUTPUTS/a.txt"
    inputs: [a.mjs]
    outputs: [a.txt]
    params: { n: ${n} }
  b:
    command: cat "$CK_NEEDS_A/a.txt" > "$CK_OUTPUTS/b.txt"
    needs: [a]
    outputs: [b.txt]
`;

function project(): TempProject {
  const p = new TempProject();
  p.write('a.mjs', 'console.log(process.argv[2]);\n');
  p.write('.gitignore', 'runs/\n.ckbuild/\n');
  p.write('experiments/good.yaml', GOOD(1));
  return p;
}

test('check with no argument checks every experiment under experiments/, and writes nothing into the runs root', () => {
  const p = project();
  p.write('experiments/bad.yaml', BAD);
  const result = p.run(['check']);
  assert.equal(result.code, 1, result.stdout + result.stderr);
  assert.match(result.stdout, /FAIL\s+experiments\/bad\.yaml/);
  assert.match(result.stdout, /ok\s+experiments\/good\.yaml: 2 runs/);
  assert.equal(existsSync(p.path('runs')), false, 'check never creates the runs root');

  const clean = project();
  const ok = clean.run(['check']);
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  assert.equal(existsSync(clean.path('runs')), false);
});

test('check: every mistake of a file, in each output format (human, --json, --format json, --format github)', () => {
  const p = project();
  p.write('experiments/bad.yaml', BAD);
  const human = p.run(['check', 'experiments/bad.yaml']);
  assert.equal(human.code, 1);
  assert.match(human.stderr, /experiments\/bad\.yaml:6:3: error: config\.lora_rnak: unknown key `lora_rnak`; did you mean `lora_rank`\?/);
  assert.match(human.stderr, /experiments\/bad\.yaml:7:15: error: config\.batch_size: /);
  assert.match(human.stderr, /experiments\/bad\.yaml:11:20: error: protocol\.early_stop_loss: /);
  assert.match(human.stdout, /FAIL\s+experiments\/bad\.yaml/);

  for (const flags of [['--json'], ['--format', 'json']]) {
    const json = p.run(['check', 'experiments/bad.yaml', ...flags]);
    assert.equal(json.code, 1);
    const parsed = JSON.parse(json.stdout) as { ok: boolean; strict: boolean; files: Array<{ file: string; ok: boolean; diagnostics: Array<{ severity: string; code: string; line: number; column: number; field: string }> }> };
    assert.equal(parsed.ok, false);
    assert.deepEqual(parsed.files[0]!.diagnostics.map((d) => [d.line, d.field, d.code]), [[6, 'config.lora_rnak', 'unknown-key'], [7, 'config.batch_size', 'invalid-type'], [11, 'protocol.early_stop_loss', 'out-of-range']]);
  }

  const github = p.run(['check', 'experiments/bad.yaml', '--format', 'github']);
  assert.equal(github.code, 1);
  const lines = github.stdout.split('\n').filter((l) => l.startsWith('::'));
  assert.equal(lines.length, 3, github.stdout);
  assert.match(lines[0]!, /^::error file=experiments\/bad\.yaml,line=6,col=3,title=ckbuild unknown-key::config\.lora_rnak: unknown key `lora_rnak`; did you mean `lora_rank`\?$/);
  assert.match(lines[1]!, /^::error file=experiments\/bad\.yaml,line=7,col=15,title=ckbuild invalid-type::config\.batch_size: /);
  assert.match(lines[2]!, /^::error file=experiments\/bad\.yaml,line=11,col=20,/);
  assert.match(github.stdout, /ckbuild check: 1 of 1 experiment\(s\) failed/);
});

test('check exit codes: 0 clean, 1 problems, 2 usage errors', () => {
  const p = project();
  assert.equal(p.run(['check', 'experiments/good.yaml']).code, 0);
  p.write('experiments/bad.yaml', BAD);
  assert.equal(p.run(['check', 'experiments/good.yaml', 'experiments/bad.yaml']).code, 1);
  const missing = p.run(['check', 'experiments/nope.yaml']);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /no such file: experiments\/nope\.yaml/);
  const format = p.run(['check', '--format', 'xml']);
  assert.equal(format.code, 2);
  assert.match(format.stderr, /--format takes one of human, json, github/);
  assert.equal(p.run(['check', '--json', '--format', 'github']).code, 2);
  const empty = new TempProject();
  const none = empty.run(['check']);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /no experiments found under experiments\//);
});

test('check --strict: a fresh manifest passes; an out-of-date one fails, naming the runs and why', () => {
  const p = project();
  p.git('add', '.');
  p.git('commit', '-qm', 'init');
  // Without a manifest there is nothing to be out of date with.
  assert.equal(p.run(['check', '--strict']).code, 0);
  const built = p.run(['experiments/good.yaml']);
  assert.equal(built.code, 0, built.stdout + built.stderr);
  const fresh = p.run(['check', '--strict']);
  assert.equal(fresh.code, 0, fresh.stdout + fresh.stderr);
  // CI has no run directories: freshness is judged from the manifest's keys alone.
  p.git('clean', '-qfdX');
  assert.equal(existsSync(p.path('runs')), false);
  assert.equal(p.run(['check', '--strict']).code, 0);

  p.write('experiments/good.yaml', GOOD(2));
  assert.equal(p.run(['check']).code, 0, 'without --strict an out-of-date manifest is fine');
  const stale = p.run(['check', '--strict']);
  assert.equal(stale.code, 1);
  assert.match(stale.stderr, /error: the manifest experiments\/good\.manifest\.json is out of date with this experiment: 2 of 2 run\(s\) would be stale: prepare\/a \(changed: parameter params\.n: 1 → 2\), prepare\/b \(changed: upstream prepare\/a changed/);
  const json = JSON.parse(p.run(['check', '--strict', '--json']).stdout) as { ok: boolean; files: Array<{ stale: Array<{ id: string; reasons: string[] }> }> };
  assert.equal(json.ok, false);
  assert.deepEqual(json.files[0]!.stale.map((r) => r.id), ['prepare/a', 'prepare/b']);
  const github = p.run(['check', '--strict', '--format', 'github']);
  assert.match(github.stdout, /^::error file=experiments\/good\.yaml,title=ckbuild stale-manifest::the manifest /m);
});

test('check renders every artifact in memory: a job script bash rejects is an error naming its run', () => {
  const p = project();
  p.write('experiments/good.yaml', GOOD(1).replace('command: cat "$CK_NEEDS_A/a.txt" > "$CK_OUTPUTS/b.txt"', 'command: "if true; then cat $CK_NEEDS_A/a.txt"'));
  const result = p.run(['check', 'experiments/good.yaml', '--json']);
  assert.equal(result.code, 1, result.stdout + result.stderr);
  const diagnostics = (JSON.parse(result.stdout) as { files: Array<{ diagnostics: Array<{ code: string; field: string; message: string }> }> }).files[0]!.diagnostics;
  assert.deepEqual(diagnostics.map((d) => [d.code, d.field]), [['invalid-artifact', 'prepare/b']]);
  assert.match(diagnostics[0]!.message, /config\/(job|command)\.sh fails `bash -n`: line \d+: syntax error/);
});

/** The repository's capitalization experiment, its prepare scripts and a task script of our choosing. */
function capProject(taskScript: string, budget = 10): TempProject {
  const p = new TempProject();
  for (const file of ['data/capitalization/generate.mjs', 'data/capitalization/words.txt']) {
    mkdirSync(dirname(p.path(file)), { recursive: true });
    copyFileSync(`${projectRoot}/${file}`, p.path(file));
  }
  const cap = p.write('experiments/cap.yaml', '');
  copyFileSync(`${projectRoot}/experiments/cap.yaml`, cap);
  p.write('experiments/cap.yaml', p.read('experiments/cap.yaml').replace('budget_gpu_hours: 10', `budget_gpu_hours: ${budget}`));
  p.write('tasks/capitalization/inspect_task.py', taskScript);
  return p;
}

test('check: a task script without the named @task function warns (dangling-reference); --strict fails on it', () => {
  const p = capProject('from inspect_ai import task\n\n@task\ndef something_else(config_path: str = ""):\n    pass\n');
  const plain = p.run(['check', 'experiments/cap.yaml']);
  assert.equal(plain.code, 0, plain.stdout + plain.stderr);
  assert.match(plain.stderr, /warning: .*has no function `capitalization`/);
  // One message per task entry that names the function (two entries share the script), not one per evaluation run (10).
  assert.deepEqual([...plain.stderr.matchAll(/cap\.yaml:(\d+):\d+: warning: (evaluation\.tasks\[\d\]): .*has no function `capitalization`/g)].map((m) => m[2]), ['evaluation.tasks[0]', 'evaluation.tasks[1]']);
  const strict = p.run(['check', '--strict', 'experiments/cap.yaml']);
  assert.equal(strict.code, 1);
  const github = p.run(['check', '--strict', '--format', 'github', 'experiments/cap.yaml']);
  assert.match(github.stdout, /^::warning file=experiments\/cap\.yaml,line=\d+,col=\d+,title=ckbuild dangling-reference::/m);
});

test('check: the budget is checked for the runs without a recorded result (a warning; --strict fails on it)', () => {
  const p = capProject('from inspect_ai import task\n\n@task\ndef capitalization(config_path: str = ""):\n    pass\n', 1);
  const result = p.run(['check', 'experiments/cap.yaml']);
  assert.equal(result.code, 0, result.stdout + result.stderr);
  assert.match(result.stderr, /experiments\/cap\.yaml:\d+:\d+: warning: protocol\.budget_gpu_hours: the 16 run\(s\) to start need an estimated [\d.]+ GPU-hours, over budget_gpu_hours 1 by [\d.]+; a build refuses to start them unless --force/);
  assert.equal(p.run(['check', '--strict', 'experiments/cap.yaml']).code, 1);
});

test('one mistake, one message: an unknown dataset.from once at its line, an epoch no fine-tune trains once for all of them, a `: ` in a command with how to fix it', () => {
  const taskScript = 'from inspect_ai import task\n\n@task\ndef capitalization(config_path: str = ""):\n    pass\n';
  const from = capProject(taskScript);
  from.write('experiments/cap.yaml', from.read('experiments/cap.yaml').replace('dataset: { from: words-5L,', 'dataset: { from: words-5X,'));
  const one = from.run(['check', 'experiments/cap.yaml', '--json']);
  assert.equal(one.code, 1);
  const d1 = (JSON.parse(one.stdout) as { files: Array<{ diagnostics: Array<{ field: string; message: string }> }> }).files[0]!.diagnostics;
  assert.deepEqual(d1.map((d) => d.field), ['dataset.from'], JSON.stringify(d1, null, 1));
  assert.match(d1[0]!.message, /no prepare step named `words-5X`; prepare steps: words-5L, words-8L/);

  // A typo in one key hides nothing else: the misspelled key is read as meant for the rest of the pass.
  const typo = capProject(taskScript);
  typo.write('experiments/cap.yaml', typo.read('experiments/cap.yaml').replace('dataset: { from: words-5L,', 'dataset: { from: words-5X,').replace('  learning_rate:', '  learning_rte:').replace('evaluation:', 'evalution:').replace('  epochs: [last]', '  epochs: [3]'));
  const both = typo.run(['check', 'experiments/cap.yaml', '--json']);
  assert.equal(both.code, 1);
  const d2 = (JSON.parse(both.stdout) as { files: Array<{ diagnostics: Array<{ field: string; message: string }> }> }).files[0]!.diagnostics;
  assert.deepEqual(d2.map((d) => d.field).sort(), ['config.learning_rte', 'dataset.from', 'evaluation.epochs', 'evalution'].sort(), JSON.stringify(d2, null, 1));
  assert.match(d2.find((d) => d.field === 'config.learning_rte')!.message, /did you mean `learning_rate`/);
  // …and a mistake under the misspelled section is shown where it is written.
  const epochsLine = typo.read('experiments/cap.yaml').split('\n').findIndex((line) => line === '  epochs: [3]') + 1;
  assert.equal((d2.find((d) => d.field === 'evaluation.epochs') as { line?: number } | undefined)?.line, epochsLine);

  const epochs = capProject(taskScript);
  epochs.write('experiments/cap.yaml', epochs.read('experiments/cap.yaml').replace('  epochs: [last]', '  epochs: [3]'));
  const merged = epochs.run(['check', 'experiments/cap.yaml']);
  assert.equal(merged.code, 1);
  assert.equal((merged.stderr.match(/epoch 3 does not exist/g) ?? []).length, 1, merged.stderr);
  assert.match(merged.stderr, /epoch 3 does not exist: `finetune\/baseline` trains 2 epoch\(s\), numbered from 0 \(the same for 3 more runs: `finetune\/lora_rank=16`, `finetune\/lora_rank=32`, `finetune\/lora_rank=4`\)/);

  const p = project();
  p.write('experiments/good.yaml', GOOD(1).replace('command: cat "$CK_NEEDS_A/a.txt" > "$CK_OUTPUTS/b.txt"', 'command: echo note: done > $CK_OUTPUTS/b.txt'));
  const syntax = p.run(['check', 'experiments/good.yaml']);
  assert.equal(syntax.code, 1);
  assert.match(syntax.stderr, /good\.yaml:\d+:\d+: error: YAML: .*A `: ` inside an unquoted value \(a command, a prompt\) starts a mapping: quote the value/);
});

test('check validates each rendered torchtune config against what torchtune reads: every method fits; a base_config that breaks it fails, naming the key', () => {
  const taskScript = 'from inspect_ai import task\n\n@task\ndef capitalization(config_path: str = ""):\n    pass\n';
  const p = capProject(taskScript);
  const cap = p.read('experiments/cap.yaml');
  // LoRA on GPUs and on the CPU, QLoRA, a full fine-tune, and two GPUs (the distributed recipe).
  for (const [method, finetune] of [['lora', '{ gpus: 0 }'], ['qlora', '{ gpus: 1 }'], ['full', '{ gpus: 1 }'], ['lora', '{ gpus: 2 }']]) {
    p.write('experiments/cap.yaml', cap.replace('  method: lora', `  method: ${method}`).replace(/  finetune: \{[^}]*\}/, `  finetune: ${finetune}`));
    const ok = p.run(['check', 'experiments/cap.yaml']);
    assert.equal(ok.code, 0, `${method} ${finetune}: ${ok.stdout}${ok.stderr}`);
  }
  // ckbuild's parameters override a base config; the keys it leaves alone reach torchtune as written.
  p.write('configs/base.yaml', 'epochs: 3\ndevice: gpu\nclip_grad_norm: "one"\n');
  p.write('experiments/cap.yaml', cap.replace('  method: lora', '  method: lora\n  base_config: configs/base.yaml'));
  const bad = p.run(['check', 'experiments/cap.yaml']);
  assert.equal(bad.code, 1, bad.stdout + bad.stderr);
  assert.match(bad.stderr, /cap\.yaml:\d+:\d+: error: config\.base_config: the rendered config\/finetune\.yaml of `finetune\/baseline` does not fit what torchtune reads: device: the string "gpu" is not valid here \(cpu, cuda, mps, xpu or npu\) \(line \d+ of that file\) \(the same for 3 more runs/);
  assert.match(bad.stderr, /clip_grad_norm: expected a number or null, got the string "one"/);
});
