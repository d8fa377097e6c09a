#!/usr/bin/env node
// After tsc: the experiment schema's validator, compiled once by ajv into standalone code
// (dist/core/experiment/experimentValidator.cjs), so that no plan spends ~0.1 s compiling it.
// core/experiment/validate.ts uses it only when its schema hash matches the live schema; any
// other schema (a rule changed and this was not rerun) is compiled at run time, as before.
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import standaloneCode from 'ajv/dist/standalone/index.js';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const { ruleRegistry } = await import(join(root, 'dist', 'rules', 'index.js'));
const { AJV_OPTIONS, schemaSha256 } = await import(join(root, 'dist', 'core', 'experiment', 'validate.js'));
const schema = ruleRegistry.schema();
const ajv = new Ajv({ ...AJV_OPTIONS, code: { source: true } });
const code = standaloneCode(ajv, ajv.compile(schema));
const target = join(root, 'dist', 'core', 'experiment', 'experimentValidator.cjs');
writeFileSync(target, `${code}\nmodule.exports.schemaSha256 = ${JSON.stringify(schemaSha256(schema))};\n`);
