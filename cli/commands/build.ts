/** `ckbuild <experiment>` / `ckbuild build <experiment>`: bring results up to date. */
import { appendFileSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type CrashHook, crashHook, parseCrashSpec } from '../../core/crash.js';
import { checkBudget } from '../../core/budget.js';
import { reportAfterBuild } from '../../core/report/settings.js';
import { build, generateTargets, type BuildResult } from '../../core/build.js';
import { hasErrors } from '../../core/diagnostics.js';
import { runEnvironment } from '../../core/environment.js';
import type { BuildEvent } from '../../core/events.js';
import { chooseExecutor, createExecutor, executorFactory, type ExecutorName, type ExecutorOptions } from '../../core/executors/index.js';
import { environment } from '../environment.js';
import type { Executor } from '../../core/executors/types.js';
import { commitPaths } from '../../core/git.js';
import { LOCAL_CONFIG_FILE } from '../../core/localConfig.js';
import { acquireLock, lockPathFor } from '../../core/lock.js';
import type { RunStatus } from '../../core/manifest.js';
import type { Plan, PlannedRun, PlanOptions } from '../../core/plan.js';
import type { Preread } from '../../core/experiment/preread.js';
import { savePlanBase } from '../../core/planBase.js';
import { type Executors, type Finding, reconcile } from '../../core/reconcile.js';
import { Recorder } from '../../core/recorder.js';
import { selectTargets } from '../../core/targets.js';
import { dataHash, writeUpToDateStamp } from '../../core/upToDate.js';
import { ruleRegistry } from '../../rules/index.js';
import { type ParsedArgs, flag, intValue, UsageError, value, values } from '../args.js';
import { planFile, requestedExecutor } from '../load.js';
import { logTail } from '../logTail.js';
import { bold, cyan, debug, dim, displayPath, err, formatDuration, green, info, isQuiet, isTty, out, red, renderDiagnostics, yellow } from '../output.js';
import { matches, selector } from '../select.js';

/** `preread`: what the no-op check read of the experiment (cli/main.ts), for the planner not to read it again. */
export async function buildCommand(args: ParsedArgs, preread?: Preread): Promise<number> {
  const [file, ...rest] = args.positionals;
  if (!file || rest.length > 0) throw new UsageError('usage: ckbuild [build] <experiment.yaml> [--dry-run] [--only RUN]… [--until STEP] [--force] [--keep-going] [-j N] [--executor local|slurm] [--wait] [--no-commit]');
  const only = values(args, '--only');
  const dryRun = flag(args, '--dry-run');
  const jobs = intValue(args, '-j');
  const crash = crashInjection();
  // Lock first, then plan once: the plan must see what a previous holder of the lock recorded.
  const lock = dryRun ? undefined : acquireLock(lockPathFor(resolve(file)), `ckbuild ${process.argv.slice(2).join(' ')}`);
  if (lock && !lock.acquired && 'unusable' in lock) {
    err(`${red('error')}: ${lock.unusable}`);
    return 2;
  }
  if (lock && !lock.acquired) {
    err(`${red('error')}: another ckbuild is building in this project: pid ${lock.owner.pid} on ${lock.owner.host}, since ${lock.owner.started_at} (${lock.owner.command}). Builds of one project take turns: experiments share runs, and a run must never execute twice.`);
    err(`If that process is gone, remove ${displayPath(lock.path)}.`);
    return 3;
  }
  const controller = new AbortController();
  const onSignal = (): void => {
    if (controller.signal.aborted) {
      // A second Ctrl-C: stop now. Jobs keep running in their own process groups; the next
      // invocation finds them, so nothing is lost.
      err(red('interrupted again: exiting now; running jobs are left to the next invocation'));
      process.exit(130);
    }
    err(yellow('\ninterrupted: stopping running jobs and recording them as cancelled…'));
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const forced = flag(args, '--force') ? (run: PlannedRun) => only.length === 0 || only.some((pattern) => matches(run, pattern)) : undefined;
    const extra: Partial<PlanOptions> = preread ? { preread } : {};
    if (forced) extra.force = forced;
    const planned = await planFile(file, extra);
    if (!planned.plan) {
      renderDiagnostics(planned.diagnostics);
      return 2;
    }
    if (planned.diagnostics.length > 0) renderDiagnostics(planned.diagnostics);
    debugReading(planned.plan, preread);
    // The base the next invocation splices a few edited trials into (core/planBase.ts); a spliced
    // plan leaves the one it was spliced into, which still vouches for every trial it has not seen edited.
    if (!planned.plan.spliced) savePlanBase(planned.plan);
    const select = selector(planned.plan.runs, only, value(args, '--until'));
    if (dryRun) return dryRunBuild(planned.plan, select);

    const executorName = chooseExecutor(requestedExecutor(value(args, '--executor')), planned.plan.local, planned.plan.experiment.document);
    const executors = executorsFor(executorName, planned.plan, jobs);
    const recorder = new Recorder(planned.plan, ruleRegistry, () => new Date(), crash);
    const render = progressRenderer();
    const reconciled = await reconcile(planned.plan, executors, recorder);
    recorder.persist(true);
    reportFindings(reconciled.findings, render);
    const plan = reconciled.plan;
    const budget = checkBudget(plan, (run) => run.state === 'stale' && (select?.(run) ?? true), ruleRegistry);
    if (budget.over && !flag(args, '--force')) {
      await executors.primary.close();
      err(`${red('error')}: ${budget.message}`);
      err('Nothing was submitted. Raise the budget in the experiment, select fewer runs with --only, or pass --force.');
      return 4;
    }
    if (budget.message && budget.over) err(`${yellow('warning')}: ${budget.message} (--force given)`);
    const outcome = await build(reconciled, {
      executors,
      recorder,
      rules: ruleRegistry,
      select,
      environment: () => runEnvironment(plan.experiment.projectDir),
      keepGoing: flag(args, '--keep-going'),
      wait: flag(args, '--wait') || executorName === 'local',
      signal: controller.signal,
      onEvent: render,
      checkout: planned.plan.experiment.projectDir,
      crash,
    });
    await executors.primary.close();
    render.finish();
    if (recorder.failure) {
      err(`${red('error')}: ${recorder.failure}`);
      err('Runs that had started keep their verdicts in their run directories; the next build records them. Free space (or make the folder writable) and rerun.');
      return 2;
    }
    if (outcome.diagnostics.length > 0) renderDiagnostics(outcome.diagnostics);
    if (hasErrors(outcome.diagnostics)) return 2;
    const outcomes = withReconciledOutcomes(reconciled.findings, outcome.outcomes);
    summarise(plan, { ...outcome, outcomes }, executorName);
    const report = reportAfterBuild(plan) && recorder.changed ? await refreshReport(plan.experiment.file) : [];
    crash('before-commit');
    await commitManifest(plan, { outcomes, manifestChanged: recorder.changed, commitIfDirty: true, inFlight: outcome.inFlight, submitted: outcome.submitted, alsoCommit: report }, flag(args, '--no-commit'));
    crash('after-commit');
    if (outcome.upToDate.size === plan.runs.length) stampUpToDate(plan, recorder);
    if (outcome.cancelled || controller.signal.aborted) return 130;
    const failed = [...outcomes.values()].some((status) => status !== 'succeeded' && status !== 'queued' && status !== 'running');
    return failed || outcome.stoppedBy?.kind === 'unavailable' ? 1 : 0;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (lock?.acquired) lock.release();
  }
}

/**
 * Test-only crash injection (README "Guarantees"): CKBUILD_TEST_CRASH_AT=<point>[:<n>] kills this
 * process with SIGKILL at the n-th occurrence of the point; CKBUILD_TEST_CRASH_TRACE=<file> lists
 * the points a build passes. A malformed switch is a usage error, never silently ignored.
 */
/** --verbose: how the experiment was read and planned (what the one-trial-edit path took). */
function debugReading(plan: Plan, preread: Preread | undefined): void {
  const { reread, source } = plan.experiment;
  if (preread?.loaded.source === source) debug('the experiment as the up-to-date check read it (not read again)');
  if (reread) debug(reread.from === reread.to ? 'no trial read again: only comments changed, or trials were removed' : `trials read again alone: protocol.runs[${reread.from}${reread.to - reread.from > 1 ? `…${reread.to - 1}` : ''}]`);
  debug(plan.spliced ? 'spliced into the saved plan: only the edited trials expanded' : 'planned in full');
}

function crashInjection(): CrashHook {
  if (!environment.crashAt && !environment.crashTrace) return () => {};
  const spec = environment.crashAt ? parseCrashSpec(environment.crashAt) : undefined;
  if (typeof spec === 'string') throw new UsageError(spec);
  const trace = environment.crashTrace;
  return crashHook(spec, trace ? (point, n) => appendFileSync(trace, `${point}:${n}\n`) : undefined);
}

/** `--dry-run`: the pipeline stops after generate; nothing is executed or recorded. */
function dryRunBuild(plan: Plan, select: ((run: PlannedRun) => boolean) | undefined): number {
  const generation = generateTargets(plan, selectTargets(plan, select), ruleRegistry);
  if (generation.diagnostics.length > 0) renderDiagnostics(generation.diagnostics);
  if (hasErrors(generation.diagnostics)) return 2;
  const count = generation.runs.size;
  out(`${bold('dry run')}: generated ${count} run director${count === 1 ? 'y' : 'ies'} under ${displayPath(plan.runsRoot)}; nothing was executed`);
  return 0;
}

export function executorOptions(plan: Plan, jobs?: number): ExecutorOptions {
  return { jobs, experiment: plan.experiment.document.experiment_name, environment: process.env, user: environment.user };
}

export function executorsFor(name: ExecutorName, plan: Plan, jobs?: number): Executors {
  const options = executorOptions(plan, jobs);
  const others = new Map<string, Executor | undefined>();
  return {
    primary: createExecutor(name, plan.local, options),
    byName: (other) => {
      if (!others.has(other)) others.set(other, executorFactory(plan.local, options)(other));
      return others.get(other);
    },
  };
}

/** What reconciliation found is part of this build's story: adopted, found finished, unanswerable. */
export function reportFindings(findings: readonly Finding[], render: (event: BuildEvent) => void): void {
  for (const finding of findings) {
    const { run } = finding;
    if (finding.kind === 'adopted' || finding.kind === 'still-running') render({ type: 'adopted', id: run.id, name: run.name, jobId: finding.handle.jobId });
    else if (finding.kind === 'finished') render({ type: 'reconciled', id: run.id, name: run.name, status: finding.state.status, detail: finding.state.detail });
    else render({ type: 'warning', message: `${run.id} is recorded as running on the ${finding.executor} executor, which this ckbuild cannot query` });
  }
}

/** Outcomes of this build: what it ran, plus runs found finished while reconciling (not retried). */
function withReconciledOutcomes(findings: readonly Finding[], outcomes: Map<string, RunStatus>): Map<string, RunStatus> {
  const all = new Map(outcomes);
  for (const finding of findings) if (finding.kind === 'finished' && !all.has(finding.run.id) && finding.state.status === 'succeeded') all.set(finding.run.id, finding.state.status);
  return all;
}

/** Lets the next invocation answer "nothing to do" from file stats alone (core/upToDate.ts). */
function stampUpToDate(plan: Plan, recorder: Recorder): void {
  const outputs: string[] = [];
  for (const run of plan.runs) {
    const recorded = recorder.recordOf(run)?.outputs ?? [];
    if (recorded.length === 0) outputs.push(run.runDir);
    for (const output of recorded) outputs.push(join(run.runDir, output.path));
  }
  const dependencies = [...plan.files, join(plan.experiment.projectDir, LOCAL_CONFIG_FILE)];
  writeUpToDateStamp(plan.experiment.file, dependencies, outputs, plan.runs.length, plan.fileStats, { hashes: plan.hashes.digests(), experimentData: dataHash(plan.experiment.source.data) });
}

export function commitMessage(plan: Plan, outcomes: ReadonlyMap<string, string>): string {
  const tally = new Map<string, number>();
  for (const status of outcomes.values()) tally.set(status, (tally.get(status) ?? 0) + 1);
  const words = [...tally.entries()].sort().map(([status, count]) => `${count} run${count === 1 ? '' : 's'} ${status}`);
  return `${plan.experiment.document.experiment_name}: ${words.length > 0 ? words.join(', ') : 'manifest updated'}`;
}

export interface CommitInput {
  outcomes: ReadonlyMap<string, string>;
  /** Whether the manifest's bytes changed: a build that changed nothing commits nothing. */
  manifestChanged: boolean;
  /** Files written with the manifest that belong in its commit (the refreshed report). */
  alsoCommit?: string[];
  /**
   * Commit the manifest even if this invocation did not change it, when it differs from git (an
   * earlier build died before its commit, or the commit failed); commitPaths does nothing if clean.
   */
  commitIfDirty?: boolean;
  inFlight?: ReadonlyMap<string, string>;
  submitted?: ReadonlySet<string>;
}

/**
 * `report: true`: the report is brought up to date with what this build recorded, and committed
 * with the manifest. Planned afresh, so it reads the records as they are now. A report that cannot
 * be written is a warning: the build's results are safe in the manifest either way.
 */
async function refreshReport(file: string): Promise<string[]> {
  const replanned = await planFile(file);
  if (!replanned.plan) return [];
  try {
    const { writeReport } = await import('../../core/report/index.js');
    const report = await writeReport(replanned.plan, ruleRegistry);
    out(dim(`report: ${displayPath(report.dir)} (results.csv, summary.md, report.html)`));
    return report.files.map((file) => file.path);
  } catch (error) {
    err(`${yellow('warning')}: the report could not be written: ${(error as Error).message}`);
    return [];
  }
}

export async function commitManifest(plan: Plan, outcome: CommitInput, noCommit: boolean): Promise<void> {
  if ((!outcome.manifestChanged && !outcome.commitIfDirty) || noCommit || plan.local.commit === false || !existsSync(plan.manifestPath)) return;
  const touched = new Map<string, string>(outcome.outcomes);
  for (const id of outcome.inFlight?.keys() ?? []) if (outcome.submitted?.has(id)) touched.set(id, 'submitted');
  const result = await commitPaths(plan.experiment.projectDir, [plan.manifestPath, ...(outcome.alsoCommit ?? [])], commitMessage(plan, touched));
  if (result.committed) err(dim(`committed ${displayPath(plan.manifestPath)}: "${result.message}" (${result.commit.slice(0, 8)})`));
  else if (result.reason === 'not-a-repository') err(`${yellow('warning')}: ${displayPath(plan.experiment.projectDir)} is not a git repository; the manifest was written but not committed`);
  else if (result.reason === 'failed') err(`${yellow('warning')}: committing the manifest failed (it is written; commit it yourself): ${result.detail}`);
}

function summarise(plan: Plan, outcome: Pick<BuildResult, 'outcomes' | 'inFlight' | 'upToDate' | 'notStarted' | 'stoppedBy'>, executor: string): void {
  const counts = new Map<string, number>();
  for (const status of outcome.outcomes.values()) counts.set(status, (counts.get(status) ?? 0) + 1);
  const upToDate = plan.runs.filter((run) => run.state === 'up-to-date' && !outcome.outcomes.has(run.id)).length;
  if (outcome.inFlight.size > 0) counts.set(executor === 'slurm' ? 'queued or running' : 'running', outcome.inFlight.size);
  if (outcome.outcomes.size === 0 && outcome.inFlight.size === 0 && outcome.notStarted.length === 0) {
    out(`${green('up to date')}: ${plan.runs.length} runs, nothing to do`);
    return;
  }
  const parts = [...counts.entries()].map(([status, n]) => `${n} ${status}`);
  if (parts.length > 0) out(`${bold(plan.experiment.document.experiment_name)} (${executor}): ${parts.join(', ')}${upToDate ? `, ${upToDate} already up to date` : ''}`);
  if (outcome.inFlight.size > 0) out(dim(`follow them with \`ckbuild status ${displayPath(plan.experiment.file)}\`, or rerun with --wait`));
  const blocked = [...outcome.outcomes.values()].filter((status) => status === 'blocked').length;
  if (blocked > 0) out(yellow(`${blocked} run(s) blocked: their framework is not installed where they ran; install it, or run on a cluster login node (--executor slurm)`));
  if (outcome.notStarted.length === 0) return;
  const count = outcome.notStarted.length;
  const shown = outcome.notStarted.slice(0, 5).join(', ') + (count > 5 ? `, … (${count - 5} more)` : '');
  const again = `ckbuild build ${displayPath(plan.experiment.file)}`;
  if (outcome.stoppedBy?.kind === 'queue-cap') {
    out(yellow(`${count} run(s) wait for room in the queue (slurm.max_queued is ${outcome.stoppedBy.capacity} jobs): run \`${again}\` again as jobs finish and it submits the next ones (raise max_queued in ckbuild.local.yaml if your cluster allows more)`));
  } else if (outcome.stoppedBy?.kind === 'unavailable') {
    err(`${red('error')}: ${outcome.stoppedBy.message}`);
    out(yellow(`${count} run(s) not submitted and not recorded: ${shown}; run \`${again}\` again once the ${executor} executor answers`));
  } else {
    out(yellow(`stopped: ${count} run(s) never started: ${shown}; rerun to retry, or pass --keep-going to run everything that does not depend on the failure`));
  }
}

type Renderer = ((event: BuildEvent) => void) & { finish(): void };

/** The last lines of a failed job's log, so the reason is on screen without opening a file. */
function showLogTail(log: string): void {
  const tail = logTail(log);
  if (tail.length === 0) return;
  out(dim(`       log: ${displayPath(log)} (last ${tail.length} lines)`));
  for (const line of tail) out(dim(`       │ ${line}`));
}

export function progressRenderer(): Renderer {
  let line = '';
  const clear = (): void => {
    if (isTty && line) process.stdout.write('\r\u001b[2K');
  };
  const render = ((event: BuildEvent) => {
    const label = (id: string, name: string) => `${id} ${dim(name)}`;
    switch (event.type) {
      case 'progress':
        if (!isTty || isQuiet()) return;
        line = `[${formatDuration(event.elapsedS)}] ${event.done} done, ${event.running} running, ${event.queued} queued${event.failed ? `, ${event.failed} not succeeded` : ''} of ${event.total}`;
        process.stdout.write(`\r\u001b[2K${line}`);
        return;
      case 'generated':
        return;
      case 'submitted':
        clear();
        info(`${cyan('start')}  ${label(event.id, event.name)} ${dim(`(${event.executor} ${event.jobId})`)}`);
        return;
      case 'adopted':
        clear();
        info(`${cyan('adopt')}  ${label(event.id, event.name)} ${dim(`already running as ${event.jobId}`)}`);
        return;
      case 'reconciled':
        clear();
        info(`${dim('found')}  ${label(event.id, event.name)} ${event.status}${event.detail ? `: ${event.detail}` : ''}`);
        return;
      case 'finished': {
        clear();
        const word = event.status === 'succeeded' ? green('done ') : event.status === 'blocked' ? yellow('blocked') : red(event.status);
        (event.status === 'succeeded' ? info : out)(`${word}  ${label(event.id, event.name)}${event.elapsedS !== undefined ? ` ${dim(formatDuration(event.elapsedS))}` : ''}${event.detail && event.status !== 'succeeded' ? `: ${event.detail}` : ''}`);
        if (event.log && event.status !== 'cancelled' && event.status !== 'skipped') showLogTail(event.log);
        return;
      }
      case 'waiting':
        clear();
        out(`${cyan('wait')}   ${label(event.id, event.name)} ${dim(`claimed by ${event.holder}`)}`);
        return;
      case 'reused':
        clear();
        out(`${event.status === 'succeeded' ? green('reuse') : red(event.status)}  ${label(event.id, event.name)} ${dim(event.detail)}`);
        return;
      case 'skipped':
        clear();
        info(`${yellow('skip')}   ${label(event.id, event.name)}: ${event.detail}`);
        return;
      case 'cancelling':
        clear();
        out(yellow(`cancelling ${event.running} running job(s)…`));
        return;
      case 'warning':
        clear();
        err(`${yellow('warning')}: ${event.message}`);
        return;
    }
  }) as Renderer;
  render.finish = () => {
    clear();
    line = '';
  };
  return render;
}
