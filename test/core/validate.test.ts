import assert from 'node:assert/strict';
import { test } from 'node:test';
import { experimentSchema } from '../../core/experiment/schema.js';
import { validateAgainstSchema } from '../../core/experiment/validate.js';
import { parseSourceText } from '../../core/source.js';

const schema = experimentSchema({ base_model: { type: 'string' }, lora_rank: { type: 'integer', minimum: 1 }, learning_rate: { type: 'number' }, method: { enum: ['lora', 'qlora', 'full'] } }, ['torchtune']);

function check(text: string) {
  const { source, diagnostics } = parseSourceText('exp.yaml', text);
  assert.ok(source, JSON.stringify(diagnostics));
  return validateAgainstSchema(source, source.data, schema);
}

test('every problem is reported in one pass with its line, column and field', () => {
  const diagnostics = check(
    [
      'version: "1.0"', // 1
      'experiment_name: demo', // 2
      'config:', // 3
      '  base_model: Llama-3.2-1B', // 4
      '  lora_rnak: 8', // 5
      '  learning_rate: "1e-4"', // 6
      '  method: qlor', // 7
      'protocol:', // 8
      '  type: gird', // 9
      '  trials: 0', // 10
    ].join('\n'),
  );
  const byField = new Map(diagnostics.map((d) => [d.field, d]));
  assert.equal(byField.get('config.lora_rnak')?.line, 5);
  assert.equal(byField.get('config.lora_rnak')?.column, 3);
  assert.match(byField.get('config.lora_rnak')!.message, /unknown key `lora_rnak`; did you mean `lora_rank`\?/);
  assert.equal(byField.get('config.learning_rate')?.line, 6);
  assert.match(byField.get('config.learning_rate')!.message, /expected a number, got the string "1e-4" \(remove the quotes\)/);
  assert.match(byField.get('config.method')!.message, /did you mean `qlora`/);
  assert.equal(byField.get('protocol.type')?.line, 9);
  assert.match(byField.get('protocol.type')!.message, /did you mean `grid`/);
  assert.equal(byField.get('protocol.trials')?.line, 10);
  assert.match(byField.get('protocol.trials')!.message, /must be ≥ 1, got 0/);
  assert.equal(diagnostics.length, 5);
});

test('a missing required key names the key and points at its parent', () => {
  const diagnostics = check('version: "1.0"\nexperiment_name: demo\nconfig:\n  lora_rank: 8\n');
  assert.equal(diagnostics.length, 1);
  assert.equal(diagnostics[0]!.field, 'config.base_model');
  assert.match(diagnostics[0]!.message, /missing required key `base_model`/);
  assert.equal(diagnostics[0]!.line, 4);
});

test('YAML syntax errors are diagnostics with a position, not exceptions', () => {
  const { source, diagnostics } = parseSourceText('bad.yaml', 'config:\n  a: [1, 2\nb: 3\n');
  assert.equal(source, undefined);
  assert.ok(diagnostics.length > 0);
  assert.equal(diagnostics[0]!.code, 'yaml-syntax');
  assert.ok(diagnostics[0]!.line >= 2);
});

test('a duplicated key is an error, never a silent last-one-wins', () => {
  const { diagnostics } = parseSourceText('dup.yaml', 'a: 1\na: 2\n');
  assert.ok(diagnostics.some((d) => d.severity === 'error' && d.line === 2));
});

test('the build’s compiled validator is this schema’s, and reports exactly what a validator compiled now reports', async () => {
  const { Ajv } = await import('ajv');
  const { AJV_OPTIONS, usesPrecompiledValidator, validateAgainstSchema } = await import('../../core/experiment/validate.js');
  const { ruleRegistry } = await import('../../rules/index.js');
  const { parseSourceText } = await import('../../core/source.js');
  const schema = ruleRegistry.schema();
  assert.ok(usesPrecompiledValidator(schema), 'npm test builds it (scripts/precompile.mjs)');
  assert.equal(usesPrecompiledValidator({ ...schema, title: 'another schema' }), false, 'another schema is compiled at run time');
  // V8 takes the build's code cache of it (made by this node, with these flags).
  const { readFileSync } = await import('node:fs');
  const { fileURLToPath } = await import('node:url');
  const { CODE_CACHE, runCommonJs } = await import('../../core/experiment/validate.js');
  const validatorPath = fileURLToPath(new URL('../../core/experiment/experimentValidator.cjs', import.meta.url));
  const { script } = runCommonJs(readFileSync(validatorPath, 'utf8'), validatorPath, readFileSync(`${validatorPath}${CODE_CACHE}`));
  assert.equal(script.cachedDataRejected, false, 'the code cache fits the validator');
  const runtime = new Ajv(AJV_OPTIONS).compile(schema);
  const { createRequire } = await import('node:module');
  const built = createRequire(import.meta.url)('../../core/experiment/experimentValidator.cjs') as typeof runtime;
  for (const text of ['version: "1.0"\nexperiment_name: x\nconfig: { lora_rnak: 3, base_model: m }\n', 'version: 2\nexperiment_name: "x y"\nprotocol: { type: grid, vary: 3 }\n', 'version: "1.0"\nexperiment_name: ok\n']) {
    const source = parseSourceText('/e.yaml', text).source!;
    assert.equal(built(source.data), runtime(source.data), text);
    assert.equal(JSON.stringify(built.errors ?? null), JSON.stringify(runtime.errors ?? null), text);
    assert.equal(validateAgainstSchema(source, source.data, schema).length > 0, (runtime.errors ?? []).length > 0, text);
  }
});
