/**
 * The metric readers on logs the real frameworks wrote (kept from the real tier, small): torchtune
 * 0.6.1's DiskLogger file of a CPU LoRA run, and inspect-ai's JSON logs of a base model and of a
 * LoRA adapter (their completions hold the junk bytes, NULs included, an untrained model emits).
 * Plus damaged copies of each: a malformed log is a missing metric, never a failed build.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { metricsFromLog, parseInspectJson, readInspectMetrics } from '../../rules/inspect/metrics.js';
import { readMetrics } from '../../rules/torchtune/metrics.js';
import { projectRoot } from '../helpers/paths.js';

const fixtures = join(projectRoot, 'test', 'fixtures');

function runDirWith(path: string, content: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'ckbuild-logs-'));
  mkdirSync(join(dir, 'outputs', 'logs'), { recursive: true });
  writeFileSync(join(dir, 'outputs', 'logs', path), content);
  return dir;
}

test('torchtune: the real DiskLogger file (CPU, trailing spaces, no peak-memory keys) gives the loss curve summary', () => {
  const text = readFileSync(join(fixtures, 'torchtune', 'real-disklogger.txt'), 'utf8');
  const reading = readMetrics(runDirWith('log_1796168513.txt', text));
  const metrics = reading.metrics!;
  const last = text.trim().split('\n').at(-1)!;
  assert.equal(metrics.steps, 20);
  assert.equal(metrics.final_loss, Number(/loss:(\S+)/.exec(last)![1]));
  assert.ok(typeof metrics.min_loss === 'number' && metrics.min_loss <= (metrics.final_loss as number));
  assert.ok(typeof metrics.tokens_per_second_per_gpu === 'number' && metrics.tokens_per_second_per_gpu > 0);
  assert.equal(metrics.peak_memory_alloc_gib, undefined, 'no peak-memory keys off CUDA');
  assert.ok(typeof metrics.mean_tokens_per_second_per_gpu === 'number' && metrics.mean_tokens_per_second_per_gpu > 0);
  const stepLines = text.trim().split('\n').filter((line) => line.startsWith('Step '));
  assert.equal(reading.curves!.loss!.length, stepLines.length, 'every step of the loss curve (20 ≤ 200 points)');
  assert.deepEqual(reading.curves!.loss![0], [1, Number(/loss:(\S+)/.exec(stepLines[0]!)![1])]);
  assert.equal(reading.note, undefined);
});

test('torchtune: a long run keeps 200 evenly spaced points of its curve, the first and the last included', () => {
  const lines = Array.from({ length: 1000 }, (_, i) => `Step ${i + 1} | loss:${(10 - i / 200).toFixed(3)} lr:1e-05 tokens_per_second_per_gpu:100 `);
  const curve = readMetrics(runDirWith('log_1.txt', lines.join('\n'))).curves!.loss!;
  assert.equal(curve.length, 200);
  assert.deepEqual(curve[0], [1, 10]);
  assert.deepEqual(curve.at(-1), [1000, Number((10 - 999 / 200).toFixed(3))]);
  assert.ok(curve.every((point, i) => i === 0 || point[0] > curve[i - 1]![0]), 'in step order');
});

test('torchtune: a truncated or garbled log yields what it can, never throws', () => {
  const text = readFileSync(join(fixtures, 'torchtune', 'real-disklogger.txt'), 'utf8');
  const truncated = readMetrics(runDirWith('log_1.txt', text.slice(0, text.length / 2)));
  assert.ok(typeof truncated.metrics?.final_loss === 'number');
  const garbled = readMetrics(runDirWith('log_1.txt', '\u0000\u0000 not a log at all\n'));
  assert.equal(garbled.metrics, undefined);
  assert.match(garbled.note!, /has no step with a loss/);
  assert.match(readMetrics(mkdtempSync(join(tmpdir(), 'ckbuild-nologs-'))).note!, /no torchtune log/);
});

for (const name of ['real-tiny-base.json', 'real-tiny-adapter.json']) {
  test(`inspect-ai: the real log ${name} gives every scorer's metrics, the sample count and the status`, () => {
    const text = readFileSync(join(fixtures, 'inspect', name), 'utf8');
    const log = JSON.parse(text) as { status: string; results: { total_samples: number; scores: Array<{ name: string; metrics: Record<string, { value: number }> }> } };
    const metrics = metricsFromLog(parseInspectJson(text))!;
    assert.equal(metrics.status, log.status);
    assert.equal(metrics.total_samples, log.results.total_samples);
    for (const score of log.results.scores) {
      for (const [metric, { value }] of Object.entries(score.metrics)) assert.equal(metrics[`${score.name}_${metric}`], value, `${score.name}_${metric}`);
    }
    const dir = runDirWith(`2026-12-01T00-00-00+00-00_capitalization_x.json`, text);
    assert.deepEqual(readInspectMetrics(dir), { metrics });
  });
}

test('inspect-ai: a truncated log is a per-run note, not an exception', () => {
  const text = readFileSync(join(fixtures, 'inspect', 'real-tiny-base.json'), 'utf8');
  const dir = runDirWith('2026-12-01T00-00-00+00-00_capitalization_x.json', text.slice(0, 5000));
  assert.doesNotThrow(() => readInspectMetrics(dir));
  const reading = readInspectMetrics(dir);
  assert.equal(reading.metrics, undefined);
  assert.match(reading.note!, /cannot be read as JSON/, 'a per-run note, not a failed build');
  assert.match(readInspectMetrics(mkdtempSync(join(tmpdir(), 'ckbuild-nologs-'))).note!, /no inspect log/);
  const errored = runDirWith('2026-12-01T00-00-00+00-00_capitalization_x.json', JSON.stringify({ status: 'error', error: { message: 'secret sample text' } }));
  assert.deepEqual(readInspectMetrics(errored), { metrics: { status: 'error' }, note: 'inspect ended the evaluation with status `error`' });
});

test('inspect-ai: a binary target gets the confusion summary (accuracy, balanced accuracy, precision, recall, F1)', () => {
  const log = JSON.parse(readFileSync(join(fixtures, 'inspect', 'real-tiny-base.json'), 'utf8')) as { samples: Array<{ target: string; scores: Record<string, { answer: string }> }> };
  // The real log's samples, relabelled as a 0/1 task: targets 1 1 1 0 0; the model answers 1 0 1 1 "maybe".
  const targets = ['1', '1', '1', '0', '0'];
  const answers = ['1', '0', '1', '1', 'maybe'];
  log.samples.forEach((sample, i) => {
    sample.target = targets[i]!;
    sample.scores.match!.answer = answers[i]!;
  });
  const metrics = metricsFromLog(log)!;
  // TP 2, FN 1, FP 1, TN 0, other 1: accuracy 2/5, recall_1 2/3, recall_0 0/2, precision 2/3.
  assert.equal(metrics.binary_accuracy, 0.4);
  assert.equal(metrics.recall, 0.6667);
  assert.equal(metrics.precision, 0.6667);
  assert.equal(metrics.balanced_accuracy, 0.3333);
  assert.equal(metrics.f1, 0.6667);
  assert.deepEqual([metrics.n_positive, metrics.n_negative, metrics.n_other_predictions], [3, 2, 1]);
  assert.equal(metricsFromLog(JSON.parse(readFileSync(join(fixtures, 'inspect', 'real-tiny-base.json'), 'utf8')))!.f1, undefined, 'capitalisation targets are not binary');
});
