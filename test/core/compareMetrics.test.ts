/** reproduce's metric verdicts: results within their tolerance, the machine's measurements shown and never judged. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compareMetrics } from '../../core/reproduce.js';
import { torchtuneRule } from '../../rules/torchtune/index.js';

test('a throughput ten times higher is a measurement, not a difference; a loss that moved is', () => {
  const measurements = new Set(torchtuneRule.measurements);
  assert.ok(measurements.has('tokens_per_second_per_gpu') && measurements.has('mean_tokens_per_second_per_gpu') && measurements.has('peak_memory_alloc_gib'));
  const compared = compareMetrics({ final_loss: 2.5, tokens_per_second_per_gpu: 100 }, { final_loss: 2.6, tokens_per_second_per_gpu: 1000 }, new Map([['*', 0.05]]), measurements);
  assert.deepEqual(compared.map((m) => [m.name, m.within, m.measurement ?? false, m.difference]), [
    ['final_loss', false, false, 0.1],
    ['tokens_per_second_per_gpu', true, true, 900],
  ]);
  assert.equal(compareMetrics({ tokens_per_second_per_gpu: 100 }, { tokens_per_second_per_gpu: 1000 }, new Map())[0]!.within, false, 'without the rule saying so, every metric is judged');
});
