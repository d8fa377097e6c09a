/**
 * GPU telemetry: the job wrapper runs `nvidia-smi --query-gpu=… --format=csv -l 30` into
 * `metadata/gpu.csv` while a GPU job runs (templates/job.sh.hbs). Summarised into the record as
 * mean, min and max utilisation and memory over every sample of every GPU. Values nvidia-smi cannot
 * give (`[N/A]` on a MIG slice, `[Not Supported]`) are left out of the figures, not read as zero.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { JsonObject } from './json.js';

export const GPU_CSV = join('metadata', 'gpu.csv');

/** The columns ckbuild reads, by their nvidia-smi query name (the header adds units: `memory.used [MiB]`). */
const COLUMNS = { util: 'utilization.gpu', memUsed: 'memory.used', memTotal: 'memory.total', power: 'power.draw' } as const;

export function summariseGpuCsv(text: string): JsonObject | undefined {
  const lines = text.split('\n').map((line) => line.trim()).filter(Boolean);
  const header = lines[0]?.split(',').map((cell) => cell.trim().replace(/\s*\[.*\]$/, ''));
  if (!header) return undefined;
  const at = (name: string): number => header.indexOf(name);
  const columns = Object.fromEntries(Object.entries(COLUMNS).map(([field, name]) => [field, at(name)])) as Record<keyof typeof COLUMNS, number>;
  if (columns.util < 0 && columns.memUsed < 0) return undefined;
  const series: Record<keyof typeof COLUMNS, number[]> = { util: [], memUsed: [], memTotal: [], power: [] };
  for (const line of lines.slice(1)) {
    const cells = line.split(',');
    for (const field of Object.keys(COLUMNS) as (keyof typeof COLUMNS)[]) {
      const cell = columns[field] >= 0 ? cells[columns[field]] : undefined;
      const value = cell === undefined ? NaN : Number.parseFloat(cell.trim());
      if (Number.isFinite(value)) series[field].push(value);
    }
  }
  const samples = Math.max(series.util.length, series.memUsed.length);
  if (samples === 0) return { gpu_samples: 0, gpu_util_unavailable: true };
  const summary: JsonObject = { gpu_samples: samples };
  const stats = (prefix: string, values: number[]): void => {
    if (values.length === 0) return;
    summary[`${prefix}_mean`] = round(values.reduce((a, b) => a + b, 0) / values.length);
    summary[`${prefix}_min`] = Math.min(...values);
    summary[`${prefix}_max`] = Math.max(...values);
  };
  stats('gpu_util_pct', series.util);
  stats('gpu_mem_used_mib', series.memUsed);
  if (series.util.length === 0) summary.gpu_util_unavailable = true;
  if (series.memTotal.length > 0) summary.gpu_mem_total_mib = Math.max(...series.memTotal);
  if (series.power.length > 0) summary.gpu_power_mean_w = round(series.power.reduce((a, b) => a + b, 0) / series.power.length);
  return summary;
}

/** The run's telemetry summary, or undefined when its job watched no GPU (no file, or an empty one). */
export function readGpuTelemetry(runDir: string): JsonObject | undefined {
  let text: string;
  try {
    text = readFileSync(join(runDir, GPU_CSV), 'utf8');
  } catch {
    return undefined;
  }
  return summariseGpuCsv(text);
}

const round = (value: number): number => Number(value.toFixed(2));
