/**
 * Export of a result: fold the adapter into the base model (PEFT `merge_and_unload`, saved as
 * safetensors with the tokenizer) and/or convert to GGUF with llama.cpp. The source is the exact
 * upstream run: a fine-tune's last epoch, or a merged ensemble adapter.
 */
import { join } from 'node:path';
import type { Diagnostic } from '../core/diagnostics.js';
import type { JsonObject } from '../core/json.js';
import { ParamReader } from './support/params.js';
import { baseModelDir, checkpointDir, driverParam, cpuModelResources, pythonDriverRun, renderDiagnostic } from './support/render.js';
import type { ExpandedRun, RenderContext, RenderedRun, ResolveContext, ResolvedParams, Resources, Rule } from '../core/rule.js';

const DRIVER = 'export.py';
const FORMATS = ['gguf', 'safetensors', 'none'] as const;
type Format = (typeof FORMATS)[number];

function resolve(run: ExpandedRun, context: ResolveContext): ResolvedParams {
  const read = new ParamReader(run.params, context);
  const format = read.oneOf('format', FORMATS, 'none');
  const merge = read.boolean('merge', format !== 'none');
  const baseModel = read.string('base_model', '');
  const sourceKind = read.oneOf('source_kind', ['finetune', 'merge'] as const, 'finetune');
  if (baseModel === '' && (merge || format === 'gguf')) read.report('base_model', 'exporting needs `config.base_model`: the adapter is merged into (or converted against) it', 'missing-key');
  if (!merge && format === 'none') read.report('format', 'nothing to export: set `output.merge_after: true` or an `export_format`', 'invalid-value', 'warning');
  if (run.needs.checkpoint === undefined) read.report('self', 'an export needs the run whose result it exports', 'missing-key');
  const params: JsonObject = { format, merge, base_model: baseModel, source_kind: sourceKind, gguf_outtype: 'auto', ...driverParam(DRIVER) };
  return { params, model: baseModel ? { name: baseModel } : undefined, diagnostics: read.diagnostics };
}

/** What the export leaves in outputs/, by (merge, format). */
export function exportOutputs(merge: boolean, format: Format): string[] {
  const outputs: string[] = [];
  if (merge) outputs.push('outputs/merged');
  else if (format === 'safetensors') outputs.push('outputs/adapter');
  if (format === 'gguf') outputs.push(merge ? 'outputs/model.gguf' : 'outputs/adapter.gguf');
  return outputs;
}

function render(context: RenderContext): RenderedRun {
  const diagnostics: Diagnostic[] = [];
  const format: Format = FORMATS.find((f) => f === context.params.format) ?? 'none';
  const merge = context.params.merge === true;
  const baseModel = typeof context.params.base_model === 'string' ? context.params.base_model : '';
  const upstream = context.upstream.checkpoint;
  if (!upstream) diagnostics.push(renderDiagnostic(context, 'the export has no `checkpoint` upstream', 'missing-upstream'));
  const config: JsonObject = {
    base_model_dir: baseModelDir(context, baseModel, upstream),
    source_dir: upstream ? checkpointDir(upstream) : '',
    merge,
    format,
    merged_dir: join(context.outputsDir, 'merged'),
    adapter_dir: join(context.outputsDir, 'adapter'),
    gguf_path: join(context.outputsDir, merge ? 'model.gguf' : 'adapter.gguf'),
    gguf_outtype: typeof context.params.gguf_outtype === 'string' ? context.params.gguf_outtype : 'auto',
  };
  return pythonDriverRun('export', DRIVER, config, {
    install: 'install Python 3 with pip install torch transformers peft (and a llama.cpp checkout in LLAMA_CPP_DIR for GGUF)',
    outputs: exportOutputs(merge, format),
    diagnostics,
  });
}

function defaultResources(params: JsonObject): Resources {
  // Merging runs on the CPU in bfloat16: 2 bytes per parameter, plus the conversion's copy.
  return cpuModelResources(params, '01:00:00', 4);
}

export const exportRule: Rule = {
  name: 'export',
  version: 1,
  steps: ['export'],
  description: 'Merge an adapter into its base model (safetensors) and/or convert it to GGUF with llama.cpp.',
  resolve,
  render,
  defaultResources,
};
