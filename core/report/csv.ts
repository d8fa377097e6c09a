/**
 * results.csv: one tidy row per (run, task, epoch), loadable as it is by pandas (`read_csv`) and R
 * (`read.csv`): a header row, RFC 4180 quoting, empty cells for missing values, numbers in their
 * shortest exact form, `\n` line ends.
 */
import type { Json } from '../json.js';
import { metricNames, type Results } from './results.js';

const FIXED = ['run', 'name', 'key', 'step', 'status', 'model', 'task', 'epoch', 'seed'] as const;
const TRAILING = ['gpu_hours', 'elapsed_s', 'note'] as const;

export function resultsCsv(results: Results): string {
  const metrics = metricNames(results.rows);
  const fixed = new Set<string>([...FIXED, ...TRAILING]);
  // A parameter named like a column is param_<name>; a metric named like either (a command step's `seed`) metric_<name>.
  const swept = results.swept.map((name) => (fixed.has(name) ? `param_${name}` : name));
  const taken = new Set<string>([...fixed, ...swept]);
  const metricColumn = (name: string): string => (taken.has(name) ? `metric_${name}` : name);
  const header = [...FIXED, ...swept, ...metrics.map(metricColumn), ...TRAILING];
  const lines = [header.map(cell).join(',')];
  for (const row of results.rows) {
    const fixed: Json[] = [row.run, row.name, row.key, row.step, row.status, row.model, row.task, row.epoch, row.seed];
    const values: Json[] = [...fixed, ...results.swept.map((name) => row.params[name] ?? null), ...metrics.map((name) => row.metrics[name] ?? null), row.gpuHours, row.elapsedS, row.note];
    lines.push(values.map(cell).join(','));
  }
  return `${lines.join('\n')}\n`;
}

function cell(value: Json | undefined): string {
  if (value === null || value === undefined) return '';
  const text = typeof value === 'string' ? value : typeof value === 'object' ? JSON.stringify(value) : String(value);
  return /[",\n\r]/.test(text) || text !== text.trim() ? `"${text.replaceAll('"', '""')}"` : text;
}
