/**
 * Reads a YAML (or JSON) file into plain data while keeping a map back to positions, so that
 * every later check can point at the line and column of the field it complains about.
 */
import { readFileSync } from 'node:fs';
import { LineCounter, isMap, isPair, isScalar, isSeq, parseDocument, visit, type Node } from 'yaml';
import { type Diagnostic, type FieldPath, formatFieldPath, type DiagnosticCode } from './diagnostics.js';
import type { Json } from './json.js';
import { type ItemSpans, readCommonYamlWithSpans } from './commonYaml.js';
import { type ItemsReading, rereadEdited } from './editedYaml.js';

export interface SourcePosition {
  line: number;
  column: number;
}

export interface SourceFile {
  file: string;
  text: string;
  data: Json | undefined;
  /** Where the items of the sequence ReadOptions.itemsAt asked for are in `text`, when it is in the common subset. */
  items?: ItemSpans;
  /** Position of the value at `path`, or of its nearest existing ancestor. */
  locate(path: FieldPath, which?: 'value' | 'key'): SourcePosition;
}

export interface LoadedSource {
  source?: SourceFile;
  diagnostics: Diagnostic[];
  /** Set when the text was read from an earlier reading: the items read again (the rest is the earlier data's). */
  reread?: { from: number; to: number };
}

export interface ReadOptions {
  /** A block sequence (mapping keys from the top) whose items' places to keep, to read them again alone after an edit. */
  itemsAt?: readonly string[];
  /** A reading of this file as it was, with its items at `itemsAt`: an edit inside them is read by reading those items only. */
  earlier?: ItemsReading;
  /** This file read before, with these options: taken as it is when the file still holds the text it read. */
  already?: LoadedSource;
}

export function loadSourceFile(file: string, options: ReadOptions = {}): LoadedSource {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : String((error as Error).message);
    return { diagnostics: [{ severity: 'error', code: 'unreadable', file, line: 0, column: 0, field: '', message: `cannot read the file: ${reason}` }] };
  }
  if (options.already?.source?.text === text && options.already.source.file === file) return options.already;
  return parseSourceText(file, text, options);
}

export function parseSourceText(file: string, text: string, options: ReadOptions = {}): LoadedSource {
  // Most files are in the subset commonYaml reads fast; the library is then asked for positions
  // only if a diagnostic needs one (most plans report none).
  let located: Locate | undefined;
  const locate: Locate = (path, which) => (located ??= parseWithLibrary(file, text).locate)(path, which);
  const reread = options.earlier && sameItems(options.earlier.spans.path, options.itemsAt) ? rereadEdited(options.earlier, text) : undefined;
  if (reread) return { source: { file, text, data: reread.data, items: reread.spans, locate }, diagnostics: [], reread: reread.changed };
  const common = readCommonYamlWithSpans(text, options.itemsAt);
  if (common !== undefined) {
    const source: SourceFile = { file, text, data: common.data, locate };
    if (common.spans) source.items = common.spans;
    return { source, diagnostics: [] };
  }
  const parsed = parseWithLibrary(file, text);
  if (parsed.diagnostics.some((d) => d.severity === 'error')) return { diagnostics: parsed.diagnostics };
  return { source: { file, text, data: parsed.data, locate: parsed.locate }, diagnostics: parsed.diagnostics };
}

type Locate = SourceFile['locate'];

const sameItems = (a: readonly string[], b: readonly string[] | undefined): boolean => b !== undefined && a.length === b.length && a.every((key, i) => key === b[i]);

/** The yaml library's reading: the data (unless there are errors), its problems, and positions. */
function parseWithLibrary(file: string, text: string): { data?: Json; diagnostics: Diagnostic[]; locate: Locate } {
  const lineCounter = new LineCounter();
  // uniqueKeys: a duplicated key is an error, not a silent last-one-wins.
  const document = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true, strict: true });
  const diagnostics: Diagnostic[] = [];
  for (const problem of [...document.errors, ...document.warnings]) {
    const [offset] = problem.pos;
    const { line, col } = lineCounter.linePos(offset);
    diagnostics.push({
      severity: document.errors.includes(problem as never) ? 'error' : 'warning',
      code: 'yaml-syntax',
      file,
      line,
      column: col,
      field: '',
      message: `YAML: ${firstLine(problem.message)}`,
    });
  }
  const locate = (path: FieldPath, which: 'value' | 'key' = 'value'): SourcePosition => {
    let node: unknown = document.contents;
    let best: unknown = node;
    let keyNode: unknown;
    for (const part of path) {
      keyNode = undefined;
      if (isMap(node)) {
        const pair = node.items.find((item) => isPair(item) && isScalar(item.key) && String(item.key.value) === String(part));
        if (!pair) break;
        keyNode = pair.key;
        node = pair.value;
      } else if (isSeq(node) && typeof part === 'number') {
        node = node.items[part];
      } else {
        break;
      }
      if (node === null || node === undefined) {
        best = keyNode ?? best;
        break;
      }
      best = node;
    }
    const target = which === 'key' && keyNode ? keyNode : best;
    const range = (target as Node | undefined)?.range;
    if (!range) return { line: 1, column: 1 };
    const { line, col } = lineCounter.linePos(range[0]);
    return { line, column: col };
  };
  if (diagnostics.some((d) => d.severity === 'error')) return { diagnostics, locate };
  const converted = toData(document, file, lineCounter);
  if ('diagnostic' in converted) return { diagnostics: [...diagnostics, converted.diagnostic], locate };
  return { data: converted.data, diagnostics, locate };
}

/**
 * The document as plain data. The yaml library reports an alias to an anchor that does not exist,
 * or an alias bomb past `maxAliasCount`, only by throwing here: both are the user's YAML, so both
 * become a diagnostic at the offending alias.
 */
function toData(document: ReturnType<typeof parseDocument>, file: string, lineCounter: LineCounter): { data: Json | undefined } | { diagnostic: Diagnostic } {
  try {
    return { data: document.toJS({ maxAliasCount: 100 }) as Json | undefined };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const alias = /alias/i.test(message) ? firstAlias(document, message) : undefined;
    const { line, col } = alias === undefined ? { line: 0, col: 0 } : lineCounter.linePos(alias);
    const hint = /count|exceed|resource/i.test(message) ? ' (an alias expands past 100 nodes: write the values out, or use fewer nested aliases)' : ' (define the anchor with `&name` before using `*name`)';
    return { diagnostic: { severity: 'error', code: 'yaml-syntax', file, line, column: col, field: '', message: `YAML: ${firstLine(message)}${hint}` } };
  }
}

/** The offset of the alias a toJS error names (`*name`), else of the first alias in the file. */
function firstAlias(document: ReturnType<typeof parseDocument>, message: string): number | undefined {
  const named = /\*?([A-Za-z0-9_-]+)/.exec(message.replace(/^.*?alias\s*/i, ''))?.[1];
  let found: number | undefined;
  visit(document, {
    Alias(_, node) {
      if (found === undefined && (named === undefined || node.source === named) && node.range) found = node.range[0];
    },
  });
  if (found === undefined)
    visit(document, {
      Alias(_, node) {
        if (found === undefined && node.range) found = node.range[0];
      },
    });
  return found;
}

function firstLine(message: string): string {
  return message.split('\n')[0] ?? message;
}

/** Builds a diagnostic positioned at a field of a source file. */
export function diagnosticAt(
  source: SourceFile,
  path: FieldPath,
  message: string,
  options: { code: DiagnosticCode; severity?: 'error' | 'warning'; at?: 'value' | 'key' },
): Diagnostic {
  const { line, column } = source.locate(path, options.at ?? 'value');
  return {
    severity: options.severity ?? 'error',
    code: options.code,
    file: source.file,
    line,
    column,
    field: formatFieldPath(path),
    message,
  };
}
