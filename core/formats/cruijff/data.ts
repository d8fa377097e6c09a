/**
 * data.training → the dataset, and `data_generation`, which ckbuild does not run but checks, so a
 * mistake there is not silent.
 */
import { basename, extname } from 'node:path';
import type { FieldPath } from '../../diagnostics.js';
import type { ExperimentDocument } from '../../experiment/model.js';
import type { Json, JsonObject } from '../../json.js';
import { type Conversion, describe } from './conversion.js';

/** The training dataset; returns how many of its examples train (splits.train), when given. */
export function convertData(c: Conversion, data: JsonObject, document: ExperimentDocument): number | undefined {
  const dataSection = c.mapping(data.data, ['data'], '`data`') ?? {};
  c.keys(dataSection, ['data'], '`data`', ['training', 'data_generation']);
  const training = c.mapping(dataSection.training, ['data', 'training'], '`data.training`');
  if (data.data !== undefined && !training) c.error(['data'], 'missing required key `training` (path, dataset_label, format, size_kb, splits)', 'missing-key');
  let maxSamples: number | undefined;
  if (training) {
    const at: FieldPath = ['data', 'training'];
    c.keys(training, at, '`data.training`', ['path', 'dataset_label', 'format', 'size_kb', 'splits'], { label: { rename: 'dataset_label' } });
    const path = c.string(training, 'path', at, 'error', { nonEmpty: true });
    const label = c.string(training, 'dataset_label', at, 'warning', { why: 'informational here', legacy: 'label' });
    const format = c.string(training, 'format', at, 'warning');
    if (format !== undefined && format !== 'json') c.error([...at, 'format'], `${describe(format)} is not supported; the format is "json" ({"train": […], "validation": […], "test": […]} of {input, output})`, 'invalid-value');
    if (training.size_kb === undefined) c.warn(at, 'missing `size_kb` (required by cruijff_kit; informational here)', 'missing-key');
    else if (typeof training.size_kb !== 'number' || training.size_kb < 0) c.error([...at, 'size_kb'], `expected a size in KB, got ${describe(training.size_kb)}`, 'invalid-type');
    const splits = c.mapping(training.splits, [...at, 'splits'], '`splits`');
    if (!splits) {
      if (training.splits === undefined) c.warn(at, 'missing `splits` (required by cruijff_kit: the train/validation/test counts)', 'missing-key');
    } else {
      c.keys(splits, [...at, 'splits'], '`splits`', ['train', 'validation', 'test']);
      for (const split of ['train', 'validation', 'test']) {
        if (splits[split] === undefined) {
          c.warn([...at, 'splits'], `missing \`${split}\` (required by cruijff_kit)`, 'missing-key');
          continue;
        }
        const count = c.param({ native: split, type: 'int', min: 0, strict: true }, splits[split]!, [...at, 'splits', split]);
        // The earlier toolkit trained on the first `train` examples (--training_samples → dataset.max_samples).
        if (split === 'train' && typeof count === 'number' && count > 0) maxSamples = count;
      }
    }
    if (path !== undefined) {
      if (label !== undefined && label !== basename(path, extname(path))) {
        c.warn([...at, 'dataset_label'], `\`${label}\` is not the file name of data.training.path (\`${basename(path)}\`): cruijff_kit read \`<folder of path>/${label}.json\`; ckbuild reads data.training.path`, 'inconsistent');
      }
      if (c.file(path, [...at, 'path'], 'dataset file')) {
        document.dataset = { path, format: 'json' };
        c.from(['dataset'], [...at, 'path']);
      }
    }
  }
  if (dataSection.data_generation !== undefined) convertGeneration(c, dataSection.data_generation);

  return maxSamples;
}

/** The dataset generator is not run by ckbuild; its settings are checked so a mistake is not silent. */
function convertGeneration(c: Conversion, value: Json): void {
  const path: FieldPath = ['data', 'data_generation'];
  const generation = c.mapping(value, path, '`data_generation`');
  if (!generation) return;
  const tool = c.string(generation, 'tool', path, 'error');
  if (tool === undefined) return;
  if (tool === 'model_organism') {
    const known = ['tool', 'name', 'input_type', 'rule', 'k', 'N', 'seed', 'design', 'output_path', 'fmt', 'rule_kwargs', 'split_ratio', 'ood_tests'];
    c.keys(generation, path, '`data_generation`', known, { split: { rename: 'split_ratio', message: 'cruijff_kit warned and ignored the old key' } });
    for (const required of ['input_type', 'rule', 'k', 'N', 'seed', 'design', 'output_path']) c.need(generation, required, path, 'error');
    const check = (name: string, values: string[]): void => {
      const given = generation[name];
      if (typeof given === 'string' && !values.includes(given)) c.error([...path, name], `${describe(given)} is not allowed; expected one of ${values.join(', ')}`, 'invalid-value');
    };
    check('input_type', ['bits', 'digits', 'letters']);
    check('design', ['memorization', 'in_distribution', 'ood']);
    check('fmt', ['spaced', 'dense', 'comma', 'tab', 'pipe']);
    if (generation.design === 'ood' && generation.ood_tests === undefined) c.error(path, 'missing `ood_tests`, required when design is ood', 'missing-key');
  } else if (tool === 'tabular_to_text_gen') {
    if (generation.split !== undefined) c.error([...path, 'split'], '`split` was renamed `split_ratio` (cruijff_kit 0.3.4)', 'renamed-key', 'key');
  } else {
    c.error([...path, 'tool'], `${describe(tool)} is not a generator; expected model_organism or tabular_to_text_gen`, 'invalid-value');
    return;
  }
  c.warn(path, `ckbuild does not run the ${tool} generator: it reads the dataset at data.training.path as it is. To make the data part of the build, generate it in a \`prepare\` step of a ckbuild experiment`, 'not-converted', 'key');
}
