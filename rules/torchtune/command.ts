/**
 * The shell lines of a torchtune job. The job script around them (core's) defines CK_RUN_DIR,
 * CK_OUTPUTS and CK_PROJECT_DIR and runs them in a subshell, so `exit` ends only this part.
 * Every interpolated value goes through shellQuote.
 */
import { basename, dirname } from 'node:path';
import { shellQuote } from '../../core/shell.js';
import type { Method, ModelSpec } from './models.js';

export interface CommandOptions {
  method: Method;
  gpus: number;
  model: ModelSpec;
  /** Absolute base model directory. */
  modelDir: string;
  /** Absolute path of a custom recipe file, if any. */
  customRecipe?: string;
  /** Train with ckbuild's validating recipe (config/ckbuild_validating_recipe.py): one device, a validation loss. */
  validatingRecipe?: boolean;
  /** Curriculum: the previous stage's last epoch directory, holding its merged weights. */
  initDir?: string;
  /** Where the adapters' base model is (the model dir, or the previous stage's merged weights). */
  adapterBase: string;
  /** The config uses ckbuild's dataset component (config/ckbuild_chat_dataset.py). */
  datasetModule?: boolean;
}

/** ckbuild's single-device recipe with a validation loop (templates/python), copied into each run that validates. */
export const VALIDATING_RECIPE = 'ckbuild_validating_recipe.py';

/** The stock recipe: torchtune's registry names (torchtune/_recipe_registry.py, 0.6.1 and 0.7.0). */
export function stockRecipe(method: Method, gpus: number): string {
  const kind = method === 'full' ? 'full_finetune' : 'lora_finetune'; // QLoRA runs in the LoRA recipes with a qlora_* builder
  return `${kind}_${gpus > 1 ? 'distributed' : 'single_device'}`;
}

export function buildCommand(options: CommandOptions): string {
  const q = shellQuote;
  const lines: string[] = [];
  const download = `tune download ${options.model.hfRepo} --output-dir ${options.modelDir}`;
  const missing = options.model.architecture
    ? `ckbuild: checkpoint directory ${options.modelDir} not found (or it has no config.json) on this machine`
    : `ckbuild: base model ${options.model.name} not found in ${options.modelDir}; download it with: ${download} (gated models need a Hugging Face login first)`;
  lines.push('# The base model must be where the local config says models are.');
  lines.push(`if [ ! -f ${q(`${options.modelDir}/config.json`)} ]; then`);
  lines.push(`  echo ${q(missing)} >&2`);
  lines.push('  exit 66');
  lines.push('fi');

  const overrides: string[] = [];
  if (options.initDir !== undefined) {
    // How many shards the previous stage wrote, and their names, depend on torchtune's version
    // (0.6.1 keeps the original sharding, 0.7.0 re-shards at 5 GB): list them at run time.
    lines.push('# Curriculum: start from the previous stage’s merged weights.');
    lines.push(`CK_INIT_DIR=${q(options.initDir)}`);
    lines.push('CK_INIT_FILES=$(cd "$CK_INIT_DIR" 2>/dev/null && ls model*.safetensors 2>/dev/null | paste -s -d , -)');
    lines.push('if [ -z "$CK_INIT_FILES" ]; then');
    lines.push('  echo "ckbuild: no merged weights (model*.safetensors) in $CK_INIT_DIR: the previous stage did not finish or saved only its adapter" >&2');
    lines.push('  exit 66');
    lines.push('fi');
    overrides.push('"checkpointer.checkpoint_files=[$CK_INIT_FILES]"');
  }

  if (options.datasetModule) {
    // The dataset component ships in the run directory; tiktoken must re-read a regenerated tokenizer file.
    lines.push('export PYTHONPATH="$CK_RUN_DIR/config${PYTHONPATH:+:$PYTHONPATH}"');
    lines.push('export TIKTOKEN_CACHE_DIR=""  # tiktoken caches tokenizer files by path: a replaced model must be read anew');
  }
  const launcher = options.gpus > 1 ? `tune run --nproc_per_node=${options.gpus}` : 'tune run';
  const config = '--config "$CK_RUN_DIR/config/finetune.yaml"';
  const tail = [config, ...overrides].join(' ');
  if (options.customRecipe !== undefined) {
    // `tune run` imports a custom recipe as a module named by its path relative to the working
    // directory (torchtune/_cli/run.py: _convert_to_dotpath), so run it from its own folder.
    const module = basename(options.customRecipe);
    lines.push(`(cd ${q(dirname(options.customRecipe))} && ${launcher} ${q(module)} ${tail})`);
  } else if (options.validatingRecipe) {
    lines.push(`(cd "$CK_RUN_DIR/config" && ${launcher} ${VALIDATING_RECIPE} ${tail})`);
  } else {
    lines.push(`${launcher} ${stockRecipe(options.method, options.gpus)} ${tail}`);
  }
  lines.push('ck_status=$?');
  if (options.method !== 'full') {
    // Only after a successful training; an adapter that does not name its base cannot be
    // evaluated offline, so a failure here fails the job now rather than the evaluation later.
    lines.push('if [ "$ck_status" -eq 0 ]; then');
    lines.push(`  python3 "$CK_RUN_DIR/config/post_finetune.py" "$CK_OUTPUTS" ${q(options.adapterBase)}`);
    lines.push('  ck_status=$?');
    lines.push('fi');
  }
  if (options.method === 'full' && options.initDir !== undefined) {
    // torchtune copies the starting directory's small files into each epoch; from a LoRA stage
    // that includes its adapter_config.json, which would make loaders apply that adapter to the
    // original base instead of reading these full weights.
    lines.push('if [ "$ck_status" -eq 0 ]; then rm -f "$CK_OUTPUTS"/epoch_*/adapter_config.json; fi');
  }
  lines.push('exit "$ck_status"');
  return lines.join('\n') + '\n';
}
