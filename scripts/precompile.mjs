#!/usr/bin/env node
// After tsc: what ckbuild would otherwise compile each time it runs.
//  - The experiment schema's validator, compiled by ajv into standalone code
//    (dist/core/experiment/experimentValidator.cjs), so that no plan spends ~0.1 s compiling it.
//    core/experiment/validate.ts uses it only when its schema hash matches the live schema; any
//    other schema (a rule changed and this was not rerun) is compiled at run time, as before.
//    Beside it, V8's code cache of it (experimentValidator.cjs.v8cache), so that loading it and
//    its first call do not compile its 350 KB either.
//  - The job script's Handlebars template (dist/core/jobTemplate.cjs), 17–21 ms per generating
//    command otherwise. core/jobScript.ts uses it only when it was made from the template as it is
//    now; an edited template is compiled at run time.
//  - The torchtune base template read as YAML 1.1 (dist/rules/torchtune/finetuneTemplate.json),
//    ~15 ms per generating command otherwise; used only when made from the template as it is now.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { parse } from 'yaml';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import standaloneCode from 'ajv/dist/standalone/index.js';
import Handlebars from 'handlebars';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const { ruleRegistry } = await import(join(root, 'dist', 'rules', 'index.js'));
const { AJV_OPTIONS, CODE_CACHE, runCommonJs, schemaSha256 } = await import(join(root, 'dist', 'core', 'experiment', 'validate.js'));

/**
 * V8's code cache of the validator, made after it validated the project's example experiments, so
 * that the functions a validation compiles lazily are in it too.
 */
function validatorCodeCache(source, path) {
  const { exports: validate, script } = runCommonJs(source, path);
  const examples = join(root, 'experiments');
  for (const name of readdirSync(examples).filter((file) => file.endsWith('.yaml'))) {
    try {
      validate(parse(readFileSync(join(examples, name), 'utf8')));
    } catch {
      // not YAML this parser reads: the cache is made of the others
    }
  }
  validate({});
  return script.createCachedData();
}
const schema = ruleRegistry.schema();
const ajv = new Ajv({ ...AJV_OPTIONS, code: { source: true } });
const code = standaloneCode(ajv, ajv.compile(schema));
const target = join(root, 'dist', 'core', 'experiment', 'experimentValidator.cjs');
const validatorSource = `${code}\nmodule.exports.schemaSha256 = ${JSON.stringify(schemaSha256(schema))};\n`;
writeFileSync(target, validatorSource);
writeFileSync(`${target}${CODE_CACHE}`, validatorCodeCache(validatorSource, target));

const { JOB_TEMPLATE, TEMPLATE_OPTIONS } = await import(join(root, 'dist', 'core', 'jobScript.js'));
const { sha256 } = await import(join(root, 'dist', 'core', 'hash.js'));
const source = readFileSync(join(root, 'templates', JOB_TEMPLATE), 'utf8');
const spec = Handlebars.precompile(source, TEMPLATE_OPTIONS);
writeFileSync(join(root, 'dist', 'core', 'jobTemplate.cjs'), `module.exports = { sourceSha256: ${JSON.stringify(sha256(source))}, spec: ${spec} };\n`);

const { TEMPLATE_PATH, readTemplateForBuild } = await import(join(root, 'dist', 'rules', 'torchtune', 'template.js'));
const torchtune = readFileSync(TEMPLATE_PATH, 'utf8');
writeFileSync(join(root, 'dist', 'rules', 'torchtune', 'finetuneTemplate.json'), JSON.stringify({ sourceSha256: sha256(torchtune), value: readTemplateForBuild(torchtune) }));
