/** `ckbuild schema [--write]`: the experiment file's JSON Schema, for editors and CI. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stableStringify } from '../../core/json.js';
import { localConfigSchema } from '../../core/localConfig.js';
import { packageRoot } from '../../core/paths.js';
import { ruleRegistry } from '../../rules/index.js';
import { type ParsedArgs, flag } from '../args.js';
import { out } from '../output.js';

export function schemaFiles(): Record<string, string> {
  return {
    'schema/experiment.schema.json': stableStringify(ruleRegistry.schema()),
    'schema/local-config.schema.json': stableStringify(localConfigSchema),
  };
}

export async function schemaCommand(args: ParsedArgs): Promise<number> {
  const files = schemaFiles();
  if (flag(args, '--write')) {
    for (const [path, text] of Object.entries(files)) {
      writeFileSync(join(packageRoot, path), text);
      out(`wrote ${path}`);
    }
    return 0;
  }
  out(files['schema/experiment.schema.json']!.trimEnd());
  return 0;
}
