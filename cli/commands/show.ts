/** `ckbuild show <run>`: a run's record — which config produced this number, and where its files are. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { commitRecording, type FoundRecord } from '../../core/history.js';
import { isObject, type Json, type JsonObject } from '../../core/json.js';
import { jobLogFor } from '../../core/jobLog.js';
import { type ParsedArgs, flag, UsageError } from '../args.js';
import { currentProject, expectedRunDir, findRun, type Project, runDirOf } from '../findRun.js';
import { bold, dim, displayPath, formatDuration, green, out, outJson, red, yellow } from '../output.js';

export async function showCommand(args: ParsedArgs): Promise<number> {
  const [query, ...rest] = args.positionals;
  if (!query || rest.length > 0) throw new UsageError('usage: ckbuild show <run> [--json]   (a run id, readable name or key prefix)');
  const project = currentProject();
  const found = findRun(project, query);
  const details = describeRun(project, found);
  if (flag(args, '--json')) {
    outJson({ ok: true, ...details });
    return 0;
  }
  printRun(details);
  return 0;
}

export interface RunDetails {
  experiment: string;
  experiment_file: string;
  manifest: string;
  /** Where the record was read: the working tree's manifest, or a commit in history. */
  source: JsonObject;
  /** The commit that first recorded the run (null when its manifest is not committed yet). */
  recorded_in: JsonObject | null;
  run_dir: string;
  run_dir_exists: boolean;
  log: string;
  log_exists: boolean;
  artifacts: string[];
  outputs: Array<{ path: string; size: number; sha256: string | null; exists: boolean }>;
  record: JsonObject;
}

export function describeRun(project: Project, found: FoundRecord): RunDetails {
  const record = found.record;
  const runDir = runDirOf(project, found) ?? expectedRunDir(project, found);
  const recordedIn = commitRecording(project.dir, found.manifest, record.key);
  const log = jobLogFor(runDir, record.job_id);
  return {
    experiment: found.experiment,
    experiment_file: found.experimentFile,
    manifest: found.manifest,
    source: found.source.kind === 'working-tree' ? { kind: 'working-tree' } : { kind: 'history', commit: found.source.commit, time: new Date(found.source.time * 1000).toISOString() },
    recorded_in: recordedIn ? { commit: recordedIn.commit, time: new Date(recordedIn.time * 1000).toISOString(), subject: recordedIn.subject } : null,
    run_dir: runDir,
    run_dir_exists: existsSync(runDir),
    log,
    log_exists: existsSync(log),
    artifacts: Object.keys(record.artifacts ?? {}).map((path) => join(runDir, path)),
    outputs: (record.outputs ?? []).map((o) => ({ path: join(runDir, o.path), size: o.size, sha256: o.sha256 ?? null, exists: existsSync(join(runDir, o.path)) })),
    record: record as unknown as JsonObject,
  };
}

/** `a.b: value` lines for nested parameters. */
export function flatten(value: Json | undefined, prefix = ''): Array<[string, string]> {
  if (isObject(value)) return Object.keys(value).sort().flatMap((name) => flatten(value[name], prefix ? `${prefix}.${name}` : name));
  return [[prefix, JSON.stringify(value)]];
}

export function bytes(size: number): string {
  if (size < 1024) return `${size} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = size / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

function statusWord(status: string): string {
  return status === 'succeeded' ? green(status) : ['queued', 'running', 'submitted', 'planned'].includes(status) ? yellow(status) : red(status);
}

function printRun(details: RunDetails): void {
  const r = details.record as unknown as import('../../core/manifest.js').RunRecord;
  const field = (label: string, text: string): void => out(`  ${label.padEnd(13)}${text}`);
  out(`${bold(r.id)} ${r.name}  ${dim(`${details.experiment} (${details.experiment_file})`)}`);
  field('key', r.key);
  const recordedIn = details.recorded_in;
  field('recorded', `${r.recorded_at}${recordedIn ? `, committed in ${String(recordedIn.commit).slice(0, 12)} "${String(recordedIn.subject)}"` : ', not committed yet'}${details.source.kind === 'history' ? dim(` (read from history, commit ${String(details.source.commit).slice(0, 12)}: the working tree's manifest no longer has it)`) : ''}`);
  field('status', `${statusWord(r.status)}${r.detail ? `: ${r.detail}` : ''}${r.exit_code !== undefined ? dim(` (exit ${r.exit_code})`) : ''}`);
  field('rule', `${r.rule} v${r.rule_version}, step ${r.step}, hash scheme ${r.scheme}`);
  if (r.job_id) field('job', `${r.executor ?? ''} ${r.job_id}${r.host ? ` on ${r.host}` : ''}${r.node ? ` (node ${r.node})` : ''}${r.attempts ? dim(`, attempt ${r.attempts}`) : ''}`);
  const timing = [r.submitted_at && `submitted ${r.submitted_at}`, r.started_at && `started ${r.started_at}`, r.finished_at && `finished ${r.finished_at}`].filter(Boolean).join(', ');
  if (timing) field('timing', `${timing}${r.elapsed_s !== undefined ? ` (${formatDuration(r.elapsed_s)})` : ''}`);
  if (r.gpu_hours !== undefined) field('GPU-hours', String(r.gpu_hours));
  const env = r.env ?? {};
  const clean = env.git_clean === true ? 'clean working tree' : env.git_clean === false ? yellow(`working tree NOT clean (${Array.isArray(env.git_changed) ? env.git_changed.join(', ') : 'changes'})`) : 'working tree state not recorded';
  if (Object.keys(env).length > 0) field('environment', `ckbuild ${String(env.ckbuild ?? '?')}, node ${String(env.node ?? '?')}${env.git_commit ? `, commit ${String(env.git_commit).slice(0, 12)}` : ''}, ${clean}`);
  if (r.resources && Object.keys(r.resources).length > 0) field('resources', Object.entries(r.resources).map(([k, v]) => `${k}=${String(v)}`).join(' '));
  out('  params:');
  for (const [name, value] of flatten(r.params)) out(`    ${name}: ${value}`);
  if (r.model) out(`  model: ${JSON.stringify(r.model)}`);
  const inputs = Object.entries(r.inputs);
  if (inputs.length > 0) {
    out('  inputs:');
    for (const [role, input] of inputs) out(`    ${role}: ${input.path}  sha256 ${input.sha256}  ${dim(bytes(input.size))}`);
  }
  const upstream = Object.entries(r.upstream);
  if (upstream.length > 0) {
    out('  upstream:');
    for (const [role, up] of upstream) out(`    ${role}: ${up.id} ${dim(up.key.slice(0, 12))}`);
  }
  if (r.metrics && Object.keys(r.metrics).length > 0) {
    out('  metrics:');
    for (const [name, value] of flatten(r.metrics)) out(`    ${name}: ${value}`);
  }
  field('run dir', `${displayPath(details.run_dir)}${details.run_dir_exists ? '' : yellow(' (not on this machine: `ckbuild reproduce` regenerates it)')}`);
  if (details.artifacts.length > 0) field('artifacts', details.artifacts.map((path) => displayPath(path)).join(', '));
  for (const output of details.outputs) field('output', `${displayPath(output.path)}  ${dim(bytes(output.size))}${output.sha256 ? dim(`  sha256 ${output.sha256.slice(0, 12)}`) : ''}${output.exists ? '' : yellow(' (missing)')}`);
  field('log', `${displayPath(details.log)}${details.log_exists ? '' : dim(' (none)')}`);
  for (const reproduction of r.reproductions ?? []) field('reproduced', `${String(reproduction.reproduced_at)}: ${String(reproduction.verdict)} ${dim(`(${String(reproduction.run_dir)})`)}`);
}
