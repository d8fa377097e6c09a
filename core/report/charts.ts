/**
 * The report's charts, drawn by Vega-Lite (compiled to Vega, rendered headless to SVG strings):
 * no canvas, no browser, no network, and the same data gives the same SVG bytes. Text and axes
 * are drawn in `currentColor`, so the page's CSS decides light or dark; every mark carries an
 * aria-label with its values, so a screen reader (and the tests) can read each data point.
 */
import type { Json } from '../json.js';
import type { Curve } from '../rule.js';
import { groupOverSeeds, type Results } from './results.js';

export interface Chart {
  id: string;
  title: string;
  /** One sentence under the chart: what it shows and how to read it. */
  caption: string;
  svg: string;
  /** The plotted values, for the table under the chart (the same data, readable without the picture). */
  data: Record<string, Json>[];
  /** How many data points the chart draws (symbols or bars): what a test counts in the SVG. */
  points: number;
}

type Spec = Record<string, unknown>;

const GRID = 'rgba(128, 128, 128, 0.35)';
const CONFIG = {
  background: null,
  font: 'system-ui, -apple-system, "Segoe UI", sans-serif',
  view: { stroke: GRID },
  axis: { labelColor: 'currentColor', titleColor: 'currentColor', domainColor: 'currentColor', tickColor: 'currentColor', gridColor: GRID, labelFontSize: 11, titleFontSize: 12 },
  legend: { labelColor: 'currentColor', titleColor: 'currentColor', labelLimit: 260, symbolFillColor: 'currentColor', symbolStrokeColor: 'currentColor' },
  title: { color: 'currentColor' },
  range: { category: { scheme: 'tableau10' } },
};
const WIDTH = 560;
const HEIGHT = 260;

/**
 * The bin lends its import() under this symbol (cli/launch.ts): code run from the bundle's code
 * cache cannot import ES modules itself, and vega and vega-lite are ES modules only.
 */
const BIN_IMPORT = Symbol.for('ckbuild.import');

function importPackage<T>(specifier: string): Promise<T> {
  const lent = (globalThis as Record<symbol, unknown>)[BIN_IMPORT] as ((specifier: string) => Promise<unknown>) | undefined;
  return (lent ? lent(specifier) : import(specifier)) as Promise<T>;
}

async function render(spec: Spec): Promise<string> {
  const [vega, vegaLite] = await Promise.all([importPackage<typeof import('vega')>('vega'), importPackage<typeof import('vega-lite')>('vega-lite')]);
  const compiled = vegaLite.compile({ $schema: 'https://vega.github.io/schema/vega-lite/v6.json', config: CONFIG, width: WIDTH, height: HEIGHT, ...spec } as never).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  return svg;
}

const isNumber = (value: Json | undefined): value is number => typeof value === 'number' && Number.isFinite(value);

/**
 * A parameter axis: ordinal for a few whole numbers (LoRA ranks 4, 8, 16 are levels, not a
 * continuum) and for anything not a number; quantitative otherwise, on a log scale when the values
 * span two orders of magnitude (learning rates).
 */
function parameterAxis(name: string, values: Json[]): Spec {
  const levels = new Set(values.map((v) => JSON.stringify(v))).size;
  if (values.every(isNumber) && !(levels <= 8 && values.every((v) => Number.isInteger(v)))) {
    const positive = values.every((v) => v > 0);
    const span = Math.max(...values) / Math.min(...values);
    return { field: name, type: 'quantitative', title: name, scale: positive && span >= 100 ? { type: 'log' } : { zero: false } };
  }
  return { field: name, type: 'ordinal', title: name, sort: 'ascending', axis: { labelAngle: 0 } };
}

export async function drawCharts(results: Results): Promise<Chart[]> {
  const charts: Chart[] = [];
  const primary = results.primary;
  const evaluations = results.rows.filter((row) => row.step === 'evaluate');
  if (primary) {
    // Metric against each swept parameter: a point per seed, the mean over seeds as a line.
    const tuned = evaluations.filter((row) => row.model !== 'base' && isNumber(row.metrics[primary.name]));
    const lastEpoch = new Map<string, number>();
    for (const row of tuned) lastEpoch.set(row.task, Math.max(lastEpoch.get(row.task) ?? 0, row.epoch ?? 0));
    const final = tuned.filter((row) => (row.epoch ?? 0) === lastEpoch.get(row.task));
    for (const name of results.swept) {
      const data = final.map((row) => ({ task: row.task, [name]: row.params[name] ?? null, seed: row.seed, [primary.name]: row.metrics[primary.name]!, run: row.run }));
      if (data.length === 0) continue;
      const x = parameterAxis(name, data.map((d) => d[name] ?? null));
      const y = { field: primary.name, type: 'quantitative', title: primary.name, scale: { zero: false } };
      const svg = await render({
        data: { values: data },
        layer: [
          { mark: { type: 'point', filled: true, size: 70, opacity: 0.85 }, encoding: { x, y, color: { field: 'task', type: 'nominal', title: 'task' }, shape: { field: 'seed', type: 'nominal', title: 'seed' }, tooltip: [{ field: 'run' }, { field: 'seed' }, { field: primary.name }] } },
          { mark: { type: 'line', strokeWidth: 2 }, encoding: { x, y: { ...y, aggregate: 'mean' }, color: { field: 'task', type: 'nominal' } } },
        ],
      });
      charts.push({ id: `metric-by-${slug(name)}`, title: `${primary.name} by ${name}`, caption: `Each point is one seed's evaluation at the last epoch; the line joins the mean over seeds, per task. ${primary.higherIsBetter ? 'Higher' : 'Lower'} is better.`, svg, data, points: data.length });
    }
    // Base model versus fine-tuned, per task.
    const groups = groupOverSeeds(evaluations, primary.name, results.swept);
    const byTask = new Map<string, { base?: number; tuned: number[] }>();
    for (const group of groups) {
      const entry = byTask.get(group.task) ?? { tuned: [] };
      if (group.model === 'base') entry.base = group.mean;
      else entry.tuned.push(group.mean);
      byTask.set(group.task, entry);
    }
    const comparison: Record<string, Json>[] = [];
    for (const [task, entry] of byTask) {
      if (entry.base !== undefined) comparison.push({ task, model: 'base', [primary.name]: round(entry.base) });
      if (entry.tuned.length > 0) comparison.push({ task, model: 'fine-tuned (best)', [primary.name]: round(primary.higherIsBetter ? Math.max(...entry.tuned) : Math.min(...entry.tuned)) });
    }
    if (comparison.some((d) => d.model === 'base') && comparison.some((d) => d.model !== 'base')) {
      const svg = await render({
        data: { values: comparison },
        mark: { type: 'bar', tooltip: true },
        encoding: { x: { field: 'task', type: 'nominal', title: 'task', axis: { labelAngle: 0 } }, xOffset: { field: 'model' }, y: { field: primary.name, type: 'quantitative', title: primary.name }, color: { field: 'model', type: 'nominal', title: 'model' } },
      });
      charts.push({ id: 'base-versus-finetuned', title: 'Base model versus fine-tuned', caption: `${primary.name} of the base model and of the best fine-tuned configuration (mean over seeds), per task.`, svg, data: comparison, points: comparison.length });
    }
  }
  // Training and validation loss by step, per fine-tune.
  const curves: Record<string, Json>[] = [];
  for (const row of results.rows.filter((r) => r.step === 'finetune')) {
    for (const [series, curve] of Object.entries(row.curves) as [string, Curve][]) {
      for (const [step, loss] of curve) if (loss !== null) curves.push({ run: row.run, series: series === 'val_loss' ? 'validation' : 'training', step, loss });
    }
  }
  if (curves.length > 0) {
    const svg = await render({
      data: { values: curves },
      mark: { type: 'line', point: { size: 12 }, strokeWidth: 1.5 },
      encoding: { x: { field: 'step', type: 'quantitative', title: 'step' }, y: { field: 'loss', type: 'quantitative', title: 'loss', scale: { zero: false } }, color: { field: 'run', type: 'nominal', title: 'fine-tune' }, strokeDash: { field: 'series', type: 'nominal', title: 'loss' }, detail: { field: 'series' } },
    });
    charts.push({ id: 'loss-curves', title: 'Training and validation loss', caption: 'Loss by step for every fine-tune (training solid, validation dashed where the recipe computed it), as its torchtune log recorded it (thinned to 200 points).', svg, data: curves, points: curves.length });
  }
  // GPU-hours per run.
  const hours = results.rows.filter((row) => row.gpuHours !== null && row.gpuHours > 0).map((row) => ({ run: row.run, step: row.step, gpu_hours: row.gpuHours! }));
  if (hours.length > 0) {
    const svg = await render({
      height: Math.max(60, 18 * hours.length),
      data: { values: hours },
      mark: { type: 'bar', tooltip: true },
      encoding: { y: { field: 'run', type: 'nominal', title: null, sort: null, axis: { labelLimit: 320 } }, x: { field: 'gpu_hours', type: 'quantitative', title: 'GPU-hours' }, color: { field: 'step', type: 'nominal', title: 'step' } },
    });
    charts.push({ id: 'gpu-hours', title: 'GPU-hours per run', caption: 'Recorded elapsed time × GPUs of every run that used a GPU.', svg, data: hours, points: hours.length });
  }
  return charts;
}

const round = (value: number): number => Number(value.toFixed(4));
const slug = (name: string): string => name.replace(/[^A-Za-z0-9]+/g, '-').toLowerCase();
