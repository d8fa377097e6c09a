/** models.base → the base models, and where they live on the site (`models:`, never in a key). */
import type { FieldPath } from '../../diagnostics.js';
import type { JsonObject } from '../../json.js';
import { type Conversion, describe } from './conversion.js';

export interface BaseModels {
  /** Name → index in models.base. */
  modelNames: Map<string, number>;
  modelPaths: Record<string, { path: string }>;
}

export function convertModels(c: Conversion, data: JsonObject): BaseModels {
  const models = c.mapping(data.models, ['models'], '`models`') ?? {};
  c.keys(models, ['models'], '`models`', ['base']);
  const modelNames = new Map<string, number>();
  const modelPaths: Record<string, { path: string }> = {};
  const base = models.base;
  if (base !== undefined && (!Array.isArray(base) || base.length === 0)) c.error(['models', 'base'], 'expected a non-empty list of {name, path, size_gb}', 'invalid-type');
  if (data.models !== undefined && base === undefined) c.error(['models'], 'missing required key `base` (a list of {name, path, size_gb})', 'missing-key');
  (Array.isArray(base) ? base : []).forEach((entry, index) => {
    const path: FieldPath = ['models', 'base', index];
    const model = c.mapping(entry, path, 'a base model');
    if (!model) return;
    c.keys(model, path, 'a base model', ['name', 'path', 'size_gb']);
    const modelName = c.string(model, 'name', path, 'error', { nonEmpty: true });
    const modelPath = c.string(model, 'path', path, 'warning', { nonEmpty: true, why: 'without it ckbuild looks in the models_dir of ckbuild.local.yaml' });
    if (model.size_gb === undefined) c.warn(path, 'missing `size_gb` (required by cruijff_kit; informational here)', 'missing-key');
    else if (typeof model.size_gb !== 'number' || model.size_gb < 0) c.error([...path, 'size_gb'], `expected a size in GB, got ${describe(model.size_gb)}`, 'invalid-type');
    if (modelName === undefined) return;
    if (modelNames.has(modelName)) {
      c.error([...path, 'name'], `\`${modelName}\` is listed twice (also models.base[${modelNames.get(modelName)}])`, 'duplicate');
      return;
    }
    modelNames.set(modelName, index);
    if (modelPath !== undefined) {
      modelPaths[modelName] = { path: modelPath };
      c.from(['models', modelName], path);
      c.from(['models', modelName, 'path'], [...path, 'path']);
    }
  });

  return { modelNames, modelPaths };
}
