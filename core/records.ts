/** Turning planned runs and job outcomes into manifest records. */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { MetricsReading, Resources, Rule } from './rule.js';
import { sha256 } from './hash.js';
import { HASH_SCHEME_VERSION } from './identity.js';
import type { JsonObject } from './json.js';
import type { RecordedOutput, RunRecord } from './manifest.js';
import type { Plan, PlannedRun } from './plan.js';

/**
 * What identifies a run and regenerates its artifacts: shared by the manifest record and the
 * run directory's config/run.json, so the two can never disagree.
 */
export function identityFields(run: PlannedRun): Pick<RunRecord, 'key' | 'id' | 'name' | 'step' | 'rule' | 'rule_version' | 'scheme' | 'params' | 'model' | 'inputs' | 'upstream' | 'labels' | 'site'> {
  const fields: ReturnType<typeof identityFields> = {
    key: run.key,
    id: run.id,
    name: run.name,
    step: run.step,
    rule: run.rule,
    rule_version: run.ruleVersion,
    scheme: HASH_SCHEME_VERSION,
    params: run.params,
    inputs: run.inputs,
    upstream: run.upstream,
    labels: run.labels,
  };
  if (run.model) fields.model = run.model;
  if (run.site) fields.site = run.site;
  return fields;
}

export function baseRecord(run: PlannedRun, plan: Plan, now: string): RunRecord {
  const existing = plan.manifest.get(run.key);
  const runDir = relative(plan.experiment.projectDir, run.runDir);
  const record: RunRecord = {
    ...identityFields(run),
    status: existing?.status ?? 'planned',
    recorded_at: existing?.recorded_at ?? now,
    run_dir: runDir.startsWith('..') ? run.runDir : runDir,
  };
  if (run.earlyStopLoss !== undefined) record.early_stop_loss = run.earlyStopLoss;
  if (existing) {
    // Keep what earlier attempts learned (attempt count, last job) unless this one overwrites it.
    for (const field of ['attempts', 'job_id', 'executor', 'submitted_at', 'started_at', 'finished_at', 'exit_code', 'elapsed_s', 'gpu_hours', 'outputs', 'metrics', 'curves', 'metrics_note', 'telemetry', 'env', 'resources', 'detail', 'host', 'pid', 'node', 'artifacts', 'reproductions'] as const) {
      if (existing[field] !== undefined) (record as unknown as Record<string, unknown>)[field] = existing[field];
    }
  }
  return record;
}

/** Declared outputs with their sizes, and hashes for small files (a record, not a copy). */
export function describeOutputs(runDir: string, declared: readonly string[]): RecordedOutput[] {
  const outputs: RecordedOutput[] = [];
  for (const path of declared) {
    const absolute = join(runDir, path);
    try {
      const stat = statSync(absolute);
      if (stat.isFile()) {
        const output: RecordedOutput = { path, size: stat.size };
        if (stat.size <= 1 << 20) output.sha256 = sha256(readFileSync(absolute));
        outputs.push(output);
      } else if (stat.isDirectory()) {
        outputs.push({ path, size: directorySize(absolute) });
      }
    } catch {
      // Missing: the job's own check already failed the run; nothing to record.
    }
  }
  return outputs;
}

function directorySize(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) total += directorySize(path);
    else if (entry.isFile()) total += statSync(path).size;
  }
  return total;
}

/**
 * What the rule reads from a finished run's logs. Metrics are a convenience: a rule that throws on a
 * log it did not expect gives a note for that run, never a failed build or report.
 */
export function readMetricsSafely(rule: Rule, runDir: string, params: JsonObject): MetricsReading {
  try {
    return rule.readMetrics?.(runDir, params) ?? {};
  } catch (error) {
    return { note: `the ${rule.name} rule could not read this run's metrics: ${(error as Error).message.split('\n')[0]}` };
  }
}

/** The record fields a reading fills: metrics, curves, and the note when something is missing. */
export function metricFields(reading: MetricsReading): Pick<RunRecord, 'metrics' | 'curves' | 'metrics_note'> {
  return {
    metrics: reading.metrics && Object.keys(reading.metrics).length > 0 ? reading.metrics : undefined,
    curves: reading.curves && Object.keys(reading.curves).length > 0 ? reading.curves : undefined,
    metrics_note: reading.note,
  };
}

export function gpuHours(resources: Resources | undefined, elapsedS: number | undefined): number | undefined {
  if (elapsedS === undefined) return undefined;
  const gpus = resources?.gpus ?? 0;
  return gpus > 0 ? Number(((elapsedS * gpus) / 3600).toFixed(4)) : 0;
}

/** `name=version` lines the job wrote (metadata/versions.txt): torch, torchtune, inspect_ai… */
export function frameworkVersions(runDir: string): JsonObject | undefined {
  let text: string;
  try {
    text = readFileSync(join(runDir, 'metadata', 'versions.txt'), 'utf8');
  } catch {
    return undefined;
  }
  const versions: JsonObject = {};
  for (const line of text.split('\n')) {
    const match = /^([A-Za-z0-9_.-]+)=([A-Za-z0-9_.+-]+)$/.exec(line.trim());
    if (match) versions[match[1]!] = match[2]!;
  }
  return Object.keys(versions).length > 0 ? versions : undefined;
}
