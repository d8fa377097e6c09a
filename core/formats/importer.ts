/**
 * `ckbuild import`, minus the file system writes: an experiment_summary.yaml becomes the text of
 * a native experiment file that expands to the same runs (and so plans to the same keys). The
 * conversion is checked as far as planning would check it (schema, expansion, rules) before any
 * text is produced, so a file that import writes is a file that plans.
 */
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { stringify } from 'yaml';
import { type Diagnostic, hasErrors, sortDiagnostics } from '../diagnostics.js';
import { expandExperiment, type RuleRegistry } from '../experiment/expand.js';
import { findProjectDir, resolveProjectPath } from '../experiment/load.js';
import type { DatasetRef, ExperimentDocument } from '../experiment/model.js';
import { isObject, type JsonObject } from '../json.js';
import { diagnosticAt, loadSourceFile } from '../source.js';
import { describeMigrationEdit, migrateText, planMigration } from './cruijff/migrate.js';
import { convertCruijff, detectCruijff } from './cruijff.js';

export interface ImportResult {
  /** The native file's text, when the conversion succeeded. */
  text?: string;
  document?: ExperimentDocument;
  /** Where the file would go (the `-o` given, else experiments/<experiment name>.yaml). */
  output?: string;
  diagnostics: Diagnostic[];
  notes: string[];
}

/** The order of a native file's sections, as a person reads it. */
const EVALUATION_ORDER = ['tasks', 'checkpoints', 'matrix', 'seed', 'do_sample', 'temperature', 'max_tokens', 'max_connections', 'scorers'];
const SECTION_ORDER = ['version', 'experiment_name', 'project', 'question', 'hypothesis', 'purpose', 'date', 'dataset', 'config', 'protocol', 'evaluation', 'resources', 'models'];

/**
 * `cwd` is the caller's working directory: a relative `file` or `output` is relative to it, and
 * without `output` the file goes to the experiments folder of the project that holds it.
 */
export function importExperiment(file: string, options: { output?: string; rules: RuleRegistry; cwd: string }): ImportResult {
  const cwd = options.cwd;
  const absolute = resolve(cwd, file);
  const loaded = loadSourceFile(absolute);
  if (!loaded.source) return { diagnostics: loaded.diagnostics, notes: [] };
  const source = loaded.source;
  const diagnostics = [...loaded.diagnostics];
  if (!isObject(source.data) || !detectCruijff(source.data)) {
    diagnostics.push({ severity: 'error', code: 'not-cruijff', file: absolute, line: 1, column: 1, field: '', message: 'this is not an experiment_summary.yaml of the earlier toolkit (it needs its `experiment`, `controls`, `models`, `data`, `runs` and `evaluation` sections)' });
    return { diagnostics, notes: [] };
  }
  const projectDir = findProjectDir(absolute);
  const converted = convertCruijff(source, projectDir);
  diagnostics.push(...converted.diagnostics);
  if (!converted.document || hasErrors(diagnostics)) return { diagnostics: sortDiagnostics(diagnostics), notes: converted.notes };
  // Everything planning would say about it (schema, expansion, rules), positioned in the original file.
  const expansion = expandExperiment({ file: absolute, projectDir, source, document: converted.document, format: 'cruijff', origins: converted.origins }, options.rules);
  diagnostics.push(...expansion.diagnostics);
  if (hasErrors(diagnostics)) return { diagnostics: sortDiagnostics(diagnostics), notes: converted.notes };

  const output = resolve(cwd, options.output ?? join(findProjectDir(join(cwd, 'experiment.yaml')), 'experiments', `${converted.document.experiment_name}.yaml`));
  const document = rebase(converted.document, projectDir, findProjectDir(output));
  return { text: render(document, absolute, output, converted.notes), document, output, diagnostics: sortDiagnostics(diagnostics), notes: converted.notes };
}

/**
 * Relative paths are relative to the project folder; the native file may live in another one.
 * Absolute paths (the earlier toolkit's usual) are kept as written.
 */
export function rebase(document: ExperimentDocument, from: string, to: string): ExperimentDocument {
  const copy = structuredClone(document);
  if (from === to) return copy;
  const move = (path: string): string => (isAbsolute(path) ? path : relative(to, resolveProjectPath(from, path)) || '.');
  const moveDataset = (dataset: DatasetRef | undefined): void => {
    if (dataset && !dataset.from) dataset.path = move(dataset.path);
  };
  moveDataset(copy.dataset);
  for (const run of copy.protocol?.runs ?? []) {
    moveDataset(run.dataset);
    moveDataset(run.eval_dataset);
  }
  for (const task of copy.evaluation?.tasks ?? []) {
    task.script = move(task.script);
    moveDataset(task.dataset);
  }
  for (const checkpoint of copy.evaluation?.checkpoints ?? []) {
    if (checkpoint.path !== undefined) checkpoint.path = move(checkpoint.path);
    moveDataset(checkpoint.eval_dataset);
  }
  for (const model of Object.values(copy.models ?? {})) model.path = move(model.path);
  return copy;
}

function render(document: ExperimentDocument, input: string, output: string, notes: string[]): string {
  const ordered: JsonObject = {};
  const record = document as unknown as JsonObject;
  for (const key of [...SECTION_ORDER, ...Object.keys(record)]) {
    if (record[key] !== undefined && !(key in ordered)) ordered[key] = record[key]!;
  }
  if (isObject(ordered.config) && ordered.config.base_model !== undefined) {
    const { base_model, ...rest } = ordered.config;
    ordered.config = { base_model, ...rest };
  }
  if (isObject(ordered.evaluation)) {
    const evaluation: JsonObject = {};
    for (const key of [...EVALUATION_ORDER, ...Object.keys(ordered.evaluation)]) {
      if (ordered.evaluation[key] !== undefined && !(key in evaluation)) evaluation[key] = ordered.evaluation[key]!;
    }
    ordered.evaluation = evaluation;
  }
  const schema = relative(dirname(output), join(findProjectDir(output), 'schema', 'experiment.schema.json'));
  const header = [
    `# yaml-language-server: $schema=${schema}`,
    '#',
    `# Converted by \`ckbuild import\` from ${relative(dirname(output), input) || input}.`,
    '# The earlier toolkit’s defaults are written out, so this trains what it would have trained;',
    '# docs/cruijff-import.md maps each of its keys to ckbuild’s.',
    ...notes.flatMap((note) => ['#', ...wrap(note, 96).map((line) => `# ${line}`)]),
  ];
  return `${header.join('\n')}\n${stringify(ordered, { lineWidth: 0 })}`;
}

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines;
}

export interface MigrationResult {
  /** The file as written, and as cruijff_kit 0.3.4 names it (equal when nothing is to migrate). */
  original?: string;
  migrated?: string;
  /** Each edit, in words, at the line it changes (warnings), and what the reader must edit (errors). */
  diagnostics: Diagnostic[];
}

/**
 * `ckbuild import --migrate`: an experiment_summary.yaml of cruijff_kit 0.3.3 or earlier, brought to
 * 0.3.4's names (core/formats/cruijff/migrate.ts), as text: comments and layout are kept.
 */
export function migrateExperimentSummary(file: string, cwd: string): MigrationResult {
  const loaded = loadSourceFile(resolve(cwd, file));
  if (!loaded.source) return { diagnostics: loaded.diagnostics };
  const source = loaded.source;
  if (!isObject(source.data) || !detectCruijff(source.data)) {
    return { diagnostics: [{ severity: 'error', code: 'invalid-type', file: source.file, line: 1, column: 1, field: '', message: 'not an experiment_summary.yaml of cruijff_kit (no experiment/controls/runs sections): nothing to migrate' }] };
  }
  const migration = planMigration(source.data);
  const rewritten = migrateText(source.text, migration.edits);
  const unapplied = new Set(rewritten.unapplied);
  const diagnostics = [
    ...migration.edits.map((edit) =>
      unapplied.has(edit)
        ? diagnosticAt(source, edit.path, `${describeMigrationEdit(edit)}: it cannot be rewritten in place here (a \`{ … }\` mapping, or a list item's only key); make this edit by hand`, { code: 'legacy-format', at: edit.kind === 'add' ? 'value' : 'key' })
        : diagnosticAt(source, edit.path, describeMigrationEdit(edit), { code: 'legacy-format', severity: 'warning', at: edit.kind === 'add' ? 'value' : 'key' }),
    ),
    ...migration.refusals.map((refusal) => diagnosticAt(source, refusal.path, refusal.message, { code: 'legacy-format' })),
  ];
  return { original: source.text, migrated: rewritten.text, diagnostics: sortDiagnostics(diagnostics) };
}
