import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { JsonObject } from '../../core/json.js';
import { promptProblem } from '../../core/prompt.js';
import { inspectArg, yamlNumber } from '../../rules/inspect/cliArgs.js';
import { inspectRule } from '../../rules/inspect/index.js';
import { metricsFromLog, parseInspectJson } from '../../rules/inspect/metrics.js';
import type { ExpandedRun, RenderContext } from '../../core/rule.js';
import { projectRoot } from '../helpers/paths.js';
import {
  assertBashSyntax,
  assertGolden,
  codes,
  expandedRun,
  fakeExecutable,
  hasPythonYaml,
  MODELS,
  PROJECT,
  python,
  readArgv,
  renderContext,
  resolveContext,
  runRendered,
  upstreamView,
} from './ruleSupport.js';

const SCRIPT = `${PROJECT}/tasks/capitalization/inspect_task.py`;
const FINETUNE_ID = 'finetune/lora_rank=8,seed=1';

/** The evaluation params the expansion produces for the capitalization experiment. */
function cellParams(extra: JsonObject = {}): JsonObject {
  return {
    task: 'capitalization',
    task_function: 'capitalization',
    base_model: 'Llama-3.2-1B-Instruct',
    prompt: 'Capitalize the given word: {input}\n',
    system_prompt: 'You are a helpful assistant.',
    dataset_type: 'chat_completion',
    seed: 14,
    model_kind: 'base',
    dataset: { format: 'json', split: 'test' },
    ...extra,
  };
}

function evalRun(params: JsonObject, overrides: Partial<ExpandedRun> = {}): ExpandedRun {
  return expandedRun({
    id: 'evaluate/capitalization/base',
    step: 'evaluate',
    rule: 'inspect',
    params,
    inputs: { script: 'tasks/capitalization/inspect_task.py', dataset: 'data/words_5L_80P_1000.json' },
    ...overrides,
  });
}

const finetuneRun = expandedRun({ id: FINETUNE_ID, step: 'finetune', rule: 'torchtune', params: { base_model: 'Llama-3.2-1B-Instruct', epochs: 2, lora_rank: 8 } });

function resolve(params: JsonObject, overrides: Partial<ExpandedRun> = {}) {
  return inspectRule.resolve(evalRun(params, overrides), resolveContext([finetuneRun]));
}

function renderCell(params: JsonObject, overrides: Partial<RenderContext> = {}) {
  const resolved = resolve(params, params.model_kind === 'finetuned' ? { id: `evaluate/capitalization/lora_rank=8,seed=1/epoch${params.epoch}`, needs: { checkpoint: FINETUNE_ID } } : {});
  assert.deepEqual(codes(resolved.diagnostics), [], JSON.stringify(resolved.diagnostics));
  const context = renderContext({
    id: 'evaluate/capitalization/base',
    params: resolved.params,
    inputs: { script: SCRIPT, dataset: '/scratch/ck/runs/a1b2c3d4e5f60718-brave-otter/inputs/dataset--words_5L_80P_1000.json' },
    ...overrides,
  });
  return inspectRule.render(context);
}

const finetuneUpstream = upstreamView(FINETUNE_ID, 'finetune', 'torchtune', { base_model: 'Llama-3.2-1B-Instruct', epochs: 2, lora_rank: 8 }, '9'.repeat(64));

test('resolve applies the evaluation defaults and names the model', () => {
  const resolved = resolve({ task: 'capitalization', base_model: 'Llama-3.2-1B-Instruct', model_kind: 'base', dataset: { format: 'json', split: 'test' } });
  assert.deepEqual(codes(resolved.diagnostics), []);
  assert.deepEqual(resolved.params, {
    task: 'capitalization',
    task_function: 'capitalization',
    base_model: 'Llama-3.2-1B-Instruct',
    dataset_type: 'chat_completion',
    seed: 14,
    max_connections: 32,
    do_sample: false,
    model_kind: 'base',
    dataset: { format: 'json', split: 'test' },
  });
  assert.deepEqual(resolved.model, { name: 'Llama-3.2-1B-Instruct' });
});

test('temperature: only with sampling, required by sampling, and above zero', () => {
  assert.deepEqual(codes(resolve(cellParams({ temperature: 0.7 })).diagnostics), ['temperature-without-sampling']);
  assert.deepEqual(codes(resolve(cellParams({ do_sample: false, temperature: 0.7 })).diagnostics), ['temperature-without-sampling']);
  assert.deepEqual(codes(resolve(cellParams({ do_sample: true })).diagnostics), ['missing-key']);
  assert.deepEqual(codes(resolve(cellParams({ do_sample: true, temperature: 0 })).diagnostics), ['out-of-range']);
  assert.deepEqual(codes(resolve(cellParams({ do_sample: true, temperature: -1 })).diagnostics), ['out-of-range']);
  const sampling = resolve(cellParams({ do_sample: true, temperature: 0.7 }));
  assert.deepEqual(codes(sampling.diagnostics), []);
  assert.equal(sampling.params.temperature, 0.7);
  assert.equal(sampling.params.do_sample, true);
  const diagnostic = resolve(cellParams({ temperature: 0.7 })).diagnostics[0]!;
  assert.equal(diagnostic.field, 'temperature');
  assert.match(diagnostic.message, /do_sample: true/);
});

test('the prompt must hold {input} and no other placeholder', () => {
  // The placeholder is core's one check (the loader's and the fine-tune's): same code, same message.
  const missing = resolve(cellParams({ prompt: 'Capitalize the given word:\n' })).diagnostics;
  assert.deepEqual(codes(missing), ['prompt-placeholder']);
  assert.equal(missing[0]!.message, promptProblem('Capitalize the given word:\n')!.message);
  assert.deepEqual(codes(resolve(cellParams({ prompt: '{input} and {input}' })).diagnostics), ['prompt-placeholder']);
  assert.deepEqual(codes(resolve(cellParams({ prompt: '{input} in {language}' })).diagnostics), ['invalid-prompt']);
  assert.deepEqual(codes(resolve(cellParams({ prompt: 'Answer {input} as JSON {{"word": ...}}' })).diagnostics), []);
});

test('task args: names, values inspect can carry, and no second way to set a field', () => {
  assert.deepEqual(codes(resolve(cellParams({ args: { labels: 'a,b' } })).diagnostics), ['invalid-value']);
  assert.deepEqual(codes(resolve(cellParams({ args: { prompt: '{input}' } })).diagnostics), ['conflict']);
  assert.deepEqual(codes(resolve(cellParams({ args: { data_path: '/x' } })).diagnostics), ['conflict']);
  assert.deepEqual(codes(resolve(cellParams({ args: { 'bad-name': 1 } })).diagnostics), ['invalid-value']);
  assert.deepEqual(resolve(cellParams({ args: { labels: ['a,b', 'c'], logprobs: true } })).params.args, { labels: ['a,b', 'c'], logprobs: true });
});

test('a fine-tuned cell needs its checkpoint and an epoch', () => {
  assert.deepEqual(codes(resolve(cellParams({ model_kind: 'finetuned', epoch: 0 })).diagnostics), ['missing-key']);
  assert.deepEqual(codes(resolve(cellParams({ model_kind: 'finetuned' }), { needs: { checkpoint: FINETUNE_ID } }).diagnostics), ['missing-key']);
  assert.deepEqual(codes(resolve(cellParams({ model_kind: 'finetuned', epoch: 1 }), { needs: { checkpoint: FINETUNE_ID } }).diagnostics), []);
});

test('cells that read the same resolve once per plan, and only those', () => {
  // As the expansion shares them (core/experiment/expand/evaluateModels.ts): one params object and
  // one origins table for every fine-tuned cell that uses the experiment's evaluation settings.
  const params = cellParams({ model_kind: 'finetuned', epoch: 1 });
  const origins = { self: ['evaluation', 'tasks', 0] };
  const merge = expandedRun({ id: 'merge/ensemble', step: 'merge', rule: 'adapter-merge' });
  const otherFinetune = expandedRun({ ...finetuneRun, id: 'finetune/lora_rank=8,seed=2' });
  const context = resolveContext([finetuneRun, otherFinetune, merge]);
  const cell = (checkpoint: string, extra: Partial<ExpandedRun> = {}) => inspectRule.resolve(evalRun(params, { id: `evaluate/capitalization/${checkpoint}`, needs: { checkpoint }, origins, ...extra }), context);
  const first = cell(FINETUNE_ID);
  assert.equal(cell(otherFinetune.id), first, 'a second fine-tuned cell shares the first one\'s resolution');
  assert.deepEqual(first, inspectRule.resolve(evalRun(params, { needs: { checkpoint: FINETUNE_ID }, origins }), resolveContext([finetuneRun])), 'the same as resolving it alone');
  // What the rule reads besides the params decides too: the upstream's step, the inputs, the roles.
  const noEpoch = cellParams({ model_kind: 'finetuned' });
  const mergeCell = inspectRule.resolve(evalRun(noEpoch, { needs: { checkpoint: merge.id }, origins }), context);
  assert.deepEqual(codes(mergeCell.diagnostics), [], 'a merge has no epochs to choose from');
  assert.deepEqual(codes(inspectRule.resolve(evalRun(noEpoch, { needs: { checkpoint: FINETUNE_ID }, origins }), context).diagnostics), ['missing-key'], 'a fine-tune\'s cell still needs its epoch');
  assert.notEqual(cell(FINETUNE_ID, { inputs: { script: 'tasks/other.py', dataset: 'data/words_5L_80P_1000.json' } }), first);
  assert.deepEqual(codes(inspectRule.resolve(evalRun(params, { origins }), context).diagnostics), ['missing-key'], 'without a checkpoint role');
  // A resolution with a diagnostic is never shared; another plan (another run table) shares nothing.
  const hostile = cellParams({ temperature: 0.7 });
  const once = inspectRule.resolve(evalRun(hostile, { origins }), context);
  const twice = inspectRule.resolve(evalRun(hostile, { origins }), context);
  assert.notEqual(twice, once);
  assert.deepEqual(codes(twice.diagnostics), ['temperature-without-sampling']);
  assert.notEqual(inspectRule.resolve(evalRun(params, { needs: { checkpoint: FINETUNE_ID }, origins }), resolveContext([finetuneRun, otherFinetune, merge])), first);
});

test('base cell: the eval command and eval.yaml', () => {
  const rendered = renderCell(cellParams());
  assert.deepEqual(rendered.diagnostics, []);
  assert.deepEqual(rendered.requires, ['inspect']);
  assert.deepEqual(rendered.outputs, ['outputs/logs']);
  assert.match(rendered.command, /-M model_path=\/shared\/models\/Llama-3\.2-1B-Instruct \\/);
  assert.match(rendered.command, /-M do_sample=false/);
  assert.doesNotMatch(rendered.command, /temperature/);
  assert.doesNotMatch(rendered.command, /prompt/, 'prompts go through eval.yaml, never -T');
  assert.match(rendered.command, /--metadata is_finetuned=false/);
  assert.doesNotMatch(rendered.command, /--metadata epoch/);
  assertGolden('inspect/base.sh', rendered.command);
  assertGolden('inspect/base.eval.yaml', rendered.files['config/eval.yaml']!);
  assertBashSyntax(rendered.command);
});

test('fine-tuned cell: model_path is the upstream run\'s outputs dir + epoch', () => {
  const rendered = renderCell(cellParams({ model_kind: 'finetuned', epoch: 1 }), {
    id: 'evaluate/capitalization/lora_rank=8,seed=1/epoch1',
    upstream: { checkpoint: finetuneUpstream },
  });
  assert.deepEqual(rendered.diagnostics, []);
  assert.ok(rendered.command.includes(`-M model_path=${finetuneUpstream.outputsDir}/epoch_1/adapter \\`), `the adapter view (transformers loads it as base + adapter): ${rendered.command}`);
  assert.ok(rendered.command.includes(`-M tokenizer_path=${MODELS}/Llama-3.2-1B-Instruct \\`));
  assert.match(rendered.command, /--model hf\/lora_rank-8_seed-1_epoch1 \\/);
  assert.match(rendered.command, /-T vis_label=lora_rank=8_seed=1_epoch1 \\/);
  assert.match(rendered.command, /--metadata epoch=1 \\\n {2}--metadata is_finetuned=true/);
  assertGolden('inspect/finetuned.sh', rendered.command);
  assertGolden('inspect/finetuned.eval.yaml', rendered.files['config/eval.yaml']!);
  assertBashSyntax(rendered.command);
});

test('a cell of a merged ensemble evaluates the merge run\'s adapter, with no epoch', () => {
  const merge = upstreamView('merge/ensemble', 'merge', 'adapter-merge', { base_model: 'Llama-3.2-1B-Instruct', method: 'linear' }, '7'.repeat(64));
  const params = resolve(cellParams({ model_kind: 'finetuned' }), { needs: { checkpoint: 'merge/ensemble' } });
  const rendered = inspectRule.render(renderContext({ id: 'evaluate/capitalization/ensemble', params: params.params, inputs: { script: SCRIPT, dataset: '/d.json' }, upstream: { checkpoint: merge } }));
  assert.ok(rendered.command.includes(`-M model_path=${merge.outputsDir}/adapter \\`));
  assert.doesNotMatch(rendered.command, /--metadata epoch/);
  assertBashSyntax(rendered.command);
});

test('greedy vs sampling: do_sample and --temperature', () => {
  const rendered = renderCell(cellParams({ do_sample: true, temperature: 0.7, max_tokens: 8, limit: 50, max_connections: 4 }));
  assert.match(rendered.command, /-M do_sample=true/);
  assert.match(rendered.command, /--temperature 0\.7 \\/);
  assert.match(rendered.command, /--max-tokens 8 \\/);
  assert.match(rendered.command, /--limit 50 \\/);
  assertGolden('inspect/sampling.sh', rendered.command);
  assertBashSyntax(rendered.command);
});

test('a dataset from a prepare step is read from that run\'s outputs', () => {
  const prepare = upstreamView('prepare/words', 'prepare', 'command', { command: 'x', outputs: ['words.json'] }, '5'.repeat(64));
  const resolved = inspectRule.resolve(
    evalRun(cellParams({ dataset: { format: 'json', split: 'validation', file: 'words.json' } }), { inputs: { script: 'tasks/capitalization/inspect_task.py' }, needs: { dataset: 'prepare/words' } }),
    resolveContext(),
  );
  assert.deepEqual(codes(resolved.diagnostics), []);
  const rendered = inspectRule.render(renderContext({ id: 'evaluate/capitalization/base', params: resolved.params, inputs: { script: SCRIPT }, upstream: { dataset: prepare } }));
  assert.ok(rendered.command.includes(`-T data_path=${prepare.outputsDir}/words.json \\`));
  assert.match(rendered.command, /-T split=validation/);
});

test('inspect CLI values: YAML 1.1 floats, quoted strings, commas refused', () => {
  assert.equal(yamlNumber(1e-7), '1.0e-7');
  assert.equal(yamlNumber(0.7), '0.7');
  assert.equal(yamlNumber(2e21), '2.0e+21');
  assert.deepEqual(inspectArg('split', 'test'), { ok: true, text: 'split=test' });
  assert.deepEqual(inspectArg('split', 'no'), { ok: true, text: 'split="no"' });
  assert.deepEqual(inspectArg('x', 'a: b'), { ok: true, text: 'x="a: b"' });
  assert.equal(inspectArg('x', 'a,b').ok, false);
});

test('values reach inspect intact through its YAML parsing', { skip: !hasPythonYaml() && 'python3 with PyYAML is not available' }, () => {
  const values = ['no', '12:30', '1e-7', 'a: b', '# x', '"; rm -rf ~', '$(touch /tmp/pwned)', "it's", 'ünïcode ✓', 'line\nbreak', '', 'plain', '/a/b=c.json'];
  const numbers = [1e-7, 0.7, 3, -2.5, 2e21];
  const args = [...values, ...numbers, true, ['a,b', 1], { k: 'v,w' }].map((value, index) => {
    const arg = inspectArg(`k${index}`, value);
    assert.ok(arg.ok);
    return arg.text;
  });
  // inspect's parsing, as described in inspect_ai/_cli/util.py: split at the first `=`,
  // yaml.safe_load the rest, split strings at commas.
  const decoded = JSON.parse(
    python(
      `import json, sys, yaml
out = {}
for arg in json.load(sys.stdin):
    key, _, text = arg.partition("=")
    value = yaml.safe_load(text)
    if isinstance(value, str):
        parts = value.split(",")
        value = parts if len(parts) > 1 else parts[0]
    out[key] = value
print(json.dumps(out))`,
      JSON.stringify(args),
    ),
  ) as Record<string, unknown>;
  assert.deepEqual(Object.values(decoded), [...values, ...numbers, true, ['a,b', 1], { k: 'v,w' }]);
});

test('eval.yaml reads back with PyYAML exactly as written', { skip: !hasPythonYaml() && 'python3 with PyYAML is not available' }, () => {
  const prompt = 'Say "yes" or no: {input}\n$(touch /tmp/pwned) `id` \'quoted\'';
  const rendered = renderCell(cellParams({ prompt, system_prompt: 'no', scorers: [{ name: 'match', params: { ignore_case: true } }] }));
  const loaded = JSON.parse(python('import json, sys, yaml; print(json.dumps(yaml.safe_load(sys.stdin)))', rendered.files['config/eval.yaml']!)) as JsonObject;
  assert.deepEqual(loaded, {
    prompt,
    system_prompt: 'no',
    scorers: [{ name: 'match', params: { ignore_case: true } }],
    task: 'capitalization',
    model_kind: 'base',
    source_model: 'Llama-3.2-1B-Instruct',
  });
});

test('shell injection: hostile values in task args, prompts and paths stay inert', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ck-inspect-inject-'));
  const pwned = join(dir, 'pwned');
  const hostile: [string, string, string, string] = [`"; touch ${pwned}; echo "`, `$(touch ${pwned})`, `\`touch ${pwned}\``, `'; touch ${pwned}; '`];
  const runDir = join(dir, 'run');
  const modelsDir = join(dir, "models $(touch pwned) 'x'");
  mkdirSync(join(modelsDir, 'Llama-3.2-1B-Instruct'), { recursive: true });
  const resolved = resolve(cellParams({ prompt: `${hostile[1]} {input}`, system_prompt: hostile[0], args: { a0: hostile[0], a1: hostile[1], a2: hostile[2], a3: hostile[3] } }));
  assert.deepEqual(codes(resolved.diagnostics), []);
  const context = renderContext({ id: 'evaluate/capitalization/base', params: resolved.params, runDir, outputsDir: join(runDir, 'outputs'), inputs: { script: SCRIPT, dataset: join(dir, 'data.json') } });
  context.site = { modelsDir, projectDir: PROJECT };
  const rendered = inspectRule.render(context);
  assertBashSyntax(rendered.command);

  const bin = join(dir, 'bin');
  const argvFile = join(dir, 'argv');
  fakeExecutable(bin, 'inspect', argvFile, 3);
  const result = runRendered(rendered.command, { PATH: `${bin}:${process.env.PATH ?? ''}`, CK_RUN_DIR: runDir, CK_OUTPUTS: join(runDir, 'outputs') });
  assert.equal(result.status, 3, `the job exits with inspect's status\n${result.stderr}`);
  assert.equal(existsSync(pwned), false, 'nothing in a value was executed');
  assert.equal(existsSync(join(process.cwd(), 'pwned')), false);

  const argv = readArgv(argvFile);
  assert.equal(argv[0], 'eval');
  const values = (flag: string): string[] => argv.flatMap((word, i) => (word === flag ? [argv[i + 1]!] : []));
  const taskArgs = values('-T');
  hostile.forEach((value, index) => {
    const arg = taskArgs.find((word) => word.startsWith(`a${index}=`));
    assert.ok(arg, `a${index} arrived as one argument`);
    assert.equal(arg, inspectArg(`a${index}`, value).ok ? (inspectArg(`a${index}`, value) as { text: string }).text : '');
  });
  assert.ok(values('-M').includes(`model_path=${JSON.stringify(join(modelsDir, 'Llama-3.2-1B-Instruct'))}`), values('-M').join('\n'));
  assert.ok(taskArgs.includes(`config_path=${runDir}/config/eval.yaml`));
  assert.deepEqual(values('--log-dir'), [join(runDir, 'outputs', 'logs')]);
  assert.ok(!argv.some((word) => word.includes('prompt')), 'no prompt on the command line');
});

test('a missing checkpoint stops the job before inspect starts, with the reason', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ck-inspect-missing-'));
  const upstream = { ...finetuneUpstream, outputsDir: join(dir, 'outputs') };
  const rendered = renderCell(cellParams({ model_kind: 'finetuned', epoch: 0 }), { id: 'evaluate/capitalization/lora_rank=8,seed=1/epoch0', upstream: { checkpoint: upstream } });
  const bin = join(dir, 'bin');
  fakeExecutable(bin, 'inspect', join(dir, 'argv'));
  const result = runRendered(rendered.command, { PATH: `${bin}:${process.env.PATH ?? ''}`, CK_RUN_DIR: dir, CK_OUTPUTS: join(dir, 'o') });
  assert.equal(result.status, 1);
  assert.match(result.stderr, /checkpoint .*epoch_0\/adapter not found: finetune\/lora_rank=8,seed=1 did not leave epoch 0/);
  assert.equal(existsSync(join(dir, 'argv')), false);
});

const FIXTURE = join(projectRoot, 'test', 'fixtures', 'inspect', '2025-06-02T14-03-11+00-00_capitalization-base_Tq3uW7pXbN2mYc8dLkR4sA.json');

test('readMetrics reads the newest inspect JSON log', () => {
  const runDir = mkdtempSync(join(tmpdir(), 'ck-inspect-metrics-'));
  const logs = join(runDir, 'outputs', 'logs');
  mkdirSync(logs, { recursive: true });
  const older = join(logs, '2025-06-01T09-00-00+00-00_capitalization-base_old.json');
  writeFileSync(older, JSON.stringify({ version: 2, status: 'error', eval: {}, results: null }));
  utimesSync(older, new Date('2025-06-01T09:00:00Z'), new Date('2025-06-01T09:00:00Z'));
  copyFileSync(FIXTURE, join(logs, '2025-06-02T14-03-11+00-00_capitalization-base_Tq3uW7pXbN2mYc8dLkR4sA.json'));
  writeFileSync(join(logs, 'notes.json'), '{}'); // not an inspect log name: ignored
  assert.deepEqual(inspectRule.readMetrics!(runDir, {}).metrics, {
    status: 'success',
    samples: 100,
    total_samples: 100,
    match_accuracy: 0.87,
    match_stderr: 0.0338,
    includes_accuracy: 0.91,
    includes_stderr: 0.0288,
  });
  assert.match(inspectRule.readMetrics!(mkdtempSync(join(tmpdir(), 'ck-empty-')), {}).note!, /no inspect log/);
});

test('a one-sample run: inspect writes its stderr as NaN, recorded as null', () => {
  const runDir = mkdtempSync(join(tmpdir(), 'ck-inspect-nan-'));
  const logs = join(runDir, 'outputs', 'logs');
  mkdirSync(logs, { recursive: true });
  const log = readFileSync(FIXTURE, 'utf8')
    .replace(/"total_samples": 100/, '"total_samples": 1')
    .replace(/"completed_samples": 100/, '"completed_samples": 1')
    .replace(/"value": 0\.0338/, '"value": NaN')
    .replace(/"value": 0\.87/, '"value": 1.0');
  writeFileSync(join(logs, '2025-06-03T08-00-00+00-00_capitalization-base_one.json'), log);
  const metrics = inspectRule.readMetrics!(runDir, {}).metrics;
  assert.equal(metrics?.samples, 1);
  assert.equal(metrics?.match_accuracy, 1);
  assert.equal(metrics?.match_stderr, null);
});

test('inspect\'s NaN and Infinity tokens parse, and strings that contain them are untouched', () => {
  const parsed = parseInspectJson('{"a": NaN, "b": -Infinity, "c": "NaN, Infinity", "d": [Infinity]}');
  assert.deepEqual(parsed, { a: null, b: null, c: 'NaN, Infinity', d: [null] });
  assert.deepEqual(metricsFromLog({ status: 'started' }), { status: 'started' });
});

test('default resources follow the model size', () => {
  assert.deepEqual(inspectRule.defaultResources!({ base_model: 'Llama-3.2-1B-Instruct' }), { gpus: 1, time: '00:20:00', mem: '16G' });
  assert.equal(inspectRule.defaultResources!({ base_model: 'meta-llama/Llama-3.1-8B-Instruct' }).mem, '48G');
  assert.equal(inspectRule.defaultResources!({ base_model: 'Llama-3.3-70B-Instruct' }).mem, '360G');
  assert.equal(inspectRule.defaultResources!({}).mem, '32G');
});
