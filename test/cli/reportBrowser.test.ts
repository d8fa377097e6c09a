/**
 * report.html in real headless Chromium: it loads with no console error, every chart is there with
 * one mark per data point it claims (the SVG's point and bar marks, counted in the rendered DOM),
 * nothing on the page reaches the network, and a screenshot (light and dark) is saved in the test's
 * temporary directory. A page with a deliberate error is caught first: the check can fail.
 */
import assert from 'node:assert/strict';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { chromiumSkipReason, screenshot, visit } from '../helpers/chromium.js';
import { finishedSweep } from '../helpers/finishedSweep.js';

const skip = chromiumSkipReason();
if (skip) console.log(`# skipped: the report in Chromium (${skip})`);

test('the console check catches a page that logs an error', { skip }, async () => {
  const project = await finishedSweep();
  const broken = project.write('broken.html', '<!doctype html><html><body><script>console.error("boom"); notAFunction();</script></body></html>');
  const visited = visit(broken);
  assert.ok(visited.console.some((line) => line.includes('boom')), visited.console.join('\n'));
  assert.ok(visited.console.some((line) => line.includes('notAFunction')), visited.console.join('\n'));
});

test('report.html in Chromium: no console error, every chart with its data points, no network, screenshots', { skip }, async () => {
  const project = await finishedSweep();
  assert.equal(project.run(['report', 'experiments/sweep.yaml']).code, 0);
  const page = project.path('experiments', 'sweep.report', 'report.html');
  const html = readFileSync(page, 'utf8');
  assert.doesNotMatch(html.replace(/xmlns(:xlink)?="http:\/\/www\.w3\.org\/[^"]+"/g, '').replace(/"\$schema"[^,]*/g, ''), /(src|href)="(https?:)?\/\//, 'self-contained: nothing is fetched');
  assert.doesNotMatch(html, /<script/i, 'no script: the charts are plain SVG');

  const visited = visit(page);
  assert.deepEqual(visited.console, [], 'no console message');
  const figures = visited.dom.split('<figure').slice(1);
  const charts = figures.map((figure) => ({ id: /data-chart="([^"]+)"/.exec(figure)![1]!, claimed: Number(/data-points="(\d+)"/.exec(figure)![1]), drawn: (figure.match(/aria-roledescription="(point|bar)"/g) ?? []).length }));
  assert.deepEqual(charts.map((c) => c.id), ['metric-by-lora-rank', 'base-versus-finetuned', 'loss-curves', 'gpu-hours']);
  for (const chart of charts) assert.equal(chart.drawn, chart.claimed, `${chart.id}: ${chart.drawn} marks drawn for ${chart.claimed} data points`);
  // 5 evaluations at the last epoch with a metric (one log is missing, one run failed, one not built);
  // 2 tasks × (base, best fine-tune); 4 fine-tunes × 20 steps; 13 runs that used a GPU.
  assert.deepEqual(charts.map((c) => c.claimed), [5, 4, 80, 13]);
  assert.match(visited.dom, /aria-label="[^"]*lora_rank: 8[^"]*match_accuracy: 0\.84/, 'each point names its values');

  for (const [name, darkMode] of [['report-light.png', false], ['report-dark.png', true]] as const) {
    const png = join(project.dir, name);
    screenshot(page, png, { darkMode });
    assert.ok(statSync(png).size > 20_000, `${name} is an image of the page`);
    assert.ok(readFileSync(png).subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])), `${name} is a PNG`);
  }
  console.log(`# screenshots: ${join(project.dir, 'report-light.png')} and report-dark.png`);
  writeFileSync(join(project.dir, 'dom.html'), visited.dom);
});
