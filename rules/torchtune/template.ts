/**
 * The base config a torchtune run starts from: ckbuild's template, or the experiment's own
 * `base_config` file. Both are read as YAML 1.1, the dialect OmegaConf (and so torchtune)
 * reads, so `yes`/`on` and unquoted leading-zero numbers mean here what they mean there.
 */
import type { DiagnosticCode } from '../../core/diagnostics.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseDocument } from 'yaml';
import type { Diagnostic } from '../../core/diagnostics.js';
import { isObject, type Json, type JsonObject } from '../../core/json.js';
import { templatesDir } from '../../core/paths.js';
import { sha256 } from '../../core/hash.js';

export const TEMPLATE_PATH = join(templatesDir, 'torchtune', 'finetune.yaml');

let builtIn: JsonObject | undefined;

export interface BaseConfig {
  config: JsonObject;
  diagnostics: Diagnostic[];
}

function problem(file: string, message: string, code: DiagnosticCode, severity: 'error' | 'warning', line = 0, column = 0): Diagnostic {
  return { severity, code, file, line, column, field: 'config.base_config', message };
}

function parseYaml(text: string, file: string): { value?: JsonObject; diagnostic?: Diagnostic } {
  const doc = parseDocument(text, { version: '1.1' });
  const error = doc.errors[0];
  if (error) {
    const pos = error.linePos?.[0];
    return { diagnostic: problem(file, `not valid YAML: ${error.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}`, 'yaml-syntax', 'error', pos?.line ?? 0, pos?.col ?? 0) };
  }
  const value = doc.toJS({ maxAliasCount: 100 }) as unknown;
  if (!isObject(value)) return { diagnostic: problem(file, 'a torchtune base config must be a YAML mapping (key: value lines)', 'invalid-type', 'error') };
  return { value: value as JsonObject };
}

/** A deep copy, so a render never mutates the cached template. */
function clone(value: JsonObject): JsonObject {
  return structuredClone(value);
}

export function builtInTemplate(): JsonObject {
  if (!builtIn) {
    const text = readFileSync(TEMPLATE_PATH, 'utf8');
    builtIn = precompiledTemplate(text) ?? readTemplateForBuild(text);
  }
  return clone(builtIn);
}

/** The build's reading of the template (scripts/precompile.mjs): the template's sha256 and its data. */
interface PrecompiledTemplate {
  sourceSha256: string;
  value: JsonObject;
}

/**
 * The template as the build read it (finetuneTemplate.json beside this module), when it was read
 * from this very text: reading it with the YAML library took ~15 ms of each generating command.
 */
function precompiledTemplate(text: string): JsonObject | undefined {
  try {
    const built = JSON.parse(readFileSync(new URL('./finetuneTemplate.json', import.meta.url), 'utf8')) as PrecompiledTemplate;
    return built.sourceSha256 === sha256(text) && isObject(built.value) ? built.value : undefined;
  } catch {
    return undefined; // not built (a checkout compiled by tsc alone): read the YAML
  }
}

/** Whether the template holding `text` is read from the build's precompiled reading (for the tests). */
export function usesPrecompiledTorchtuneTemplate(text: string): boolean {
  return precompiledTemplate(text) !== undefined;
}

/** The template's data read from its YAML: what the build keeps (scripts/precompile.mjs), and the reading without it. */
export function readTemplateForBuild(text: string): JsonObject {
  const parsed = parseYaml(text, TEMPLATE_PATH);
  if (!parsed.value) throw new Error(`ckbuild's torchtune template is broken: ${parsed.diagnostic?.message ?? TEMPLATE_PATH}`);
  return parsed.value;
}

/** Keys that carry credentials: never written into a generated config (the earlier toolkit wrote `hf_token`). */
const SECRET_KEYS = new Set(['hf_token', 'token', 'api_key', 'wandb_api_key', 'access_token']);

/** Removes credential keys at any depth; returns the dotted paths removed. */
export function stripSecrets(value: Json, path = ''): string[] {
  const removed: string[] = [];
  if (Array.isArray(value)) {
    value.forEach((item, index) => removed.push(...stripSecrets(item, `${path}[${index}]`)));
  } else if (isObject(value)) {
    for (const key of Object.keys(value)) {
      const here = path === '' ? key : `${path}.${key}`;
      if (SECRET_KEYS.has(key.toLowerCase())) {
        delete value[key];
        removed.push(here);
      } else {
        removed.push(...stripSecrets(value[key]!, here));
      }
    }
  }
  return removed;
}

/** The user's base config if one is given (falling back to the template when it is unusable). */
export function loadBaseConfig(path: string | undefined): BaseConfig {
  if (path === undefined) return { config: builtInTemplate(), diagnostics: [] };
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    return { config: builtInTemplate(), diagnostics: [problem(path, `cannot read the torchtune base config: ${(error as Error).message}`, 'missing-file', 'error')] };
  }
  const parsed = parseYaml(text, path);
  if (!parsed.value) return { config: builtInTemplate(), diagnostics: parsed.diagnostic ? [parsed.diagnostic] : [] };
  const diagnostics: Diagnostic[] = [];
  const removed = stripSecrets(parsed.value);
  if (removed.length > 0) {
    diagnostics.push(problem(path, `credential keys are never copied into generated configs: ${removed.join(', ')} removed (log in with \`huggingface-cli login\` on the machine instead)`, 'secret-removed', 'warning'));
  }
  return { config: parsed.value, diagnostics };
}
