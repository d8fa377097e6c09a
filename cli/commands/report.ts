/** `ckbuild report <experiment>`: results.csv, summary.md and report.html from the manifest and the runs' outputs. */
import { resolve } from 'node:path';
import { writeReport } from '../../core/report/index.js';
import { ruleRegistry } from '../../rules/index.js';
import { type ParsedArgs, flag, UsageError, value } from '../args.js';
import { planFile } from '../load.js';
import { displayPath, dim, out, outJson, renderDiagnostics } from '../output.js';

export async function reportCommand(args: ParsedArgs): Promise<number> {
  const [file, ...rest] = args.positionals;
  if (!file || rest.length > 0) throw new UsageError('usage: ckbuild report <experiment.yaml> [--report-dir DIR] [--json]');
  const result = await planFile(file);
  if (!result.plan) {
    renderDiagnostics(result.diagnostics);
    return 2;
  }
  if (result.diagnostics.length > 0 && !flag(args, '--json')) renderDiagnostics(result.diagnostics);
  const dir = value(args, '--report-dir');
  const report = await writeReport(result.plan, ruleRegistry, dir === undefined ? {} : { dir: resolve(dir) });
  const rows = report.results.rows;
  const succeeded = rows.filter((row) => row.status === 'succeeded').length;
  if (flag(args, '--json')) {
    outJson({ dir: displayPath(report.dir), files: report.files.map((f) => ({ path: displayPath(f.path), bytes: f.bytes })), runs: rows.length, succeeded, primary_metric: report.results.primary?.name ?? null, notes: rows.filter((row) => row.note).map((row) => ({ run: row.run, note: row.note })) });
    return 0;
  }
  out(`${report.results.experiment}: report of ${rows.length} runs (${succeeded} succeeded) in ${displayPath(report.dir)}`);
  for (const written of report.files) out(`  ${displayPath(written.path)} ${dim(`(${written.bytes.toLocaleString('en')} bytes)`)}`);
  const notes = rows.filter((row) => row.status === 'succeeded' && row.note);
  if (notes.length > 0) out(dim(`${notes.length} run(s) have a note on their metrics (summary.md, "Notes on metrics")`));
  return 0;
}
