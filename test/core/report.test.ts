/** The report's pieces on their own: numbers that keep their value, text that stays text, seeds that never merge two configurations. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { reportHtml } from '../../core/report/html.js';
import { groupOverSeeds, type ResultRow } from '../../core/report/results.js';
import { formatNumber, text } from '../../core/report/summary.js';

test('numbers: four significant digits, so a learning rate keeps its value', () => {
  assert.deepEqual([1e-5, 2e-5, 5e-5, 0.86666, 12.05723, 3, 0.1 + 0.2].map(formatNumber), ['0.00001', '0.00002', '0.00005', '0.8667', '12.06', '3', '0.3']);
});

test('quoted values are text: no link, no image, no emphasis, and a multi-line prompt stays in its table row', () => {
  assert.equal(text('[x](javascript:alert(1))'), '\\[x\\]\\(javascript:alert\\(1\\)\\)');
  assert.equal(text('Capitalize: {input}\n'), 'Capitalize: \\{input\\} ⏎ ');
  const html = reportHtml('e', null, `# e\n\n${text('[x](javascript:alert(1)) ![i](https://example.org/i.png)')}\n\n[raw](javascript:alert(2)) ![raw](https://example.org/j.png) <script>alert(3)</script>\n`, []);
  assert.doesNotMatch(html, /href="javascript|<img|<script>alert/);
  assert.match(html, /&lt;script&gt;alert\(3\)&lt;\/script&gt;/);
});

test('mean ± std over seeds groups one configuration only: two runs that differ in what no label shows stay apart', () => {
  const row = (run: string, config: string, seed: number, accuracy: number): ResultRow => ({ run, name: run, key: run, step: 'evaluate', status: 'succeeded', model: 'finetuned', task: 't', epoch: 0, seed, trial: `finetune/${run}`, config, params: { lora_rank: 8 }, metrics: { acc: accuracy }, gpuHours: 0.1, elapsedS: 1, curves: {}, note: null });
  const groups = groupOverSeeds([row('a', 'dataset A', 1, 0.5), row('b', 'dataset A', 2, 0.7), row('c', 'dataset B', 1, 0.9)], 'acc', ['lora_rank']);
  assert.deepEqual(groups.map((g) => [g.values, Number(g.mean.toFixed(4)), g.std === null ? null : Number(g.std.toFixed(4))]), [
    [[0.5, 0.7], 0.6, 0.1414],
    [[0.9], 0.9, null],
  ]);
});
