import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { JsonObject } from '../../core/json.js';
import { commandRule } from '../../rules/command.js';
import type { ExpandedRun } from '../../core/rule.js';
import { assertBashSyntax, assertGolden, codes, expandedRun, renderContext, resolveContext, runRendered, upstreamView } from './ruleSupport.js';

function prepareRun(params: JsonObject, overrides: Partial<ExpandedRun> = {}): ExpandedRun {
  return expandedRun({ id: 'prepare/words', step: 'prepare', rule: 'command', params, ...overrides });
}

const GENERATE = 'node data/capitalization/generate.mjs --word-len "$CK_PARAM_WORD_LEN" --out "$CK_OUTPUTS/words.json"';

test('resolve keeps the command, normalises outputs and defaults requires', () => {
  const resolved = commandRule.resolve(prepareRun({ command: GENERATE, outputs: ['./words.json', 'splits/'] }), resolveContext());
  assert.deepEqual(resolved.diagnostics, []);
  assert.deepEqual(resolved.params, { command: GENERATE, outputs: ['words.json', 'splits'], requires: [] });
});

test('outputs must stay inside the run\'s outputs directory', () => {
  for (const bad of ['/etc/passwd', '../x.json', 'a/../../x', '']) {
    const resolved = commandRule.resolve(prepareRun({ command: 'true', outputs: [bad] }), resolveContext());
    assert.deepEqual(codes(resolved.diagnostics), ['invalid-path'], bad);
  }
  assert.deepEqual(codes(commandRule.resolve(prepareRun({ command: 'true' }), resolveContext()).diagnostics), ['missing-key']);
  assert.deepEqual(codes(commandRule.resolve(prepareRun({ command: ' ', outputs: ['x'] }), resolveContext()).diagnostics), ['missing-key']);
});

test('names that fold to the same environment variable are a conflict', () => {
  const resolved = commandRule.resolve(prepareRun({ command: 'true', outputs: ['x'], params: { 'word-len': 5, word_len: 6 } }), resolveContext());
  assert.deepEqual(codes(resolved.diagnostics), ['conflict']);
  assert.match(resolved.diagnostics[0]!.message, /CK_PARAM_WORD_LEN/);
});

test('render: command.sh verbatim, exported inputs, upstream outputs and params, declared outputs', () => {
  const resolved = commandRule.resolve(
    prepareRun(
      { command: GENERATE, outputs: ['words.json'], requires: ['node'], params: { word_len: 5, fraction: 0.8, label: "it's 5L", sizes: [1, 2] } },
      { inputs: { 'data/words_alpha.txt': 'data/words_alpha.txt' }, needs: { download: 'prepare/download' } },
    ),
    resolveContext(),
  );
  assert.deepEqual(resolved.diagnostics, []);
  const context = renderContext({
    id: 'prepare/words',
    params: resolved.params,
    inputs: { 'data/words_alpha.txt': '/scratch/ck/runs/a1b2c3d4e5f60718-brave-otter/inputs/data_words_alpha.txt--words_alpha.txt' },
    upstream: { download: upstreamView('prepare/download', 'prepare', 'command', {}, '3'.repeat(64)) },
  });
  const rendered = commandRule.render(context);
  assert.deepEqual(rendered.files, { 'config/command.sh': `${GENERATE}\n` });
  assert.deepEqual(rendered.outputs, ['outputs/words.json']);
  assert.deepEqual(rendered.requires, ['node']);
  assertGolden('command/prepare.sh', rendered.command);
  assertBashSyntax(rendered.command);
});

test('the rendered lines run the command with every value intact and nothing injected', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ck-command-'));
  const pwned = join(dir, 'pwned');
  const hostile = `"; touch ${pwned}; echo "$(touch ${pwned}) \`touch ${pwned}\` '; touch ${pwned}; '`;
  const project = join(dir, 'project');
  const runDir = join(dir, 'run');
  mkdirSync(join(runDir, 'config'), { recursive: true });
  mkdirSync(project, { recursive: true });
  const input = join(dir, "input $(touch pwned) 'q'.txt");
  writeFileSync(input, 'data\n');
  // The user's command (their own code) prints what it received.
  const command = 'printf "%s\\n" "$CK_PARAM_NOTE" "$CK_INPUT_DATA_TXT" "$CK_PARAM_N" "$PWD" > "$CK_OUTPUTS/seen.txt"';
  const resolved = commandRule.resolve(prepareRun({ command, outputs: ['seen.txt'], params: { note: hostile, n: 1e-4 } }, { inputs: { 'data.txt': 'data.txt' } }), resolveContext());
  assert.deepEqual(resolved.diagnostics, []);
  const rendered = commandRule.render(renderContext({ id: 'prepare/words', params: resolved.params, runDir, outputsDir: join(runDir, 'outputs'), inputs: { 'data.txt': input } }));
  for (const [path, content] of Object.entries(rendered.files)) writeFileSync(join(runDir, path), content);
  mkdirSync(join(runDir, 'outputs'));
  const result = runRendered(rendered.command, { CK_RUN_DIR: runDir, CK_OUTPUTS: join(runDir, 'outputs'), CK_PROJECT_DIR: project });
  assert.equal(result.status, 0, result.stderr);
  assert.equal(existsSync(pwned), false, 'nothing in a value was executed');
  assert.equal(existsSync(join(project, 'pwned')), false);
  assert.equal(readFileSync(join(runDir, 'outputs', 'seen.txt'), 'utf8'), `${hostile}\n${input}\n0.0001\n${project}\n`);
});

test('a failing line fails the step, as in make', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ck-command-fail-'));
  mkdirSync(join(dir, 'config'), { recursive: true });
  const resolved = commandRule.resolve(prepareRun({ command: 'false\ntouch "$CK_OUTPUTS/x"', outputs: ['x'] }), resolveContext());
  const rendered = commandRule.render(renderContext({ id: 'prepare/x', params: resolved.params, runDir: dir, outputsDir: join(dir, 'outputs') }));
  writeFileSync(join(dir, 'config', 'command.sh'), rendered.files['config/command.sh']!);
  const result = runRendered(rendered.command, { CK_RUN_DIR: dir, CK_OUTPUTS: join(dir, 'outputs'), CK_PROJECT_DIR: dir });
  assert.equal(result.status, 1);
});

test('readMetrics reports a flat outputs/metrics.json', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ck-command-metrics-'));
  assert.deepEqual(commandRule.readMetrics!(dir, {}), {}, 'optional: no file, nothing to say');
  mkdirSync(join(dir, 'outputs'));
  writeFileSync(join(dir, 'outputs', 'metrics.json'), JSON.stringify({ words: 1000, ok: true, nested: { x: 1 }, name: '5L' }));
  assert.deepEqual(commandRule.readMetrics!(dir, {}), { metrics: { words: 1000, ok: true, name: '5L' } });
  writeFileSync(join(dir, 'outputs', 'metrics.json'), '{"words": 10');
  assert.match(commandRule.readMetrics!(dir, {}).note!, /metrics\.json cannot be read as JSON/);
});
