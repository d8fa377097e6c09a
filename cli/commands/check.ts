/**
 * `ckbuild check [files…] [--strict] [--json | --format human|json|github]`: for CI. For every
 * experiment (default: each one under experiments/), validates the schema, references, the DAG,
 * renders every run's artifacts in memory and validates them (`bash -n` on each job script; each
 * rendered YAML or JSON config must parse), and checks the budget. Nothing is written into the
 * runs root and nothing runs.
 *
 * `--strict` (what a repository's CI runs) also fails on warnings, and on a manifest that is out of
 * date with its experiment: a run whose key the manifest does not record would be stale, so the
 * results in the manifest do not belong to the file next to it. Freshness is judged from keys
 * alone: run directories (git-ignored, absent in CI) are not looked at.
 *
 * Exit codes: 0 clean, 1 problems found, 2 usage error (no experiments, a file that does not exist,
 * an unknown format).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import { checkBudget } from '../../core/budget.js';
import { type Diagnostic, hasErrors, mergeRepeated } from '../../core/diagnostics.js';
import { renderRunFiles } from '../../core/generate.js';
import { type Plan, type PlannedRun, recordedStatus } from '../../core/plan.js';
import { findProjectDir } from '../../core/projectDir.js';
import { validateAgainstSchema } from '../../core/experiment/validate.js';
import type { JsonObject } from '../../core/json.js';
import { diagnosticAt, parseSourceText } from '../../core/source.js';
import { ruleRegistry } from '../../rules/index.js';
import { type ParsedArgs, flag, UsageError, value } from '../args.js';
import { planFile } from '../load.js';
import { describeReason } from '../reasons.js';
import { displayPath, green, out, outJson, red, renderDiagnostics } from '../output.js';

type Format = 'human' | 'json' | 'github';

interface StaleRun {
  id: string;
  key: string;
  reasons: string[];
}

interface FileReport {
  file: string;
  ok: boolean;
  runs: number;
  diagnostics: Diagnostic[];
  /** With --strict: the runs the manifest does not record under their current key. */
  stale?: StaleRun[];
}

/** Scripts per `bash -n` call; a chunk that fails is checked script by script to name the run. */
const BASH_CHUNK = 64;

export async function checkCommand(args: ParsedArgs): Promise<number> {
  const format: Format = flag(args, '--json') ? 'json' : ((value(args, '--format') as Format | undefined) ?? 'human');
  if (flag(args, '--json') && value(args, '--format') && value(args, '--format') !== 'json') throw new UsageError(`--json and --format ${value(args, '--format')} contradict each other; give one`);
  const strict = flag(args, '--strict');
  const files = args.positionals.length > 0 ? args.positionals : defaultExperiments();
  const missing = files.filter((file) => !existsSync(file));
  if (missing.length > 0) throw new UsageError(`no such file: ${missing.join(', ')}`);

  const reports: FileReport[] = [];
  for (const file of files) reports.push(await checkFile(file, strict));
  const ok = reports.every((r) => r.ok);

  if (format === 'json') outJson({ ok, strict, files: reports });
  else if (format === 'github') {
    for (const report of reports) for (const d of report.diagnostics) out(annotation(d));
    const failed = reports.filter((r) => !r.ok).length;
    out(ok ? `ckbuild check: ${reports.length} experiment(s) ok` : `ckbuild check: ${failed} of ${reports.length} experiment(s) failed`);
  } else {
    for (const report of reports) {
      renderDiagnostics(report.diagnostics);
      out(`${report.ok ? green('ok') : red('FAIL')}  ${displayPath(report.file)}${report.ok ? `: ${report.runs} runs` : ''}`);
    }
  }
  return ok ? 0 : 1;
}

/** Every experiment file under experiments/ (of the working directory, else of the project above it). */
function defaultExperiments(): string[] {
  const candidates = [resolve('experiments'), join(findProjectDir(resolve('.')), 'experiments')];
  const dir = candidates.find((d) => existsSync(d));
  const files = dir ? readdirSync(dir).filter((name) => /\.ya?ml$/i.test(name)).sort().map((name) => join(dir, name)) : [];
  if (files.length === 0) throw new UsageError('no experiments found under experiments/; give the files to check: ckbuild check <experiment.yaml>…');
  return files.map((file) => relative(process.cwd(), file) || file);
}

async function checkFile(file: string, strict: boolean): Promise<FileReport> {
  const result = await planFile(file);
  const diagnostics = [...result.diagnostics];
  let stale: StaleRun[] | undefined;
  if (result.plan) {
    const plan = result.plan;
    diagnostics.push(...checkArtifacts(plan));
    diagnostics.push(...checkBudgetOf(plan));
    if (strict) {
      stale = staleAgainstManifest(plan);
      if (stale.length > 0) diagnostics.push(staleDiagnostic(plan, stale));
    }
  }
  const unique = dedupe(diagnostics);
  const failed = result.plan === undefined || hasErrors(unique) || (strict && unique.length > 0);
  return { file, ok: !failed, runs: result.plan?.runs.length ?? 0, diagnostics: unique, ...(stale ? { stale } : {}) };
}

/** Renders every run in memory: the rule's own diagnostics, then each artifact validated. */
function checkArtifacts(plan: Plan): Diagnostic[] {
  const diagnostics: Diagnostic[] = [];
  const scripts: Array<{ run: PlannedRun; path: string; text: string }> = [];
  for (const run of plan.runs) {
    let files: Map<string, string>;
    const rule = ruleRegistry.get(run.rule)!;
    const schemas = rule.artifactSchemas ?? {};
    try {
      const rendered = renderRunFiles(run, plan, rule);
      diagnostics.push(...rendered.rendered.diagnostics);
      files = rendered.files;
    } catch (error) {
      diagnostics.push(runDiagnostic(plan, run, 'render-failed', `rendering ${run.id} failed: ${(error as Error).message}`));
      continue;
    }
    for (const [path, text] of files) {
      if (path.endsWith('.sh')) scripts.push({ run, path, text });
      else if (/\.ya?ml$/i.test(path)) {
        const errors = parseDocument(text).errors;
        if (errors.length > 0) diagnostics.push(runDiagnostic(plan, run, 'invalid-artifact', `the rendered ${path} is not valid YAML: ${errors[0]!.message.split('\n')[0]}`));
        else if (schemas[path]) diagnostics.push(...artifactSchemaProblems(plan, run, path, text, schemas[path]!));
      } else if (path.endsWith('.json')) {
        try {
          JSON.parse(text);
        } catch (error) {
          diagnostics.push(runDiagnostic(plan, run, 'invalid-artifact', `the rendered ${path} is not valid JSON: ${(error as Error).message}`));
        }
      }
    }
  }
  diagnostics.push(...checkScripts(plan, scripts));
  return diagnostics;
}

/**
 * A rendered config checked against what its framework reads (the rule's artifact schema). What
 * ckbuild renders fits by construction; what does not came from a `base_config`, so the problem
 * is shown at that key (once for all the runs it breaks), naming the key in the rendered file.
 */
function artifactSchemaProblems(plan: Plan, run: PlannedRun, path: string, text: string, schema: JsonObject): Diagnostic[] {
  const { source } = parseSourceText(join(run.runDir, path), text);
  if (!source) return [];
  const at = run.inputs.base_config ? ['config', 'base_config'] : ['config'];
  return validateAgainstSchema(source, source.data, schema).map((problem) =>
    diagnosticAt(plan.experiment.source, at, `the rendered ${path} of \`${run.id}\` does not fit what ${run.rule} reads: ${problem.field || '(top level)'}: ${problem.message} (line ${problem.line} of that file)`, { code: 'invalid-artifact' }),
  );
}

/** `bash -n` on every rendered script, many at a time; a failing chunk is retried one by one. */
function checkScripts(plan: Plan, scripts: Array<{ run: PlannedRun; path: string; text: string }>): Diagnostic[] {
  const diagnostics: Diagnostic[] = [];
  const syntax = (text: string): { ok: boolean; message?: string; unavailable?: boolean } => {
    const result = spawnSync('bash', ['-n'], { input: text, encoding: 'utf8' });
    if (result.error) return { ok: true, unavailable: true };
    return result.status === 0 ? { ok: true } : { ok: false, message: result.stderr.trim().split('\n')[0]?.replace(/^bash: /, '') };
  };
  for (let start = 0; start < scripts.length; start += BASH_CHUNK) {
    const chunk = scripts.slice(start, start + BASH_CHUNK);
    const whole = syntax(chunk.map((s) => `${s.text}\n`).join(''));
    if (whole.unavailable) {
      diagnostics.push({ severity: 'warning', code: 'invalid-artifact', file: plan.experiment.file, line: 0, column: 0, field: '', message: 'bash is not installed here, so the job scripts were not syntax-checked' });
      return diagnostics;
    }
    if (whole.ok) continue;
    for (const script of chunk) {
      const one = syntax(script.text);
      if (!one.ok) diagnostics.push(runDiagnostic(plan, script.run, 'invalid-artifact', `the rendered ${script.path} fails \`bash -n\`: ${one.message ?? 'syntax error'}`));
    }
  }
  return diagnostics;
}

/** The budget, for the runs that have no recorded result: what building this experiment would cost. A warning. */
function checkBudgetOf(plan: Plan): Diagnostic[] {
  const budget = checkBudget(plan, (run) => run.state !== 'in-progress' && recordedStatus(plan, run) !== 'succeeded', ruleRegistry);
  if (!budget.message) return [];
  const field = plan.experiment.document.protocol?.budget_dollars !== undefined && plan.experiment.document.protocol?.budget_gpu_hours === undefined ? 'budget_dollars' : 'budget_gpu_hours';
  // A warning: the experiment is valid, a build refuses to start it unless --force (--strict fails on it).
  const message = budget.over ? `${budget.message}; a build refuses to start them unless --force` : budget.message;
  return [diagnosticAt(plan.experiment.source, ['protocol', field], message, { code: 'over-budget', severity: 'warning' })];
}

/** Runs whose current key the manifest does not record: they would be stale wherever the results are. */
function staleAgainstManifest(plan: Plan): StaleRun[] {
  if (!existsSync(plan.manifestPath) || plan.manifest.size === 0) return [];
  return plan.runs
    .filter((run) => !plan.manifest.has(run.key))
    .map((run) => ({ id: run.id, key: run.key, reasons: run.reasons.filter((r) => r.kind === 'changed' || r.kind === 'new').map(describeReason) }));
}

function staleDiagnostic(plan: Plan, stale: readonly StaleRun[]): Diagnostic {
  const shown = stale.slice(0, 8).map((run) => `${run.id} (${run.reasons.join('; ') || 'new'})`);
  const more = stale.length > shown.length ? `, and ${stale.length - shown.length} more` : '';
  return {
    severity: 'error',
    code: 'stale-manifest',
    file: plan.experiment.file,
    line: 0,
    column: 0,
    field: '',
    message: `the manifest ${displayPath(plan.manifestPath)} is out of date with this experiment: ${stale.length} of ${plan.runs.length} run(s) would be stale: ${shown.join(', ')}${more}. Build it (ckbuild ${displayPath(plan.experiment.file)}) and commit the manifest.`,
  };
}

function runDiagnostic(plan: Plan, run: PlannedRun, code: Diagnostic['code'], message: string): Diagnostic {
  return { severity: 'error', code, file: plan.experiment.file, line: 0, column: 0, field: run.id, message };
}

/** One message per problem: the same diagnostic from several runs (or checks) once. */
const dedupe = mergeRepeated;

const escapeData = (text: string): string => text.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
const escapeProperty = (text: string): string => escapeData(text).replace(/:/g, '%3A').replace(/,/g, '%2C');

/** A GitHub Actions workflow command: `::error file=…,line=…,col=…,title=…::message`. */
export function annotation(d: Diagnostic): string {
  const file = relative(process.cwd(), d.file) || d.file;
  const properties = [`file=${escapeProperty(file)}`];
  if (d.line > 0) properties.push(`line=${d.line}`, `col=${Math.max(1, d.column)}`);
  properties.push(`title=${escapeProperty(`ckbuild ${d.code}`)}`);
  return `::${d.severity === 'error' ? 'error' : 'warning'} ${properties.join(',')}::${escapeData(`${d.field ? `${d.field}: ` : ''}${d.message}`)}`;
}
