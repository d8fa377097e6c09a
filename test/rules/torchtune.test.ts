import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import type { Diagnostic } from '../../core/diagnostics.js';
import { canonicalJson, isObject, type Json, type JsonObject } from '../../core/json.js';
import { CHECKPOINTER, DEFAULT_LOSS, DEFAULT_OPTIMIZER, METRIC_LOGGER } from '../../rules/torchtune/config.js';
import { DATASET_COMPONENTS, CHAT_TEMPLATE_DATASET } from '../../rules/torchtune/dataset.js';
import { torchtuneRule } from '../../rules/torchtune/index.js';
import { ASSUMED_SAMPLES_PER_EPOCH } from '../../rules/torchtune/metrics.js';
import { findModel, MODELS, modelComponents, type Method } from '../../rules/torchtune/models.js';
import { LR_SCHEDULERS, paramsSchema } from '../../rules/torchtune/params.js';
import { configData, serializeConfig } from '../../rules/torchtune/render.js';
import { builtInTemplate, readTemplateForBuild, TEMPLATE_PATH, usesPrecompiledTorchtuneTemplate } from '../../rules/torchtune/template.js';
import { readTextOrNothing } from './ruleSupport.js';
import type { ExpandedRun, RenderContext, RenderedRun, ResolvedParams, Resources, UpstreamView } from '../../core/rule.js';
import { goldenDir, projectRoot, updateGolden } from '../helpers/paths.js';

// Rule version 2's component; the tokenization: cruijff_kit path was added beside the default one, whose ids are unchanged (the real tier's parity check proves it), so no version bump: no run trains differently.
const CHAT_DATASET_SHA256 = '460a2d8a08e9685ef7e6d8a8bce00c160a0ffbbc0e84f72e079a80caa93d284a';
const GOLDEN = join(goldenDir, 'torchtune');
const MODELS_DIR = '/tmp/ck-models';
const PROJECT = '/tmp/ck-project';

// ---------------------------------------------------------------------------------------------
// Building runs and render contexts by hand, as core would.

function expanded(params: JsonObject, extra: Partial<ExpandedRun> = {}): ExpandedRun {
  const origins: ExpandedRun['origins'] = { self: ['config'] };
  for (const key of Object.keys(params)) origins[key] = ['config', key];
  return { id: 'finetune/default', step: 'finetune', rule: 'torchtune', params, inputs: {}, needs: {}, origins, labels: {}, resources: {}, ...extra };
}

function resolveRun(run: ExpandedRun, others: ExpandedRun[] = []): ResolvedParams {
  const runs = new Map<string, ExpandedRun>([...others, run].map((r) => [r.id, r]));
  return torchtuneRule.resolve(run, {
    runs,
    projectDir: '/work/project',
    readText: readTextOrNothing, exists: existsSync,
    diagnostic: (param, message, options): Diagnostic => ({ severity: options.severity ?? 'error', code: options.code, file: 'experiments/x.yaml', line: 1, column: 1, field: `config.${param}`, message }),
  });
}

const errors = (r: { diagnostics: Diagnostic[] }): Diagnostic[] => r.diagnostics.filter((d) => d.severity === 'error');
const warnings = (r: { diagnostics: Diagnostic[] }): Diagnostic[] => r.diagnostics.filter((d) => d.severity === 'warning');

const JSON_DATASET = { format: 'json', split: 'train' };

interface Case {
  name: string;
  params: JsonObject;
  resources?: Resources;
  /** Repository dataset file (inputs.dataset), else a prepare step's output. */
  datasetInput?: string;
  id?: string;
  labels?: JsonObject;
  init?: { run: ExpandedRun; resolved: ResolvedParams };
  inputs?: Record<string, string>;
}

/** Where models and runs are: fixed for golden files, fresh temporary folders for jobs that run. */
interface Roots {
  models: string;
  runs: string;
}
const STABLE: Roots = { models: MODELS_DIR, runs: '/tmp/ck-runs' };

function runDirOf(name: string, roots: Roots = STABLE): string {
  return `${roots.runs}/${name}`;
}

function contextFor(c: Case, resolved: ResolvedParams, roots: Roots = STABLE): RenderContext {
  const runDir = runDirOf(c.name, roots);
  const upstream: Record<string, UpstreamView> = {};
  const inputs: Record<string, string> = { ...(c.inputs ?? {}) };
  if (c.datasetInput) inputs.dataset = c.datasetInput;
  else upstream.dataset = { id: 'prepare/words', key: 'f'.repeat(64), rule: 'command', step: 'prepare', params: {}, runDir: `${roots.runs}/prepare-words`, outputsDir: `${roots.runs}/prepare-words/outputs` };
  if (c.init) {
    const initDir = runDirOf(`${c.name}-init`, roots);
    upstream.init = { id: c.init.run.id, key: 'e'.repeat(64), rule: 'torchtune', step: 'finetune', params: c.init.resolved.params, runDir: initDir, outputsDir: `${initDir}/outputs` };
  }
  const resources: Resources = { ...(torchtuneRule.defaultResources?.(resolved.params) ?? {}), ...(c.resources ?? {}) };
  return {
    id: c.id ?? `finetune/${c.name}`,
    key: createHash('sha256').update(c.name).digest('hex'),
    name: 'brave-otter',
    params: resolved.params,
    model: resolved.model,
    inputs,
    upstream,
    runDir,
    outputsDir: `${runDir}/outputs`,
    resources,
    site: { modelsDir: roots.models, projectDir: PROJECT },
    experiment: { name: 'test' },
  };
}

function resolveCase(c: Case): ResolvedParams {
  const run = expanded(c.params, { id: c.id ?? `finetune/${c.name}`, resources: c.resources ?? {}, labels: c.labels ?? {}, needs: c.init ? { init: c.init.run.id } : {} });
  return resolveRun(run, c.init ? [c.init.run] : []);
}

function renderCase(c: Case, roots: Roots = STABLE): { resolved: ResolvedParams; ctx: RenderContext; rendered: RenderedRun } {
  const resolved = resolveCase(c);
  assert.deepEqual(errors(resolved), [], `${c.name}: resolve errors`);
  const ctx = contextFor(c, resolved, roots);
  return { resolved, ctx, rendered: torchtuneRule.render(ctx) };
}

function golden(file: string, actual: string): void {
  const path = join(GOLDEN, file);
  if (updateGolden) {
    mkdirSync(GOLDEN, { recursive: true });
    writeFileSync(path, actual);
    return;
  }
  assert.ok(existsSync(path), `golden file ${path} is missing; run the tests with UPDATE_GOLDEN=1 to create it`);
  assert.equal(actual, readFileSync(path, 'utf8'), `${file} differs from its golden copy (UPDATE_GOLDEN=1 rewrites it after review)`);
}

const CAP: JsonObject = {
  base_model: 'Llama-3.2-1B-Instruct',
  method: 'lora',
  learning_rate: 1e-4,
  batch_size: 4,
  epochs: 2,
  lora_rank: 8,
  target_modules: ['q_proj', 'v_proj', 'output_proj'],
  prompt: 'Capitalize the given word: {input}\n',
  system_prompt: '',
  dataset_type: 'chat_completion',
  warmup_steps: 20,
  dataset: { ...JSON_DATASET, file: 'words_5L.json' },
};

// The seed example ("Experiment DSL Specification"), as written.
const SEED: JsonObject = {
  base_model: 'meta-llama/Meta-Llama-3-8B',
  method: 'qlora',
  learning_rate: 2e-4,
  batch_size: 4,
  epochs: 3,
  lora_rank: 64,
  lora_alpha: 16,
  target_modules: ['q_proj', 'v_proj'],
  quantization_bits: 4,
  dataset: { format: 'alpaca', split: 'train' },
};

function curriculumCase(): Case {
  const stage1Params: JsonObject = { ...CAP, epochs: 3, dataset: { ...JSON_DATASET, file: 'easy.json' } };
  const stage1 = expanded(stage1Params, { id: 'finetune/default/1-easy', labels: { stage: 'easy' }, needs: { dataset: 'prepare/words' } });
  const resolved1 = resolveRun(stage1);
  assert.deepEqual(errors(resolved1), []);
  return { name: 'llama-1b-curriculum-stage2', id: 'finetune/default/2-hard', labels: { stage: 'hard' }, params: { ...CAP, dataset: { ...JSON_DATASET, file: 'hard.json' } }, init: { run: stage1, resolved: resolved1 } };
}

const CASES: Case[] = [
  { name: 'llama-1b-instruct-lora', params: CAP },
  { name: 'llama-8b-qlora-seed', params: SEED, datasetInput: `${PROJECT}/data/text_to_sql.json` },
  {
    name: 'mistral-7b-full',
    params: { base_model: 'Mistral-7B-Instruct-v0.1', method: 'full', learning_rate: 2e-5, batch_size: 2, epochs: 1, prompt: 'Answer: {input}', activation_checkpointing: true, dataset: JSON_DATASET },
    datasetInput: `${PROJECT}/data/qa.json`,
  },
  {
    name: 'qwen-3b-lora-2gpu',
    params: { base_model: 'Qwen/Qwen2.5-3B-Instruct', effective_batch_size: 32, batch_size: 4, lora_rank: 16, target_modules: ['q_proj', 'k_proj', 'v_proj', 'o_proj'], system_prompt: 'You are terse.', validation_every_n_steps: 50, dataset: JSON_DATASET },
    resources: { gpus: 2 },
    datasetInput: `${PROJECT}/data/qa.json`,
  },
  curriculumCase(),
];

// ---------------------------------------------------------------------------------------------
// Golden files.

for (const c of CASES) {
  test(`golden: ${c.name} renders the expected config and command`, () => {
    const { rendered } = renderCase(c);
    assert.deepEqual(rendered.diagnostics, []);
    golden(`${c.name}.finetune.yaml`, rendered.files['config/finetune.yaml']!);
    golden(`${c.name}.command.sh`, rendered.command);
  });
}

const FORMATS = ['json', 'jsonl', 'json-chat', 'parquet', 'alpaca'] as const;
for (const format of FORMATS) {
  test(`golden: the ${format} dataset format`, () => {
    const c: Case = { name: `format-${format}`, params: { ...CAP, max_samples: 200, dataset: { format, split: 'train' } }, datasetInput: `${PROJECT}/data/data.${format === 'parquet' ? 'parquet' : 'json'}` };
    const { ctx } = renderCase(c);
    const config = configData(ctx)!;
    golden(`format-${format}.yaml`, serializeConfig({ tokenizer: config.tokenizer!, dataset: config.dataset! }));
  });
}

test('golden: the shapes that matter in the goldens', () => {
  const llama = configData(renderCase(CASES[0]!).ctx)!;
  // {input, output} data is formatted by ckbuild's dataset component with the model's chat template.
  assert.equal((llama.tokenizer as JsonObject).prompt_template, undefined);
  assert.deepEqual((llama.dataset as JsonObject)._component_, CHAT_TEMPLATE_DATASET);
  assert.equal((llama.dataset as JsonObject).prompt, 'Capitalize the given word: {input}\n');
  assert.equal((llama.dataset as JsonObject).model_dir, `${MODELS_DIR}/Llama-3.2-1B-Instruct`);
  assert.ok(renderCase(CASES[0]!).rendered.files['config/ckbuild_chat_dataset.py']!.includes('def chat_template_dataset('), 'the component ships in the run directory');
  assert.match(renderCase(CASES[0]!).rendered.command, /export PYTHONPATH="\$CK_RUN_DIR\/config/);
  const qwen = renderCase(CASES[3]!);
  const qwenConfig = configData(qwen.ctx)!;
  assert.match(qwen.rendered.command, /tune run --nproc_per_node=2 lora_finetune_distributed --config "\$CK_RUN_DIR\/config\/finetune.yaml"/);
  assert.equal(qwenConfig.gradient_accumulation_steps, 4, '32 = 4 per device × 2 GPUs × 4 steps');
  assert.deepEqual((qwenConfig.model as JsonObject).lora_attn_modules, ['q_proj', 'k_proj', 'v_proj', 'output_proj']);
  assert.equal((qwenConfig.tokenizer as JsonObject).merges_file, `${MODELS_DIR}/Qwen2.5-3B-Instruct/merges.txt`);
  assert.equal(qwenConfig.run_val_every_n_steps, 50);
  assert.equal(((qwenConfig.dataset_val as JsonObject).field), 'validation');
  assert.equal((qwenConfig.dataset as JsonObject).system_prompt, 'You are terse.');
  const mistral = renderCase(CASES[2]!);
  const mistralConfig = configData(mistral.ctx)!;
  assert.match(mistral.rendered.command, /tune run full_finetune_single_device /);
  assert.equal((mistralConfig.model as JsonObject)._component_, 'torchtune.models.mistral.mistral_7b');
  assert.equal(mistralConfig.optimizer_in_bwd, false, 'full_finetune_single_device reads cfg.optimizer_in_bwd');
  assert.equal(mistralConfig.save_adapter_weights_only, undefined);
  assert.equal((mistralConfig.tokenizer as JsonObject).prompt_template, undefined, 'the chat template (with its [INST] tags) is applied by the dataset component');
  assert.deepEqual(mistral.rendered.outputs, ['outputs/epoch_0/config.json']);
  assert.equal(mistral.rendered.files['config/post_finetune.py'], undefined);
  const seed = configData(renderCase(CASES[1]!).ctx)!;
  assert.equal((seed.model as JsonObject)._component_, 'torchtune.models.llama3.qlora_llama3_8b');
  assert.equal((seed.model as JsonObject).lora_alpha, 16);
  assert.equal((seed.dataset as JsonObject)._component_, 'torchtune.datasets.alpaca_dataset');
});

// ---------------------------------------------------------------------------------------------
// Properties over every model × method and every case.

const SUPPORTED_COMPONENTS = new Set([
  ...modelComponents(),
  ...Object.values(DATASET_COMPONENTS),
  CHAT_TEMPLATE_DATASET,
  ...Object.values(LR_SCHEDULERS),
  CHECKPOINTER,
  METRIC_LOGGER,
  DEFAULT_OPTIMIZER,
  DEFAULT_LOSS,
]);

function components(value: Json, out: string[] = []): string[] {
  if (Array.isArray(value)) value.forEach((v) => components(v, out));
  else if (isObject(value)) for (const [key, v] of Object.entries(value)) key === '_component_' && typeof v === 'string' ? out.push(v) : components(v, out);
  return out;
}

function keys(value: Json, out: string[] = []): string[] {
  if (Array.isArray(value)) value.forEach((v) => keys(v, out));
  else if (isObject(value)) for (const [key, v] of Object.entries(value)) out.push(key), keys(v, out);
  return out;
}

function everyConfig(): Array<{ label: string; rendered: RenderedRun; config: JsonObject }> {
  const all: Array<{ label: string; rendered: RenderedRun; config: JsonObject }> = [];
  const cases: Case[] = [...CASES];
  for (const model of MODELS) {
    for (const method of Object.keys(model.builders) as Method[]) {
      for (const format of FORMATS) {
        cases.push({ name: `${model.name}-${method}-${format}`, params: { base_model: model.name, method, dataset: { format, split: 'train' } }, datasetInput: `${PROJECT}/data/d` });
      }
    }
  }
  for (const c of cases) {
    const { rendered, ctx } = renderCase(c);
    all.push({ label: c.name, rendered, config: configData(ctx)! });
  }
  return all;
}

test('every _component_ in every generated config is one torchtune has', () => {
  for (const { label, config } of everyConfig()) {
    for (const name of components(config)) assert.ok(SUPPORTED_COMPONENTS.has(name), `${label}: unexpected component ${name}`);
  }
});

test('every generated config survives a YAML round trip unchanged', () => {
  for (const { label, config, rendered } of everyConfig()) {
    const text = serializeConfig(config);
    assert.deepEqual(parse(text, { version: '1.1' }), config, `${label}: YAML 1.1 (OmegaConf's dialect)`);
    assert.deepEqual(parse(text), config, `${label}: YAML 1.2`);
    assert.deepEqual(parse(rendered.files['config/finetune.yaml']!, { version: '1.1' }), config, `${label}: the written file`);
  }
});

test('no credential key anywhere in any generated config', () => {
  for (const { label, config } of everyConfig()) {
    const found = keys(config).filter((k) => /^(hf_token|token|access_token)$|secret|api_key/i.test(k));
    assert.deepEqual(found, [], `${label}: ${found.join(', ')}`);
  }
});

test('rendering the same context twice gives byte-identical files and commands', () => {
  for (const c of CASES) {
    const a = renderCase(c).rendered;
    const b = renderCase(c).rendered;
    assert.deepEqual(a, b, c.name);
  }
});

test('every builder named in the registry exists in torchtune 0.6.1 and 0.7.0', () => {
  // From torchtune/models/<family>/__init__.py, identical in v0.6.1 and main@bd2a0fc7c (0.7.0).
  const exported: Record<string, string[]> = {
    llama3: ['llama3_8b', 'llama3_70b', 'llama3_tokenizer', 'lora_llama3_8b', 'lora_llama3_70b', 'qlora_llama3_8b', 'qlora_llama3_70b'],
    llama3_1: ['llama3_1_8b', 'llama3_1_70b', 'lora_llama3_1_8b', 'lora_llama3_1_70b', 'qlora_llama3_1_8b', 'qlora_llama3_1_70b'],
    llama3_2: ['llama3_2_1b', 'llama3_2_3b', 'lora_llama3_2_1b', 'lora_llama3_2_3b', 'qlora_llama3_2_1b', 'qlora_llama3_2_3b'],
    llama3_3: ['llama3_3_70b', 'lora_llama3_3_70b', 'qlora_llama3_3_70b'],
    mistral: ['mistral_7b', 'lora_mistral_7b', 'qlora_mistral_7b', 'mistral_tokenizer'],
    qwen2_5: ['qwen2_5_3b', 'lora_qwen2_5_3b', 'qwen2_5_tokenizer'],
  };
  for (const name of modelComponents()) {
    const match = /^torchtune\.models\.([a-z0-9_]+)\.([a-z0-9_]+)$/.exec(name);
    assert.ok(match, name);
    assert.ok(exported[match[1]!]?.includes(match[2]!), `${name} is not exported by torchtune`);
  }
});

// ---------------------------------------------------------------------------------------------
// The verified config: our LoRA output has the shape of the one that trained.

test('Llama-3.2-1B-Instruct LoRA has every key (and value) of the config verified with torchtune 0.7.0', () => {
  const verified = parse(readFileSync(join(GOLDEN, 'verified-lora-0.7.0.yaml'), 'utf8')) as JsonObject;
  const c: Case = {
    name: 'verified',
    params: { base_model: 'Llama-3.2-1B-Instruct', max_seq_len: 256, max_steps_per_epoch: 20, warmup_steps: 5, dataset: JSON_DATASET },
    datasetInput: '<work>/data/capitalize.json',
  };
  const resolved = resolveCase(c);
  const ctx: RenderContext = { ...contextFor(c, resolved), outputsDir: '<work>/out', runDir: '<work>', site: { modelsDir: '<models>', projectDir: PROJECT } };
  const ours = configData(ctx)!;
  const compare = (expected: Json, actual: Json | undefined, path: string): void => {
    if (isObject(expected)) {
      assert.ok(isObject(actual), `${path} should be a mapping`);
      for (const [key, value] of Object.entries(expected)) compare(value, actual[key], path ? `${path}.${key}` : key);
    } else {
      assert.deepEqual(actual, expected, path);
    }
  };
  // The dataset block is ckbuild's own component since rule version 2 (it trains on the text the
  // evaluation sees); it ran for real in the real tier. Everything else is as verified.
  const { dataset: verifiedDataset, ...rest } = verified;
  compare(rest, ours, '');
  assert.equal((ours.dataset as JsonObject)._component_, CHAT_TEMPLATE_DATASET);
  assert.equal((ours.dataset as JsonObject).data_files, (verifiedDataset as JsonObject).data_files);
  assert.equal((ours.dataset as JsonObject).field, (verifiedDataset as JsonObject).field);
  // "Required, top level" in torchtune.md: read by attribute in lora_finetune_single_device (0.7.0).
  const required = ['device', 'dtype', 'output_dir', 'log_level', 'seed', 'epochs', 'max_steps_per_epoch', 'resume_from_checkpoint', 'gradient_accumulation_steps', 'metric_logger', 'compile', 'model', 'tokenizer', 'optimizer', 'loss', 'dataset', 'shuffle', 'batch_size', 'lr_scheduler', 'checkpointer'];
  for (const key of required) assert.ok(key in ours, `missing required key ${key}`);
  for (const key of ['lora_attn_modules', 'lora_rank', 'lora_alpha', 'apply_lora_to_mlp']) assert.ok(key in (ours.model as JsonObject), `model.${key}`);
  assert.ok('model_type' in (ours.checkpointer as JsonObject));
});

test('full fine-tunes carry what the full recipes read by attribute', () => {
  const { ctx } = renderCase({ name: 'full', params: { base_model: 'Llama-3.2-1B', method: 'full', dataset: JSON_DATASET }, datasetInput: '/d.json' });
  const config = configData(ctx)!;
  for (const key of ['device', 'dtype', 'output_dir', 'log_level', 'seed', 'epochs', 'max_steps_per_epoch', 'resume_from_checkpoint', 'gradient_accumulation_steps', 'metric_logger', 'compile', 'model', 'tokenizer', 'optimizer', 'optimizer_in_bwd', 'loss', 'dataset', 'shuffle', 'batch_size', 'checkpointer']) {
    assert.ok(key in config, key);
  }
});

// ---------------------------------------------------------------------------------------------
// The command.

function scriptFor(command: string, runDir: string): string {
  return `#!/usr/bin/env bash\nset -uo pipefail\nexport CK_RUN_DIR=${runDir}\nexport CK_OUTPUTS=${runDir}/outputs\nexport CK_PROJECT_DIR=${PROJECT}\n(\n${command}\n) &\nwait $!\n`;
}

test('every rendered command is valid bash (bash -n)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ck-tt-'));
  const commands = [...CASES.map((c) => renderCase(c).rendered.command)];
  commands.push(renderCase({ name: 'custom', params: { ...CAP, recipe: 'recipes/my_recipe.py' }, inputs: { recipe: "/tmp/it's here/recipes/my_recipe.py" } }).rendered.command);
  commands.forEach((command, index) => {
    const file = join(dir, `job${index}.sh`);
    writeFileSync(file, scriptFor(command, '/tmp/run dir'));
    const result = spawnSync('bash', ['-n', file], { encoding: 'utf8' });
    assert.equal(result.status, 0, `bash -n failed: ${result.stderr}\n${command}`);
  });
});

test('a custom recipe runs from its own folder, as tune run imports it as a module', () => {
  const { rendered, resolved } = renderCase({ name: 'custom', params: { ...CAP, recipe: 'recipes/my_recipe.py' }, inputs: { recipe: `${PROJECT}/recipes/my_recipe.py` } });
  assert.deepEqual(resolved.inputs, { recipe: 'recipes/my_recipe.py' });
  assert.match(rendered.command, /\(cd \/tmp\/ck-project\/recipes && tune run my_recipe\.py --config "\$CK_RUN_DIR\/config\/finetune\.yaml"\)/);
  const bad = resolveRun(expanded({ ...CAP, recipe: 'recipes/my-recipe.py' }));
  assert.equal(errors(bad)[0]?.field, 'config.recipe');
});

const hasPython = spawnSync('python3', ['--version']).status === 0;

/** Fresh folders for jobs that really run: models (with the base model when `withModel`) and runs. */
function jobRoots(withModel: boolean): Roots {
  const root = mkdtempSync(join(tmpdir(), 'ck-tt-roots-'));
  const roots = { models: join(root, 'models'), runs: join(root, 'runs') };
  if (withModel) {
    mkdirSync(join(roots.models, 'Llama-3.2-1B-Instruct'), { recursive: true });
    writeFileSync(join(roots.models, 'Llama-3.2-1B-Instruct', 'config.json'), '{}');
  }
  return roots;
}

function fakeJob(c: Case, tuneBody: string, roots: Roots): { status: number | null; dir: string; stderr: string } {
  const dir = mkdtempSync(join(tmpdir(), 'ck-tt-job-'));
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  writeFileSync(join(bin, 'tune'), `#!/usr/bin/env bash\necho "$@" > "$CK_RUN_DIR/tune-args"\n${tuneBody}\n`);
  chmodSync(join(bin, 'tune'), 0o755);
  const { rendered } = renderCase(c, roots);
  const runDir = join(dir, 'run');
  for (const [path, content] of Object.entries(rendered.files)) {
    mkdirSync(join(runDir, path, '..'), { recursive: true });
    writeFileSync(join(runDir, path), content);
  }
  mkdirSync(join(runDir, 'outputs'), { recursive: true });
  const script = join(dir, 'job.sh');
  writeFileSync(script, scriptFor(rendered.command, runDir));
  const result = spawnSync('bash', [script], { encoding: 'utf8', env: { ...process.env, PATH: `${bin}:${process.env.PATH}` } });
  return { status: result.status, dir, stderr: result.stderr };
}

test('the job fails clearly when the base model is not downloaded', () => {
  const { status, stderr } = fakeJob(CASES[0]!, 'exit 0', jobRoots(false));
  assert.equal(status, 66);
  assert.match(stderr, /tune download meta-llama\/Llama-3\.2-1B-Instruct --output-dir/);
});

test('post_finetune.py names the base model in every adapter, only after tune succeeded', { skip: !hasPython && 'python3 is not installed' }, () => {
  const roots = jobRoots(true);
  const modelDir = join(roots.models, 'Llama-3.2-1B-Instruct');
  const ok = fakeJob(CASES[0]!, 'for e in 0 1; do mkdir -p "$CK_OUTPUTS/epoch_$e"; echo \'{"r": 8, "peft_type": "LORA"}\' > "$CK_OUTPUTS/epoch_$e/adapter_config.json"; done', roots);
  assert.equal(ok.status, 0, ok.stderr);
  for (const epoch of [0, 1]) {
    const adapter = JSON.parse(readFileSync(join(ok.dir, 'run', 'outputs', `epoch_${epoch}`, 'adapter_config.json'), 'utf8')) as JsonObject;
    assert.equal(adapter.base_model_name_or_path, modelDir);
    assert.equal(adapter.r, 8);
  }
  assert.equal(readFileSync(join(ok.dir, 'run', 'tune-args'), 'utf8').trim(), `run lora_finetune_single_device --config ${join(ok.dir, 'run')}/config/finetune.yaml`);
  const failedRun = fakeJob(CASES[0]!, 'mkdir -p "$CK_OUTPUTS/epoch_0"; echo "{}" > "$CK_OUTPUTS/epoch_0/adapter_config.json"; exit 3', roots);
  assert.equal(failedRun.status, 3, 'the job exits with tune’s status');
  assert.deepEqual(JSON.parse(readFileSync(join(failedRun.dir, 'run', 'outputs', 'epoch_0', 'adapter_config.json'), 'utf8')), {}, 'no post step after a failure');
});

test('a curriculum stage passes the previous stage’s merged weights to the checkpointer at run time', () => {
  const c = curriculumCase();
  const roots = jobRoots(true);
  const modelDir = join(roots.models, 'Llama-3.2-1B-Instruct');
  const initEpoch = join(runDirOf(`${c.name}-init`, roots), 'outputs', 'epoch_2');
  const missing = fakeJob(c, 'exit 0', roots);
  assert.equal(missing.status, 66, 'no merged weights yet: a clear failure, not a silent start from the base');
  mkdirSync(initEpoch, { recursive: true });
  for (const file of ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors', 'adapter_model.safetensors']) writeFileSync(join(initEpoch, file), '');
  const ran = fakeJob(c, 'exit 4', roots);
  assert.equal(ran.status, 4);
  assert.match(readFileSync(join(ran.dir, 'run', 'tune-args'), 'utf8'), /checkpointer\.checkpoint_files=\[model-00001-of-00002\.safetensors,model-00002-of-00002\.safetensors\]$/m);
  const config = configData(contextFor(c, resolveCase(c), roots))!;
  assert.equal((config.checkpointer as JsonObject).checkpoint_dir, initEpoch, 'the last epoch (epochs 3 → epoch_2) of the previous stage');
  assert.equal((config.tokenizer as JsonObject).path, `${modelDir}/original/tokenizer.model`);
  assert.match(renderCase(c, roots).rendered.command, new RegExp(`post_finetune\\.py" "\\$CK_OUTPUTS" ${initEpoch.replace(/[/.]/g, '\\$&')}\\n`), 'the stage’s adapter applies on top of the merged weights');
});

// ---------------------------------------------------------------------------------------------
// resolve: defaults, normalisation and diagnostics.

test('lora_alpha defaults to 2 × rank; an explicit value wins', () => {
  assert.equal(resolveRun(expanded({ base_model: 'Llama-3.2-1B', lora_rank: 32, dataset: JSON_DATASET })).params.lora_alpha, 64);
  assert.equal(resolveRun(expanded({ base_model: 'Llama-3.2-1B', dataset: JSON_DATASET })).params.lora_alpha, 16);
  assert.equal(resolveRun(expanded({ base_model: 'Llama-3.2-1B', lora_rank: 32, lora_alpha: 8, dataset: JSON_DATASET })).params.lora_alpha, 8);
});

test('effective_batch_size sets gradient accumulation and must divide exactly', () => {
  const ok = resolveRun(expanded({ base_model: 'Llama-3.2-1B', batch_size: 4, effective_batch_size: 16, dataset: JSON_DATASET }));
  assert.deepEqual(errors(ok), []);
  assert.equal(ok.params.gradient_accumulation, 4);
  assert.equal(ok.params.effective_batch_size, undefined, 'folded into gradient_accumulation: one key for one training');
  const bad = resolveRun(expanded({ base_model: 'Llama-3.2-1B', batch_size: 4, effective_batch_size: 10, dataset: JSON_DATASET }));
  assert.equal(errors(bad).length, 1);
  assert.equal(errors(bad)[0]!.code, 'batch-divisibility');
  assert.equal(errors(bad)[0]!.field, 'config.effective_batch_size');
  assert.match(errors(bad)[0]!.message, /use 8 or 12/);
  const both = resolveRun(expanded({ base_model: 'Llama-3.2-1B', effective_batch_size: 16, gradient_accumulation: 2, dataset: JSON_DATASET }));
  assert.equal(errors(both)[0]!.code, 'conflict');
});

test('an unknown model is an error listing the supported ones, with a suggestion', () => {
  const r = resolveRun(expanded({ base_model: 'Llama-3.2-1B-Instrut', dataset: JSON_DATASET }));
  const [error] = errors(r);
  assert.equal(error!.code, 'unknown-model');
  assert.match(error!.message, /did you mean `Llama-3\.2-1B-Instruct`/);
  assert.match(error!.message, /Qwen2\.5-3B-Instruct/);
});

test('equivalent spellings resolve to one set of parameters (one key)', () => {
  const a = resolveRun(expanded({ base_model: 'meta-llama/Llama-3.2-1B-Instruct', learning_rate: 1e-4, target_modules: ['v_proj', 'o_proj', 'q_proj'], dataset: JSON_DATASET }));
  const b = resolveRun(expanded({ base_model: 'Llama-3.2-1B-Instruct', learning_rate: 0.0001, dataset: JSON_DATASET }));
  assert.equal(canonicalJson(a.params), canonicalJson(b.params));
  assert.deepEqual(a.model, { name: 'Llama-3.2-1B-Instruct', hf_repo: 'meta-llama/Llama-3.2-1B-Instruct' });
  assert.equal(findModel('meta-llama/Meta-Llama-3-8B')?.name, 'Meta-Llama-3-8B');
});

test('target modules: HF names map to torchtune’s, MLP and output names select those, unknown names are errors', () => {
  const r = resolveRun(expanded({ base_model: 'Llama-3.1-8B-Instruct', target_modules: ['q_proj', 'o_proj', 'gate_proj', 'lm_head'], apply_lora_to_mlp: true, dataset: JSON_DATASET }));
  assert.deepEqual(errors(r), []);
  assert.deepEqual(r.params.target_modules, ['q_proj', 'output_proj']);
  assert.equal(r.params.apply_lora_to_mlp, true);
  assert.equal(r.params.apply_lora_to_output, true);
  const unknown = resolveRun(expanded({ base_model: 'Llama-3.2-1B', target_modules: ['q_prj'], dataset: JSON_DATASET }));
  assert.match(errors(unknown)[0]!.message, /did you mean `q_proj`/);
  const conflict = resolveRun(expanded({ base_model: 'Llama-3.2-1B', target_modules: ['up_proj'], apply_lora_to_mlp: false, dataset: JSON_DATASET }));
  assert.equal(errors(conflict)[0]!.code, 'conflict');
  const tied = resolveRun(expanded({ base_model: 'Llama-3.2-1B', apply_lora_to_output: true, dataset: JSON_DATASET }));
  assert.equal(errors(tied)[0]!.code, 'unsupported', 'Llama 3.2 1B ties its output projection to the embeddings');
});

test('QLoRA: only 4 bits, only with method qlora, only where torchtune has a qlora builder', () => {
  assert.equal(errors(resolveRun(expanded({ base_model: 'Llama-3.2-1B', method: 'lora', quantization_bits: 4, dataset: JSON_DATASET })))[0]!.code, 'unsupported');
  assert.equal(errors(resolveRun(expanded({ base_model: 'Llama-3.2-1B', method: 'qlora', quantization_bits: 8, dataset: JSON_DATASET })))[0]!.code, 'unsupported');
  const qwen = errors(resolveRun(expanded({ base_model: 'Qwen2.5-3B', method: 'qlora', dataset: JSON_DATASET })));
  assert.equal(qwen[0]!.field, 'config.method');
  assert.match(qwen[0]!.message, /no qlora builder for Qwen2\.5-3B/);
  assert.equal(resolveRun(expanded({ base_model: 'Llama-3.2-1B', method: 'qlora', dataset: JSON_DATASET })).params.quantization_bits, 4);
});

test('values from protocol overrides are checked like the config (they bypass the schema)', () => {
  const r = resolveRun(expanded({ base_model: 'Llama-3.2-1B', learning_rate: '1e-4', lora_rank: 0, prompt: 'no placeholder', lr_scheduler: 'linear', gpus: 2, lora_rnak: 4, dataset: JSON_DATASET }));
  const byField = new Map(errors(r).map((d) => [d.field, d]));
  assert.match(byField.get('config.learning_rate')!.message, /remove the quotes/);
  assert.equal(byField.get('config.lora_rank')!.code, 'out-of-range');
  assert.equal(byField.get('config.prompt')!.code, 'prompt-placeholder');
  assert.match(byField.get('config.lr_scheduler')!.message, /only get_cosine_schedule_with_warmup/);
  assert.match(byField.get('config.gpus')!.message, /resources\.finetune\.gpus/);
  assert.match(byField.get('config.lora_rnak')!.message, /did you mean `lora_rank`/);
});

test('validation on one GPU trains with ckbuild’s validating recipe (the stock one, subclassed); 2+ GPUs need torchtune 0.7.0', () => {
  const c: Case = { name: 'val-1gpu', params: { ...CAP, validation_every_n_steps: 25 } };
  const { resolved, ctx, rendered } = renderCase(c);
  assert.deepEqual(warnings(resolved), []);
  const config = configData(ctx)!;
  assert.equal(config.run_val_every_n_steps, 25);
  assert.equal((config.dataset_val as JsonObject).field, 'validation');
  assert.equal(config.ckbuild_base_recipe, 'lora_finetune_single_device', 'the stock recipe it extends');
  assert.ok(rendered.files['config/ckbuild_validating_recipe.py']?.includes('class ValidatingRecipe(base)'), 'the recipe ships in the run directory');
  assert.match(rendered.command, /\(cd "\$CK_RUN_DIR\/config" && tune run ckbuild_validating_recipe\.py --config "\$CK_RUN_DIR\/config\/finetune\.yaml"\)/);
  const plain = renderCase({ name: 'no-val', params: CAP });
  assert.equal(plain.rendered.files['config/ckbuild_validating_recipe.py'], undefined, 'without validation: the stock recipe');
  assert.match(plain.rendered.command, /^tune run lora_finetune_single_device --config/m);
  const custom = configData(contextFor({ ...c, inputs: { recipe: '/r/my_recipe.py' } }, resolved))!;
  assert.equal(custom.run_val_every_n_steps, 25, 'a custom recipe gets the keys');
  assert.equal(custom.ckbuild_base_recipe, undefined);
  const two = resolveCase({ name: 'val-2gpu', params: { ...CAP, validation_every_n_steps: 25 }, resources: { gpus: 2 } });
  assert.match(warnings(two)[0]!.message, /on 2 GPUs the distributed recipe validates only from torchtune 0\.7\.0/);
});

test('the training-step guard warns when warmup cannot complete, using the recipe’s step count', () => {
  const few = resolveRun(expanded({ base_model: 'Llama-3.2-1B', max_samples: 300, batch_size: 4, epochs: 1, warmup_steps: 100, dataset: JSON_DATASET }));
  assert.match(warnings(few)[0]!.message, /75 step\(s\) per epoch, 75 in all, fewer than warmup_steps 100/);
  const some = resolveRun(expanded({ base_model: 'Llama-3.2-1B', max_samples: 1000, batch_size: 4, epochs: 1, warmup_steps: 100, dataset: JSON_DATASET }));
  assert.match(warnings(some)[0]!.message, /fewer than 3 × warmup_steps/);
  const enough = resolveRun(expanded({ base_model: 'Llama-3.2-1B', max_samples: 1200, batch_size: 4, epochs: 1, warmup_steps: 100, dataset: JSON_DATASET }));
  assert.deepEqual(warnings(enough), [], 'exactly 3 × warmup is fine');
  const dropped = resolveRun(expanded({ base_model: 'Llama-3.2-1B', max_samples: 1203, batch_size: 4, epochs: 1, warmup_steps: 100, dataset: JSON_DATASET }));
  assert.deepEqual(warnings(dropped), [], 'the partial last batch is dropped, as the DataLoader does');
});

test('max_samples takes the first N examples (the component\'s max_samples; HF split slicing for the stock builders)', () => {
  const config = configData(renderCase({ name: 'slice', params: { ...CAP, max_samples: 500, dataset: JSON_DATASET }, datasetInput: '/d.json' }).ctx)!;
  assert.equal((config.dataset as JsonObject).max_samples, 500);
  assert.equal((config.dataset as JsonObject).field, 'train');
  const parquet = configData(renderCase({ name: 'slice-parquet', params: { ...CAP, max_samples: 500, dataset: { format: 'parquet', split: 'train' } }, datasetInput: '/d.parquet' }).ctx)!;
  assert.equal((parquet.dataset as JsonObject).split, 'train[:500]');
});

test('curriculum stages keep merged weights; a stage that saves only its adapter cannot be continued', () => {
  const c = curriculumCase();
  assert.equal(c.init!.resolved.params.save_adapter_weights_only, false);
  const stage1 = expanded({ ...CAP, save_adapter_weights_only: true }, { id: 'finetune/default/1-easy', labels: { stage: 'easy' } });
  const stage2 = expanded(CAP, { id: 'finetune/default/2-hard', labels: { stage: 'hard' }, needs: { init: stage1.id } });
  assert.equal(errors(resolveRun(stage2, [stage1]))[0]!.code, 'curriculum-needs-merged');
});

test('a user base config is kept where no parameter overrides it, credentials dropped', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ck-tt-base-'));
  const file = join(dir, 'base.yaml');
  writeFileSync(file, 'hf_token: hf_secret\nclip_grad_norm: 1.0\nloss:\n  _component_: torchtune.modules.loss.LinearCrossEntropyLoss\nbatch_size: 99\nmodel:\n  _component_: torchtune.models.llama2.lora_llama2_7b\n  lora_rank: 1\n');
  const c: Case = { name: 'base', params: { ...CAP, base_config: 'configs/base.yaml' }, inputs: { base_config: file } };
  const resolved = resolveCase(c);
  assert.deepEqual(resolved.inputs, { base_config: 'configs/base.yaml' });
  const rendered = torchtuneRule.render(contextFor(c, resolved));
  const config = parse(rendered.files['config/finetune.yaml']!, { version: '1.1' }) as JsonObject;
  assert.equal(config.clip_grad_norm, 1);
  assert.equal((config.loss as JsonObject)._component_, 'torchtune.modules.loss.LinearCrossEntropyLoss');
  assert.equal(config.batch_size, 4);
  assert.equal((config.model as JsonObject)._component_, 'torchtune.models.llama3_2.lora_llama3_2_1b');
  assert.equal(config.hf_token, undefined);
  assert.ok(config.log_level && config.resume_from_checkpoint === false, 'required keys added to a base that lacks them');
  assert.equal(rendered.diagnostics[0]!.code, 'secret-removed');
  assert.doesNotMatch(rendered.files['config/finetune.yaml']!, /hf_secret/);
});

test('a broken base config is an error at its line, and the template is used instead', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ck-tt-base-'));
  const file = join(dir, 'base.yaml');
  writeFileSync(file, 'seed: 1\nloss: [a, b\nepochs: 3\n');
  const c: Case = { name: 'badbase', params: { ...CAP, base_config: 'base.yaml' }, inputs: { base_config: file } };
  const rendered = torchtuneRule.render(contextFor(c, resolveCase(c)));
  assert.equal(rendered.diagnostics[0]!.severity, 'error');
  assert.equal(rendered.diagnostics[0]!.file, file);
  assert.equal(rendered.diagnostics[0]!.line, 3);
});

test('text_completion: warned where torchtune’s tokenizer still applies a chat format', () => {
  const llama = resolveRun(expanded({ base_model: 'Llama-3.2-1B', dataset_type: 'text_completion', system_prompt: 'x', dataset: JSON_DATASET }));
  assert.deepEqual(warnings(llama).map((d) => d.code).sort(), ['ignored-param'], 'JSON data trains on raw text through ckbuild’s dataset component');
  const parquet = resolveRun(expanded({ base_model: 'Llama-3.2-1B', dataset_type: 'text_completion', dataset: { format: 'parquet', split: 'train' } }));
  assert.deepEqual(warnings(parquet).map((d) => d.code), ['format-parity'], 'torchtune’s stock builder still applies the chat format');
  const mistral = resolveRun(expanded({ base_model: 'Mistral-7B-v0.1', dataset_type: 'text_completion', dataset: JSON_DATASET }));
  assert.deepEqual(warnings(mistral), [], 'our prompt template replaces MistralChatTemplate: plain text');
  const config = configData(renderCase({ name: 'mistral-text', params: { base_model: 'Mistral-7B-v0.1', dataset_type: 'text_completion', prompt: 'Q: {input}\nA:', dataset: JSON_DATASET }, datasetInput: '/d.json' }).ctx)!;
  assert.equal((config.dataset as JsonObject).dataset_type, 'text_completion');
  assert.equal((config.dataset as JsonObject).prompt, 'Q: {input}\nA:');
  assert.equal(errors(resolveRun(expanded({ base_model: 'Mistral-7B-Instruct-v0.1', system_prompt: 'Be nice.', dataset: JSON_DATASET })))[0]!.code, 'unsupported');
});

test('literal ${ in a prompt is escaped for OmegaConf', () => {
  const config = configData(renderCase({ name: 'dollar', params: { ...CAP, prompt: 'Cost ${input} ok', system_prompt: 'Use ${x}' }, datasetInput: '/d.json' }).ctx)!;
  assert.equal((config.dataset as JsonObject).prompt, 'Cost \\${input} ok', 'OmegaConf reads it back as Cost ${input} ok; the component then fills {input}');
  assert.equal((config.dataset as JsonObject).system_prompt, 'Use \\${x}');
});

// ---------------------------------------------------------------------------------------------
// Schema, resources, estimates, metrics, template identity.

test('the params schema describes every property and accepts the seed example and cap config', () => {
  for (const [name, schema] of Object.entries(paramsSchema)) assert.ok(isObject(schema) && typeof schema.description === 'string' && schema.description.length > 0, name);
  const validate = new Ajv({ strict: false, allErrors: true }).compile({ type: 'object', additionalProperties: false, required: ['base_model'], properties: paramsSchema });
  const { dataset: _a, ...seed } = SEED;
  const { dataset: _b, ...cap } = CAP;
  assert.ok(validate(seed), JSON.stringify(validate.errors));
  assert.ok(validate(cap), JSON.stringify(validate.errors));
  assert.ok(!validate({ base_model: 'x', target_modules: ['qproj'] }));
});

test('default resources follow the model: RAM = VRAM, one CPU per GPU, 70B on 4 GPUs', () => {
  assert.deepEqual(torchtuneRule.defaultResources!({ base_model: 'Llama-3.3-70B-Instruct' }), { gpus: 4, mem: '320G', cpus_per_task: 4 });
  assert.deepEqual(torchtuneRule.defaultResources!({ base_model: 'Llama-3.2-1B-Instruct' }), { gpus: 1, mem: '80G', cpus_per_task: 1 });
  assert.deepEqual(torchtuneRule.defaultResources!({ base_model: 'nope' }), {});
});

test('the GPU-hour estimate grows with epochs, samples and model size', () => {
  const hours = (params: JsonObject, gpus = 1): number => torchtuneRule.estimateGpuHours!(resolveRun(expanded({ dataset: JSON_DATASET, ...params })).params, { gpus })!;
  const base = hours({ base_model: 'Llama-3.2-1B', max_samples: 1000 });
  assert.ok(base > 0 && Number.isFinite(base));
  assert.ok(hours({ base_model: 'Llama-3.2-1B', max_samples: 1000, epochs: 3 }) > base);
  assert.ok(hours({ base_model: 'Llama-3.1-8B-Instruct', max_samples: 1000 }) > base);
  assert.ok(hours({ base_model: 'Llama-3.2-1B' }) > hours({ base_model: 'Llama-3.2-1B', max_samples: ASSUMED_SAMPLES_PER_EPOCH / 2 }), 'unknown size: a generous guess');
  assert.equal(torchtuneRule.estimateGpuHours!({ base_model: 'nope' }, {}), undefined);
});

test('readMetrics summarises the newest DiskLogger file', () => {
  const runDir = mkdtempSync(join(tmpdir(), 'ck-tt-metrics-'));
  assert.match(torchtuneRule.readMetrics!(runDir, {}).note!, /no torchtune log/);
  const logs = join(runDir, 'outputs', 'logs');
  mkdirSync(logs, { recursive: true });
  writeFileSync(join(logs, 'log_1700000000.txt'), 'Step 1 | loss:99 lr:1e-05 \n');
  writeFileSync(
    join(logs, 'log_1795414337.txt'),
    ['Step 1 | loss:12.0572 lr:2e-05 tokens_per_second_per_gpu:26.1 peak_memory_active:2.6 ', 'Step 2 | loss:11.5 lr:4e-05 tokens_per_second_per_gpu:293.5 ', 'Step 2 | val_loss:11.9', 'Step 3 | loss:11.7 lr:6e-05 tokens_per_second_per_gpu:685.25 ', ''].join('\n'),
  );
  assert.deepEqual(torchtuneRule.readMetrics!(runDir, {}), {
    metrics: { steps: 3, final_loss: 11.7, min_loss: 11.5, tokens_per_second_per_gpu: 685.25, mean_tokens_per_second_per_gpu: 334.95, val_loss: 11.9, peak_memory_active_gib: 2.6 },
    curves: { loss: [[1, 12.0572], [2, 11.5], [3, 11.7]], val_loss: [[2, 11.9]] },
  });
  writeFileSync(join(logs, 'log_1795414338.txt'), 'Step 1 | loss:4.2 \nStep 2 | loss:nan \n');
  assert.deepEqual(torchtuneRule.readMetrics!(runDir, {}), { metrics: { steps: 2, final_loss: null, min_loss: 4.2, non_finite_loss: true }, curves: { loss: [[1, 4.2], [2, null]] } });
});

test('the rule version is bumped whenever the base template changes', () => {
  // The template is ckbuild's own file, not an input of the run, so its content is not in the
  // key. If this fails you changed templates/torchtune/finetune.yaml: every torchtune run
  // trains differently now, so bump torchtuneRule.version and pin the new hash to it here.
  const pinned: Record<number, string> = { 1: '45aec23df488ce536c68eab93fb92e24956825271db6622c082cd6445305175d', 2: '45aec23df488ce536c68eab93fb92e24956825271db6622c082cd6445305175d' };
  assert.equal(createHash('sha256').update(readFileSync(TEMPLATE_PATH)).digest('hex'), pinned[torchtuneRule.version]);
  // The same holds for the dataset component every run imports (templates/python/ckbuild_chat_dataset.py).
  const component: Record<number, string> = { 2: createHash('sha256').update(readFileSync(join(projectRoot, 'templates', 'python', 'ckbuild_chat_dataset.py'))).digest('hex') };
  assert.equal(component[2], CHAT_DATASET_SHA256, 'templates/python/ckbuild_chat_dataset.py changed: bump torchtuneRule.version and pin its new hash');
});

test('the CPU: no GPU asked for trains on the CPU, in fp32, without fused AdamW; `device: cpu` is in the key, GPU runs keep theirs', () => {
  const gpu = resolveRun(expanded({ ...CAP, dataset: JSON_DATASET }));
  const cpu = resolveRun(expanded({ ...CAP, dataset: JSON_DATASET }, { resources: { gpus: 0 } }));
  assert.equal(gpu.params.device, undefined);
  assert.equal(cpu.params.device, 'cpu');
  assert.equal(cpu.params.dtype, 'fp32');
  const config = configData(contextFor({ name: 'cpu', params: { ...CAP, dataset: JSON_DATASET }, resources: { gpus: 0 }, datasetInput: '/d.json' }, cpu))!;
  assert.equal(config.device, 'cpu');
  assert.equal((config.optimizer as JsonObject).fused, false);
  assert.equal(config.enable_activation_offloading, false);
});

test('a checkpoint directory: builder and dimensions from its config.json, its files are inputs; what cannot map is a diagnostic', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ckbuild-ckpt-'));
  const llama = { architectures: ['LlamaForCausalLM'], model_type: 'llama', vocab_size: 128257, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, hidden_size: 64, intermediate_size: 128, max_position_embeddings: 2048, rms_norm_eps: 1e-5, rope_theta: 500000, tie_word_embeddings: false };
  const write = (config: object): void => {
    writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
    writeFileSync(join(dir, 'model.safetensors'), 'weights');
  };
  write(llama);
  const resolved = torchtuneRule.resolve(expanded({ ...CAP, base_model: dir, dataset: JSON_DATASET }), { runs: new Map(), projectDir: '/work/project', readText: readTextOrNothing, exists: existsSync, diagnostic: (param, message, options) => ({ severity: options.severity ?? 'error', code: options.code, file: 'x', line: 1, column: 1, field: param, message }) });
  assert.deepEqual(errors(resolved), []);
  assert.deepEqual(resolved.params.architecture, { family: 'llama', vocab_size: 128257, num_layers: 2, num_heads: 4, num_kv_heads: 2, embed_dim: 64, intermediate_dim: 128, max_seq_len: 2048, norm_eps: 1e-5, rope_base: 500000 });
  assert.equal(resolved.inputs?.model_config, join(dir, 'config.json'));
  assert.equal(resolved.inputs?.model_weights_0, join(dir, 'model.safetensors'));
  assert.equal(resolved.inputs?.model_tokenizer_config, join(dir, 'tokenizer_config.json'), 'the chat template decides the training text');
  const resolveWith = (config: object): Diagnostic[] => {
    write(config);
    return errors(torchtuneRule.resolve(expanded({ ...CAP, base_model: dir, dataset: JSON_DATASET }), { runs: new Map(), projectDir: '/', readText: readTextOrNothing, exists: existsSync, diagnostic: (param, message, options) => ({ severity: options.severity ?? 'error', code: options.code, file: 'x', line: 1, column: 1, field: param, message }) }));
  };
  assert.match(resolveWith({ ...llama, model_type: 'mistral', architectures: ['MistralForCausalLM'] })[0]!.message, /describes a `mistral` model/);
  assert.match(resolveWith({ ...llama, tie_word_embeddings: true })[0]!.message, /ties input and output embeddings/);
  assert.match(resolveWith({ ...llama, rope_scaling: { rope_type: 'llama3', factor: 32 } })[0]!.message, /uses rope_scaling/);
  assert.match(resolveWith({ ...llama, head_dim: 32 })[0]!.message, /head_dim 32 × 4 heads is not hidden_size 64/);
});

test('tokenization: cruijff_kit (what an import sets): the dataset component reproduces the toolkit’s builders and truncates nothing; the default leaves native keys alone', () => {
  const imported = renderCase({ name: 'toolkit', params: { ...CAP, tokenization: 'cruijff_kit', dataset: JSON_DATASET }, datasetInput: '/d.json' });
  const dataset = configData(imported.ctx)!.dataset as JsonObject;
  assert.equal(dataset.tokenization, 'cruijff_kit');
  assert.equal(dataset.max_seq_len, null, 'the toolkit never set max_length: no example is truncated');
  assert.equal(imported.resolved.params.tokenization, 'cruijff_kit', 'in the key: it trains different ids');
  const packed = configData(renderCase({ name: 'toolkit-packed', params: { ...CAP, tokenization: 'cruijff_kit', packed: true, dataset: JSON_DATASET }, datasetInput: '/d.json' }).ctx)!.dataset as JsonObject;
  assert.equal(packed.max_seq_len, 2048, 'packing still needs a length');
  const native = renderCase({ name: 'native', params: { ...CAP, dataset: JSON_DATASET }, datasetInput: '/d.json' });
  assert.equal((configData(native.ctx)!.dataset as JsonObject).tokenization, undefined);
  assert.equal('tokenization' in native.resolved.params, false, 'absent from native keys');
  assert.deepEqual(renderCase({ name: 'explicit', params: { ...CAP, tokenization: 'inspect', dataset: JSON_DATASET }, datasetInput: '/d.json' }).resolved.params, native.resolved.params, 'writing the default changes no key');
  const parquet = resolveCase({ name: 'toolkit-parquet', params: { ...CAP, tokenization: 'cruijff_kit', dataset: { format: 'parquet' } } });
  assert.match(errors(parquet).map((d) => d.message).join('\n'), /`tokenization: cruijff_kit` reproduces the earlier toolkit's dataset builders, which read \{input, output\} examples from JSON/);
});

test('calibration reads the history once per base model and method, however many runs it prices', async () => {
  const { calibratedSpeed } = await import('../../rules/torchtune/metrics.js');
  const { readResolved } = await import('../../rules/torchtune/resolved.js');
  let reads = 0;
  const finished = (elapsed: number) => {
    const params = { base_model: 'Llama-3.2-1B-Instruct', method: 'lora', epochs: 1, max_samples: 1000 };
    return { get params() { reads++; return params; }, elapsed_s: elapsed, gpu_hours: elapsed / 3600 };
  };
  const history = Array.from({ length: 100 }, (_, i) => finished(600 + i));
  const priced = readResolved({ base_model: 'Llama-3.2-1B-Instruct', method: 'lora', epochs: 2 });
  const first = calibratedSpeed(priced, history);
  const afterOne = reads;
  for (let i = 0; i < 500; i++) assert.equal(calibratedSpeed(priced, history), first);
  assert.ok(first !== undefined && first > 0);
  assert.equal(reads, afterOne, 'pricing 500 more runs read no history again');
  // Another method is its own calibration (none of these runs used it).
  assert.equal(calibratedSpeed(readResolved({ base_model: 'Llama-3.2-1B-Instruct', method: 'full' }), history), undefined);
});

test('the build’s reading of the torchtune template is this template’s, and the data the YAML 1.1 reading gives', () => {
  const text = readFileSync(TEMPLATE_PATH, 'utf8');
  assert.ok(usesPrecompiledTorchtuneTemplate(text), 'npm test builds it (scripts/precompile.mjs)');
  assert.equal(usesPrecompiledTorchtuneTemplate(`${text}# edited\n`), false, 'an edited template is read as YAML at run time');
  assert.deepEqual(builtInTemplate(), readTemplateForBuild(text));
});
