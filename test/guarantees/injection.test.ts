/**
 * Interpolated values stay inert (issue 12). Shell payloads — command substitution, backticks,
 * quote breaks, a newline, `&&` — go into every field a user or a site config writes that ends up
 * in a generated job script or config: a step's parameter (really executed by the local executor),
 * the prompts, project metadata, a run's name, and the local config's SLURM directives and
 * environment (conda, venv, modules, models_dir). Each payload would create its own marker file if
 * a shell ever ran it. For each (payload, field): ckbuild either refuses the value with a
 * diagnostic or generates the run, and then every generated job script is executed with bash; no
 * marker may appear, and a parameter must reach the job byte for byte.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { TempProject } from '../helpers/project.js';

const markers = mkdtempSync(join(tmpdir(), 'ckbuild-injection-'));
const PAYLOADS: Array<(marker: string) => string> = [
  (m) => `$(touch ${m})`,
  (m) => `\`touch ${m}\``,
  (m) => `'; touch ${m}; '`,
  (m) => `"; touch ${m}; "`,
  (m) => `x\ntouch ${m}\n`,
  (m) => `x && touch ${m}`,
  (m) => `\${IFS}$(touch ${m})`,
];

/** A YAML double-quoted scalar holding `text` exactly. */
const yamlString = (text: string): string => JSON.stringify(text);

/** Where each field goes: the experiment (and the local config) with the payload in that field. */
const FIELDS: Record<string, (value: string) => { experiment: string; local?: string }> = {
  'config.prompt': (v) => ({ experiment: finetune({ prompt: `${v} {input}` }) }),
  'config.system_prompt': (v) => ({ experiment: finetune({ system_prompt: v }) }),
  'evaluation.tasks[0].prompt': (v) => ({ experiment: finetune({}, `${v} {input}`) }),
  question: (v) => ({ experiment: finetune({}).replace('experiment_name: inj\n', `experiment_name: inj\nquestion: ${yamlString(v)}\n`) }),
  project: (v) => ({ experiment: finetune({}).replace('experiment_name: inj\n', `experiment_name: inj\nproject: ${yamlString(v)}\n`) }),
  'protocol.runs[0].name': (v) => ({ experiment: finetune({}).replace('config:', `protocol:\n  type: list\n  runs: [{ name: ${yamlString(v)}, lora_rank: 4 }]\nconfig:`) }),
  'local.account': (v) => ({ experiment: finetune({}), local: `account: ${yamlString(v)}\n` }),
  'local.partition': (v) => ({ experiment: finetune({}), local: `partition: ${yamlString(v)}\n` }),
  'local.qos': (v) => ({ experiment: finetune({}), local: `qos: ${yamlString(v)}\n` }),
  'local.constraint': (v) => ({ experiment: finetune({}), local: `constraint: ${yamlString(v)}\n` }),
  'local.env.conda': (v) => ({ experiment: finetune({}), local: `env: { conda: ${yamlString(v)} }\n` }),
  'local.env.venv': (v) => ({ experiment: finetune({}), local: `env: { venv: ${yamlString(v)} }\n` }),
  'local.env.modules': (v) => ({ experiment: finetune({}), local: `env: { modules: [${yamlString(v)}] }\n` }),
};

function finetune(config: Record<string, string>, taskPrompt?: string): string {
  const extra = Object.entries(config).map(([k, v]) => `  ${k}: ${yamlString(v)}\n`).join('');
  return `version: "1.0"\nexperiment_name: inj\ndataset: { path: data/d.json, format: json }\nconfig:\n  base_model: Llama-3.2-1B-Instruct\n  epochs: 1\n${extra}evaluation:\n  tasks: [{ name: t, script: tasks/t.py${taskPrompt ? `, prompt: ${yamlString(taskPrompt)}` : ''} }]\n  models: [finetuned]\n`;
}

function project(files: { experiment: string; local?: string }): TempProject {
  const p = new TempProject();
  p.write('.gitignore', 'runs/\n.ckbuild/\nckbuild.local.yaml\n');
  p.write('data/d.json', JSON.stringify({ train: [{ input: 'a', output: 'A' }], test: [{ input: 'b', output: 'B' }] }));
  p.write('tasks/t.py', 'from inspect_ai import task\n\n@task\ndef t(config_path: str = ""):\n    pass\n');
  mkdirSync(p.path('models', 'Llama-3.2-1B-Instruct'), { recursive: true });
  p.write('experiments/inj.yaml', files.experiment);
  if (files.local) p.write('ckbuild.local.yaml', files.local);
  return p;
}

/** Runs every generated job script with bash (the frameworks are absent: each stops early). */
function executeJobScripts(p: TempProject): number {
  const runs = p.path('runs');
  let executed = 0;
  for (const dir of existsSync(runs) ? readdirSync(runs).filter((d) => !d.startsWith('.')) : []) {
    const script = join(runs, dir, 'config', 'job.sh');
    if (!existsSync(script)) continue;
    spawnSync('bash', [script], { cwd: join(runs, dir), timeout: 30_000, stdio: 'ignore', env: { PATH: '/usr/bin:/bin', HOME: tmpdir(), CK_EXECUTOR: 'local' } });
    executed++;
  }
  return executed;
}

export const injectionFigures = { payloads: PAYLOADS.length, fields: 0, cases: 0, generated: 0, refused: 0, scriptsExecuted: 0, fired: [] as string[] };

test('interpolated values stay inert: shell payloads in every field are refused or carried as data, never executed', { timeout: 600_000 }, () => {
  let n = 0;
  // A step parameter, executed for real by the local executor, must arrive byte for byte.
  for (const payload of PAYLOADS) {
    const marker = join(markers, `param-${n++}`);
    const value = payload(marker);
    const p = new TempProject();
    p.write('.gitignore', 'runs/\n.ckbuild/\n');
    p.write('experiments/inj.yaml', `version: "1.0"\nexperiment_name: inj\nprepare:\n  a:\n    command: printf '%s' "$CK_PARAM_X" > "$CK_OUTPUTS/x.txt"\n    outputs: [x.txt]\n    params: { x: ${yamlString(value)} }\n`);
    const result = p.run(['experiments/inj.yaml', '--no-commit']);
    assert.equal(result.code, 0, result.stdout + result.stderr);
    const record = p.manifest('experiments/inj.manifest.json').runs[0]!;
    assert.equal(readFileSync(p.path(String(record.run_dir), 'outputs', 'x.txt'), 'utf8'), value);
    injectionFigures.cases++;
    injectionFigures.generated++;
    injectionFigures.scriptsExecuted++;
    if (existsSync(marker)) injectionFigures.fired.push(`prepare.params: ${JSON.stringify(value)}`);
  }
  injectionFigures.fields = Object.keys(FIELDS).length + 1;
  for (const [field, place] of Object.entries(FIELDS)) {
    for (const payload of PAYLOADS) {
      const marker = join(markers, `${field.replace(/[^a-z0-9]/gi, '_')}-${n++}`);
      const p = project(place(payload(marker)));
      const result = p.run(['build', 'experiments/inj.yaml', '--dry-run']);
      injectionFigures.cases++;
      assert.ok(result.code === 0 || result.code === 2, `${field}: exit ${result.code}: ${result.stdout}${result.stderr}`);
      assert.doesNotMatch(result.stderr, /internal error|at .*\.js:\d+/, `${field}: no stack trace`);
      if (result.code === 0) {
        injectionFigures.generated++;
        injectionFigures.scriptsExecuted += executeJobScripts(p);
      } else injectionFigures.refused++;
      if (existsSync(marker)) injectionFigures.fired.push(`${field}: ${JSON.stringify(payload(marker))}`);
    }
  }
  writeFileSync(join(markers, '..', 'ckbuild-injection-figures.json'), JSON.stringify(injectionFigures));
  assert.deepEqual(injectionFigures.fired, [], 'no payload ever ran');
  assert.ok(injectionFigures.generated > injectionFigures.cases / 2, `most payloads were accepted as data and generated: ${JSON.stringify(injectionFigures)}`);
});
