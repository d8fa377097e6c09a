/**
 * A finished sweep to report on, without GPUs: a real git project whose experiment (LoRA rank
 * 4 and 8 × seeds 1 and 2, two tasks, base and fine-tuned models) is planned by the real planner,
 * then every run is recorded as its job would have left it. The logs in the run directories are the
 * real frameworks' logs kept from the real tier (torchtune's DiskLogger file, inspect's JSON log),
 * with their numbers changed per run so that the report has something to compare; the metrics are
 * read from them by the rules' own readers, as a finished build would.
 *
 * One fine-tune evaluation failed, one is not built yet, and one evaluation's log is missing.
 */
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeManifest } from '../../core/manifest.js';
import { planExperiment } from '../../core/plan.js';
import { baseRecord, metricFields, readMetricsSafely } from '../../core/records.js';
import { foreignFormats } from '../../core/formats/index.js';
import { ruleRegistry } from '../../rules/index.js';
import { projectRoot } from './paths.js';
import { TempProject } from './project.js';

export const SWEEP_EXPERIMENT = `version: "1.0"
experiment_name: rank-seeds
question: Does a larger LoRA rank help capitalisation beyond 5-letter words?
dataset: { path: data/words.json, format: json }
config:
  base_model: Llama-3.2-1B-Instruct
  lora_rank: 8
  epochs: 1
  prompt: "Capitalize: {input}\\n"
protocol:
  type: grid
  vary: { lora_rank: [4, 8] }
  seeds: [1, 2]
  budget_gpu_hours: 50
evaluation:
  tasks:
    - name: capitalization
      script: tasks/capitalization/inspect_task.py
    - name: capitalization-8L
      task: capitalization
      script: tasks/capitalization/inspect_task.py
  models: [base, finetuned]
resources:
  finetune: { gpus: 1 }
  evaluate: { gpus: 1 }
`;

/** The accuracy a run "measured": rank 8 beats rank 4, seed 2 is a little better, the 8-letter task is harder. */
export function accuracyOf(task: string, rank: number | null, seed: number | null): number {
  if (rank === null) return task === 'capitalization' ? 0.1 : 0.05;
  return Number(((rank === 8 ? 0.8 : 0.6) + (seed === 2 ? 0.04 : 0) - (task === 'capitalization' ? 0 : 0.2)).toFixed(4));
}

export const FAILED_RUN = 'evaluate/capitalization-8L/lora_rank=4,seed=2/epoch0';
export const MISSING_LOG_RUN = 'evaluate/capitalization/lora_rank=4,seed=1/epoch0';
export const UNBUILT_RUN = 'evaluate/capitalization-8L/lora_rank=8,seed=2/epoch0';

export async function finishedSweep(): Promise<TempProject> {
  const project = new TempProject();
  project.write('data/words.json', JSON.stringify({ train: [{ input: 'apple', output: 'Apple' }], test: [{ input: 'berry', output: 'Berry' }] }));
  mkdirSync(project.path('tasks', 'capitalization'), { recursive: true });
  cpSync(join(projectRoot, 'tasks', 'capitalization', 'inspect_task.py'), project.path('tasks', 'capitalization', 'inspect_task.py'));
  project.write('experiments/sweep.yaml', SWEEP_EXPERIMENT);
  const planned = await planExperiment(project.path('experiments', 'sweep.yaml'), { rules: ruleRegistry, foreign: foreignFormats });
  if (!planned.plan) throw new Error(`the sweep does not plan: ${JSON.stringify(planned.diagnostics.slice(0, 3))}`);
  const plan = planned.plan;
  const ids = new Set(plan.runs.map((run) => run.id));
  for (const id of [FAILED_RUN, MISSING_LOG_RUN, UNBUILT_RUN]) if (!ids.has(id)) throw new Error(`the sweep has no run ${id}: ${[...ids].join(', ')}`);
  const disklogger = readFileSync(join(projectRoot, 'test', 'fixtures', 'torchtune', 'real-disklogger.txt'), 'utf8');
  const inspectLog = JSON.parse(readFileSync(join(projectRoot, 'test', 'fixtures', 'inspect', 'real-tiny-base.json'), 'utf8')) as { results: { scores: Array<{ name: string; metrics: Record<string, { value: number }> }> } };
  const at = (minutes: number): string => new Date(Date.UTC(2026, 11, 1, 9, minutes)).toISOString();
  let minute = 0;
  for (const run of plan.runs) {
    if (run.id === UNBUILT_RUN) continue;
    const record = baseRecord(run, plan, at(minute++));
    const rule = ruleRegistry.get(run.rule)!;
    const rank = typeof run.labels.lora_rank === 'number' ? run.labels.lora_rank : null;
    const seed = typeof run.labels.seed === 'number' ? run.labels.seed : null;
    mkdirSync(join(run.runDir, 'outputs', 'logs'), { recursive: true });
    if (run.step === 'finetune') {
      // The real curve, shifted per configuration: a larger rank ends lower.
      const shift = (rank === 8 ? 1 : 0) + (seed === 2 ? 0.25 : 0);
      const log = disklogger.replace(/loss:(\S+)/g, (_, loss: string) => `loss:${(Number(loss) - shift).toFixed(6)}`);
      writeFileSync(join(run.runDir, 'outputs', 'logs', 'log_1796168513.txt'), log);
    } else if (run.step === 'evaluate' && run.id !== MISSING_LOG_RUN) {
      const log = structuredClone(inspectLog);
      log.results.scores[0]!.metrics.accuracy!.value = accuracyOf(String(run.labels.task), rank, seed);
      writeFileSync(join(run.runDir, 'outputs', 'logs', '2026-12-01T09-00-00+00-00_capitalization_x.json'), JSON.stringify(log));
    }
    Object.assign(record, {
      status: run.id === FAILED_RUN ? 'failed' : 'succeeded',
      executor: 'slurm',
      started_at: at(minute),
      finished_at: at(minute + 1),
      elapsed_s: run.step === 'finetune' ? 1800 : 360,
      gpu_hours: run.step === 'finetune' ? 0.5 : 0.1,
    });
    if (run.id === FAILED_RUN) record.detail = 'exit code 1: CUDA error: an illegal memory access was encountered';
    else Object.assign(record, metricFields(readMetricsSafely(rule, run.runDir, run.params)));
    for (const [field, value] of Object.entries(record)) if (value === undefined) delete (record as unknown as Record<string, unknown>)[field];
    plan.manifest.set(run.key, record);
  }
  writeManifest(plan.manifestPath, plan.manifest);
  project.git('add', '-A');
  project.git('commit', '-qm', 'a finished sweep');
  return project;
}
