/**
 * Metrics from inspect's JSON log (`--log-format json`). The fields read are those of
 * inspect_ai/log/_log.py `EvalLog`: `status` ("started" | "success" | "cancelled" | "error"),
 * `results.total_samples` / `completed_samples`, and `results.scores[]`, each with a `name`
 * (the scorer's, e.g. `match`) and `metrics` keyed by metric name with a numeric `value`
 * (e.g. `accuracy`, `stderr`). Each metric becomes `<score>_<metric>`, e.g. `match_accuracy`.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { isObject, type JsonObject } from '../../core/json.js';

/** inspect names logs `<ISO timestamp>_<task>_<id>.json` (log_file_pattern in log/_file.py). */
const LOG_NAME = /^\d{4}-\d{2}-\d{2}T\d{2}[:-]\d{2}[:-]\d{2}.*\.json$/;

/** The newest log in a directory: by modification time, then by name (which starts with the creation time). */
export function newestLog(dir: string): string | undefined {
  let names: string[];
  try {
    names = readdirSync(dir).filter((name) => LOG_NAME.test(name));
  } catch {
    return undefined;
  }
  let best: { name: string; mtime: number } | undefined;
  for (const name of names) {
    const mtime = statSync(join(dir, name)).mtimeMs;
    if (!best || mtime > best.mtime || (mtime === best.mtime && name > best.name)) best = { name, mtime };
  }
  return best && join(dir, best.name);
}

/**
 * inspect serialises with non-finite numbers allowed (`ser_json_inf_nan="constants"`), so a
 * stderr over one sample is written as a bare `NaN`. Those tokens are replaced by `null`
 * outside strings before JSON.parse.
 */
export function parseInspectJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return JSON.parse(text.replace(/"(?:[^"\\]|\\.)*"|-?\b(?:NaN|Infinity)\b|-Infinity/g, (match) => (match.startsWith('"') ? match : 'null')));
  }
}

function metricKey(score: string, metric: string): string {
  return `${score}_${metric}`.replace(/[^A-Za-z0-9_]+/g, '_');
}

export function metricsFromLog(log: unknown): JsonObject | undefined {
  if (!isObject(log)) return undefined;
  const metrics: JsonObject = {};
  if (typeof log.status === 'string') metrics.status = log.status;
  const results = log.results;
  if (isObject(results)) {
    if (typeof results.completed_samples === 'number') metrics.samples = results.completed_samples;
    if (typeof results.total_samples === 'number') metrics.total_samples = results.total_samples;
    const scores = Array.isArray(results.scores) ? results.scores : [];
    for (const score of scores) {
      if (!isObject(score) || typeof score.name !== 'string' || !isObject(score.metrics)) continue;
      for (const [name, metric] of Object.entries(score.metrics)) {
        if (!isObject(metric)) continue;
        const value = metric.value;
        // A NaN (read back as null) is recorded as null: "not computable", not "missing".
        if (value === null || (typeof value === 'number' && Number.isFinite(value))) metrics[metricKey(score.name, name)] = value;
      }
    }
  }
  // The error message is left out on purpose: it can quote a sample, and metrics are committed.
  return metrics;
}

export function readInspectMetrics(runDir: string): JsonObject | undefined {
  const file = newestLog(join(runDir, 'outputs', 'logs'));
  if (!file) return undefined;
  try {
    return metricsFromLog(parseInspectJson(readFileSync(file, 'utf8')));
  } catch {
    return { status: 'unreadable' };
  }
}
