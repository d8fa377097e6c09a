/**
 * `ckbuild import <experiment_summary.yaml> [-o experiments/name.yaml] [--force]`: converts the
 * earlier toolkit's experiment file into a native one that plans to the same run keys (see
 * core/formats). Refuses to overwrite a file unless forced; prints the path it wrote.
 */
import { existsSync } from 'node:fs';
import { hasErrors } from '../../core/diagnostics.js';
import { importExperiment } from '../../core/formats/importer.js';
import { writeFileAtomic } from '../../core/atomicFile.js';
import { ruleRegistry } from '../../rules/index.js';
import { type ParsedArgs, flag, UsageError, value } from '../args.js';
import { displayPath, err, out, red, renderDiagnostics } from '../output.js';

export async function importCommand(args: ParsedArgs): Promise<number> {
  const [file, ...rest] = args.positionals;
  if (!file || rest.length > 0) throw new UsageError('usage: ckbuild import <experiment_summary.yaml> [-o experiments/name.yaml] [--force]');
  const result = importExperiment(file, { output: value(args, '-o'), rules: ruleRegistry, cwd: process.cwd() });
  if (result.diagnostics.length > 0) renderDiagnostics(result.diagnostics);
  if (hasErrors(result.diagnostics) || result.text === undefined || result.output === undefined) {
    err(`${red('import failed')}: nothing written`);
    return 2;
  }
  if (existsSync(result.output) && !flag(args, '--force')) {
    err(`${red('error')}: ${displayPath(result.output)} already exists; pass --force to overwrite it, or -o to write elsewhere`);
    return 2;
  }
  writeFileAtomic(result.output, result.text);
  for (const note of result.notes) err(`note: ${note}`);
  out(displayPath(result.output));
  return 0;
}
