/**
 * The artifacts a build generates, through the real CLI: the capitalization example's dry run,
 * byte-identical regeneration, syntactically valid job scripts, and inert hostile values.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { projectRoot } from '../helpers/paths.js';
import { TempProject } from '../helpers/project.js';

function capProject(): TempProject {
  const project = new TempProject();
  for (const dir of ['data', 'tasks', 'experiments']) cpSync(join(projectRoot, dir), project.path(dir), { recursive: true });
  return project;
}

function snapshot(dir: string): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (path: string): void => {
    for (const entry of readdirSync(path)) {
      const full = join(path, entry);
      if (statSync(full).isDirectory()) walk(full);
      else files.set(full, createHash('sha256').update(readFileSync(full)).digest('hex'));
    }
  };
  walk(dir);
  return files;
}

test('the capitalization example: a dry run generates every artifact; regenerating is byte-identical', () => {
  const project = capProject();
  const first = project.run(['experiments/cap.yaml', '--dry-run']);
  assert.equal(first.code, 0, first.stdout + first.stderr);
  assert.match(first.stdout, /generated 16 run directories/);
  const runs = readdirSync(project.path('runs')).filter((d) => !d.startsWith('.'));
  assert.equal(runs.length, 16);
  const before = snapshot(project.path('runs'));
  const second = project.run(['experiments/cap.yaml', '--dry-run']);
  assert.equal(second.code, 0);
  assert.deepEqual(snapshot(project.path('runs')), before, 'regeneration leaves every byte as it was');

  for (const dir of runs) {
    const job = project.path('runs', dir, 'config', 'job.sh');
    assert.ok(existsSync(job), `${dir} has a job script`);
    const syntax = spawnSync('bash', ['-n', job], { encoding: 'utf8' });
    assert.equal(syntax.status, 0, `bash -n ${dir}: ${syntax.stderr}`);
    const spec = JSON.parse(readFileSync(project.path('runs', dir, 'config', 'run.json'), 'utf8')) as { key: string; step: string };
    assert.ok(dir.startsWith(spec.key.slice(0, 16)), 'the directory is named by the key');
    if (spec.step === 'finetune') {
      const config = parse(readFileSync(project.path('runs', dir, 'config', 'finetune.yaml'), 'utf8')) as Record<string, { _component_?: string }>;
      assert.equal(config.model?._component_, 'torchtune.models.llama3_2.lora_llama3_2_1b');
      assert.match(readFileSync(job, 'utf8'), /#SBATCH --gres=gpu:1/);
      assert.match(readFileSync(job, 'utf8'), /#SBATCH --time=01:00:00/);
    }
  }
  assert.equal(existsSync(project.path('experiments/cap.manifest.json')), false, 'a dry run records nothing');
});

test('changing a time limit changes the job script but no key: nothing becomes stale', () => {
  const project = capProject();
  const keys = (): string[] => (JSON.parse(project.run(['plan', 'experiments/cap.yaml', '--json']).stdout) as { runs: Array<{ key: string }> }).runs.map((r) => r.key);
  const before = keys();
  project.write('experiments/cap.yaml', project.read('experiments/cap.yaml').replace('time: "01:00:00"', 'time: "04:00:00"').replace('mem: 40G, time: "00:20:00"', 'mem: 80G, time: "00:30:00"'));
  assert.deepEqual(keys(), before);
});

test('hostile values in parameters stay inert strings in the generated scripts', () => {
  const project = new TempProject();
  const hostile = `"; touch ${project.path('pwned-1')}; echo "`;
  const hostile2 = `$(touch ${project.path('pwned-2')})\`touch ${project.path('pwned-3')}\`'`;
  project.write(
    'experiments/exp.yaml',
    `version: "1.0"
experiment_name: hostile
prepare:
  x:
    command: 'printf "%s|%s" "$CK_PARAM_A" "$CK_PARAM_B" > "$CK_OUTPUTS/out.txt"'
    outputs: [out.txt]
    params:
      a: ${JSON.stringify(hostile)}
      b: ${JSON.stringify(hostile2)}
`,
  );
  const result = project.run(['experiments/exp.yaml']);
  assert.equal(result.code, 0, result.stdout + result.stderr);
  for (const name of ['pwned-1', 'pwned-2', 'pwned-3']) assert.equal(existsSync(project.path(name)), false, `${name} must not exist`);
  const runDir = readdirSync(project.path('runs')).find((d) => !d.startsWith('.'))!;
  assert.equal(readFileSync(project.path('runs', runDir, 'outputs', 'out.txt'), 'utf8'), `${hostile}|${hostile2}`);
  execFileSync('bash', ['-n', project.path('runs', runDir, 'config', 'job.sh')]);
});

test('a job that lacks its framework is blocked with what to install, and the rest of the DAG proceeds', () => {
  const project = capProject();
  const result = project.run(['experiments/cap.yaml', '--only', 'prepare', '--only', 'finetune/baseline', '--keep-going', '-j', '1'], { PATH: '/usr/bin:/bin' });
  assert.equal(result.code, 1, result.stdout + result.stderr);
  assert.match(result.stdout, /done\s+prepare\/words-5L/);
  assert.match(result.stdout, /blocked\s+finetune\/baseline .*tune is not installed on this machine: pip install torchtune/);
  const records = project.manifest('experiments/cap.manifest.json').runs;
  assert.equal(records.find((r) => r.id === 'finetune/baseline')!.status, 'blocked');
  assert.equal(records.find((r) => r.id === 'prepare/words-8L')!.status, 'succeeded');
});
