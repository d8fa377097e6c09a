/**
 * The benchmark's ckbuild workload (shared/reference/perf-anchors.md): N sweep points as a `list`
 * protocol of N trials, each a fine-tune with a dependent evaluation (2N runs), so one trial can be
 * edited alone. Shared by the benchmark and test/core/keys.test.ts, which pins the keys of a small
 * one: a faster planner must plan the benchmark's sweep with the same keys.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { foreignFormats } from '../core/formats/index.js';
import { writeManifest } from '../core/manifest.js';
import { type Plan, planExperiment } from '../core/plan.js';
import { baseRecord } from '../core/records.js';
import { ruleRegistry } from '../rules/index.js';

export const pointId = (i: number): string => `r${String(i).padStart(5, '0')}`;
export const lrOf = (i: number, bump = 0): string => (1e-5 * ((i % 1000) + 1 + bump)).toPrecision(3);

/** A project folder (marked by `.git`, no commits) holding the sweep as `experiments/sweep.yaml`. */
export function sweepProject(trials: number, dir = mkdtempSync(join(tmpdir(), 'ckbench-'))): string {
  mkdirSync(join(dir, '.git'), { recursive: true });
  writeFileSync(join(dir, 'data.json'), JSON.stringify({ train: [{ input: 'abc', output: 'Abc' }], test: [{ input: 'abd', output: 'Abd' }] }));
  writeFileSync(join(dir, 'task.py'), 'from inspect_ai import task\n\n@task\ndef t(config_path: str = ""):\n    pass\n');
  mkdirSync(join(dir, 'experiments'), { recursive: true });
  const trialLines = Array.from({ length: trials }, (_, i) => `    - { name: ${pointId(i)}, learning_rate: ${lrOf(i)}, seed: ${i} }`);
  writeFileSync(
    join(dir, 'experiments', 'sweep.yaml'),
    ['version: "1.0"', 'experiment_name: sweep', 'dataset: { path: data.json }', 'config:', '  base_model: Llama-3.2-1B-Instruct', 'protocol:', '  type: list', '  runs:', ...trialLines, 'evaluation:', '  tasks: [{ name: t, script: task.py }]', '  models: [finetuned]', ''].join('\n'),
  );
  return dir;
}

/** Edits trial `i`'s learning rate in place (one trial, two runs stale). */
export function editTrial(dir: string, i: number, bump: number): void {
  const file = join(dir, 'experiments', 'sweep.yaml');
  const text = readFileSync(file, 'utf8');
  const line = new RegExp(`(- \\{ name: ${pointId(i)}, learning_rate: )[^,]+`);
  writeFileSync(file, text.replace(line, `$1${lrOf(i, bump)}`));
}

/** Records every run of the sweep as succeeded with its outputs in place, as a finished sweep would leave it; the plan it recorded. */
export async function seedFinished(dir: string): Promise<Plan> {
  const result = await planExperiment(join(dir, 'experiments', 'sweep.yaml'), { rules: ruleRegistry, foreign: foreignFormats });
  if (!result.plan) throw new Error(JSON.stringify(result.diagnostics.slice(0, 3)));
  const plan = result.plan;
  const now = new Date().toISOString();
  for (const run of plan.runs) {
    const record = baseRecord(run, plan, now);
    record.status = 'succeeded';
    record.outputs = [{ path: 'outputs/done', size: 0 }];
    plan.manifest.set(run.key, record);
    mkdirSync(join(run.runDir, 'outputs'), { recursive: true });
    writeFileSync(join(run.runDir, 'outputs', 'done'), '');
  }
  writeManifest(plan.manifestPath, plan.manifest);
  return plan;
}

/** The local-executor workload: `steps` command steps with one output each, as `experiments/local.yaml`. */
export function localProject(steps: number, dir = mkdtempSync(join(tmpdir(), 'ckbench-local-'))): string {
  mkdirSync(join(dir, '.git'), { recursive: true });
  mkdirSync(join(dir, 'experiments'), { recursive: true });
  const lines = Array.from({ length: steps }, (_, i) => `  s${i}:\n    command: 'echo ${i} > "$CK_OUTPUTS/x"'\n    outputs: [x]\n`).join('');
  writeFileSync(join(dir, 'experiments', 'local.yaml'), `version: "1.0"\nexperiment_name: local\nprepare:\n${lines}`);
  return dir;
}

/** `ckbuild`'s arguments for a full local build of the local workload. */
export const LOCAL_BUILD = ['experiments/local.yaml', '--no-commit', '-j', '2', '--executor', 'local'];

/** The local workload as before its first build: no run directories, no manifest, no caches. */
export function cleanLocal(dir: string): void {
  rmSync(join(dir, 'runs'), { recursive: true, force: true });
  rmSync(join(dir, '.ckbuild'), { recursive: true, force: true });
  rmSync(join(dir, 'experiments', 'local.manifest.json'), { force: true });
}
