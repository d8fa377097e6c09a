/**
 * The DSPy, export and adapter-merge rules: parameters, rendered configs (golden), commands, and
 * the rendered Python drivers run for real against the stand-in libraries in
 * test/fixtures/fakes (no dspy, torch or GPU needed).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { JsonObject } from '../../core/json.js';
import { adapterMergeRule, memberRoles } from '../../rules/adapterMerge.js';
import { dspyRule } from '../../rules/dspy.js';
import { exportOutputs, exportRule } from '../../rules/export.js';
import type { RenderedRun, UpstreamView } from '../../core/rule.js';
import { projectRoot } from '../helpers/paths.js';
import { assertBashSyntax, assertGolden, codes, expandedRun, MODELS, PROJECT, renderContext, resolveContext, upstreamView } from './ruleSupport.js';

const FAKES = join(projectRoot, 'test', 'fixtures', 'fakes');
const hasPython = spawnSync('python3', ['--version']).status === 0;
const noPython = !hasPython && 'python3 is not available';

const finetune = (id: string, params: JsonObject, key: string): UpstreamView => upstreamView(id, 'finetune', 'torchtune', { base_model: 'Llama-3.2-1B-Instruct', ...params }, key.repeat(64));

/** Writes a rendered run's files into `runDir` and runs its command the way the job does. */
function runDriver(rendered: RenderedRun, runDir: string, env: Record<string, string> = {}): { status: number | null; stdout: string; stderr: string; calls: JsonObject[] } {
  for (const [path, content] of Object.entries(rendered.files)) {
    mkdirSync(join(runDir, path, '..'), { recursive: true });
    writeFileSync(join(runDir, path), content);
  }
  const callsFile = join(runDir, 'calls.jsonl');
  const result = spawnSync('bash', ['-c', `set -uo pipefail\n(\n${rendered.command}\n)`], {
    encoding: 'utf8',
    env: { ...process.env, CK_RUN_DIR: runDir, CK_OUTPUTS: join(runDir, 'outputs'), PYTHONPATH: FAKES, PYTHONDONTWRITEBYTECODE: '1', FAKE_CALLS: callsFile, ...env },
  });
  const calls = existsSync(callsFile) ? readFileSync(callsFile, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as JsonObject) : [];
  return { status: result.status, stdout: result.stdout, stderr: result.stderr, calls };
}

test('the Python drivers compile', { skip: noPython }, () => {
  const dir = join(projectRoot, 'templates', 'python');
  for (const file of readdirSync(dir).filter((name) => name.endsWith('.py'))) {
    // compile() rather than py_compile: no __pycache__ is left in templates/.
    const result = spawnSync('python3', ['-c', 'import sys; compile(open(sys.argv[1]).read(), sys.argv[1], "exec")', join(dir, file)], { encoding: 'utf8' });
    assert.equal(result.status, 0, `${file}: ${result.stderr}`);
  }
});

// ---------------------------------------------------------------------------------- dspy

const dspyRun = (params: JsonObject, needs: Record<string, string> = {}) =>
  expandedRun({ id: 'optimize/cap', step: 'optimize', rule: 'dspy', params, inputs: { program: 'programs/cap.py', trainset: 'data/words.json' }, needs });

test('dspy: defaults, and the LM named as LiteLLM expects', () => {
  const resolved = dspyRule.resolve(dspyRun({ lm: 'openai/gpt-4o-mini', trainset: { format: 'json', split: 'train' } }), resolveContext());
  assert.deepEqual(resolved.diagnostics, []);
  assert.equal(resolved.params.teleprompter, 'BootstrapFewShot');
  assert.equal(resolved.params.metric, 'exact_match');
  assert.equal(resolved.params.module, 'program');
  assert.equal(resolved.params.seed, 0);
  assert.match(String(resolved.params.driver_sha256), /^[0-9a-f]{64}$/, 'the driver script is part of the key');
  assert.deepEqual(resolved.model, { name: 'openai/gpt-4o-mini' });
  assert.deepEqual(codes(dspyRule.resolve(dspyRun({ lm: 'gpt-4o-mini', trainset: { format: 'json', split: 'train' } }), resolveContext()).diagnostics), ['invalid-value']);
  assert.deepEqual(codes(dspyRule.resolve(dspyRun({ lm: 'base', trainset: { format: 'json', split: 'train' } }), resolveContext()).diagnostics), ['missing-key']);
  const typo = dspyRule.resolve(dspyRun({ lm: 'openai/x', teleprompter: 'MIPROV2', trainset: { format: 'json', split: 'train' } }), resolveContext());
  assert.deepEqual(codes(typo.diagnostics, 'warning'), ['unknown-teleprompter']);
  assert.match(typo.diagnostics[0]!.message, /did you mean `MIPROv2`/);
});

test('dspy: optimize.json holds the whole optimisation and no credentials', () => {
  const previous = process.env.OPENAI_API_KEY;
  process.env.OPENAI_API_KEY = 'sk-test-must-not-leak';
  try {
    const resolved = dspyRule.resolve(
      dspyRun({ lm: 'openai/gpt-4o-mini', teleprompter: 'MIPROv2', params: { auto: 'light', num_trials: 8 }, seed: 3, trainset: { format: 'json', split: 'train' }, valset: { format: 'json', split: 'validation', file: 'words.json' } }, { val_dataset: 'prepare/words' }),
      resolveContext(),
    );
    const prepare = upstreamView('prepare/words', 'prepare', 'command', {}, '5'.repeat(64));
    const rendered = dspyRule.render(renderContext({ id: 'optimize/cap', params: resolved.params, inputs: { program: `${PROJECT}/programs/cap.py`, trainset: '/scratch/ck/runs/a1b2c3d4e5f60718-brave-otter/inputs/trainset--words.json' }, upstream: { val_dataset: prepare } }));
    assert.deepEqual(rendered.diagnostics, []);
    assertGolden('dspy/optimize.json', rendered.files['config/optimize.json']!);
    assert.equal(rendered.files['config/optimize.py'], readFileSync(join(projectRoot, 'templates', 'python', 'dspy_optimize.py'), 'utf8'));
    assert.equal(rendered.command, 'python3 "$CK_RUN_DIR/config/optimize.py" "$CK_RUN_DIR/config/optimize.json"\n');
    assert.deepEqual(rendered.outputs, ['outputs/program.json', 'outputs/metrics.json']);
    for (const content of Object.values(rendered.files)) assert.ok(!content.includes('sk-test-must-not-leak'));
    assertBashSyntax(rendered.command);
  } finally {
    if (previous === undefined) delete process.env.OPENAI_API_KEY;
    else process.env.OPENAI_API_KEY = previous;
  }
});

test('dspy: a fine-tuned LM is the upstream\'s last epoch, served over an API', () => {
  const resolved = dspyRule.resolve(dspyRun({ lm: 'finetuned', base_model: 'Llama-3.2-1B-Instruct', trainset: { format: 'json', split: 'train' } }, { checkpoint: 'finetune/a' }), resolveContext());
  assert.deepEqual(resolved.diagnostics, []);
  const upstream = finetune('finetune/a', { epochs: 3 }, '4');
  const rendered = dspyRule.render(renderContext({ id: 'optimize/cap', params: resolved.params, inputs: { program: '/p.py', trainset: '/t.json' }, upstream: { checkpoint: upstream } }));
  const config = JSON.parse(rendered.files['config/optimize.json']!) as { lm: JsonObject };
  assert.deepEqual(config.lm, { kind: 'local', model_path: `${upstream.outputsDir}/epoch_2`, served_name: `${upstream.outputsDir}/epoch_2`, base_model_dir: `${MODELS}/Llama-3.2-1B-Instruct` });
});

function dspyProject(dir: string): { program: string; data: string } {
  const program = join(dir, 'cap.py');
  writeFileSync(program, 'import dspy\n\n\nclass Capitalize(dspy.Module):\n    def __call__(self, input):\n        return dspy.Prediction(output=input.capitalize())\n\n\nprogram = Capitalize\n');
  const data = join(dir, 'words.json');
  const split = (words: string[]) => words.map((word) => ({ input: word, output: word[0]!.toUpperCase() + word.slice(1) }));
  writeFileSync(data, JSON.stringify({ train: split(['apple', 'lemon', 'crane']), validation: split(['otter', 'brave']), test: split(['zebra']) }));
  return { program, data };
}

test('dspy: the driver compiles, scores on the valset and saves program and metrics', { skip: noPython }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'ck-dspy-'));
  const { program, data } = dspyProject(dir);
  const resolved = dspyRule.resolve(
    dspyRun({ lm: 'openai/gpt-4o-mini', params: { max_labeled_demos: 2 }, trainset: { format: 'json', split: 'train' }, valset: { format: 'json', split: 'validation' } }),
    resolveContext(),
  );
  const runDir = join(dir, 'run');
  const rendered = dspyRule.render(renderContext({ id: 'optimize/cap', params: resolved.params, runDir, outputsDir: join(runDir, 'outputs'), inputs: { program, trainset: data, valset: data } }));
  const result = runDriver(rendered, runDir);
  assert.equal(result.status, 0, result.stderr);
  assert.deepEqual(result.calls, [
    { call: 'LM', model: 'openai/gpt-4o-mini', kwargs: [] },
    { call: 'configure', lm: 'openai/gpt-4o-mini' },
    { call: 'BootstrapFewShot', max_labeled_demos: 2, metric: 'exact_match' },
    { call: 'compile', trainset: 3 },
  ]);
  assert.deepEqual(JSON.parse(readFileSync(join(runDir, 'outputs', 'program.json'), 'utf8')), { demos: [{ input: 'apple', output: 'Apple' }, { input: 'lemon', output: 'Lemon' }] });
  assert.deepEqual(dspyRule.readMetrics!(runDir, {}).metrics, { evaluated_on: 'valset', metric: 'exact_match', score: 100, teleprompter: 'BootstrapFewShot', trainset_size: 3, valset_size: 2 });
});

test('dspy: the driver refuses unknown teleprompter parameters and unserved local models, clearly', { skip: noPython }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'ck-dspy-bad-'));
  const { program, data } = dspyProject(dir);
  const bad = dspyRule.resolve(dspyRun({ lm: 'openai/x', params: { max_demos: 2 }, trainset: { format: 'json', split: 'train' } }), resolveContext());
  const badRun = join(dir, 'bad');
  const first = runDriver(dspyRule.render(renderContext({ id: 'optimize/cap', params: bad.params, runDir: badRun, outputsDir: join(badRun, 'outputs'), inputs: { program, trainset: data } })), badRun);
  assert.equal(first.status, 2);
  assert.match(first.stderr, /BootstrapFewShot takes no parameter `max_demos` \(constructor: .*max_labeled_demos/);

  const local = dspyRule.resolve(dspyRun({ lm: 'base', base_model: 'Llama-3.2-1B-Instruct', trainset: { format: 'json', split: 'train' } }), resolveContext());
  const localRun = join(dir, 'local');
  const rendered = dspyRule.render(renderContext({ id: 'optimize/cap', params: local.params, runDir: localRun, outputsDir: join(localRun, 'outputs'), inputs: { program, trainset: data } }));
  const second = runDriver(rendered, localRun, { CK_LM_API_BASE: '' });
  assert.equal(second.status, 2);
  assert.match(second.stderr, /Serve it with an OpenAI-compatible server, e\.g\. `vllm serve \/shared\/models\/Llama-3\.2-1B-Instruct`, then set CK_LM_API_BASE/);
  // A fine-tuned LM is an adapter: the hint serves it on top of its base model.
  const adapterDir = join(dir, 'ft', 'outputs', 'epoch_0');
  mkdirSync(adapterDir, { recursive: true });
  writeFileSync(join(adapterDir, 'adapter_config.json'), '{}');
  const tuned = dspyRule.resolve(dspyRun({ lm: 'finetuned', base_model: 'Llama-3.2-1B-Instruct', trainset: { format: 'json', split: 'train' } }, { checkpoint: 'finetune/a' }), resolveContext());
  const tunedRun = join(dir, 'tuned');
  const upstream: UpstreamView = { id: 'finetune/a', key: 'k', rule: 'torchtune', step: 'finetune', params: { epochs: 1, base_model: 'Llama-3.2-1B-Instruct' }, runDir: join(dir, 'ft'), outputsDir: join(dir, 'ft', 'outputs') };
  const third = runDriver(dspyRule.render(renderContext({ id: 'optimize/cap', params: tuned.params, runDir: tunedRun, outputsDir: join(tunedRun, 'outputs'), inputs: { program, trainset: data }, upstream: { checkpoint: upstream } })), tunedRun, { CK_LM_API_BASE: '' });
  assert.equal(third.status, 2);
  assert.ok(third.stderr.includes(`vllm serve ${MODELS}/Llama-3.2-1B-Instruct --enable-lora --lora-modules ckbuild=${adapterDir}`), third.stderr);

  const served = runDriver(rendered, localRun, { CK_LM_API_BASE: 'http://127.0.0.1:8000/v1' });
  assert.equal(served.status, 0, served.stderr);
  assert.deepEqual(served.calls[0], { call: 'LM', model: `openai/${MODELS}/Llama-3.2-1B-Instruct`, kwargs: ['api_base', 'api_key'] });
});

// -------------------------------------------------------------------------------- export

const exportRun = (params: JsonObject) => expandedRun({ id: 'export/lora_rank=8', step: 'export', rule: 'export', params, needs: { checkpoint: 'finetune/lora_rank=8' }, origins: { self: ['output'] } });

test('export: what it leaves, by merge and format', () => {
  assert.deepEqual(exportOutputs(true, 'gguf'), ['outputs/merged', 'outputs/model.gguf']);
  assert.deepEqual(exportOutputs(true, 'safetensors'), ['outputs/merged']);
  assert.deepEqual(exportOutputs(true, 'none'), ['outputs/merged']);
  assert.deepEqual(exportOutputs(false, 'gguf'), ['outputs/adapter.gguf']);
  assert.deepEqual(exportOutputs(false, 'safetensors'), ['outputs/adapter']);
  assert.deepEqual(codes(exportRule.resolve(exportRun({ format: 'gguf', merge: true, base_model: null, source_kind: 'finetune' }), resolveContext()).diagnostics), ['missing-key']);
});

test('export: the config names the upstream\'s last epoch and the local base model', () => {
  const resolved = exportRule.resolve(exportRun({ format: 'gguf', merge: true, base_model: 'meta-llama/Llama-3.2-1B-Instruct', source_kind: 'finetune' }), resolveContext());
  assert.deepEqual(resolved.diagnostics, []);
  const upstream = finetune('finetune/lora_rank=8', { epochs: 3 }, '8');
  const rendered = exportRule.render(renderContext({ id: 'export/lora_rank=8', params: resolved.params, upstream: { checkpoint: upstream } }));
  assert.deepEqual(rendered.diagnostics, []);
  assertGolden('export/export.json', rendered.files['config/export.json']!);
  assert.equal(JSON.parse(rendered.files['config/export.json']!).source_dir, `${upstream.outputsDir}/epoch_2`);
  assert.deepEqual(rendered.outputs, ['outputs/merged', 'outputs/model.gguf']);
  assertBashSyntax(rendered.command);
  const merged = upstreamView('merge/ensemble', 'merge', 'adapter-merge', { base_model: 'Llama-3.2-1B-Instruct' }, '6'.repeat(64));
  const fromMerge = exportRule.render(renderContext({ id: 'export/ensemble', params: resolved.params, upstream: { checkpoint: merged } }));
  assert.equal(JSON.parse(fromMerge.files['config/export.json']!).source_dir, `${merged.outputsDir}/adapter`);
});

function exportFixture(dir: string, params: JsonObject): { rendered: RenderedRun; runDir: string } {
  const adapter = join(dir, 'ft', 'outputs', 'epoch_0');
  mkdirSync(adapter, { recursive: true });
  writeFileSync(join(adapter, 'adapter_config.json'), '{"r": 8}');
  writeFileSync(join(adapter, 'adapter_model.safetensors'), 'weights');
  mkdirSync(join(dir, 'models', 'Llama-3.2-1B-Instruct'), { recursive: true });
  writeFileSync(join(dir, 'models', 'Llama-3.2-1B-Instruct', 'config.json'), '{}');
  const upstream: UpstreamView = { id: 'finetune/a', key: 'k', rule: 'torchtune', step: 'finetune', params: { epochs: 1 }, runDir: join(dir, 'ft'), outputsDir: join(dir, 'ft', 'outputs') };
  const resolved = exportRule.resolve(exportRun({ base_model: 'Llama-3.2-1B-Instruct', source_kind: 'finetune', ...params }), resolveContext());
  const runDir = join(dir, 'run');
  const context = renderContext({ id: 'export/a', params: resolved.params, runDir, outputsDir: join(runDir, 'outputs'), upstream: { checkpoint: upstream } });
  context.site = { modelsDir: join(dir, 'models'), projectDir: dir };
  return { rendered: exportRule.render(context), runDir };
}

test('export: the driver copies an unmerged adapter, merges with PEFT, and needs LLAMA_CPP_DIR for GGUF', { skip: noPython }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'ck-export-'));
  const copy = exportFixture(join(dir, 'copy'), { format: 'safetensors', merge: false });
  assert.equal(runDriver(copy.rendered, copy.runDir).status, 0);
  assert.equal(readFileSync(join(copy.runDir, 'outputs', 'adapter', 'adapter_model.safetensors'), 'utf8'), 'weights');

  const gguf = exportFixture(join(dir, 'gguf'), { format: 'gguf', merge: true });
  const missing = runDriver(gguf.rendered, gguf.runDir, { LLAMA_CPP_DIR: '' });
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /GGUF export needs llama\.cpp: .*set LLAMA_CPP_DIR/);
  assert.deepEqual(missing.calls, [], 'it fails before spending an hour merging');

  // A stand-in llama.cpp checkout whose converter records its arguments in the output file.
  const llama = join(dir, 'llama.cpp');
  mkdirSync(llama);
  writeFileSync(join(llama, 'convert_hf_to_gguf.py'), 'import json, sys\nout = sys.argv[sys.argv.index("--outfile") + 1]\nopen(out, "w").write(json.dumps(sys.argv[1:]))\n');
  const merged = runDriver(gguf.rendered, gguf.runDir, { LLAMA_CPP_DIR: llama });
  assert.equal(merged.status, 0, merged.stderr);
  assert.deepEqual(merged.calls.map((call) => call.call), ['AutoModelForCausalLM.from_pretrained', 'load_adapter', 'merge_and_unload']);
  assert.ok(existsSync(join(gguf.runDir, 'outputs', 'merged', 'tokenizer.json')), 'the merged model carries the tokenizer');
  const argv = JSON.parse(readFileSync(join(gguf.runDir, 'outputs', 'model.gguf'), 'utf8')) as string[];
  assert.deepEqual(argv, [join(gguf.runDir, 'outputs', 'merged'), '--outfile', join(gguf.runDir, 'outputs', 'model.gguf.partial'), '--outtype', 'auto']);
});

// ---------------------------------------------------------------------------------- merge

const mergeRun = (params: JsonObject, members: Array<{ rank?: number; method?: string }>) => {
  const needs: Record<string, string> = {};
  const runs = members.map((member, index) => {
    const id = `finetune/member${index + 1}`;
    needs[`member${index + 1}`] = id;
    const memberParams: JsonObject = { base_model: 'Llama-3.2-1B-Instruct' };
    if (member.rank !== undefined) memberParams.lora_rank = member.rank;
    if (member.method !== undefined) memberParams.method = member.method;
    return expandedRun({ id, step: 'finetune', rule: 'torchtune', params: memberParams });
  });
  const run = expandedRun({ id: 'merge/ensemble', step: 'merge', rule: 'adapter-merge', params: { base_model: 'Llama-3.2-1B-Instruct', members: members.length, ...params }, needs, origins: { self: ['protocol', 'merge'] } });
  return adapterMergeRule.resolve(run, resolveContext(runs));
};

test('merge: equal weights by default; weights, density and ranks checked before any GPU time', () => {
  const linear = mergeRun({ method: 'linear' }, [{ rank: 8 }, { rank: 8 }, { rank: 8 }]);
  assert.deepEqual(linear.diagnostics, []);
  assert.deepEqual(linear.params.weights, [1 / 3, 1 / 3, 1 / 3]);
  assert.deepEqual(codes(mergeRun({ method: 'linear', weights: [1] }, [{}, {}]).diagnostics), ['invalid-value']);
  assert.deepEqual(codes(mergeRun({ method: 'ties' }, [{}, {}]).diagnostics), ['missing-key']);
  assert.deepEqual(codes(mergeRun({ method: 'dare_linear', density: 1.5 }, [{}, {}]).diagnostics), ['out-of-range']);
  const ignored = mergeRun({ method: 'linear', density: 0.5 }, [{}, {}]);
  assert.deepEqual(codes(ignored.diagnostics, 'warning'), ['ignored-param']);
  assert.equal(ignored.params.density, undefined, 'an ignored density does not change the key');
  assert.deepEqual(codes(mergeRun({ method: 'linear' }, [{ rank: 8 }, { rank: 16 }]).diagnostics), ['conflict']);
  assert.deepEqual(mergeRun({ method: 'cat' }, [{ rank: 8 }, { rank: 16 }]).diagnostics, []);
  assert.deepEqual(codes(mergeRun({ method: 'linear' }, [{ method: 'full' }, {}]).diagnostics), ['invalid-value']);
  assert.deepEqual(memberRoles({ member10: 1, member2: 1, member1: 1, checkpoint: 1 }), ['member1', 'member2', 'member10']);
});

test('merge: merge.json lists each member\'s last-epoch adapter in order', () => {
  const resolved = mergeRun({ method: 'ties', density: 0.5, weights: [0.5, 0.3, 0.2] }, [{}, {}, {}]);
  assert.deepEqual(resolved.diagnostics, []);
  const upstream = { member1: finetune('finetune/m1', { epochs: 2 }, '1'), member2: finetune('finetune/m2', { epochs: 2 }, '2'), member3: finetune('finetune/m3', { epochs: 1 }, '3') };
  const rendered = adapterMergeRule.render(renderContext({ id: 'merge/ensemble', params: resolved.params, upstream }));
  assert.deepEqual(rendered.outputs, ['outputs/adapter']);
  assertGolden('adapter-merge/merge.json', rendered.files['config/merge.json']!);
  assertBashSyntax(rendered.command);
});

test('merge: the driver merges with add_weighted_adapter into a self-loading adapter', { skip: noPython }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'ck-merge-'));
  const base = join(dir, 'models', 'Llama-3.2-1B-Instruct');
  mkdirSync(base, { recursive: true });
  writeFileSync(join(base, 'config.json'), '{}');
  const upstream: Record<string, UpstreamView> = {};
  for (const n of [1, 2]) {
    const outputs = join(dir, `m${n}`, 'outputs');
    mkdirSync(join(outputs, 'epoch_0'), { recursive: true });
    writeFileSync(join(outputs, 'epoch_0', 'adapter_config.json'), '{}');
    upstream[`member${n}`] = { id: `finetune/m${n}`, key: 'k', rule: 'torchtune', step: 'finetune', params: { epochs: 1, base_model: 'Llama-3.2-1B-Instruct' }, runDir: join(dir, `m${n}`), outputsDir: outputs };
  }
  const resolved = mergeRun({ method: 'dare_linear', density: 0.7 }, [{}, {}]);
  const runDir = join(dir, 'run');
  const context = renderContext({ id: 'merge/ensemble', params: resolved.params, runDir, outputsDir: join(runDir, 'outputs'), upstream });
  context.site = { modelsDir: join(dir, 'models'), projectDir: dir };
  const result = runDriver(adapterMergeRule.render(context), runDir);
  assert.equal(result.status, 0, result.stderr);
  assert.deepEqual(result.calls.find((call) => call.call === 'add_weighted_adapter'), {
    call: 'add_weighted_adapter',
    adapters: ['member1', 'member2'],
    weights: [0.5, 0.5],
    adapter_name: 'ensemble',
    combination_type: 'dare_linear',
    density: 0.7,
  });
  const adapter = join(runDir, 'outputs', 'adapter');
  assert.equal(JSON.parse(readFileSync(join(adapter, 'adapter_config.json'), 'utf8')).base_model_name_or_path, base);
  assert.ok(existsSync(join(adapter, 'adapter_model.safetensors')));
  assert.ok(existsSync(join(adapter, 'tokenizer.json')));
  assert.deepEqual(readdirSync(join(runDir, 'outputs')), ['adapter'], 'no scratch directory is left behind');
});
