/** Reading a flat `outputs/metrics.json` that a run's own code wrote. */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isObject, type JsonObject } from '../../core/json.js';

/** Scalar values only (finite numbers, strings, booleans): nested data stays in the run's outputs. */
export function readFlatMetrics(runDir: string): JsonObject | undefined {
  const file = join(runDir, 'outputs', 'metrics.json');
  if (!existsSync(file)) return undefined;
  try {
    const value: unknown = JSON.parse(readFileSync(file, 'utf8'));
    if (!isObject(value)) return undefined;
    const metrics: JsonObject = {};
    for (const [name, item] of Object.entries(value)) {
      if (typeof item === 'string' || typeof item === 'boolean' || (typeof item === 'number' && Number.isFinite(item))) metrics[name] = item;
    }
    return metrics;
  } catch {
    return undefined;
  }
}
