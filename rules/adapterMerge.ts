/**
 * Ensemble merge: the member fine-tunes' last-epoch LoRA adapters combined into one with PEFT's
 * `add_weighted_adapter`. The result, outputs/adapter, is a self-loading adapter directory that
 * evaluations and exports use like any fine-tune's checkpoint.
 */
import { join } from 'node:path';
import type { Diagnostic } from '../core/diagnostics.js';
import { type Json, type JsonObject } from '../core/json.js';
import { ParamReader } from '../core/params.js';
import { baseModelDir, checkpointDir, driverSha256, cpuModelResources, pythonDriverRun, renderDiagnostic } from './support/render.js';
import { defineRule, type ExpandedRun, type RenderContext, type RenderedRun, type ResolveContext, type Resolved, type Resources } from '../core/rule.js';

const DRIVER = 'adapter_merge.py';
export const MERGE_METHODS = ['linear', 'ties', 'dare_linear', 'cat'] as const;
/** PEFT requires equal LoRA ranks for these (`_check_add_weighted_adapter`); `cat` concatenates. */
const SAME_RANK = new Set<string>(['linear', 'ties', 'dare_linear']);
const USES_DENSITY = new Set<string>(['ties', 'dare_linear']);

/** `member1`, `member2`, … in numeric order (not `member10` before `member2`). */
export function memberRoles(needs: Record<string, unknown>): string[] {
  return Object.keys(needs)
    .filter((role) => /^member\d+$/.test(role))
    .sort((a, b) => Number(a.slice(6)) - Number(b.slice(6)));
}

export interface MergeParams {
  method: (typeof MERGE_METHODS)[number];
  /** One per member, in member order. */
  weights: number[];
  base_model: string;
  /** How many members are merged (their keys are the run's upstream keys). */
  members: number;
  /** ties and dare_linear only: the fraction of each adapter's weights kept. */
  density?: number;
  /** The driver script's content hash: an edit to it changes the key. */
  driver_sha256: string;
}

function resolve(run: ExpandedRun, context: ResolveContext): Resolved<MergeParams> {
  const read = new ParamReader(run.params, context);
  const method = read.oneOf('method', MERGE_METHODS, 'linear');
  const roles = memberRoles(run.needs);
  if (roles.length < 2) read.report('self', `an ensemble merge needs at least two members, not ${roles.length}`, 'invalid-value');
  const baseModel = read.string('base_model', '');
  if (baseModel === '') read.report('base_model', 'merging adapters needs `config.base_model`', 'missing-key');

  const weights = read.numberArray('weights') ?? roles.map(() => 1 / Math.max(1, roles.length));
  if (weights.length !== roles.length) read.report('weights', `${weights.length} weight(s) for ${roles.length} member(s): give one weight per member`, 'invalid-value');

  let density = read.number('density');
  if (USES_DENSITY.has(method)) {
    if (density === undefined) read.report('density', `\`${method}\` keeps a fraction of each adapter's weights: set \`density\` in (0, 1], e.g. 0.5`, 'missing-key');
    else if (!(density > 0 && density <= 1)) read.report('density', `\`density\` must be in (0, 1], not ${density}`, 'out-of-range');
  } else if (density !== undefined) {
    read.report('density', `\`density\` is ignored by \`${method}\` (it applies to ties and dare_linear)`, 'ignored-param', 'warning');
    density = undefined; // an ignored value must not change the key
  }

  // Members as the expansion wrote them: catch what PEFT would reject only after loading the model.
  const members = roles.map((role) => ({ role, run: context.runs.get(run.needs[role]!) }));
  const full = members.filter((member) => member.run?.params.method === 'full');
  if (full.length > 0) read.report('self', `${full.map((m) => m.run!.id).join(', ')} ${full.length === 1 ? 'is a full fine-tune' : 'are full fine-tunes'}: only LoRA adapters can be merged`, 'invalid-value');
  if (SAME_RANK.has(method)) {
    // Only ranks written in the experiment: an unset rank is the fine-tune rule's default.
    const ranks = new Set<Json>(members.map((member) => member.run?.params.lora_rank).filter((rank): rank is Json => rank !== undefined));
    if (ranks.size > 1) read.report('method', `\`${method}\` needs every member to have the same LoRA rank (PEFT); the members have ranks ${[...ranks].map(String).join(', ')}: use \`cat\`, or merge members of one rank`, 'conflict');
  }

  const params: MergeParams = { method, weights, base_model: baseModel, members: roles.length, driver_sha256: driverSha256(DRIVER) };
  if (density !== undefined) params.density = density;
  return { params, model: { name: baseModel }, diagnostics: read.diagnostics };
}

function toJson(params: MergeParams): JsonObject {
  const json: JsonObject = { method: params.method, weights: params.weights, base_model: params.base_model, members: params.members, driver_sha256: params.driver_sha256 };
  if (params.density !== undefined) json.density = params.density;
  return json;
}

function fromJson(json: JsonObject): MergeParams {
  const params: MergeParams = {
    method: MERGE_METHODS.find((method) => method === json.method) ?? 'linear',
    weights: Array.isArray(json.weights) ? json.weights.filter((weight): weight is number => typeof weight === 'number') : [],
    base_model: typeof json.base_model === 'string' ? json.base_model : '',
    members: typeof json.members === 'number' ? json.members : 0,
    driver_sha256: typeof json.driver_sha256 === 'string' ? json.driver_sha256 : '',
  };
  if (typeof json.density === 'number') params.density = json.density;
  return params;
}

export function mergeConfig(context: RenderContext<MergeParams>, diagnostics: Diagnostic[]): JsonObject {
  const roles = memberRoles(context.upstream);
  const members: Json[] = [];
  for (const role of roles) members.push({ name: role, path: checkpointDir(context.upstream[role]!) });
  if (roles.length === 0) diagnostics.push(renderDiagnostic(context, 'the merge has no members', 'missing-upstream'));
  const { base_model: baseModel, weights, method, density } = context.params;
  const config: JsonObject = {
    base_model_dir: baseModelDir(context, baseModel, roles[0] === undefined ? undefined : context.upstream[roles[0]]),
    members,
    weights,
    method,
    output_dir: join(context.outputsDir, 'adapter'),
  };
  if (density !== undefined) config.density = density;
  return config;
}

function render(context: RenderContext<MergeParams>): RenderedRun {
  const diagnostics: Diagnostic[] = [];
  const config = mergeConfig(context, diagnostics);
  return pythonDriverRun('merge', DRIVER, config, { install: 'install Python 3 with pip install torch transformers peft', outputs: ['outputs/adapter'], diagnostics });
}

function defaultResources(params: MergeParams): Resources {
  // The base model in bfloat16 on the CPU, plus one set of adapter weights per member.
  return cpuModelResources(params.base_model, '00:30:00', 3);
}

export const adapterMergeRule = defineRule<MergeParams>({
  name: 'adapter-merge',
  version: 1,
  steps: ['merge'],
  description: 'Ensemble merge of LoRA adapters with PEFT add_weighted_adapter (linear, ties, dare_linear or cat).',
  resolve,
  toJson,
  fromJson,
  render,
  defaultResources,
});
