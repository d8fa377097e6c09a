/**
 * Export of a result: fold the adapter into the base model (PEFT `merge_and_unload`, saved as
 * safetensors with the tokenizer) and/or convert to GGUF with llama.cpp. The source is the exact
 * upstream run: a fine-tune's last epoch, or a merged ensemble adapter.
 */
import { join } from 'node:path';
import type { Diagnostic } from '../core/diagnostics.js';
import type { JsonObject } from '../core/json.js';
import { ParamReader } from '../core/params.js';
import { baseModelDir, checkpointDir, driverSha256, cpuModelResources, pythonDriverRun, renderDiagnostic } from './support/render.js';
import { defineRule, type ExpandedRun, type RenderContext, type RenderedRun, type ResolveContext, type Resolved, type Resources } from '../core/rule.js';

const DRIVER = 'export.py';
const FORMATS = ['gguf', 'safetensors', 'none'] as const;
type Format = (typeof FORMATS)[number];
const SOURCE_KINDS = ['finetune', 'merge'] as const;

export interface ExportParams {
  format: Format;
  /** Fold the adapter into the base model (safetensors). */
  merge: boolean;
  base_model: string;
  /** What the upstream is: a fine-tune (its last epoch) or a merged ensemble adapter. */
  source_kind: (typeof SOURCE_KINDS)[number];
  gguf_outtype: string;
  /** The driver script's content hash: an edit to it changes the key. */
  driver_sha256: string;
}

function resolve(run: ExpandedRun, context: ResolveContext): Resolved<ExportParams> {
  const read = new ParamReader(run.params, context);
  const format = read.oneOf('format', FORMATS, 'none');
  const merge = read.boolean('merge', format !== 'none');
  const baseModel = read.string('base_model', '');
  const sourceKind = read.oneOf('source_kind', SOURCE_KINDS, 'finetune');
  if (baseModel === '' && (merge || format === 'gguf')) read.report('base_model', 'exporting needs `config.base_model`: the adapter is merged into (or converted against) it', 'missing-key');
  if (!merge && format === 'none') read.report('format', 'nothing to export: set `output.merge_after: true` or an `export_format`', 'invalid-value', 'warning');
  if (run.needs.checkpoint === undefined) read.report('self', 'an export needs the run whose result it exports', 'missing-key');
  const params: ExportParams = { format, merge, base_model: baseModel, source_kind: sourceKind, gguf_outtype: 'auto', driver_sha256: driverSha256(DRIVER) };
  return { params, model: baseModel ? { name: baseModel } : undefined, diagnostics: read.diagnostics };
}

function toJson(params: ExportParams): JsonObject {
  return { format: params.format, merge: params.merge, base_model: params.base_model, source_kind: params.source_kind, gguf_outtype: params.gguf_outtype, driver_sha256: params.driver_sha256 };
}

function fromJson(json: JsonObject): ExportParams {
  return {
    format: FORMATS.find((f) => f === json.format) ?? 'none',
    merge: json.merge === true,
    base_model: typeof json.base_model === 'string' ? json.base_model : '',
    source_kind: SOURCE_KINDS.find((kind) => kind === json.source_kind) ?? 'finetune',
    gguf_outtype: typeof json.gguf_outtype === 'string' ? json.gguf_outtype : 'auto',
    driver_sha256: typeof json.driver_sha256 === 'string' ? json.driver_sha256 : '',
  };
}

/** What the export leaves in outputs/, by (merge, format). */
export function exportOutputs(merge: boolean, format: Format): string[] {
  const outputs: string[] = [];
  if (merge) outputs.push('outputs/merged');
  else if (format === 'safetensors') outputs.push('outputs/adapter');
  if (format === 'gguf') outputs.push(merge ? 'outputs/model.gguf' : 'outputs/adapter.gguf');
  return outputs;
}

function render(context: RenderContext<ExportParams>): RenderedRun {
  const diagnostics: Diagnostic[] = [];
  const { format, merge, base_model: baseModel } = context.params;
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
    gguf_outtype: context.params.gguf_outtype,
  };
  return pythonDriverRun('export', DRIVER, config, {
    install: 'install Python 3 with pip install torch transformers peft (and a llama.cpp checkout in LLAMA_CPP_DIR for GGUF)',
    outputs: exportOutputs(merge, format),
    diagnostics,
  });
}

function defaultResources(params: ExportParams): Resources {
  // Merging runs on the CPU in bfloat16: 2 bytes per parameter, plus the conversion's copy.
  return cpuModelResources(params.base_model, '01:00:00', 4);
}

export const exportRule = defineRule<ExportParams>({
  name: 'export',
  version: 1,
  steps: ['export'],
  description: 'Merge an adapter into its base model (safetensors) and/or convert it to GGUF with llama.cpp.',
  resolve,
  toJson,
  fromJson,
  render,
  defaultResources,
});
