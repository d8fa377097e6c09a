/**
 * `ckbuild report`: results.csv, summary.md and report.html, written into the report folder
 * (default `<experiment>.report/` next to the manifest) from the plan and the manifest alone. The
 * same manifest and run outputs give byte-identical files: nothing in them depends on the clock,
 * the machine or the order runs finished in. Each file is replaced atomically.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../atomicFile.js';
import { estimateRunGpuHours, repositoryHistory } from '../budget.js';
import type { Plan } from '../plan.js';
import { resolveProjectPath } from '../projectDir.js';
import type { RuleRegistry } from '../experiment/expand.js';
import { drawCharts } from './charts.js';
import { resultsCsv } from './csv.js';
import { reportHtml } from './html.js';
import { collectResults, type Results } from './results.js';
import { type ComputeSummary, summaryMarkdown } from './summary.js';
import { defaultReportDir, reportSettings } from './settings.js';

export { reportAfterBuild } from './settings.js';

export interface ReportFiles {
  dir: string;
  files: { path: string; bytes: number }[];
  results: Results;
}

export function computeSummary(plan: Plan, rules: RuleRegistry): ComputeSummary {
  const history = repositoryHistory(plan);
  let used = 0;
  let remaining = 0;
  let remainingRuns = 0;
  for (const run of plan.runs) {
    used += run.record?.gpu_hours ?? 0;
    // What the experiment still needs is read from the records, not from this checkout's run
    // directories: a fresh clone (no outputs) reports the same as the machine that ran it.
    if (run.state === 'in-progress' || run.record?.status === 'succeeded') continue;
    remainingRuns++;
    const rule = rules.get(run.rule);
    if (rule) remaining += estimateRunGpuHours(run, plan, rule, history);
  }
  const protocol = plan.experiment.document.protocol;
  return { usedGpuHours: used, remainingGpuHours: remaining, remainingRuns, budgetGpuHours: protocol?.budget_gpu_hours, budgetDollars: protocol?.budget_dollars, gpuHourCost: plan.local.gpu_hour_cost };
}

export async function writeReport(plan: Plan, rules: RuleRegistry, options: { dir?: string } = {}): Promise<ReportFiles> {
  const settings = reportSettings(plan);
  const dir = options.dir ?? (settings.dir ? resolveProjectPath(plan.experiment.projectDir, settings.dir) : defaultReportDir(plan));
  const results = collectResults(plan, settings.primary_metric);
  const summary = summaryMarkdown(results, computeSummary(plan, rules));
  const charts = await drawCharts(results);
  const contents: [string, string][] = [
    ['results.csv', resultsCsv(results)],
    ['summary.md', summary],
    ['report.html', reportHtml(results.experiment, results.question, summary, charts)],
  ];
  mkdirSync(dir, { recursive: true });
  const files = contents.map(([name, text]) => {
    const path = join(dir, name);
    writeFileAtomic(path, text);
    return { path, bytes: Buffer.byteLength(text) };
  });
  return { dir, files, results };
}
