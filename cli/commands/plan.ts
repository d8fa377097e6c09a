/** `ckbuild plan <experiment>`: the runs, their keys and dependencies, and why each stale one is stale. */
import { estimateRunGpuHours, type RepositoryHistory, repositoryHistory } from '../../core/budget.js';
import { type Plan, type PlannedRun, recordedStatus } from '../../core/plan.js';
import type { RunStatus } from '../../core/manifest.js';
import { ruleRegistry } from '../../rules/index.js';
import { type ParsedArgs, flag, UsageError } from '../args.js';
import { planFile } from '../load.js';
import { bold, cyan, dim, displayPath, green, out, outJson, outJsonWithList, renderDiagnostics, table, yellow } from '../output.js';
import { describeReason, describeState } from '../reasons.js';

/**
 * A run of `plan --json`, as JSON text: the members of a run object in this order, written by
 * hand. `manifestJson` is the plan's manifest as displayed, in JSON, and `runsRoot` its runs root
 * as displayed: worded once per plan rather than once per run (a run directory is a name directly
 * inside the runs root).
 */
function runJsonText(run: PlannedRun, status: RunStatus | undefined, estimatedGpuHours: number, manifestJson: string, runsRoot: string, shared: SharedTexts): string {
  let needs = '{';
  for (const role in run.upstream) needs += `${needs.length > 1 ? ',' : ''}${JSON.stringify(role)}:${JSON.stringify(run.upstream[role]!.id)}`;
  // Its last segment: a run directory is an absolute path without a trailing slash (path.basename,
  // which allows for one, cost ~30 ms at 100,000 runs).
  const name = run.runDir.slice(run.runDir.lastIndexOf('/') + 1);
  const runDir = runsRoot === '.' ? name : `${runsRoot}/${name}`;
  return (
    `{"id":${JSON.stringify(run.id)},"key":${JSON.stringify(run.key)},"name":${JSON.stringify(run.name)},"step":${shared.word(run.step)},"rule":${shared.word(run.rule)}` +
    `,"needs":${needs}},"state":${shared.word(run.state)},"reasons":${shared.reasons(run.reasons)},"status":${status !== undefined ? shared.word(status) : 'null'}` +
    `,"labels":${JSON.stringify(run.labels)},"params":${shared.params(run.params)},"inputs":${shared.inputs(run.inputs)}` +
    `,"run_dir":${JSON.stringify(runDir)},"manifest":${manifestJson},"estimated_gpu_hours":${run.state === 'stale' ? JSON.stringify(estimatedGpuHours) : 'null'}}`
  );
}

/** JSON texts of the members that runs share, by member (see sharedText), and of the few words every run is described by (a step, a rule, a state). */
interface SharedTexts {
  reasons: (value: object) => string;
  params: (value: object) => string;
  inputs: (value: object) => string;
  word: (value: string) => string;
}

function sharedTexts(): SharedTexts {
  const words = new Map<string, string>();
  const word = (value: string): string => {
    let text = words.get(value);
    if (text === undefined) words.set(value, (text = JSON.stringify(value)));
    return text;
  };
  return { reasons: sharedText(), params: sharedText(), inputs: sharedText(), word };
}

/**
 * JSON.stringify, remembering the last few objects written. Runs share their members' objects
 * (every fine-tune of a sweep one table of inputs, every evaluation of a cell its parameters,
 * every new run its reasons), and the runs that share one come together in a plan's order: a
 * 100,000-run plan wrote 30 MB of those again and again (~100 ms). A few slots, not a map of
 * every object: most parameters belong to one run.
 */
function sharedText(slots = 8): (value: object) => string {
  const objects: object[] = [];
  const texts: string[] = [];
  let next = 0;
  return (value) => {
    for (let i = 0; i < objects.length; i++) if (objects[i] === value) return texts[i]!;
    const text = JSON.stringify(value);
    objects[next] = value;
    texts[next] = text;
    next = (next + 1) % slots;
    return text;
  };
}

const estimates = new WeakMap<Plan, Float64Array>();

/**
 * GPU-hours of each stale run in plan.runs' order (0 for the others), estimated once per plan: the
 * table, the JSON and the total read the same figures. An array by position, not a map by id: a
 * fresh plan of 20,000 runs looked each up twice (12–23 ms of map building and lookups).
 */
function estimatesOf(plan: Plan): Float64Array {
  let hours = estimates.get(plan);
  if (!hours) {
    // Read at the first stale run: the history is every record's (a plan with nothing stale, its
    // 20,000 recorded runs up to date, parsed an indexed manifest in full for it, ~0.4 s).
    let history: RepositoryHistory | undefined;
    hours = new Float64Array(plan.runs.length);
    // Rounded as displayed; runs one after another mostly share their estimate, rounded once (a
    // loop, not Float64Array.from's callback: 113 -> 96 ms of a 100,000-run plan, profiled).
    let estimate = NaN;
    let rounded = 0;
    for (let i = 0; i < plan.runs.length; i++) {
      const run = plan.runs[i]!;
      if (run.state !== 'stale') continue;
      const next = estimateRunGpuHours(run, plan, ruleRegistry.get(run.rule)!, (history ??= repositoryHistory(plan)));
      if (next !== estimate) rounded = Number((estimate = next).toFixed(4));
      hours[i] = rounded;
    }
    estimates.set(plan, hours);
  }
  return hours;
}

const totalOf = (hours: Float64Array): number => hours.reduce((sum, each) => sum + each, 0);

/** GPU-hours the stale runs would use, and the budget they are held to: what `ckbuild plan` prints under its header. */
export function computeLine(plan: Plan): string | undefined {
  const stale = plan.runs.filter((run) => run.state === 'stale');
  if (stale.length === 0) return undefined;
  const hours = totalOf(estimatesOf(plan));
  const protocol = plan.experiment.document.protocol;
  const price = plan.local.gpu_hour_cost;
  if (hours === 0 && protocol?.budget_gpu_hours === undefined && protocol?.budget_dollars === undefined) return undefined; // CPU-only steps: nothing to say
  const budget = [protocol?.budget_gpu_hours !== undefined ? `budget ${protocol.budget_gpu_hours} GPU-hours` : '', protocol?.budget_dollars !== undefined ? `budget $${protocol.budget_dollars}` : ''].filter(Boolean).join(', ');
  const cost = price !== undefined ? ` ≈ $${(hours * price).toFixed(2)}` : '';
  return `estimated ${hours.toFixed(2)} GPU-hours${cost} for the ${stale.length} stale run(s)${budget ? ` (${budget})` : ''}; see docs/budgets.md for the formula`;
}

export function counts(runs: readonly PlannedRun[]): Record<string, number> {
  const result: Record<string, number> = { total: runs.length, stale: 0, 'up-to-date': 0, 'in-progress': 0 };
  for (const run of runs) result[run.state] = (result[run.state] ?? 0) + 1;
  return result;
}

export async function planCommand(args: ParsedArgs): Promise<number> {
  const [file, ...rest] = args.positionals;
  if (!file || rest.length > 0) throw new UsageError('usage: ckbuild plan <experiment.yaml> [--json] [--explain]');
  const result = await planFile(file);
  const json = flag(args, '--json');
  if (!result.plan) {
    if (json) outJson({ file, ok: false, diagnostics: result.diagnostics });
    else renderDiagnostics(result.diagnostics);
    return 2;
  }
  const plan = result.plan;
  if (json) {
    const hours = estimatesOf(plan);
    const estimated = totalOf(hours);
    const manifestJson = JSON.stringify(displayPath(plan.manifestPath));
    const runsRoot = displayPath(plan.runsRoot);
    const shared = sharedTexts();
    const runs = (function* () {
      for (const [i, run] of plan.runs.entries()) yield runJsonText(run, recordedStatus(plan, run), hours[i]!, manifestJson, runsRoot, shared);
    })();
    outJsonWithList({ file, ok: true, experiment: plan.experiment.document.experiment_name, counts: counts(plan.runs), estimated_gpu_hours: Number(estimated.toFixed(4)), runs: [], diagnostics: result.diagnostics }, 'runs', runs);
    return 0;
  }
  if (result.diagnostics.length > 0) renderDiagnostics(result.diagnostics);
  printPlan(plan, flag(args, '--explain'));
  return 0;
}

export function printPlan(plan: Plan, explain: boolean): void {
  const c = counts(plan.runs);
  out(`${bold(plan.experiment.document.experiment_name)}: ${c.total} runs — ${c.stale} stale, ${c['up-to-date']} up to date${c['in-progress'] ? `, ${c['in-progress']} in progress` : ''}  ${dim(`(${displayPath(plan.experiment.file)})`)}`);
  const compute = computeLine(plan);
  if (compute) out(dim(compute));
  out();
  const rows = plan.runs.map((run) => {
    const state = run.state === 'up-to-date' ? green('up to date') : run.state === 'in-progress' ? cyan(describeState(run)) : yellow(explain ? 'stale' : truncate(describeState(run), 70));
    const needs = Object.values(run.upstream).map((u) => u.id);
    return [run.step, run.id, run.name, run.key.slice(0, 12), needs.length ? needs.join(', ') : '-', state];
  });
  for (const line of table(['STEP', 'RUN', 'NAME', 'KEY', 'NEEDS', 'STATE'], rows)) out(line);
  if (explain) {
    out();
    for (const run of plan.runs.filter((r) => r.state === 'stale')) {
      out(`${bold(run.id)} ${dim(run.key.slice(0, 12))}`);
      for (const reason of run.reasons) out(`  ${describeReason(reason)}`);
    }
  }
}

function truncate(text: string, width: number): string {
  return text.length <= width ? text : text.slice(0, width - 1) + '…';
}
