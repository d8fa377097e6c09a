/**
 * Reading an experiment file: parse (YAML with positions), validate against the schema, then
 * the checks a schema cannot express (referenced files exist, prompts carry `{input}`).
 * Every problem found is returned in one pass.
 */
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { findProjectDir, resolveProjectPath } from '../projectDir.js';
import { type Diagnostic, type FieldPath, hasErrors } from '../diagnostics.js';
import { isObject, type Json, type JsonObject } from '../json.js';
import { promptProblem } from '../prompt.js';
import { diagnosticAt, type LoadedSource, loadSourceFile, type ReadOptions, type SourceFile } from '../source.js';
import { asMeant, itemsValidateAlone, locatedAsWritten, validateAgainstSchema } from './validate.js';
import type { Experiment, ExperimentDocument, OriginMap } from './model.js';
import { type ItemsReading, withItems } from '../editedYaml.js';

/** Where a list protocol's trials are: the sequence a one-trial edit is read again in. */
export const TRIAL_ITEMS = ['protocol', 'runs'] as const;

export interface LoadResult {
  experiment?: Experiment;
  diagnostics: Diagnostic[];
}

/** Another reader of experiment files (the earlier toolkit's format): converts to a native document. */
export interface ForeignFormat {
  name: 'cruijff';
  detect(data: JsonObject): boolean;
  convert(source: SourceFile, projectDir: string): { document?: ExperimentDocument; origins?: OriginMap; diagnostics: Diagnostic[] };
}

export { findProjectDir, resolveProjectPath };

/** The YAML mistake people make most: a `: ` inside an unquoted command or prompt. */
function withSyntaxHint(d: Diagnostic): Diagnostic {
  if (d.code !== 'yaml-syntax' || !/Nested mappings are not allowed in compact mappings|Implicit map keys need to be followed by map values|mapping values are not allowed/i.test(d.message)) return d;
  return { ...d, message: `${d.message}. A \`: \` inside an unquoted value (a command, a prompt) starts a mapping: quote the value ("…" or '…') or write it as a block (\`command: |\` and the text indented on the next lines)` };
}

/** What an experiment may be read from besides its text. */
export interface EarlierReadings {
  /**
   * A reading of this file as it was when it last planned without a diagnostic (the previous plan
   * of watch mode, or a saved plan): an edit inside its trials then reads and validates only the
   * trials it touched.
   */
  earlier?: ItemsReading | undefined;
  /** This file read already (by the no-op check), taken while the file still holds its text. */
  already?: LoadedSource | undefined;
}

export function loadExperiment(file: string, schema: JsonObject, foreign: ForeignFormat[] = [], readings: EarlierReadings = {}): LoadResult {
  const absolute = resolve(file);
  const options: ReadOptions = { itemsAt: TRIAL_ITEMS };
  if (readings.earlier) options.earlier = readings.earlier;
  if (readings.already) options.already = readings.already;
  const loaded = loadSourceFile(absolute, options);
  if (!loaded.source) return { diagnostics: loaded.diagnostics.map(withSyntaxHint) };
  let source = loaded.source;
  const diagnostics = loaded.diagnostics.map(withSyntaxHint);
  if (!isObject(source.data)) {
    diagnostics.push(diagnosticAt(source, [], 'an experiment file must be a YAML mapping (key: value lines)', { code: 'invalid-type' }));
    return { diagnostics };
  }
  const projectDir = findProjectDir(absolute);
  const reader = foreign.find((format) => format.detect(source.data as JsonObject));
  let document: ExperimentDocument | undefined;
  let origins: OriginMap | undefined;
  if (reader) {
    const converted = reader.convert(source, projectDir);
    diagnostics.push(...converted.diagnostics);
    document = converted.document;
    origins = converted.origins;
    if (!document) return { diagnostics };
  } else {
    const schemaProblems = validateEdited(source, loaded.reread, schema) ?? validateAgainstSchema(source, source.data, schema);
    diagnostics.push(...schemaProblems);
    // Unknown keys alone (typos) do not stop the pass: the file's other mistakes are found too,
    // on the document as meant; the unknown keys are still errors, so nothing is built.
    const meant = hasErrors(schemaProblems) ? asMeant(source.data, schema) : { data: source.data, renames: [] };
    if (meant === undefined) return { diagnostics };
    document = meant.data as unknown as ExperimentDocument;
    source = locatedAsWritten(source, meant.renames);
  }
  diagnostics.push(...checkReferences(source, document, projectDir, reader !== undefined));
  const experiment: Experiment = { file: absolute, projectDir, source, document, format: reader ? reader.name : 'native' };
  if (origins) experiment.origins = origins;
  if (loaded.reread) experiment.reread = loaded.reread;
  return { experiment, diagnostics };
}

/**
 * No problems, when the document differs from a valid earlier one in the trials `reread` read
 * again only, and those are valid (validated in a copy of the document that has only them);
 * undefined when the whole document is to be validated (as it then is, for every problem at its
 * place). The earlier document was valid against this schema: readings are only kept of plans
 * without diagnostics, made by this code.
 */
function validateEdited(source: SourceFile, reread: { from: number; to: number } | undefined, schema: JsonObject): Diagnostic[] | undefined {
  if (!reread || !itemsValidateAlone(schema, TRIAL_ITEMS)) return undefined;
  // No trial read again (comments edited, trials removed): what is left was all valid.
  if (reread.from === reread.to) return [];
  const protocol = (source.data as { protocol: { runs: Json[] } }).protocol;
  const changedOnly = withItems(source.data!, TRIAL_ITEMS, protocol.runs.slice(reread.from, reread.to));
  return validateAgainstSchema(source, changedOnly, schema).length === 0 ? [] : undefined;
}

/** Checks that need the file system or cross-field knowledge. */
function checkReferences(source: SourceFile, doc: ExperimentDocument, projectDir: string, foreign: boolean): Diagnostic[] {
  const diagnostics: Diagnostic[] = [];
  const requireFile = (path: string, at: FieldPath, what: string): void => {
    const absolute = resolveProjectPath(projectDir, path);
    let ok = false;
    try {
      ok = statSync(absolute).isFile();
    } catch {
      ok = false;
    }
    if (!ok) {
      const hint = foreign ? '' : ' (paths are relative to the project folder ' + projectDir + '; use `from:` for a file a prepare step makes)';
      diagnostics.push(diagnosticAt(source, at, `${what} \`${path}\` does not exist${hint}`, { code: 'missing-file' }));
    }
  };
  if (doc.dataset && !doc.dataset.from) requireFile(doc.dataset.path, ['dataset', 'path'], 'dataset file');
  for (const [name, step] of Object.entries(doc.prepare ?? {})) {
    (step.inputs ?? []).forEach((path, index) => requireFile(path, ['prepare', name, 'inputs', index], 'input file'));
    (step.needs ?? []).forEach((need, index) => {
      if (!doc.prepare?.[need]) diagnostics.push(diagnosticAt(source, ['prepare', name, 'needs', index], `no prepare step named \`${need}\``, { code: 'dangling-reference' }));
    });
  }
  (doc.protocol?.stages ?? []).forEach((stage, index) => {
    if (!stage.dataset.from) requireFile(stage.dataset.path, ['protocol', 'stages', index, 'dataset', 'path'], 'dataset file');
  });
  doc.evaluation?.tasks.forEach((task, index) => {
    requireFile(task.script, ['evaluation', 'tasks', index, 'script'], 'task script');
    if (task.dataset && !task.dataset.from) requireFile(task.dataset.path, ['evaluation', 'tasks', index, 'dataset', 'path'], 'dataset file');
    if (task.prompt !== undefined) checkPrompt(source, task.prompt, ['evaluation', 'tasks', index, 'prompt'], diagnostics);
  });
  if (typeof doc.config?.prompt === 'string') checkPrompt(source, doc.config.prompt, ['config', 'prompt'], diagnostics);
  const protocol = doc.protocol;
  if (protocol) {
    const type = protocol.type;
    if (protocol.stages && type !== 'curriculum') diagnostics.push(diagnosticAt(source, ['protocol', 'stages'], `\`stages\` only applies to a curriculum protocol (this one is ${type})`, { code: 'ignored-key', severity: 'warning' }));
    if (protocol.members !== undefined && type !== 'ensemble') diagnostics.push(diagnosticAt(source, ['protocol', 'members'], `\`members\` only applies to an ensemble protocol (this one is ${type})`, { code: 'ignored-key', severity: 'warning' }));
    if (protocol.search_space && type !== 'standard') diagnostics.push(diagnosticAt(source, ['protocol', 'search_space'], `\`search_space\` only applies to the standard protocol (this one is ${type})`, { code: 'ignored-key', severity: 'warning' }));
    if (protocol.vary && (type === 'standard' || type === 'ensemble')) diagnostics.push(diagnosticAt(source, ['protocol', 'vary'], `\`vary\` applies to grid, ablation and curriculum protocols; for ${type} use ${type === 'standard' ? '`search_space`' : '`members`'}`, { code: 'ignored-key', severity: 'warning' }));
    if (protocol.trials !== undefined && type !== 'standard') diagnostics.push(diagnosticAt(source, ['protocol', 'trials'], `\`trials\` only applies to the standard protocol (this one is ${type})`, { code: 'ignored-key', severity: 'warning' }));
  }
  return diagnostics;
}

export function checkPrompt(source: SourceFile, prompt: string, at: FieldPath, diagnostics: Diagnostic[]): void {
  const problem = promptProblem(prompt);
  if (problem) diagnostics.push(diagnosticAt(source, at, problem.message, { code: problem.code }));
}
