/** Reading a flat `outputs/metrics.json` that a run's own code wrote. */
import { existsSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { isObject, type JsonObject } from '../../core/json.js';
import type { MetricsReading } from '../../core/rule.js';

/** Scalar values only (finite numbers, strings, booleans): nested data stays in the run's outputs. */
export function readFlatMetrics(runDir: string): MetricsReading {
  const file = join(runDir, 'outputs', 'metrics.json');
  // Optional: a step that writes no metrics.json has nothing to say, and that is not a problem.
  if (!existsSync(file)) return {};
  try {
    const value: unknown = JSON.parse(readFileSync(file, 'utf8'));
    if (!isObject(value)) return { note: `${relative(runDir, file)} is not a JSON object of metric names to values` };
    const metrics: JsonObject = {};
    for (const [name, item] of Object.entries(value)) {
      if (typeof item === 'string' || typeof item === 'boolean' || (typeof item === 'number' && Number.isFinite(item))) metrics[name] = item;
    }
    return { metrics };
  } catch (error) {
    return { note: `${relative(runDir, file)} cannot be read as JSON: ${(error as Error).message.split('\n')[0]}` };
  }
}
