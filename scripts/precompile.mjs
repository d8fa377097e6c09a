#!/usr/bin/env node
// After tsc: what ckbuild would otherwise compile each time it runs.
//  - The experiment schema's validator, compiled by ajv into standalone code
//    (dist/core/experiment/experimentValidator.cjs), so that no plan spends ~0.1 s compiling it.
//    core/experiment/validate.ts uses it only when its schema hash matches the live schema; any
//    other schema (a rule changed and this was not rerun) is compiled at run time, as before.
//  - The job script's Handlebars template (dist/core/jobTemplate.cjs), 17–21 ms per generating
//    command otherwise. core/jobScript.ts uses it only when it was made from the template as it is
//    now; an edited template is compiled at run time.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import standaloneCode from 'ajv/dist/standalone/index.js';
import Handlebars from 'handlebars';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const { ruleRegistry } = await import(join(root, 'dist', 'rules', 'index.js'));
const { AJV_OPTIONS, schemaSha256 } = await import(join(root, 'dist', 'core', 'experiment', 'validate.js'));
const schema = ruleRegistry.schema();
const ajv = new Ajv({ ...AJV_OPTIONS, code: { source: true } });
const code = standaloneCode(ajv, ajv.compile(schema));
const target = join(root, 'dist', 'core', 'experiment', 'experimentValidator.cjs');
writeFileSync(target, `${code}\nmodule.exports.schemaSha256 = ${JSON.stringify(schemaSha256(schema))};\n`);

const { JOB_TEMPLATE, TEMPLATE_OPTIONS } = await import(join(root, 'dist', 'core', 'jobScript.js'));
const { sha256 } = await import(join(root, 'dist', 'core', 'hash.js'));
const source = readFileSync(join(root, 'templates', JOB_TEMPLATE), 'utf8');
const spec = Handlebars.precompile(source, TEMPLATE_OPTIONS);
writeFileSync(join(root, 'dist', 'core', 'jobTemplate.cjs'), `module.exports = { sourceSha256: ${JSON.stringify(sha256(source))}, spec: ${spec} };\n`);
