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
  const metrics = readMetrics(runDirWith('log_1796168513.txt', text))!;
  const last = text.trim().split('\n').at(-1)!;
  assert.equal(metrics.steps, 20);
  assert.equal(metrics.final_loss, Number(/loss:(\S+)/.exec(last)![1]));
  assert.ok(typeof metrics.min_loss === 'number' && metrics.min_loss <= (metrics.final_loss as number));
  assert.ok(typeof metrics.tokens_per_second_per_gpu === 'number' && metrics.tokens_per_second_per_gpu > 0);
  assert.equal(metrics.peak_memory_alloc, undefined, 'no peak-memory keys off CUDA');
});

test('torchtune: a truncated or garbled log yields what it can, never throws', () => {
  const text = readFileSync(join(fixtures, 'torchtune', 'real-disklogger.txt'), 'utf8');
  const truncated = readMetrics(runDirWith('log_1.txt', text.slice(0, text.length / 2)));
  assert.ok(truncated && typeof truncated.final_loss === 'number');
  assert.equal(readMetrics(runDirWith('log_1.txt', '\u0000\u0000 not a log at all\n')), undefined);
  assert.equal(readMetrics(mkdtempSync(join(tmpdir(), 'ckbuild-nologs-'))), undefined);
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
    assert.deepEqual(readInspectMetrics(dir), metrics);
  });
}

test('inspect-ai: a truncated log is a per-run note, not an exception', () => {
  const text = readFileSync(join(fixtures, 'inspect', 'real-tiny-base.json'), 'utf8');
  const dir = runDirWith('2026-12-01T00-00-00+00-00_capitalization_x.json', text.slice(0, 5000));
  assert.doesNotThrow(() => readInspectMetrics(dir));
  assert.deepEqual(readInspectMetrics(dir), { status: 'unreadable' }, 'a per-run note, not a failed build');
});
