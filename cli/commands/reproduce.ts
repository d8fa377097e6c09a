/**
 * `ckbuild reproduce <run>`: regenerate a run from its record alone into a fresh run directory,
 * compare the artifacts with the recorded hashes, verify (and where needed restore) its inputs,
 * run it through the normal executors, compare outputs and metrics, and record the reproduction.
 */
import { join } from 'node:path';
import { chooseExecutor } from '../../core/executors/index.js';
import { runEnvironment } from '../../core/environment.js';
import { commitPaths } from '../../core/git.js';
import { byKey, type FoundRecord, historyRecords, workingTreeRecords } from '../../core/history.js';
import { acquireLock, lockPathFor } from '../../core/lock.js';
import { Recorder } from '../../core/recorder.js';
import { compareReproduction, declaredTolerances, describeSource, materialize, prepareReproduction, recordReproduction, reproductionEntry, type ReproductionResult, type ReproductionStep } from '../../core/reproduce.js';
import { execute } from '../../core/schedule.js';
import { ruleRegistry } from '../../rules/index.js';
import { type ParsedArgs, flag, intValue, UsageError, value, values } from '../args.js';
import { currentProject, findRun, type Project } from '../findRun.js';
import { requestedExecutor } from '../load.js';
import { bold, dim, displayPath, err, green, out, red, table, yellow } from '../output.js';
import { executorsFor, progressRenderer } from './build.js';

function tolerancesOf(args: ParsedArgs): Map<string, number> {
  const tolerances = new Map<string, number>();
  for (const text of values(args, '--tolerance')) {
    const match = /^([^=]+)=(.+)$/.exec(text);
    const number = match ? Number(match[2]) : NaN;
    if (!match || !Number.isFinite(number) || number < 0) throw new UsageError(`--tolerance takes METRIC=ABSOLUTE (or *=ABSOLUTE for every metric), e.g. --tolerance loss=0.01; got ${JSON.stringify(text)}`);
    tolerances.set(match[1]!.trim(), number);
  }
  return tolerances;
}

function lookupIn(project: Project): (key: string) => FoundRecord | undefined {
  let keys: Map<string, FoundRecord> | undefined;
  return (key) => {
    keys ??= byKey([...(project.cache.tree ??= workingTreeRecords(project.dir)), ...(project.cache.history ??= historyRecords(project.dir))]);
    return keys.get(key);
  };
}

function origin(found: FoundRecord): string {
  const version = typeof found.record.env?.ckbuild === 'string' ? found.record.env.ckbuild : 'an unknown version';
  return `recorded by ckbuild ${version}, hash scheme ${found.record.scheme}`;
}

function printPreparation(step: ReproductionStep, project: Project): void {
  const { record } = step.found;
  out(`${bold(step.role === 'target' ? 'reproduce' : 'upstream')} ${record.id} ${record.name} ${dim(`${record.key.slice(0, 12)} ${step.found.experiment}, ${step.found.source.kind === 'history' ? `from history (commit ${step.found.source.commit.slice(0, 12)})` : `from ${step.found.manifest}`}`)}`);
  for (const input of step.inputs) out(`  input ${input.role}: ${input.path} sha256 ${input.sha256.slice(0, 12)}… ${input.source.kind === 'working-tree' ? green('verified') : yellow(describeSource(input, project.dir))}`);
  const artifacts = step.artifacts;
  if (!artifacts.recorded) out(`  artifacts: ${yellow('not compared')}: the record holds no artifact hashes (${origin(step.found)}, before ckbuild recorded them); regenerated ${Object.keys(artifacts.hashes).length} files`);
  else if (artifacts.differences.length === 0) out(`  artifacts: ${green(`${artifacts.compared} files byte-identical to the record`)} ${dim(`(${Object.keys(artifacts.hashes).join(', ')})`)}`);
  else {
    out(`  artifacts: ${red(`${artifacts.differences.length} of ${artifacts.compared} differ from the record`)}`);
    for (const d of artifacts.differences) {
      if (d.kind === 'missing') out(`    ${d.path}: recorded (sha256 ${d.recordedHash?.slice(0, 12)}), not generated any more`);
      else if (d.kind === 'extra') out(`    ${d.path}: generated now, not in the record`);
      else out(`    ${d.path}: sha256 ${d.recordedHash?.slice(0, 12)} recorded, ${d.reproducedHash?.slice(0, 12)} now${d.line ? `; line ${d.line.number}: recorded ${JSON.stringify(d.line.recorded)}, now ${JSON.stringify(d.line.reproduced)}` : ''}`);
    }
  }
  out(`  run dir: ${displayPath(step.run.runDir)}`);
}

function printResult(result: ReproductionResult): void {
  const { record } = result.step.found;
  out(`${bold(record.id)} ${record.name}: ${result.status}${result.detail && result.status !== 'succeeded' ? `: ${result.detail}` : ''}`);
  if (result.outputs.length > 0) out(`  outputs: ${result.outputs.map((o) => `${o.path} ${o.verdict === 'identical' ? green('identical') : o.verdict === 'unhashed' ? dim('present (size only recorded)') : red(o.verdict)}`).join(', ')}`);
  if (result.metrics.length === 0) out(dim('  metrics: none recorded, none reproduced'));
  else {
    const text = (v: unknown): string => (v === undefined || v === null ? '—' : typeof v === 'string' ? v : JSON.stringify(v));
    const rows = result.metrics.map((m) => [m.name, text(m.recorded), text(m.reproduced), m.difference === undefined ? '—' : `${m.difference >= 0 ? '+' : ''}${m.difference}`, String(m.tolerance), m.measurement ? dim('measured') : m.within ? green('ok') : red('outside')]);
    for (const line of table(['metric', 'recorded', 'reproduced', 'difference', 'tolerance', ''], rows)) out(`  ${line}`);
  }
  const word = result.verdict.startsWith('reproduced') ? green(result.verdict) : red(result.verdict);
  out(`  verdict: ${word}`);
}

export async function reproduceCommand(args: ParsedArgs): Promise<number> {
  const [query, ...rest] = args.positionals;
  if (!query || rest.length > 0) throw new UsageError('usage: ckbuild reproduce <run> [--dry-run] [--tolerance METRIC=ABS]… [--executor local|slurm] [-j N] [--no-commit]');
  const project = currentProject();
  const found = findRun(project, query);
  // The experiment's declared tolerances, then --tolerance on top (per metric).
  const declared = declaredTolerances(project.dir, found);
  const tolerances = new Map([...declared.tolerances, ...tolerancesOf(args)]);
  if (declared.from) out(dim(`tolerances declared in ${declared.from}: ${[...declared.tolerances].map(([name, t]) => `${name} ±${t}`).join(', ')}`));
  const prepared = await prepareReproduction(found, { projectDir: project.dir, runsRoot: project.runsRoot, local: project.local, rules: ruleRegistry, lookup: lookupIn(project) });
  if (!prepared.reproduction) {
    for (const problem of prepared.problems) err(`${red('error')}: ${problem}`);
    err(`${found.record.id} (${found.record.key.slice(0, 12)}) was not reproduced: nothing was written or run.`);
    return 2;
  }
  const reproduction = prepared.reproduction;
  for (const { found: up, runDir } of reproduction.reused) out(`${dim('reuse')}  ${up.record.id} ${up.record.name} ${dim(`outputs present in ${displayPath(runDir)}`)}`);
  for (const step of reproduction.steps) printPreparation(step, project);
  const artifactsDiffer = reproduction.steps.some((step) => step.artifacts.differences.length > 0);
  if (flag(args, '--dry-run')) {
    out(`${bold('dry run')}: inputs verified and artifacts compared; nothing was written or executed`);
    return artifactsDiffer ? 1 : 0;
  }

  const lock = acquireLock(lockPathFor(join(project.dir, found.experimentFile)), `ckbuild ${process.argv.slice(2).join(' ')}`);
  if (!lock.acquired) {
    err(`${red('error')}: ${'unusable' in lock ? lock.unusable : `another ckbuild is building in this project: pid ${lock.owner.pid} on ${lock.owner.host} (${lock.owner.command}); reproduce when it is done`}`);
    return 3;
  }
  const controller = new AbortController();
  const onSignal = (): void => controller.abort();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const plan = reproduction.plan;
    const generated = materialize(reproduction);
    const executorName = chooseExecutor(requestedExecutor(value(args, '--executor')), plan.local, plan.experiment.document);
    const executors = executorsFor(executorName, plan, intValue(args, '-j'));
    const recorder = new Recorder(plan, ruleRegistry, () => new Date());
    const render = progressRenderer();
    const execution = await execute(plan, reproduction.targets, generated, new Map(), {
      executors,
      recorder,
      environment: () => runEnvironment(project.dir),
      wait: true,
      signal: controller.signal,
      onEvent: render,
      checkout: project.dir,
    });
    await executors.primary.close();
    render.finish();
    const now = new Date().toISOString();
    const manifests = new Set<string>();
    let ok = !execution.cancelled;
    for (const step of reproduction.steps) {
      const result = compareReproduction(step, plan.manifest.get(step.run.key), tolerances);
      printResult(result);
      const entry = reproductionEntry(result, project.dir, now, runEnvironment(project.dir));
      const written = recordReproduction(result, entry, project.dir);
      if (written) manifests.add(written);
      if (step.role === 'target' || result.verdict === 'failed') ok &&= result.verdict.startsWith('reproduced');
    }
    const target = reproduction.steps.at(-1)!;
    out(dim(`recorded in ${displayPath(join(target.run.runDir, 'metadata', 'reproduction.json'))}${manifests.size > 0 ? ` and ${[...manifests].map(displayPath).join(', ')}` : " (its manifest is gone from the working tree: the experiment was deleted)"}`));
    if (manifests.size > 0 && !flag(args, '--no-commit') && plan.local.commit !== false) {
      const committed = await commitPaths(project.dir, [...manifests], `${found.experiment}: reproduced ${found.record.id} (${found.record.key.slice(0, 12)})`);
      if (committed.committed) err(dim(`committed ${[...manifests].map(displayPath).join(', ')}: "${committed.message}" (${committed.commit.slice(0, 8)})`));
      else if (committed.reason === 'failed') err(`${yellow('warning')}: committing the manifest failed (it is written; commit it yourself): ${committed.detail}`);
    }
    if (execution.cancelled || controller.signal.aborted) return 130;
    return ok && !artifactsDiffer ? 0 : 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    lock.release();
  }
}
