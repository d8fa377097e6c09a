/** `ckbuild plan` and `ckbuild check` through the real binary in a temporary project. */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { TempProject } from '../helpers/project.js';

/** §1 of the seed "Experiment DSL Specification", exactly as written. */
const SEED_EXAMPLE = `version: "1.0"
experiment_name: "llama3-sql-finetune"
dataset:
  path: "data/text_to_sql.json"
  format: "alpaca"

# Search Space (for HPO) or Fixed Config
config:
  base_model: "meta-llama/Meta-Llama-3-8B"
  method: "qlora"
  
  # Hyperparameters
  learning_rate: 2e-4
  batch_size: 4
  epochs: 3
  lora_rank: 64
  lora_alpha: 16
  
  # Advanced
  target_modules: ["q_proj", "v_proj"]
  quantization_bits: 4

protocol:
  type: "standard" # or "ablation", "curriculum"
  budget_gpu_hours: 10.0
  trials: 5

output:
  export_format: "gguf"
  merge_after: true
`;

interface PlanJson {
  ok: boolean;
  runs: Array<{ id: string; key: string; name: string; step: string; state: string; needs: Record<string, string>; params: Record<string, unknown>; reasons: Array<{ kind: string }> }>;
  diagnostics: Array<{ line: number; column: number; field: string; message: string; severity: string }>;
}

function planJson(project: TempProject, file: string): PlanJson {
  const result = project.run(['plan', file, '--json']);
  return JSON.parse(result.stdout) as PlanJson;
}

test('the seed example is accepted as written and plans 5 QLoRA trials with a GGUF export each', () => {
  const project = new TempProject();
  project.write('data/text_to_sql.json', JSON.stringify([{ instruction: 'q', input: '', output: 'SELECT 1' }]));
  project.write('experiments/seed.yaml', SEED_EXAMPLE);
  const check = project.run(['check', 'experiments/seed.yaml']);
  assert.equal(check.code, 0, check.stdout + check.stderr);
  const plan = planJson(project, 'experiments/seed.yaml');
  assert.ok(plan.ok);
  const finetunes = plan.runs.filter((r) => r.step === 'finetune');
  assert.equal(finetunes.length, 5);
  assert.deepEqual(finetunes.map((r) => r.params.seed), [14, 15, 16, 17, 18]);
  for (const run of finetunes) {
    assert.equal(run.params.method, 'qlora');
    assert.equal(run.params.lora_rank, 64);
    assert.equal(run.params.lora_alpha, 16);
    assert.equal(run.params.learning_rate, 0.0002);
    assert.equal(run.state, 'stale');
  }
  const exports = plan.runs.filter((r) => r.step === 'export');
  assert.equal(exports.length, 5);
  assert.ok(exports.every((r) => r.params.format === 'gguf' && r.needs.checkpoint?.startsWith('finetune/')));
  assert.equal(new Set(plan.runs.map((r) => r.key)).size, plan.runs.length, 'every run has its own key');
  // Plans are deterministic across invocations.
  assert.deepEqual(planJson(project, 'experiments/seed.yaml').runs.map((r) => r.key), plan.runs.map((r) => r.key));
  const human = project.run(['plan', 'experiments/seed.yaml']);
  assert.match(human.stdout, /llama3-sql-finetune: 10 runs — 10 stale/);
});

test('an invalid file: every mistake reported at once, with the right lines, no stack trace', () => {
  const project = new TempProject();
  project.write(
    'experiments/bad.yaml',
    [
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
    ].join('\n') + '\n',
  );
  const result = project.run(['check', 'experiments/bad.yaml']);
  assert.equal(result.code, 1);
  assert.doesNotMatch(result.stderr, /at .*\.js:\d+/, 'no stack trace');
  assert.match(result.stderr, /experiments\/bad\.yaml:6:3: error: config\.lora_rnak: unknown key `lora_rnak`; did you mean `lora_rank`\?/);
  assert.match(result.stderr, /experiments\/bad\.yaml:7:15: error: config\.batch_size: expected an integer, got the string "four"/);
  assert.match(result.stderr, /experiments\/bad\.yaml:11:20: error: protocol\.early_stop_loss: must be > 0, got -1/);
  assert.match(result.stdout, /FAIL\s+experiments\/bad\.yaml/);

  const json = JSON.parse(project.run(['check', 'experiments/bad.yaml', '--json']).stdout) as { ok: boolean; files: Array<{ diagnostics: Array<{ line: number; field: string }> }> };
  assert.equal(json.ok, false);
  assert.deepEqual(json.files[0]!.diagnostics.map((d) => [d.line, d.field]), [[6, 'config.lora_rnak'], [7, 'config.batch_size'], [11, 'protocol.early_stop_loss']]);
});

test('semantic mistakes: missing dataset, unknown model, prompt without {input}', () => {
  const project = new TempProject();
  project.write(
    'experiments/sem.yaml',
    ['version: "1.0"', 'experiment_name: sem', 'dataset: { path: data/missing.json }', 'config:', '  base_model: Llama-9-Mega', '  prompt: "Capitalize this"'].join('\n') + '\n',
  );
  const result = project.run(['check', 'experiments/sem.yaml']);
  assert.equal(result.code, 1);
  assert.match(result.stderr, /sem\.yaml:3:18: error: dataset\.path: dataset file `data\/missing\.json` does not exist/);
  assert.match(result.stderr, /sem\.yaml:6:11: error: config\.prompt: the prompt must contain the `\{input\}` placeholder/);
  assert.match(result.stderr, /config\.base_model: .*Llama-9-Mega/);
});

test('a dependency cycle is a diagnostic naming the runs', () => {
  const project = new TempProject();
  project.write(
    'experiments/cycle.yaml',
    `version: "1.0"
experiment_name: cycle
prepare:
  a: { command: "true", outputs: [a], needs: [b] }
  b: { command: "true", outputs: [b], needs: [a] }
`,
  );
  const result = project.run(['plan', 'experiments/cycle.yaml']);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /dependency cycle: prepare\/(a|b) → prepare\/(a|b) → prepare\/(a|b)/);
});

test('a YAML syntax error is reported with its position', () => {
  const project = new TempProject();
  project.write('experiments/syntax.yaml', 'version: "1.0"\nexperiment_name: [unclosed\n');
  const result = project.run(['check', 'experiments/syntax.yaml']);
  assert.equal(result.code, 1);
  assert.match(result.stderr, /syntax\.yaml:\d+:\d+: error: YAML: /);
});

test('curriculum: each stage starts from the previous stage’s checkpoint; ensemble: members and a merge', () => {
  const project = new TempProject();
  project.write('data/easy.json', JSON.stringify({ train: [{ input: 'ab', output: 'Ab' }], test: [] }));
  project.write('data/hard.json', JSON.stringify({ train: [{ input: 'abcdefgh', output: 'Abcdefgh' }], test: [] }));
  project.write('tasks/t.py', '# task\n');
  project.write(
    'experiments/curriculum.yaml',
    `version: "1.0"
experiment_name: curriculum
config: { base_model: Llama-3.2-1B-Instruct, epochs: 1 }
protocol:
  type: curriculum
  vary: { lora_rank: [4, 8] }
  stages:
    - { name: easy, dataset: { path: data/easy.json } }
    - { name: hard, dataset: { path: data/hard.json }, config: { learning_rate: 5e-5 } }
evaluation:
  tasks: [{ name: t, script: tasks/t.py, dataset: { path: data/hard.json } }]
  models: [finetuned]
`,
  );
  const curriculum = planJson(project, 'experiments/curriculum.yaml');
  assert.ok(curriculum.ok, JSON.stringify(curriculum.diagnostics));
  const byId = new Map(curriculum.runs.map((r) => [r.id, r]));
  assert.deepEqual([...byId.keys()].filter((id) => id.startsWith('finetune/')), ['finetune/lora_rank=4/1-easy', 'finetune/lora_rank=4/2-hard', 'finetune/lora_rank=8/1-easy', 'finetune/lora_rank=8/2-hard']);
  assert.equal(byId.get('finetune/lora_rank=4/2-hard')!.needs.init, 'finetune/lora_rank=4/1-easy');
  assert.equal(byId.get('finetune/lora_rank=4/2-hard')!.params.learning_rate, 0.00005);
  assert.equal(byId.get('evaluate/t/lora_rank=8/2-hard/epoch0')!.needs.checkpoint, 'finetune/lora_rank=8/2-hard', 'only the final stage is evaluated');

  project.write(
    'experiments/ensemble.yaml',
    `version: "1.0"
experiment_name: ensemble
dataset: { path: data/easy.json }
config: { base_model: Llama-3.2-1B-Instruct }
protocol: { type: ensemble, members: 3, merge: { method: linear } }
evaluation:
  tasks: [{ name: t, script: tasks/t.py }]
  models: [finetuned]
`,
  );
  const ensemble = planJson(project, 'experiments/ensemble.yaml');
  assert.ok(ensemble.ok, JSON.stringify(ensemble.diagnostics));
  const merge = ensemble.runs.find((r) => r.id === 'merge/ensemble')!;
  assert.deepEqual(Object.values(merge.needs).sort(), ['finetune/member-1', 'finetune/member-2', 'finetune/member-3']);
  assert.ok(ensemble.runs.some((r) => r.id === 'evaluate/t/ensemble' && r.needs.checkpoint === 'merge/ensemble'));
  assert.equal(ensemble.runs.filter((r) => r.step === 'evaluate').length, 4, 'each member and the merged adapter');
});

test('a directive the scheduler cannot carry, in the local config, is one diagnostic at its line for plan, check and the build alike, before anything runs', () => {
  const project = new TempProject();
  project.write('experiments/exp.yaml', `version: "1.0"\nexperiment_name: exp\nprepare:\n  a: { command: 'echo a > "$CK_OUTPUTS/a.txt"; echo ran >> "$CK_PROJECT_DIR/ran.log"', outputs: [a.txt] }\n`);
  project.write('ckbuild.local.yaml', 'jobs: 1\npartition: "gpu;rm -rf /"\n');
  for (const command of [['plan'], ['check'], []]) {
    const result = project.run([...command, 'experiments/exp.yaml']);
    assert.equal(result.code, command[0] === 'check' ? 1 : 2, `${command.join(' ') || 'build'}: ${result.stdout}${result.stderr}`);
    assert.match(result.stdout + result.stderr, /ckbuild\.local\.yaml:2:12: error: partition: /, command.join(' ') || 'build');
  }
  assert.equal(existsSync(project.path('ran.log')), false, 'nothing ran');
});

test('explain takes a name from an earlier version of the experiment and says what changed since', () => {
  const project = new TempProject();
  const experiment = (x: number) => `version: "1.0"\nexperiment_name: exp\nprepare:\n  a: { command: 'echo a > "$CK_OUTPUTS/a.txt"', outputs: [a.txt], params: { x: ${x} } }\n`;
  project.write('experiments/exp.yaml', experiment(1));
  assert.equal(project.run(['experiments/exp.yaml']).code, 0);
  const old = project.manifest().runs[0]!;
  project.write('experiments/exp.yaml', experiment(2));
  const explained = project.run(['explain', 'experiments/exp.yaml', String(old.name)]);
  assert.equal(explained.code, 0, explained.stderr);
  assert.match(explained.stdout, new RegExp(`prepare/a ${String(old.name)} ${old.key}`));
  assert.match(explained.stdout, /today prepare\/a is \S+ \S+ \(stale\), because:\n\s+- parameter params\.x: 1 → 2/);
  const unknown = project.run(['explain', 'experiments/exp.yaml', 'no-such-run']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /no run matches no-such-run/);
});
