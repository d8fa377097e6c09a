/**
 * `ckbuild import <experiment_summary.yaml> [-o experiments/name.yaml] [--force]`: converts the
 * earlier toolkit's experiment file into a native one that plans to the same run keys (see
 * core/formats). Refuses to overwrite a file unless forced; prints the path it wrote. `--migrate`
 * brings a file of an earlier release to the current names instead.
 */
import { existsSync } from 'node:fs';
import { hasErrors } from '../../core/diagnostics.js';
import { importExperiment, migrateExperimentSummary } from '../../core/formats/importer.js';
import { createTwoFilesPatch } from 'diff';
import { resolve } from 'node:path';
import { writeFileAtomic } from '../../core/atomicFile.js';
import { ruleRegistry } from '../../rules/index.js';
import { type ParsedArgs, flag, UsageError, value } from '../args.js';
import { displayPath, err, out, red, renderDiagnostics } from '../output.js';

export async function importCommand(args: ParsedArgs): Promise<number> {
  const [file, ...rest] = args.positionals;
  if (!file || rest.length > 0) throw new UsageError('usage: ckbuild import <experiment_summary.yaml> [-o experiments/name.yaml] [--force] [--migrate]');
  if (flag(args, '--migrate')) return migrateCommand(file, args);
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

/**
 * `--migrate`: a file of cruijff_kit 0.3.3 or earlier, brought to 0.3.4's names, printed as a unified
 * diff (apply it with `patch -p0`, or write the result with `-o`). What the file alone cannot decide
 * is an error naming the exact edit. Exit 0 when the migration is complete, 2 when an edit is yours.
 */
function migrateCommand(file: string, args: ParsedArgs): number {
  const result = migrateExperimentSummary(file, process.cwd());
  if (result.original === undefined || result.migrated === undefined) {
    renderDiagnostics(result.diagnostics);
    return 2;
  }
  const output = value(args, '-o');
  if (result.migrated === result.original) err(`${displayPath(resolve(file))}: already in cruijff_kit 0.3.4's names; nothing to migrate`);
  else if (output === undefined) out(createTwoFilesPatch(file, file, result.original, result.migrated, 'as written', 'cruijff_kit 0.3.4 names').trimEnd());
  renderDiagnostics(result.diagnostics);
  if (hasErrors(result.diagnostics)) {
    err(`${red('migration incomplete')}: make the edits above by hand${output ? '; nothing written' : ''}`);
    return 2;
  }
  if (output !== undefined) {
    const target = resolve(output);
    if (existsSync(target) && !flag(args, '--force')) {
      err(`${red('error')}: ${displayPath(target)} already exists; pass --force to overwrite it`);
      return 2;
    }
    writeFileAtomic(target, result.migrated);
    out(displayPath(target));
  }
  return 0;
}
