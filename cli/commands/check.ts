/**
 * `ckbuild check <files…>`: for CI. Validates schema, references, the DAG and the rendered
 * artifacts of every run (in memory: nothing is written, nothing runs), for any number of files.
 */
import { hasErrors, type Diagnostic } from '../../core/diagnostics.js';
import { renderRunFiles } from '../../core/generate.js';
import { ruleRegistry } from '../../rules/index.js';
import { type ParsedArgs, flag, UsageError } from '../args.js';
import { planFile } from '../load.js';
import { displayPath, green, out, red, renderDiagnostics } from '../output.js';

export async function checkCommand(args: ParsedArgs): Promise<number> {
  if (args.positionals.length === 0) throw new UsageError('usage: ckbuild check <experiment.yaml>… [--json]');
  const json = flag(args, '--json');
  const reports: Array<{ file: string; ok: boolean; runs: number; diagnostics: Diagnostic[] }> = [];
  for (const file of args.positionals) {
    const result = await planFile(file);
    const diagnostics = [...result.diagnostics];
    if (result.plan) {
      const plan = result.plan;
      for (const run of plan.runs) {
        try {
          diagnostics.push(...renderRunFiles(run, plan, ruleRegistry.get(run.rule)!).rendered.diagnostics);
        } catch (error) {
          diagnostics.push({ severity: 'error', code: 'render-failed', file: plan.experiment.file, line: 0, column: 0, field: run.id, message: `rendering ${run.id} failed: ${(error as Error).message}` });
        }
      }
    }
    reports.push({ file, ok: !hasErrors(diagnostics) && result.plan !== undefined, runs: result.plan?.runs.length ?? 0, diagnostics });
  }
  if (json) out(JSON.stringify({ ok: reports.every((r) => r.ok), files: reports }, null, 2));
  else {
    for (const report of reports) {
      renderDiagnostics(report.diagnostics);
      out(`${report.ok ? green('ok') : red('FAIL')}  ${displayPath(report.file)}${report.ok ? `: ${report.runs} runs` : ''}`);
    }
  }
  return reports.every((r) => r.ok) ? 0 : 1;
}
