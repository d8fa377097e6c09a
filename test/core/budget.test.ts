/**
 * GPU-hour estimates (docs/budgets.md): a fine-tune is priced by the model table until a run of the
 * same model has finished anywhere in the repository; then by the throughput that run measured.
 * Driven through `ckbuild plan --json` in a real project.
 */
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { test } from 'node:test';
import { findModel } from '../../rules/torchtune/models.js';
import { DATASET_BYTES_PER_TOKEN } from '../../rules/torchtune/metrics.js';
import { TempProject } from '../helpers/project.js';

const EXPERIMENT = ['version: "1.0"', 'experiment_name: priced', 'dataset: { path: data/words.json, format: json }', 'config:', '  base_model: Llama-3.2-1B-Instruct', '  epochs: 2', 'resources:', '  finetune: { gpus: 2 }', ''].join('\n');

interface PlannedJson {
  estimated_gpu_hours: number;
  runs: Array<{ id: string; step: string; params: { epochs: number; max_seq_len: number }; estimated_gpu_hours: number | null }>;
}

/** A fine-tune that finished earlier: 1 GPU (or none), its dataset of `bytes`, `elapsed` seconds. */
function finishedRecord(base_model: string, method: string, elapsed: number, recordedAt: string, bytes = 400_000, gpus = 1): Record<string, unknown> {
  return {
    key: `k${elapsed}${method}${base_model}${gpus}`.padEnd(64, '0'),
    id: 'finetune/default',
    name: 'earlier-run',
    step: 'finetune',
    rule: 'torchtune',
    rule_version: 1,
    scheme: 1,
    status: 'succeeded',
    recorded_at: recordedAt,
    run_dir: 'runs/x',
    params: { base_model, method, epochs: 1 },
    inputs: { dataset: { path: 'data/old.json', sha256: 'a'.repeat(64), size: bytes } },
    upstream: {},
    labels: {},
    elapsed_s: elapsed,
    gpu_hours: (elapsed * gpus) / 3600,
    // What torchtune logged (trained tokens only): not what calibrates, since the estimate counts all tokens.
    metrics: { mean_tokens_per_second_per_gpu: 5, steps: 10 },
  };
}

test('a fine-tune is estimated from dataset size, epochs and GPUs, then calibrated by how long earlier runs of its model took', () => {
  const project = new TempProject();
  const examples = Array.from({ length: 2000 }, (_, i) => ({ input: `word${i}`, output: `Word${i}` }));
  project.write('data/words.json', JSON.stringify({ train: examples, test: examples.slice(0, 10) }));
  project.write('experiments/priced.yaml', EXPERIMENT);
  const plan = (): PlannedJson => {
    const result = project.run(['plan', 'experiments/priced.yaml', '--json']);
    assert.equal(result.code, 0, result.stderr);
    return JSON.parse(result.stdout) as PlannedJson;
  };
  const bytes = statSync(project.path('data/words.json')).size;
  const model = findModel('Llama-3.2-1B-Instruct')!;
  const expected = (speed: number, epochs: number): number => {
    const tokens = bytes / DATASET_BYTES_PER_TOKEN; // smaller than 10,000 × max_seq_len: the dataset's size decides
    const seconds = (tokens * epochs) / (speed * 2) + 120 + 10 * model.paramsB;
    return Math.round(((seconds * 2) / 3600) * 10_000) / 10_000;
  };

  const before = plan();
  const finetune = before.runs.find((run) => run.step === 'finetune')!;
  assert.equal(finetune.params.epochs, 2);
  assert.equal(finetune.estimated_gpu_hours, expected(20_000 / model.paramsB, 2), 'the table: 20,000 / params_B tokens/s/GPU');
  assert.equal(before.estimated_gpu_hours, finetune.estimated_gpu_hours);

  // Another experiment of the repository finished fine-tunes of this model (and one of another model, and a QLoRA one).
  project.write(
    'experiments/earlier.manifest.json',
    JSON.stringify({
      version: 1,
      experiment: 'earlier',
      experiment_file: 'earlier.yaml',
      runs: [
        finishedRecord('Llama-3.2-1B-Instruct', 'lora', 400, '2026-11-01T00:00:00Z'),
        finishedRecord('Llama-3.2-1B-Instruct', 'lora', 600, '2026-11-02T00:00:00Z'),
        finishedRecord('Llama-3.2-1B-Instruct', 'lora', 900, '2026-11-03T00:00:00Z'),
        finishedRecord('Llama-3.1-8B-Instruct', 'lora', 50, '2026-11-04T00:00:00Z'),
        finishedRecord('Llama-3.2-1B-Instruct', 'qlora', 10, '2026-11-05T00:00:00Z'),
        finishedRecord('Llama-3.2-1B-Instruct', 'lora', 5, '2026-11-06T00:00:00Z', 400_000, 0),
      ],
    }),
  );
  // The median of the three 1B LoRA GPU runs took 600 s for 400,000 bytes (100,000 tokens) on 1 GPU.
  const overhead = 120 + 10 * model.paramsB;
  const calibrated = 100_000 / (600 - overhead);
  const after = plan().runs.find((run) => run.step === 'finetune')!;
  assert.equal(after.estimated_gpu_hours, expected(calibrated, 2), 'the speed the same model and method took, in the estimate’s own units');
  assert.ok(after.estimated_gpu_hours! > finetune.estimated_gpu_hours!, 'slower than the table said, so more GPU-hours');

  // A damaged manifest beside it is skipped: calibration is never a requirement.
  project.write('experiments/broken.manifest.json', '{ not json');
  assert.equal(plan().runs.find((run) => run.step === 'finetune')!.estimated_gpu_hours, expected(calibrated, 2));
  const text = project.run(['plan', 'experiments/priced.yaml']);
  assert.match(text.stdout, new RegExp(`estimated ${after.estimated_gpu_hours!.toFixed(2)} GPU-hours for the 1 stale run\\(s\\)`));
});
