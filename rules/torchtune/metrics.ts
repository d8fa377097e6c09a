/**
 * What ckbuild knows about a torchtune run before and after it: the resources its model wants,
 * a GPU-hour estimate for budgets, and the metrics its DiskLogger left behind.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { JsonObject } from '../../core/json.js';
import type { Resources } from '../../core/rule.js';
import { findModel } from './models.js';
import type { TuneParams } from './resolved.js';

export function defaultResources(params: TuneParams): Resources {
  const model = findModel(params.base_model);
  if (!model) return {};
  return { gpus: model.slurm.gpus, mem: model.slurm.mem, cpus_per_task: model.slurm.cpus_per_task };
}

/** Examples per epoch assumed when the experiment does not say (no max_samples): deliberately generous. */
export const ASSUMED_SAMPLES_PER_EPOCH = 10_000;
/** Training tokens per second per GPU for a 1B-parameter model with LoRA (H100, bf16); scales as 1/size. */
const LORA_TOKENS_PER_SECOND_1B = 20_000;
const METHOD_SPEED = { lora: 1, qlora: 0.6, full: 0.5 } as const;

/**
 * GPU-hours, a simple upper-leaning estimate:
 *
 *   samples  = max_samples, capped by max_steps_per_epoch × batch × accumulation × gpus;
 *              10,000 per epoch when neither is known
 *   tokens   = samples × max_seq_len × epochs          (as if every example filled max_seq_len)
 *   speed    = 20,000 / params_B tokens/s per GPU      × 0.6 for QLoRA, × 0.5 for full
 *   seconds  = tokens / (speed × gpus) + 120 + 10 × params_B   (start-up, model load and save)
 *   GPU-hours = seconds × gpus / 3600
 *
 * Core calibrates it with the recorded durations of earlier runs.
 */
export function estimateGpuHours(p: TuneParams, resources: Resources): number | undefined {
  const model = findModel(p.base_model);
  if (!model) return undefined;
  const gpus = Math.max(1, resources.gpus ?? model.slurm.gpus);
  const stepCap = p.max_steps_per_epoch === undefined ? Infinity : p.max_steps_per_epoch * p.batch_size * p.gradient_accumulation * gpus;
  const samples = Math.min(p.max_samples ?? (Number.isFinite(stepCap) ? stepCap : ASSUMED_SAMPLES_PER_EPOCH), stepCap);
  const tokens = samples * p.max_seq_len * p.epochs;
  const speed = (LORA_TOKENS_PER_SECOND_1B / model.paramsB) * METHOD_SPEED[p.method];
  const seconds = tokens / (speed * gpus) + 120 + 10 * model.paramsB;
  return Math.round((seconds * gpus) / 3600 * 10_000) / 10_000;
}

/** `Step 12 | loss:1.23 lr:9.5e-05 tokens_per_second_per_gpu:700.1 …` (torchtune/training/metric_logging.py). */
const STEP_LINE = /^Step (\d+) \| (.*)$/;

function newestLog(dir: string): string | undefined {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return undefined;
  }
  // DiskLogger names files log_<unix seconds>.txt: the largest number is the latest run.
  let best: { name: string; stamp: number } | undefined;
  for (const name of names) {
    const match = /^log_(\d+)\.txt$/.exec(name);
    if (!match) continue;
    const stamp = Number(match[1]);
    if (!best || stamp > best.stamp || (stamp === best.stamp && name > best.name)) best = { name, stamp };
  }
  return best && join(dir, best.name);
}

/** The newest DiskLogger file's loss curve, summarised; undefined when there is none. */
export function readMetrics(runDir: string): JsonObject | undefined {
  const file = newestLog(join(runDir, 'outputs', 'logs'));
  if (!file) return undefined;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  let finalLoss: number | undefined;
  let minLoss: number | undefined;
  let steps: number | undefined;
  let throughput: number | undefined;
  let valLoss: number | undefined;
  let nonFinite = false;
  for (const line of text.split('\n')) {
    const match = STEP_LINE.exec(line.trim());
    if (!match) continue;
    const values = new Map<string, number>();
    for (const pair of match[2]!.trim().split(/\s+/)) {
      const at = pair.indexOf(':');
      if (at > 0) values.set(pair.slice(0, at), Number(pair.slice(at + 1)));
    }
    const loss = values.get('loss');
    if (loss !== undefined) {
      steps = Number(match[1]);
      finalLoss = loss;
      if (Number.isFinite(loss)) minLoss = minLoss === undefined ? loss : Math.min(minLoss, loss);
    }
    const tps = values.get('tokens_per_second_per_gpu');
    if (tps !== undefined && Number.isFinite(tps)) throughput = tps;
    const val = values.get('val_loss');
    if (val !== undefined && Number.isFinite(val)) valLoss = val;
  }
  if (finalLoss === undefined || steps === undefined) return undefined;
  const metrics: JsonObject = { steps };
  // JSON has no NaN or Infinity: a diverged run records null and says so.
  if (Number.isFinite(finalLoss)) metrics.final_loss = finalLoss;
  else {
    metrics.final_loss = null;
    nonFinite = true;
  }
  if (minLoss !== undefined) metrics.min_loss = minLoss;
  if (throughput !== undefined) metrics.tokens_per_second_per_gpu = throughput;
  if (valLoss !== undefined) metrics.val_loss = valLoss;
  if (nonFinite) metrics.non_finite_loss = true;
  return metrics;
}
