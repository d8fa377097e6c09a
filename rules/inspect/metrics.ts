/**
 * Metrics from inspect's JSON log (`--log-format json`). The fields read are those of
 * inspect_ai/log/_log.py `EvalLog`: `status` ("started" | "success" | "cancelled" | "error"),
 * `results.total_samples` / `completed_samples`, and `results.scores[]`, each with a `name`
 * (the scorer's, e.g. `match`) and `metrics` keyed by metric name with a numeric `value`
 * (e.g. `accuracy`, `stderr`). Each metric becomes `<score>_<metric>`, e.g. `match_accuracy`.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { isObject, type JsonObject } from '../../core/json.js';
import type { MetricsReading } from '../../core/rule.js';

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
  let firstScorer: string | undefined;
  if (isObject(results)) {
    if (typeof results.completed_samples === 'number') metrics.samples = results.completed_samples;
    if (typeof results.total_samples === 'number') metrics.total_samples = results.total_samples;
    const scores = Array.isArray(results.scores) ? results.scores : [];
    for (const score of scores) {
      if (!isObject(score) || typeof score.name !== 'string' || !isObject(score.metrics)) continue;
      firstScorer ??= score.name;
      for (const [name, metric] of Object.entries(score.metrics)) {
        if (!isObject(metric)) continue;
        const value = metric.value;
        // A NaN (read back as null) is recorded as null: "not computable", not "missing".
        if (value === null || (typeof value === 'number' && Number.isFinite(value))) metrics[metricKey(score.name, name)] = value;
      }
    }
    // inspect names the metric its own summary leads with (results.headline); the report's default ranking metric.
    const headline = isObject(results.headline) ? results.headline : undefined;
    const headlineScore = typeof headline?.score === 'string' ? headline.score : typeof headline?.scorer === 'string' ? headline.scorer : firstScorer;
    if (headlineScore && typeof headline?.metric === 'string' && metricKey(headlineScore, headline.metric) in metrics) metrics.headline = metricKey(headlineScore, headline.metric);
    if (headlineScore) Object.assign(metrics, binarySummary(log.samples, headlineScore));
  }
  // The error message is left out on purpose: it can quote a sample, and metrics are committed.
  return metrics;
}

/** Target pairs read as a binary classification, negative first (the earlier toolkit's 0/1, and the usual words). */
const BINARY_LABELS: readonly (readonly [string, string])[] = [
  ['0', '1'],
  ['no', 'yes'],
  ['false', 'true'],
];

/**
 * For a binary target, the confusion summary the earlier toolkit computed (summary_binary.py),
 * from each sample's target and the headline scorer's answer. A prediction outside the two labels
 * counts as wrong for its sample ("other"). Precision, recall and F1 are of the positive label;
 * an undefined ratio (no positive prediction) is 0, as there. Nothing when the targets are not binary.
 *
 *   accuracy = (TP + TN) / n    recall_1 = TP / n_1    recall_0 = TN / n_0
 *   balanced_accuracy = (recall_0 + recall_1) / 2    precision = TP / (TP + FP)
 *   f1 = 2 · precision · recall_1 / (precision + recall_1)
 */
export function binarySummary(samples: unknown, scorer: string): JsonObject {
  if (!Array.isArray(samples) || samples.length === 0) return {};
  const pairs: [string, string][] = [];
  for (const sample of samples) {
    if (!isObject(sample) || typeof sample.target !== 'string' || !isObject(sample.scores)) return {};
    const score = sample.scores[scorer];
    const answer = isObject(score) && typeof score.answer === 'string' ? score.answer : '';
    pairs.push([sample.target.trim().toLowerCase(), answer.trim().toLowerCase()]);
  }
  const labels = BINARY_LABELS.find(([negative, positive]) => pairs.every(([target]) => target === negative || target === positive));
  if (!labels) return {};
  const [negative, positive] = labels;
  let tp = 0, tn = 0, fp = 0, other = 0, positives = 0;
  for (const [target, predicted] of pairs) {
    if (target === positive) positives++;
    if (predicted !== positive && predicted !== negative) other++;
    else if (predicted === positive) target === positive ? tp++ : fp++;
    else if (target === negative) tn++;
  }
  const n = pairs.length;
  const negatives = n - positives;
  const ratio = (a: number, b: number): number => (b === 0 ? 0 : a / b);
  const precision = ratio(tp, tp + fp);
  const recall = ratio(tp, positives);
  const recallNegative = ratio(tn, negatives);
  const round = (value: number): number => Number(value.toFixed(4));
  return {
    binary_accuracy: round((tp + tn) / n),
    balanced_accuracy: round((recall + recallNegative) / 2),
    precision: round(precision),
    recall: round(recall),
    f1: round(ratio(2 * precision * recall, precision + recall)),
    n_positive: positives,
    n_negative: negatives,
    n_other_predictions: other,
  };
}

export function readInspectMetrics(runDir: string): MetricsReading {
  const file = newestLog(join(runDir, 'outputs', 'logs'));
  if (!file) return { note: 'no inspect log (outputs/logs/*.json): the evaluation wrote no results' };
  let metrics: JsonObject | undefined;
  try {
    metrics = metricsFromLog(parseInspectJson(readFileSync(file, 'utf8')));
  } catch (error) {
    return { note: `the inspect log ${relative(runDir, file)} cannot be read as JSON: ${firstLine((error as Error).message)}` };
  }
  if (!metrics) return { note: `the inspect log ${relative(runDir, file)} is not an evaluation log (no status, no results)` };
  if (metrics.status !== undefined && metrics.status !== 'success') return { metrics, note: `inspect ended the evaluation with status \`${String(metrics.status)}\`` };
  return { metrics };
}

const firstLine = (text: string): string => text.split('\n')[0] ?? text;
