/**
 * What ckbuild knows about a torchtune run before and after it: the resources its model wants,
 * a GPU-hour estimate for budgets, and the metrics its DiskLogger left behind.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { JsonObject } from '../../core/json.js';
import { type Curve, type EstimateContext, type FinishedRun, type MetricsReading, type Resources, thinCurve } from '../../core/rule.js';
import { findModel } from './models.js';
import { type EstimateParams, readEstimateParams } from './resolved.js';

export function defaultResources(params: EstimateParams): Resources {
  const model = findModel(params.base_model);
  if (!model) return {};
  return { gpus: model.slurm.gpus, mem: model.slurm.mem, cpus_per_task: model.slurm.cpus_per_task };
}

/** Examples per epoch assumed when neither the experiment nor the dataset says (no max_samples, no size): deliberately generous. */
export const ASSUMED_SAMPLES_PER_EPOCH = 10_000;
/** Training tokens per second per GPU for a 1B-parameter model with LoRA (H100, bf16); scales as 1/size. */
const LORA_TOKENS_PER_SECOND_1B = 20_000;
const METHOD_SPEED = { lora: 1, qlora: 0.6, full: 0.5 } as const;
/** Bytes of a JSON dataset per training token: ≈ 4 characters a token, and the JSON around each example. */
export const DATASET_BYTES_PER_TOKEN = 4;

/**
 * GPU-hours, an upper-leaning estimate (documented in docs/budgets.md):
 *
 *   tokens/epoch = the smallest of  dataset bytes / 4   (the dataset's size, read from its input)
 *                                   max_samples × max_seq_len
 *                                   max_steps_per_epoch × batch × accumulation × gpus × max_seq_len
 *                  and 10,000 × max_seq_len when none of them is known
 *   speed        = calibrated: for each earlier run of the same base model and method that
 *                  succeeded on GPUs (in this repository's manifests), its own tokens/epoch ×
 *                  epochs by this same formula, over its recorded (elapsed − overhead) × GPUs; the
 *                  median. Without one: 20,000 / params_B tokens/s per GPU, × 0.6 QLoRA, × 0.5 full
 *   overhead     = 120 + 10 × params_B seconds   (start-up, model load and save)
 *   seconds      = tokens/epoch × epochs / (speed × gpus) + overhead
 *   GPU-hours    = seconds × gpus / 3600
 *
 * Calibrating against recorded durations (not the throughput torchtune logs, which counts only
 * the trained tokens) keeps both sides in one unit, so estimates improve with use: the first run of
 * a model is priced by the table, every later one by what this repository's runs of it took.
 */
export function estimateGpuHours(p: EstimateParams, resources: Resources, context?: EstimateContext): number | undefined {
  const model = findModel(p.base_model);
  if (!model) return undefined;
  const gpus = Math.max(1, resources.gpus ?? model.slurm.gpus);
  const speed = calibratedSpeed(p, context?.history ?? []) ?? (LORA_TOKENS_PER_SECOND_1B / model.paramsB) * METHOD_SPEED[p.method];
  const seconds = (tokensPerEpoch(p, gpus, context?.inputSizes.dataset) * p.epochs) / (speed * gpus) + overheadSeconds(model.paramsB);
  return Math.round(((seconds * gpus) / 3600) * 10_000) / 10_000;
}

/** The tokens one epoch trains, as the estimate counts them. */
export function tokensPerEpoch(p: EstimateParams, gpus: number, datasetBytes: number | undefined): number {
  const caps: number[] = [];
  if (datasetBytes !== undefined) caps.push(datasetBytes / DATASET_BYTES_PER_TOKEN);
  if (p.max_samples !== undefined) caps.push(p.max_samples * p.max_seq_len);
  if (p.max_steps_per_epoch !== undefined) caps.push(p.max_steps_per_epoch * p.batch_size * p.gradient_accumulation * gpus * p.max_seq_len);
  return caps.length > 0 ? Math.min(...caps) : ASSUMED_SAMPLES_PER_EPOCH * p.max_seq_len;
}

const overheadSeconds = (paramsB: number): number => 120 + 10 * paramsB;

/**
 * The median speed (estimated tokens per GPU-second) earlier GPU runs of this base model and
 * method took. Worked out once per history, base model and method: a plan estimates every stale
 * run against the same history, and re-reading all of it per run made a plan of 2,000 new trials
 * beside 2,000 finished ones take 2.1 s instead of 0.4 s (quadratic).
 */
export function calibratedSpeed(p: EstimateParams, history: readonly FinishedRun[]): number | undefined {
  if (history.length === 0) return undefined;
  let known = calibrations.get(history);
  if (!known) calibrations.set(history, (known = new Map()));
  const which = `${p.method}\0${p.base_model}`;
  if (!known.has(which)) known.set(which, medianSpeed(p.base_model, p.method, history));
  return known.get(which);
}

const calibrations = new WeakMap<readonly FinishedRun[], Map<string, number | undefined>>();

function medianSpeed(baseModel: string, method: EstimateParams['method'], history: readonly FinishedRun[]): number | undefined {
  const model = findModel(baseModel);
  if (!model) return undefined;
  const speeds: number[] = [];
  for (const run of history) {
    if (run.params.base_model !== baseModel || (run.params.method ?? 'lora') !== method) continue;
    if (run.elapsed_s === undefined || run.gpu_hours === undefined || run.elapsed_s <= 0 || run.gpu_hours <= 0) continue; // a CPU run prices nothing on GPUs
    const earlier = readEstimateParams(run.params);
    const gpus = Math.max(1, Math.round((run.gpu_hours * 3600) / run.elapsed_s));
    const seconds = Math.max(run.elapsed_s - overheadSeconds(model.paramsB), run.elapsed_s * 0.1);
    const speed = (tokensPerEpoch(earlier, gpus, run.inputSizes?.dataset) * earlier.epochs) / (seconds * gpus);
    if (Number.isFinite(speed) && speed > 0) speeds.push(speed);
  }
  if (speeds.length === 0) return undefined;
  speeds.sort((a, b) => a - b);
  const middle = speeds.length >> 1;
  return speeds.length % 2 === 1 ? speeds[middle]! : (speeds[middle - 1]! + speeds[middle]!) / 2;
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

/** Peak-memory keys torchtune logs on CUDA (training.get_memory_stats, GiB). */
const PEAK_MEMORY_KEYS = ['peak_memory_active', 'peak_memory_alloc', 'peak_memory_reserved'] as const;

/** What a fine-tune's metrics say about the machine it ran on, not about the model. */
export const MEASUREMENTS: readonly string[] = ['tokens_per_second_per_gpu', 'mean_tokens_per_second_per_gpu', ...PEAK_MEMORY_KEYS.map((key) => `${key}_gib`)];

/**
 * The newest DiskLogger file: the loss curve (and the validation loss where the recipe computed
 * it), summarised into scalars, and the curves themselves thinned for the manifest. A missing or
 * unreadable log, or one without a single step, is a note, not an error.
 */
export function readMetrics(runDir: string): MetricsReading {
  const file = newestLog(join(runDir, 'outputs', 'logs'));
  if (!file) return { note: 'no torchtune log (outputs/logs/log_*.txt): the recipe wrote no metrics' };
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    return { note: `cannot read the torchtune log ${relative(runDir, file)}: ${(error as NodeJS.ErrnoException).code ?? 'unreadable'}` };
  }
  const loss: Curve = [];
  const validation: Curve = [];
  const throughputs: number[] = [];
  const peak = new Map<string, number>();
  for (const line of text.split('\n')) {
    const match = STEP_LINE.exec(line.trim());
    if (!match) continue;
    const step = Number(match[1]);
    const values = new Map<string, number>();
    for (const pair of match[2]!.trim().split(/\s+/)) {
      const at = pair.indexOf(':');
      if (at > 0) values.set(pair.slice(0, at), Number(pair.slice(at + 1)));
    }
    const stepLoss = values.get('loss');
    // JSON has no NaN or Infinity: a diverged step is kept as null.
    if (stepLoss !== undefined) loss.push([step, Number.isFinite(stepLoss) ? stepLoss : null]);
    const val = values.get('val_loss');
    if (val !== undefined) validation.push([step, Number.isFinite(val) ? val : null]);
    const tps = values.get('tokens_per_second_per_gpu');
    if (tps !== undefined && Number.isFinite(tps)) throughputs.push(tps);
    for (const key of PEAK_MEMORY_KEYS) {
      const value = values.get(key);
      if (value !== undefined && Number.isFinite(value)) peak.set(key, Math.max(peak.get(key) ?? 0, value));
    }
  }
  if (loss.length === 0) return { note: `the torchtune log ${relative(runDir, file)} has no step with a loss (a run that stopped before its first step, or not a DiskLogger file)` };
  const [steps, finalLoss] = loss.at(-1)!;
  const finite = loss.map(([, y]) => y).filter((y): y is number => y !== null);
  const metrics: JsonObject = { steps, final_loss: finalLoss };
  if (finite.length > 0) metrics.min_loss = Math.min(...finite);
  if (throughputs.length > 0) {
    metrics.tokens_per_second_per_gpu = throughputs.at(-1)!;
    metrics.mean_tokens_per_second_per_gpu = round(throughputs.reduce((a, b) => a + b, 0) / throughputs.length);
  }
  const lastValidation = validation.at(-1);
  if (lastValidation && lastValidation[1] !== null) metrics.val_loss = lastValidation[1];
  for (const [key, value] of peak) metrics[`${key}_gib`] = value;
  if (finalLoss === null || finite.length < loss.length) metrics.non_finite_loss = true;
  const curves: Record<string, Curve> = { loss: thinCurve(loss) };
  if (validation.length > 0) curves.val_loss = thinCurve(validation);
  return { metrics, curves };
}

const round = (value: number): number => Number(value.toFixed(4));
