/**
 * runs → the fine-tunes (a `list` protocol, one named run each) and the models evaluated but not
 * trained here (controls and eval-only runs become `evaluation.checkpoints`).
 */
import type { Resources } from '../../rule.js';
import { type FieldPath, didYouMean } from '../../diagnostics.js';
import type { DatasetRef, EvaluationCheckpoint, ListRun } from '../../experiment/model.js';
import type { Json, JsonObject } from '../../json.js';
import { type Conversion, describe } from './conversion.js';
import { NATIVE_SPELLINGS, PARAMS, RUN_NAME, RUN_TYPES, type RunInfo, type RunType, UNSUPPORTED_PARAMS } from './spec.js';

export interface Runs {
  runs: RunInfo[];
  runsByName: Map<string, RunInfo>;
}

/** Each run's name, type, model and parameters, checked; a run with a problem there is left out. */
export function readRuns(c: Conversion, data: JsonObject, modelNames: Map<string, number>): Runs {
  const runs: RunInfo[] = [];
  const runsByName = new Map<string, RunInfo>();
  const rawRuns = data.runs;
  if (rawRuns !== undefined && rawRuns !== null && (!Array.isArray(rawRuns) || rawRuns.length === 0)) c.error(['runs'], 'expected a non-empty list of runs ({name, type, model, parameters})', 'invalid-type');
  (Array.isArray(rawRuns) ? rawRuns : []).forEach((entry, index) => {
    const path: FieldPath = ['runs', index];
    const run = c.mapping(entry, path, 'a run');
    if (!run) return;
    c.keys(run, path, 'a run', ['name', 'type', 'model', 'parameters', 'training_condition', 'dataset_path', 'compute', 'slurm_overrides'], {
      finetuned: { rename: 'is_finetuned', message: 'ckbuild derives it from the run’s `type`: remove it' },
      is_finetuned: { message: 'ckbuild derives `is_finetuned` from the run’s `type`: remove it' },
    });
    const runName = c.string(run, 'name', path, 'error', { nonEmpty: true });
    const type = c.string(run, 'type', path, 'error');
    const model = c.string(run, 'model', path, 'error', { nonEmpty: true });
    const parameters = run.parameters === undefined || run.parameters === null ? undefined : c.mapping(run.parameters, [...path, 'parameters'], '`parameters`');
    if (run.parameters === undefined || run.parameters === null) c.error(path, 'missing required key `parameters` (the varied values of a fine-tuned run; `{}` for a control; `{checkpoint_path: …}` for an eval-only run)', 'missing-key');
    if (type !== undefined && !(RUN_TYPES as readonly string[]).includes(type)) c.error([...path, 'type'], `${describe(type)} is not a run type; expected one of ${RUN_TYPES.join(', ')}${didYouMean(type, RUN_TYPES)}`, 'invalid-value');
    if (runName !== undefined && !RUN_NAME.test(runName)) c.error([...path, 'name'], `run names may use only letters, digits, _, . and - (it names the run’s directory and jobs), got ${JSON.stringify(runName)}`, 'invalid-value');
    if (runName !== undefined && runsByName.has(runName)) c.error([...path, 'name'], `two runs are named \`${runName}\` (the first is runs[${runsByName.get(runName)!.index}])`, 'duplicate-run');
    if (model !== undefined && modelNames.size > 0 && !modelNames.has(model)) c.error([...path, 'model'], `\`${model}\` is not one of models.base: ${[...modelNames.keys()].join(', ')}${didYouMean(model, modelNames.keys())}`, 'dangling-reference');
    if (run.training_condition !== undefined) {
      const condition = String(run.training_condition);
      c.error([...path, 'training_condition'], `\`training_condition\` names a file tabular_to_text_gen wrote as \`${condition}_train_<hash8>.json\` (a hash of its configuration, which ckbuild does not compute): replace \`training_condition: ${condition}\` with \`dataset_path: <that file>\``, 'unsupported', 'key');
    }
    if (runName === undefined || type === undefined || model === undefined || !(RUN_TYPES as readonly string[]).includes(type) || runsByName.has(runName)) return;
    const info: RunInfo = { index, name: runName, type: type as RunType, model, parameters: parameters ?? {} };
    runs.push(info);
    runsByName.set(runName, info);
  });
  return { runs, runsByName };
}

/** The base model of the config: the fine-tunes' (the first one's), else the first run's. */
export function chooseBaseModel(c: Conversion, runs: RunInfo[], modelNames: Map<string, number>, config: JsonObject): string | undefined {
  const baseModel = runs.find((run) => run.type === 'fine-tuned')?.model ?? runs[0]?.model ?? [...modelNames.keys()][0];
  if (baseModel !== undefined) {
    config.base_model = baseModel;
    const first = runs.find((run) => run.model === baseModel);
    c.from(['config', 'base_model'], first ? ['runs', first.index, 'model'] : ['models', 'base', modelNames.get(baseModel) ?? 0, 'name']);
  }
  return baseModel;
}

export interface ConvertedRuns {
  listRuns: ListRun[];
  checkpoints: EvaluationCheckpoint[];
}

export function convertRuns(c: Conversion, data: JsonObject, runs: RunInfo[], baseModel: string | undefined, textCompletion: boolean): ConvertedRuns {
  const listRuns: ListRun[] = [];
  const checkpoints: EvaluationCheckpoint[] = [];
  for (const run of runs) {
    const raw = (data.runs as Json[])[run.index] as JsonObject;
    const parameters = runParameters(c, run, raw, textCompletion);
    const resources = runResources(c, run, raw, ['protocol', 'runs', listRuns.length, 'resources']);
    if (run.type === 'fine-tuned') listRuns.push(listRun(c, run, parameters, resources, baseModel, ['protocol', 'runs', listRuns.length]));
    else checkpoints.push(checkpoint(c, run, parameters, ['evaluation', 'checkpoints', checkpoints.length]));
  }
  return { listRuns, checkpoints };
}

/** A path as written, and where. */
type Located = { value: string; at: FieldPath };

/** What a run's `parameters` (and `dataset_path`) say, each value read as its control would be. */
interface RunParameters {
  overrides: JsonObject;
  overridePaths: Record<string, FieldPath>;
  datasetPath?: Located;
  evalDatasetPath?: Located;
  checkpointPath?: Located;
  dataset?: DatasetRef;
  evalDataset?: DatasetRef;
}

function runParameters(c: Conversion, run: RunInfo, raw: JsonObject, textCompletion: boolean): RunParameters {
  const path: FieldPath = ['runs', run.index];
  const parametersPath: FieldPath = [...path, 'parameters'];
  const overrides: JsonObject = {};
  const overridePaths: Record<string, FieldPath> = {};
  let datasetPath: { value: string; at: FieldPath } | undefined;
  let evalDatasetPath: { value: string; at: FieldPath } | undefined;
  let checkpointPath: { value: string; at: FieldPath } | undefined;
  const takePath = (value: Json, at: FieldPath): { value: string; at: FieldPath } | undefined => {
    if (typeof value === 'string' && value.trim() !== '') return { value, at };
    c.error(at, `expected a path, got ${describe(value)}`, 'invalid-type');
    return undefined;
  };
  if (raw.dataset_path !== undefined) datasetPath = takePath(raw.dataset_path, [...path, 'dataset_path']);
  for (const [name, value] of Object.entries(run.parameters)) {
    const at: FieldPath = [...parametersPath, name];
    if (value === null || value === undefined) continue;
    if (name === 'dataset_path') {
      if (datasetPath) c.error(at, `\`dataset_path\` is also set at runs[${run.index}].dataset_path: give it once`, 'duplicate');
      else datasetPath = takePath(value, at);
      continue;
    }
    if (name === 'eval_dataset_path') {
      evalDatasetPath = takePath(value, at);
      continue;
    }
    if (name === 'checkpoint_path') {
      if (run.type !== 'eval-only') c.error(at, `\`checkpoint_path\` is for eval-only runs (this run is ${run.type})`, 'invalid-value', 'key');
      else checkpointPath = takePath(value, at);
      continue;
    }
    const spec = PARAMS[name];
    if (!spec) {
      const allowed = [...Object.keys(PARAMS), 'dataset_path', 'eval_dataset_path', 'checkpoint_path'];
      if (UNSUPPORTED_PARAMS[name]) c.error(at, `\`${name}\` is not supported: ${UNSUPPORTED_PARAMS[name]}`, 'unsupported', 'key');
      else if (NATIVE_SPELLINGS[name]) c.error(at, `unknown key \`${name}\` in \`parameters\`: this format calls it \`${NATIVE_SPELLINGS[name]}\``, 'unknown-key', 'key');
      else c.error(at, `unknown key \`${name}\` in \`parameters\`${didYouMean(name, allowed) || '; it is not a setting ckbuild knows, and would be lost'}`, 'unknown-key', 'key');
      continue;
    }
    const converted = c.param(spec, value, at);
    if (converted === undefined) continue;
    if (run.type !== 'fine-tuned' && name !== 'prompt') {
      c.warn(at, `ignored: a ${run.type} run is not trained here, so training settings do not apply`, 'ignored-key', 'key');
      continue;
    }
    if (spec.differs) c.warn(at, spec.differs, 'differs', 'key');
    if (name === 'system_prompt') c.warn(at, 'cruijff_kit evaluated every run with controls.system_prompt; ckbuild evaluates this run with the system prompt it was trained with (train/eval parity)', 'differs', 'key');
    overrides[spec.native] = converted;
    overridePaths[spec.native] = at;
  }
  if (textCompletion && typeof overrides.system_prompt === 'string') {
    if (overrides.system_prompt !== '') c.warn(overridePaths.system_prompt!, 'with dataset_type text_completion a system prompt is used neither in training nor in evaluation', 'ignored-key');
    delete overrides.system_prompt;
  }
  if (run.type === 'fine-tuned' && Object.keys(run.parameters).length === 0) {
    c.error(parametersPath, 'a fine-tuned run needs its parameters: the values of the variables it trains with (e.g. `lora_rank: 8`)', 'missing-key');
  }
  if (run.type === 'eval-only' && !checkpointPath && run.parameters.checkpoint_path === undefined) {
    c.error(parametersPath, 'an eval-only run needs `checkpoint_path`: the directory of the existing checkpoint to evaluate', 'missing-key');
  }
  const dataset = datasetPath && c.file(datasetPath.value, datasetPath.at, 'dataset file') ? ({ path: datasetPath.value, format: 'json' } satisfies DatasetRef) : undefined;
  const evalDataset = evalDatasetPath && c.file(evalDatasetPath.value, evalDatasetPath.at, 'dataset file') ? ({ path: evalDatasetPath.value, format: 'json' } satisfies DatasetRef) : undefined;

  return { overrides, overridePaths, datasetPath, evalDatasetPath, checkpointPath, dataset, evalDataset };
}

/** Scheduling: compute and slurm_overrides are for the fine-tune. */
function runResources(c: Conversion, run: RunInfo, raw: JsonObject, native: FieldPath): Resources | undefined {
  const path: FieldPath = ['runs', run.index];
  let resources: Resources | undefined;
  if (raw.compute !== undefined && raw.compute !== null) {
    resources = c.compute(raw.compute, [...path, 'compute'], native);
    if (run.type !== 'fine-tuned') {
      c.warn([...path, 'compute'], `ignored: \`compute\` sizes a fine-tune, and a ${run.type} run is not trained here (evaluation.compute sizes evaluations)`, 'ignored-key', 'key');
      resources = undefined;
    }
  }
  const overridesSlurm = c.mapping(raw.slurm_overrides, [...path, 'slurm_overrides'], '`slurm_overrides`');
  if (overridesSlurm) {
    c.keys(overridesSlurm, [...path, 'slurm_overrides'], '`slurm_overrides`', ['constraint', 'partition']);
    if (run.type !== 'fine-tuned') c.warn([...path, 'slurm_overrides'], `ignored: \`slurm_overrides\` apply to a fine-tune, and a ${run.type} run is not trained here`, 'ignored-key', 'key');
    else {
      resources = { ...(resources ?? {}) };
      for (const field of ['constraint', 'partition'] as const) {
        const value = c.string(overridesSlurm, field, [...path, 'slurm_overrides'], 'optional', { nonEmpty: true });
        if (value === undefined) continue;
        resources[field] = value;
        c.from([...native, field], [...path, 'slurm_overrides', field]);
      }
    }
  }
  if (resources && Object.keys(resources).length === 0) resources = undefined;
  return resources;
}

/** A fine-tuned run: a run of the list protocol, with its overrides, datasets and resources. */
function listRun(c: Conversion, run: RunInfo, parameters: RunParameters, resources: Resources | undefined, baseModel: string | undefined, at: FieldPath): ListRun {
  const path: FieldPath = ['runs', run.index];
  const { overrides, overridePaths, dataset, datasetPath, evalDataset, evalDatasetPath } = parameters;
  const listRun: ListRun = { name: run.name };
  if (run.model !== baseModel) {
    listRun.base_model = run.model;
    c.from([...at, 'base_model'], [...path, 'model']);
  }
  for (const [param, value] of Object.entries(overrides)) {
    listRun[param] = value;
    c.from([...at, param], overridePaths[param]!);
  }
  if (dataset) {
    listRun.dataset = dataset;
    c.from([...at, 'dataset'], datasetPath!.at);
    c.from([...at, 'dataset', 'path'], datasetPath!.at);
  }
  if (evalDataset) {
    listRun.eval_dataset = evalDataset;
    c.from([...at, 'eval_dataset'], evalDatasetPath!.at);
    c.from([...at, 'eval_dataset', 'path'], evalDatasetPath!.at);
  }
  if (resources) listRun.resources = resources;
  c.from(at, path);
  c.from([...at, 'name'], [...path, 'name']);
  return listRun;
}

/** A control or an eval-only run: a model the experiment evaluates without training it. */
function checkpoint(c: Conversion, run: RunInfo, parameters: RunParameters, at: FieldPath): EvaluationCheckpoint {
  const path: FieldPath = ['runs', run.index];
  const { overrides, overridePaths, checkpointPath, dataset, datasetPath, evalDataset, evalDatasetPath } = parameters;
  const checkpoint: EvaluationCheckpoint = { name: run.name, base_model: run.model };
  if (checkpointPath) {
    checkpoint.path = checkpointPath.value;
    c.from([...at, 'path'], checkpointPath.at);
  }
  if (typeof overrides.prompt === 'string') {
    checkpoint.prompt = overrides.prompt;
    c.from([...at, 'prompt'], overridePaths.prompt!);
  }
  const evalData = evalDataset ?? dataset;
  if (evalData) {
    checkpoint.eval_dataset = evalData;
    const from = evalDataset ? evalDatasetPath!.at : datasetPath!.at;
    c.from([...at, 'eval_dataset'], from);
    c.from([...at, 'eval_dataset', 'path'], from);
  }
  c.from(at, path);
  c.from([...at, 'name'], [...path, 'name']);
  c.from([...at, 'base_model'], [...path, 'model']);
  return checkpoint;
}
