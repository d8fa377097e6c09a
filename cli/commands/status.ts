/** `ckbuild status [experiment…]`: what is running, what failed and why; refreshes from the executor. */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { chooseExecutor } from '../../core/executors/index.js';
import { reconcile } from '../../core/reconcile.js';
import { Recorder } from '../../core/recorder.js';
import type { Json } from '../../core/json.js';
import { FAILED_STATUSES } from '../../core/manifest.js';
import { jobLogFor } from '../../core/jobLog.js';
import type { Plan, PlannedRun } from '../../core/plan.js';
import { ruleRegistry } from '../../rules/index.js';
import { type ParsedArgs, flag, UsageError, value } from '../args.js';
import { planFile, requestedExecutor } from '../load.js';
import { logTail } from '../logTail.js';
import { bold, cyan, dim, displayPath, formatDuration, green, out, outJson, red, renderDiagnostics, table, terminalWidth, yellow } from '../output.js';
import { commitManifest, executorsFor } from './build.js';

export function experimentFiles(positionals: string[]): string[] {
  if (positionals.length > 0) return positionals;
  try {
    return readdirSync('experiments')
      .filter((name) => /\.ya?ml$/.test(name))
      .sort()
      .map((name) => join('experiments', name));
  } catch {
    throw new UsageError('usage: ckbuild status [experiment.yaml…] (no experiments/ folder here)');
  }
}

/**
 * `--json` has one shape whatever the number of files: `{ ok, counts, runs, experiments }`, where
 * `runs` lists every run of every file (each with its `experiment` and `file`), `counts` tallies
 * them by status, and `experiments` has one entry per file (with its diagnostics when it does not plan).
 */
export interface StatusJson {
  ok: boolean;
  counts: Record<string, number>;
  runs: Json[];
  experiments: Array<{ file: string; experiment: string | null; ok: boolean; counts: Record<string, number>; diagnostics: Json[] }>;
}

export async function statusCommand(args: ParsedArgs): Promise<number> {
  const files = experimentFiles(args.positionals);
  const json = flag(args, '--json');
  const report: StatusJson = { ok: true, counts: {}, runs: [], experiments: [] };
  let exit = 0;
  let first = true;
  for (const file of files) {
    const result = await planFile(file);
    if (!result.plan) {
      if (json) report.experiments.push({ file, experiment: null, ok: false, counts: {}, diagnostics: result.diagnostics as unknown as Json[] });
      else renderDiagnostics(result.diagnostics);
      report.ok = false;
      exit = 2;
      continue;
    }
    const executors = executorsFor(chooseExecutor(requestedExecutor(value(args, '--executor')), result.plan.local, result.plan.experiment.document), result.plan);
    const recorder = new Recorder(result.plan, ruleRegistry, () => new Date());
    const { plan, findings } = await reconcile(result.plan, executors, recorder);
    await executors.primary.close();
    recorder.persist(true);
    const outcomes = new Map(findings.flatMap((finding) => (finding.kind === 'finished' ? [[finding.run.id, finding.state.status] as const] : [])));
    await commitManifest(plan, { outcomes, manifestChanged: recorder.changed }, flag(args, '--no-commit'));
    if (json) {
      const part = statusJson(plan, file);
      report.experiments.push({ file, experiment: part.experiment, ok: true, counts: part.counts, diagnostics: [] });
      report.runs.push(...part.runs);
      for (const [status, n] of Object.entries(part.counts)) report.counts[status] = (report.counts[status] ?? 0) + n;
    } else {
      if (!first) out();
      printStatus(plan);
    }
    first = false;
  }
  if (json) outJson(report);
  return exit;
}

function statusOf(run: PlannedRun): string {
  if (run.state === 'up-to-date') return 'succeeded';
  if (run.record && run.record.status !== 'planned') return run.record.status;
  return run.reasons.some((r) => r.kind === 'changed') ? 'changed' : 'not run';
}

function keyMetric(run: PlannedRun): string {
  const metrics = run.record?.metrics;
  if (!metrics) return '';
  // The metric inspect leads with, else an accuracy, else the final loss.
  const headline = typeof metrics.headline === 'string' && typeof metrics[metrics.headline] === 'number' ? metrics.headline : undefined;
  const preferred = headline ?? Object.keys(metrics).find((k) => /accuracy/.test(k)) ?? ('final_loss' in metrics ? 'final_loss' : undefined) ?? Object.keys(metrics).find((k) => /loss/.test(k)) ?? Object.keys(metrics)[0];
  if (!preferred) return '';
  const valueOf = metrics[preferred];
  return typeof valueOf === 'number' ? `${preferred}=${Number(valueOf.toPrecision(4))}` : `${preferred}=${String(valueOf)}`;
}

/** Where a run that did not succeed left its log, when it is on this machine. */
function failedRunLog(run: PlannedRun): string | undefined {
  if (!run.record || !FAILED_STATUSES.has(run.record.status)) return undefined;
  const log = jobLogFor(run.runDir, run.record.job_id);
  return existsSync(log) ? log : undefined;
}

/** Failed runs whose log tail is shown under the table; the rest name their log only. */
const TAILS_SHOWN = 5;

function statusJson(plan: Plan, file: string): { experiment: string; counts: Record<string, number>; runs: Json[] } {
  const counts: Record<string, number> = {};
  const experiment = plan.experiment.document.experiment_name;
  const runs = plan.runs.map((run) => {
    const status = statusOf(run);
    counts[status] = (counts[status] ?? 0) + 1;
    return {
      experiment,
      file,
      id: run.id,
      name: run.name,
      key: run.key,
      step: run.step,
      labels: run.labels,
      status,
      detail: run.record?.detail ?? null,
      log: failedRunLog(run) ?? null,
      job_id: run.record?.job_id ?? null,
      executor: run.record?.executor ?? null,
      elapsed_s: run.record?.elapsed_s ?? null,
      metrics: run.record?.metrics ?? null,
      metrics_note: run.record?.metrics_note ?? null,
    } as unknown as Json;
  });
  return { experiment, counts, runs };
}

/**
 * One row per run, fitted to the terminal's width. A run's explanation (why it failed, why it is
 * blocked) is never squeezed into the STATUS column: rows get a note number, and the notes follow
 * the table, each on lines of its own.
 */
function printStatus(plan: Plan): void {
  const notes: string[] = [];
  let tails = 0;
  const rows = plan.runs.map((run) => {
    const status = statusOf(run);
    const painted = status === 'succeeded' ? green(status) : ['running', 'queued', 'submitted'].includes(status) ? cyan(status) : status === 'not run' || status === 'changed' ? dim(status) : red(status);
    const varying = Object.entries(run.labels)
      .filter(([k]) => k !== 'trial_id')
      .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
      .join(' ');
    let marker = '';
    if (run.record?.detail && status !== 'succeeded') {
      // Why it failed, then where to look: the log's path and, for the first few, its last lines.
      const log = failedRunLog(run);
      const tail = log && tails++ < TAILS_SHOWN ? logTail(log, 5) : [];
      const logNote = log ? `\n    log: ${displayPath(log)}${tail.length > 0 ? ` (last ${tail.length} lines)` : ''}${tail.map((line) => `\n    │ ${line}`).join('')}` : '';
      notes.push(`[${notes.length + 1}] ${run.id} ${dim(run.name)}: ${status}: ${run.record.detail}${logNote}`);
      marker = dim(` [${notes.length}]`);
    } else if (run.record?.metrics_note && status === 'succeeded') {
      notes.push(`[${notes.length + 1}] ${run.id} ${dim(run.name)}: metrics: ${run.record.metrics_note}`);
      marker = dim(` [${notes.length}]`);
    }
    return [run.name, run.key.slice(0, 12), run.step, varying, painted + marker, formatDuration(run.record?.elapsed_s), keyMetric(run)];
  });
  out(bold(plan.experiment.document.experiment_name));
  for (const line of table(['NAME', 'KEY', 'STEP', 'PARAMETERS', 'STATUS', 'TIME', 'METRIC'], rows)) out(line);
  const counts = new Map<string, number>();
  for (const run of plan.runs) counts.set(statusOf(run), (counts.get(statusOf(run)) ?? 0) + 1);
  for (const line of wrap([...counts.entries()].map(([s, n]) => `${n} ${s}`).join(', ') + ` — ${plan.runs.length} runs`, terminalWidth(), '  ')) out(line);
  if (notes.length > 0) {
    out();
    for (const note of notes) {
      const [summary = '', ...logLines] = note.split('\n');
      for (const line of wrap(summary, terminalWidth(), '    ')) out(line);
      // The path wraps like any note; log lines are cut to the width (the whole log: `ckbuild log`).
      for (const line of logLines) {
        if (!line.startsWith('    │')) {
          const text = line.trimStart();
          const pad = line.slice(0, line.length - text.length);
          for (const part of wrap(text, terminalWidth() - pad.length, '  ')) out(dim(pad + part));
        }
        else out(dim(line.length > terminalWidth() ? `${line.slice(0, terminalWidth() - 1)}…` : line));
      }
    }
  }
  if (plan.runs.some((run) => run.record && ['failed', 'oom', 'timeout', 'diverged', 'blocked'].includes(run.record.status))) {
    for (const line of wrap('rerun `ckbuild <experiment>` to retry what did not succeed (and what depends on it)', terminalWidth(), '  ')) out(yellow(line));
  }
}

/** Word-wraps a line to `width`, continuation lines indented. */
export function wrap(text: string, width: number, indent: string): string[] {
  const lines: string[] = [];
  let current = '';
  const visible = (t: string): number => t.replace(/\u001b\[[0-9;]*m/g, '').length;
  for (const word of text.split(' ')) {
    const candidate = current === '' ? word : `${current} ${word}`;
    if (visible(candidate) > width && current.trim() !== '') {
      lines.push(current);
      current = indent + word;
    } else current = candidate;
  }
  if (current !== '') lines.push(current);
  return lines;
}
