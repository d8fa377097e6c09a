/**
 * The earlier toolkit's experiment file, `experiment_summary.yaml` (cruijff_kit 0.3.4; see
 * reference/cruijff_kit.md §1.1), read as a pure function into a native document.
 *
 * There, the file was turned into runs and eval cells by an assistant following prose; here the
 * conversion is code, and every rule the earlier toolkit checked (in code, in tests or in prose)
 * is a positioned diagnostic. Principles:
 *
 * - A value that is present and wrong is an error; a required key that is missing is an error
 *   when ckbuild needs it and a warning when only the earlier toolkit did (`date`, `dir`, …).
 * - Nothing is dropped in silence: an unknown key is an error (with a suggestion), a renamed
 *   legacy key is an error naming the new key, and a known key that has no effect here is a warning.
 * - The conversion writes the earlier toolkit's defaults explicitly (lora_rank 64, lr 1e-4, …), so
 *   an imported experiment trains what the earlier toolkit would have trained.
 *
 * Each native field remembers the field it came from, so that later diagnostics (expansion,
 * rules, identity) point at the line of experiment_summary.yaml the user wrote.
 *
 * One module per part of the format: experiment.ts (experiment, tools, output), models.ts,
 * data.ts, controls.ts, runs.ts, variables.ts, evaluation.ts; conversion.ts holds the reads
 * they share, spec.ts the format's vocabularies and parameters.
 */
import type { ForeignFormat } from '../../experiment/load.js';
import type { ExperimentDocument, ListRun } from '../../experiment/model.js';
import { isObject, type JsonObject } from '../../json.js';
import type { SourceFile } from '../../source.js';
import { basename } from 'node:path';
import { locatedAsWritten } from '../../experiment/validate.js';
import { describeMigrationEdit, type Migration, migrateData, planMigration } from './migrate.js';
import { Conversion, type CruijffConversion } from './conversion.js';
import { convertControls } from './controls.js';
import { convertData } from './data.js';
import { convertEvaluation } from './evaluation.js';
import { convertExperiment, convertOutput, convertTools } from './experiment.js';
import { convertModels } from './models.js';
import { chooseBaseModel, convertRuns, readRuns } from './runs.js';
import { SECTIONS } from './spec.js';
import { checkVariables } from './variables.js';

export type { CruijffConversion };

/** A file in this format has the earlier toolkit's sections and none of ckbuild's own keys. */
export function detectCruijff(data: JsonObject): boolean {
  if ('experiment_name' in data || 'version' in data || 'config' in data || 'protocol' in data) return false;
  return isObject(data.experiment) || (Array.isArray(data.runs) && (isObject(data.controls) || isObject(data.models)));
}

/**
 * The model_organism generator writes only {train, validation}, and the toolkit's organism tasks
 * evaluate `validation` by default; ckbuild's default evaluation split is `test`, which such a
 * file does not have (the job would fail on the GPU node). Tasks that read the training file
 * therefore read its `validation` split.
 */
function evaluateOrganismOnValidation(c: Conversion, data: JsonObject, document: ExperimentDocument, evaluation: NonNullable<ExperimentDocument['evaluation']>): void {
  const generation = isObject(data.data) && isObject(data.data.data_generation) ? data.data.data_generation : undefined;
  if (generation?.tool !== 'model_organism' || !document.dataset) return;
  evaluation.tasks.forEach((task, index) => {
    if (task.dataset !== undefined) return;
    task.dataset = { ...document.dataset!, split: 'validation' };
    c.from(['evaluation', 'tasks', index, 'dataset'], ['data', 'data_generation', 'tool']);
  });
}

/**
 * `data.training.splits.train` counts the examples of the shared dataset: the earlier toolkit
 * trained on that many of it. A run with its own `dataset_path` trains on all of its own file
 * (the toolkit took its count from that file's sidecar, or set no limit), so the cap moves from
 * the config to the runs that use the shared dataset.
 */
function capOnlySharedDataset(c: Conversion, config: JsonObject, listRuns: ListRun[]): void {
  const cap = config.max_samples;
  if (cap === undefined || !listRuns.some((run) => run.dataset !== undefined)) return;
  delete config.max_samples;
  listRuns.forEach((run, index) => {
    if (run.dataset !== undefined || run.max_samples !== undefined) return;
    run.max_samples = cap;
    c.from(['protocol', 'runs', index, 'max_samples'], ['data', 'training', 'splits', 'train']);
  });
}

/**
 * A file of an earlier release (up to 0.3.3) is read through the migration to 0.3.4's names: each
 * edit is a warning at the line it changes, and what cannot be migrated is an error saying the edit.
 */
function readThroughMigration(source: SourceFile): { source: SourceFile; migration: Migration } {
  const planned = planMigration(source.data as JsonObject);
  // A guess (dataset_type from the model) is the reader's to confirm: the conversion reports it
  // missing, with the value. What cannot be migrated, the conversion's own checks report.
  const migration = { edits: planned.edits.filter((edit) => edit.kind !== 'add' || !edit.inferred), refusals: [] };
  if (migration.edits.length === 0) return { source, migration };
  const migrated = migrateData(source.data as JsonObject, migration.edits);
  return { source: { ...locatedAsWritten(source, migrated.renames), data: migrated.data }, migration };
}

export function convertCruijff(written: SourceFile, projectDir: string): CruijffConversion {
  const { source, migration } = readThroughMigration(written);
  const c = new Conversion(source, projectDir);
  const data = source.data as JsonObject;
  const rewrite = `\`ckbuild import --migrate ${basename(written.file)}\` shows the edit as a diff`;
  for (const edit of migration.edits) c.warn(edit.path, `a file of cruijff_kit 0.3.3 or earlier, read in 0.3.4's names: ${describeMigrationEdit(edit)}; ${rewrite}`, 'legacy-format', edit.kind === 'add' ? 'value' : 'key');
  c.keys(data, [], 'experiment_summary.yaml', SECTIONS);
  for (const section of ['experiment', 'controls', 'models', 'data', 'runs', 'evaluation'] as const) {
    if (data[section] === undefined || data[section] === null) c.error([], `missing required section \`${section}\``, 'missing-key');
  }

  const document: ExperimentDocument = { version: '1.0', experiment_name: '' };
  c.from(['version'], []);
  convertExperiment(c, data, document);
  convertTools(c, data);
  const { modelNames, modelPaths } = convertModels(c, data);
  const maxSamples = convertData(c, data, document);
  convertOutput(c, data);
  const { controls, config, textCompletion } = convertControls(c, data, maxSamples);
  const { runs, runsByName } = readRuns(c, data, modelNames);
  const baseModel = chooseBaseModel(c, runs, modelNames, config);
  const { listRuns, checkpoints } = convertRuns(c, data, runs, baseModel, textCompletion);
  capOnlySharedDataset(c, config, listRuns);
  document.config = config;
  document.protocol = { type: 'list', runs: listRuns };
  c.from(['protocol'], ['runs']);
  c.from(['protocol', 'type'], ['runs']);
  c.from(['protocol', 'runs'], ['runs']);

  // variables: what varies; every value must be trained somewhere, and the product should be covered.
  const variables = c.mapping(data.variables, ['variables'], '`variables`');
  if (variables) checkVariables(c, variables, runs);

  // evaluation → tasks, checkpoints, matrix, and the evaluation settings.
  const evaluationSection = c.mapping(data.evaluation, ['evaluation'], '`evaluation`');
  if (evaluationSection) {
    const evaluation = convertEvaluation(c, evaluationSection, controls, runsByName, textCompletion, document);
    if (evaluation) {
      if (checkpoints.length > 0) evaluation.checkpoints = checkpoints;
      evaluateOrganismOnValidation(c, data, document, evaluation);
      document.evaluation = evaluation;
      c.from(['evaluation'], ['evaluation']);
    }
  }
  if (Object.keys(modelPaths).length > 0) {
    document.models = modelPaths;
    c.from(['models'], ['models', 'base']);
  }
  if (Object.keys(modelPaths).length > 0) {
    c.notes.push('models.base[].path is kept as `models:` — where each base model lives on the cluster that wrote the file. It reaches the generated configs but not any run key, so the same experiment elsewhere keeps its keys; a relocated model directory only needs this path (or models_dir in ckbuild.local.yaml) changed.');
  }
  return c.finish(document);
}

export const cruijffFormat: ForeignFormat = {
  name: 'cruijff',
  detect: detectCruijff,
  convert: (source, projectDir) => convertCruijff(source, projectDir),
};
