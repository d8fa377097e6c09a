/** controls → config: the training settings every run shares, with the earlier toolkit's defaults written out. */
import { DEFAULT_SEED } from '../../defaults.js';
import { type FieldPath, didYouMean } from '../../diagnostics.js';
import { isObject, type JsonObject } from '../../json.js';
import type { Conversion } from './conversion.js';
import { inferDatasetType } from './migrate.js';
import { NATIVE_SPELLINGS, PARAMS, TRAINING_DEFAULTS, UNSUPPORTED_PARAMS, VALIDATION_EVERY_N_STEPS } from './spec.js';

export interface Controls {
  /** The section as written. */
  controls: JsonObject;
  config: JsonObject;
  /** dataset_type text_completion: no chat template, so no system prompt anywhere. */
  textCompletion: boolean;
}

export function convertControls(c: Conversion, data: JsonObject, maxSamples: number | undefined): Controls {
  const controls = c.mapping(data.controls, ['controls'], '`controls`') ?? {};
  const config = controlSettings(c, controls);
  c.from(['config'], ['controls']);
  if (data.controls !== undefined) {
    if (controls.dataset_type === undefined) {
      const inferred = inferDatasetType(data).value;
      const hint = inferred ? `; cruijff_kit 0.3.3 and earlier inferred \`${inferred}\` for this model: add \`dataset_type: ${inferred}\` under \`controls\` (\`ckbuild import --migrate\` writes it)` : '';
      c.error(['controls'], `missing required key \`dataset_type\`: chat_completion (instruct/chat models) or text_completion (base models); it decides the training dataset and whether evaluation uses the chat template${hint}`, 'missing-key');
    }
    if (controls.prompt === undefined) c.error(['controls'], 'missing required key `prompt`: the template each input is formatted with, containing `{input}` (e.g. "Capitalize the given word: {input}\\n")', 'missing-key');
    if (controls.system_prompt === undefined) c.warn(['controls'], 'missing `system_prompt` (required by cruijff_kit, which then used "" silently); ckbuild uses "" too: write `system_prompt: ""` to say so', 'missing-key');
  }
  // Training defaults only where something trains (an experiment of controls and checkpoints has no use for them).
  const trains = Array.isArray(data.runs) && data.runs.some((run) => isObject(run) && run.type === 'fine-tuned');
  for (const [name, fallback] of trains ? TRAINING_DEFAULTS : []) {
    const native = PARAMS[name]!.native;
    if (config[native] !== undefined) continue;
    if ((name === 'epochs' || name === 'batch_size' || name === 'gradient_accumulation_steps') && data.controls !== undefined) {
      c.warn(['controls'], `missing \`${name}\` (required by cruijff_kit); using its default, ${fallback}`, 'missing-key');
    }
    config[native] = fallback;
    c.from(['config', native], ['controls']);
  }
  if (config.system_prompt === undefined) {
    config.system_prompt = '';
    c.from(['config', 'system_prompt'], ['controls']);
  }
  if (config.seed === undefined && trains) {
    config.seed = DEFAULT_SEED;
    c.from(['config', 'seed'], ['controls']);
  }
  // Whether a recipe can validate (GPU count, torchtune version) is the torchtune rule's to say.
  const validation = controls.validation_during_training;
  if (validation !== undefined && validation !== null) {
    const on = c.param({ native: 'validation_during_training', type: 'bool' }, validation, ['controls', 'validation_during_training']);
    if (typeof on === 'boolean') {
      config.validation_every_n_steps = on ? VALIDATION_EVERY_N_STEPS : 0;
      c.from(['config', 'validation_every_n_steps'], ['controls', 'validation_during_training']);
    }
  }
  if (maxSamples !== undefined && trains) {
    config.max_samples = maxSamples;
    c.from(['config', 'max_samples'], ['data', 'training', 'splits', 'train']);
  }
  // Train the token ids the earlier toolkit's own dataset builders produced, not ckbuild's default (see docs/cruijff-import.md).
  if (trains) {
    config.tokenization = 'cruijff_kit';
    c.from(['config', 'tokenization'], ['controls', 'dataset_type']);
  }
  const textCompletion = config.dataset_type === 'text_completion';
  if (textCompletion && typeof config.system_prompt === 'string') {
    if (config.system_prompt !== '') c.warn(['controls', 'system_prompt'], 'with dataset_type text_completion there is no chat template to hold a system prompt: it is used neither in training nor in evaluation', 'ignored-key');
    delete config.system_prompt;
  }

  return { controls, config, textCompletion };
}

/** Each control as ckbuild's config parameter; an unknown one is an error, never dropped. */
function controlSettings(c: Conversion, controls: JsonObject): JsonObject {
  const config: JsonObject = {};
  const controlKeys = [...Object.keys(PARAMS), 'validation_during_training'];
  for (const [name, value] of Object.entries(controls)) {
    const path: FieldPath = ['controls', name];
    if (name === 'validation_during_training') continue;
    const spec = PARAMS[name];
    if (!spec) {
      if (UNSUPPORTED_PARAMS[name]) c.error(path, `\`${name}\` is not supported: ${UNSUPPORTED_PARAMS[name]}`, 'unsupported', 'key');
      else if (NATIVE_SPELLINGS[name]) c.error(path, `unknown key \`${name}\` in \`controls\`: this format calls it \`${NATIVE_SPELLINGS[name]}\``, 'unknown-key', 'key');
      else c.error(path, `unknown key \`${name}\` in \`controls\`${didYouMean(name, controlKeys) || '; it is not a training setting ckbuild knows, and would be lost: remove it or use one of ' + controlKeys.join(', ')}`, 'unknown-key', 'key');
      continue;
    }
    if (value === null || value === undefined) continue;
    const converted = c.param(spec, value, path);
    if (converted === undefined) continue;
    if (spec.differs) c.warn(path, spec.differs, 'differs', 'key');
    config[spec.native] = converted;
    c.from(['config', spec.native], path);
  }
  return config;
}
