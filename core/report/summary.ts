/**
 * summary.md: the answer to the experiment's question as far as its runs have got, in tables a
 * reader (or a pull request) can take in at once. Deterministic: the same manifest and outputs give
 * the same bytes (no timestamps, stable order, fixed number formatting).
 */
import type { Json } from '../json.js';
import { groupOverSeeds, type GroupStat, type Results, type ResultRow } from './results.js';

export interface ComputeSummary {
  usedGpuHours: number;
  /** GPU-hours the runs without a result would need (core/budget.ts estimates). */
  remainingGpuHours: number;
  remainingRuns: number;
  budgetGpuHours?: number;
  budgetDollars?: number;
  gpuHourCost?: number;
}

export function summaryMarkdown(results: Results, compute: ComputeSummary): string {
  const out: string[] = [`# ${results.experiment}`, ''];
  if (results.question) out.push(`**Question.** ${text(results.question)}`, '');
  out.push(...design(results), ...status(results), ...training(results), ...evaluation(results), ...baseVersusFinetuned(results), ...best(results), ...incomplete(results), ...computeSection(compute), ...notes(results));
  return `${out.join('\n').trimEnd()}\n`;
}

/**
 * Four significant digits, no trailing zeros: 0.9, 0.8667, 12.06, 1e-5 (a learning rate keeps its
 * value), and whole numbers as they are.
 */
export function formatNumber(value: number): string {
  return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(4)));
}

/**
 * A value as markdown text: markdown's own characters escaped (a prompt or a note is shown, never
 * interpreted: no link, no image, no emphasis), and line breaks folded, so a table row stays a row.
 */
export function text(value: Json | undefined): string {
  if (value === null || value === undefined) return '—';
  if (typeof value === 'number') return formatNumber(value);
  const raw = typeof value === 'string' ? value : JSON.stringify(value);
  return raw.replace(/\r?\n/g, ' ⏎ ').replace(/[\\`*_{}[\]()<>#+!|~]/g, (c) => `\\${c}`);
}

function table(header: string[], rows: string[][]): string[] {
  return [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((row) => `| ${row.join(' | ')} |`), ''];
}

function design(results: Results): string[] {
  const finetunes = results.rows.filter((row) => row.step === 'finetune');
  const lines = ['## Design', ''];
  if (results.swept.length === 0) lines.push('- Nothing is swept: one configuration.');
  for (const name of results.swept) {
    const values = [...new Set(finetunes.map((row) => JSON.stringify(row.params[name] ?? null)))].map((v) => text(JSON.parse(v) as Json));
    lines.push(`- \`${name}\` ∈ {${values.join(', ')}}`);
  }
  lines.push(`- Seeds: ${results.seeds.length === 0 ? '—' : results.seeds.join(', ')}${results.seeds.length === 1 ? ' (one seed: no spread over seeds)' : ''}`);
  const tasks = [...new Set(results.rows.filter((row) => row.task).map((row) => row.task))];
  if (tasks.length > 0) lines.push(`- Tasks: ${tasks.map(text).join(', ')}`);
  const steps = new Map<string, number>();
  for (const row of results.rows) steps.set(row.step, (steps.get(row.step) ?? 0) + 1);
  lines.push(`- Runs: ${[...steps].map(([step, n]) => `${n} ${step}`).join(', ')}`, '');
  return lines;
}

function status(results: Results): string[] {
  const counts = new Map<string, number>();
  for (const row of results.rows) counts.set(row.status, (counts.get(row.status) ?? 0) + 1);
  const done = counts.get('succeeded') ?? 0;
  return ['## Status', '', `${done} of ${results.rows.length} runs succeeded.`, '', ...table(['status', 'runs'], [...counts].sort((a, b) => a[0].localeCompare(b[0])).map(([name, n]) => [name, String(n)]))];
}

function training(results: Results): string[] {
  const rows = results.rows.filter((row) => row.step === 'finetune');
  if (rows.length === 0) return [];
  const header = ['run', ...results.swept.map((name) => `\`${name}\``), 'seed', 'status', 'final loss', 'min loss', 'val loss', 'steps', 'tokens/s/GPU', 'GPU-hours'];
  const body = rows.map((row) => [
    `\`${row.run}\``,
    ...results.swept.map((name) => text(row.params[name])),
    text(row.seed),
    row.status,
    text(row.metrics.final_loss),
    text(row.metrics.min_loss),
    text(row.metrics.val_loss),
    text(row.metrics.steps),
    text(row.metrics.mean_tokens_per_second_per_gpu ?? row.metrics.tokens_per_second_per_gpu),
    text(row.gpuHours),
  ]);
  return ['## Training', '', ...table(header, body)];
}

function meanStd(group: GroupStat): string {
  return group.std === null ? formatNumber(group.mean) : `${formatNumber(group.mean)} ± ${formatNumber(group.std)}`;
}

function evaluation(results: Results): string[] {
  const primary = results.primary;
  if (!primary || !results.rows.some((row) => row.step === 'evaluate')) return [];
  const groups = groupOverSeeds(results.rows.filter((row) => row.step === 'evaluate'), primary.name, results.swept);
  if (groups.length === 0) return ['## Evaluation', '', `No evaluation recorded \`${primary.name}\` yet.`, ''];
  const header = ['task', 'epoch', 'model', ...results.swept.map((name) => `\`${name}\``), `${primary.name} (mean ± std)`, 'seeds'];
  const body = groups.map((group) => [text(group.task), text(group.epoch), text(group.model), ...results.swept.map((name) => text(group.params[name])), meanStd(group), String(group.values.length)]);
  return ['## Evaluation', '', `\`${primary.name}\` over seeds, grouped by what varies (${primary.higherIsBetter ? 'higher' : 'lower'} is better).`, '', ...table(header, body)];
}

/** Per task: the base model against the fine-tunes (their best group and their mean), at each task's last evaluated epoch. */
function baseVersusFinetuned(results: Results): string[] {
  const primary = results.primary;
  if (!primary) return [];
  const groups = groupOverSeeds(results.rows.filter((row) => row.step === 'evaluate'), primary.name, results.swept);
  const tasks = [...new Set(groups.map((group) => group.task))];
  const body: string[][] = [];
  for (const task of tasks) {
    const base = groups.find((group) => group.task === task && group.model === 'base');
    const tuned = lastEpoch(groups.filter((group) => group.task === task && group.model !== 'base'));
    if (!base && tuned.length === 0) continue;
    const best = bestOf(tuned, primary.higherIsBetter);
    const mean = tuned.length > 0 ? tuned.reduce((sum, group) => sum + group.mean, 0) / tuned.length : undefined;
    const delta = best && base ? best.mean - base.mean : undefined;
    body.push([text(task), base ? meanStd(base) : '—', best ? `${meanStd(best)} (${describeGroup(best, results.swept)})` : '—', mean === undefined ? '—' : formatNumber(mean), delta === undefined ? '—' : `${delta >= 0 ? '+' : ''}${formatNumber(delta)}`]);
  }
  if (body.length === 0) return [];
  return ['## Base model versus fine-tuned', '', `\`${primary.name}\` at each fine-tune's last evaluated epoch.`, '', ...table(['task', 'base', 'fine-tuned, best', 'fine-tuned, mean', 'best − base'], body)];
}

function lastEpoch(groups: GroupStat[]): GroupStat[] {
  const last = Math.max(...groups.map((group) => group.epoch ?? 0));
  return groups.filter((group) => (group.epoch ?? 0) === last);
}

function bestOf(groups: GroupStat[], higherIsBetter: boolean): GroupStat | undefined {
  return [...groups].sort((a, b) => (higherIsBetter ? b.mean - a.mean : a.mean - b.mean))[0];
}

export function describeGroup(group: GroupStat, swept: readonly string[]): string {
  const parts = swept.map((name) => `${name}=${text(group.params[name])}`);
  return parts.length > 0 ? parts.join(', ') : 'the one configuration';
}

function best(results: Results): string[] {
  const primary = results.primary;
  if (!primary) return ['## Best configuration', '', 'No metric recorded yet: nothing to rank.', ''];
  const how = primary.declared ? 'declared by the experiment (report.primary_metric)' : 'chosen by ckbuild; declare `report: { primary_metric: <name> }` in the experiment to choose';
  const lines = ['## Best configuration', '', `Ranked by \`${primary.name}\`, ${primary.higherIsBetter ? 'higher' : 'lower'} is better (${how}).`, ''];
  const evaluated = results.rows.some((row) => row.step === 'evaluate' && typeof row.metrics[primary.name] === 'number');
  const source = evaluated ? results.rows.filter((row) => row.step === 'evaluate' && row.model !== 'base') : results.rows.filter((row) => row.step === 'finetune');
  const groups = groupOverSeeds(source, primary.name, results.swept);
  if (groups.length === 0) return [...lines, `No run recorded \`${primary.name}\` yet.`, ''];
  const tasks = [...new Set(groups.map((group) => group.task))];
  for (const task of tasks) {
    const winner = bestOf(lastEpoch(groups.filter((group) => group.task === task)), primary.higherIsBetter)!;
    const where = task ? ` on ${text(task)}${winner.epoch !== null ? ` (epoch ${winner.epoch})` : ''}` : '';
    lines.push(`- ${describeGroup(winner, results.swept)}${where}: ${meanStd(winner)} over ${winner.values.length} seed(s)`);
  }
  return [...lines, ''];
}

function incomplete(results: Results): string[] {
  const rows = results.rows.filter((row) => row.status !== 'succeeded');
  if (rows.length === 0) return [];
  return ['## Incomplete and failed runs', '', ...table(['run', 'status', 'why'], rows.map((row) => [`\`${row.run}\``, row.status, text(whyIncomplete(row))]))];
}

function whyIncomplete(row: ResultRow): string {
  if (row.status === 'not run') return 'not built yet (no record of its current key)';
  if (row.status === 'skipped') return row.note ?? 'an upstream run did not succeed';
  return row.note ?? row.status;
}

function computeSection(compute: ComputeSummary): string[] {
  const lines = ['## Compute', ''];
  lines.push(`- Used: ${formatNumber(compute.usedGpuHours)} GPU-hours${compute.gpuHourCost !== undefined ? ` ($${(compute.usedGpuHours * compute.gpuHourCost).toFixed(2)} at $${compute.gpuHourCost}/GPU-hour)` : ''}`);
  if (compute.remainingRuns > 0) lines.push(`- Still to run: ${compute.remainingRuns} run(s), an estimated ${formatNumber(compute.remainingGpuHours)} GPU-hours`);
  const total = compute.usedGpuHours + compute.remainingGpuHours;
  if (compute.budgetGpuHours !== undefined) lines.push(`- Budget: ${compute.budgetGpuHours} GPU-hours; used and estimated together ${formatNumber(total)} (${total > compute.budgetGpuHours ? 'over' : 'within'} budget)`);
  if (compute.budgetDollars !== undefined) {
    lines.push(compute.gpuHourCost === undefined ? `- Budget: $${compute.budgetDollars}, not checked: no gpu_hour_cost is configured` : `- Budget: $${compute.budgetDollars}; used and estimated together $${(total * compute.gpuHourCost).toFixed(2)}`);
  }
  return [...lines, ''];
}

function notes(results: Results): string[] {
  const rows = results.rows.filter((row) => row.status === 'succeeded' && row.note);
  if (rows.length === 0) return [];
  return ['## Notes on metrics', '', ...rows.map((row) => `- \`${row.run}\`: ${text(row.note)}`), ''];
}
