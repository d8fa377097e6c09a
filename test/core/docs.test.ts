/** The shipped schema files and the README stay true to the code. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { schemaFiles } from '../../cli/commands/schema.js';
import { isObject } from '../../core/json.js';
import { localConfigSchema } from '../../core/localConfig.js';
import { ruleRegistry } from '../../rules/index.js';
import { projectRoot } from '../helpers/paths.js';

test('schema/*.json are what `ckbuild schema --write` produces (run `npm run schema` after changing a rule)', () => {
  for (const [path, text] of Object.entries(schemaFiles())) assert.equal(readFileSync(join(projectRoot, path), 'utf8'), text, `${path} is out of date`);
});

test('the README documents every experiment field, every fine-tune parameter and every local config key', () => {
  const readme = readFileSync(join(projectRoot, 'README.md'), 'utf8');
  const schema = ruleRegistry.schema();
  const properties = schema.properties as Record<string, unknown>;
  const missing: string[] = [];
  const mention = (name: string): void => {
    if (!readme.includes(`${name}:`) && !readme.includes(`\`${name}\``)) missing.push(name);
  };
  for (const name of Object.keys(properties)) if (name !== '$schema') mention(name);
  const config = properties.config as { properties: Record<string, unknown> };
  for (const name of Object.keys(config.properties)) mention(name);
  for (const section of ['protocol', 'evaluation', 'output']) {
    const sectionSchema = properties[section];
    if (isObject(sectionSchema) && isObject(sectionSchema.properties)) for (const name of Object.keys(sectionSchema.properties)) mention(name);
  }
  for (const name of Object.keys(localConfigSchema.properties as Record<string, unknown>)) if (name !== '$schema') mention(name);
  assert.deepEqual(missing, []);
});
