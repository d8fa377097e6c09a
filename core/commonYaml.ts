/**
 * The common subset of YAML, read fast. The yaml library (the only JavaScript parser that keeps
 * positions) reads about 2 MB/s here, so a 10,000-trial list took 0.35 s to parse before anything
 * else could start. Experiment files are nearly always written in a small, regular subset: block
 * mappings and sequences, one-line flow collections, plain and one-line quoted scalars, comments.
 * This reads exactly that subset, 10–20× faster, and answers `undefined` ("not sure") for anything
 * else — block scalars, anchors, aliases, tags, multi-line scalars or flow collections, tabs, CRLF,
 * several documents, a duplicated key, any error — so that the yaml library reads those files as
 * before, with its own messages. It never reports a problem itself.
 *
 * Scalars resolve exactly as the library's YAML 1.2 core schema does (the same patterns, tried in
 * the same order, and the same parseInt/parseFloat), and what cannot be matched with certainty is
 * left to the library: test/core/commonYaml.test.ts compares both readers on every YAML file of the
 * project and on a corpus of edge cases. Positions are not kept here: source.ts asks the library for
 * them only when a diagnostic needs one.
 */
import type { Json, JsonObject } from './json.js';

/** Thrown inside this module only, where the text leaves the subset; `readCommonYaml` turns it into undefined. */
class NotCommon extends Error {}

function notCommon(): never {
  throw new NotCommon();
}

interface Line {
  /** Index of the first non-space character. */
  indent: number;
  text: string;
  /** Where the line starts in the whole text. */
  start: number;
}

/**
 * Where each item of one block sequence of a document starts in its text (the start of the
 * item's first line) and where the sequence ends (the start of the next line holding data, or the
 * end of the text): what core/editedYaml.ts needs to read only the items an edit touched.
 */
export interface ItemSpans {
  /** The sequence's place in the document: mapping keys from the top. */
  path: readonly string[];
  /** The column of its items' `- `. */
  column: number;
  /** The reader's nesting depth at the sequence (MAX_DEPTH counts from the top). */
  depth: number;
  starts: number[];
  end: number;
}

// The library's YAML 1.2 core schema, in its order (yaml/dist/schema/core).
const NULL = /^(?:~|[Nn]ull|NULL)$/;
const INT = /^[-+]?[0-9]+$/;
const FLOAT_SPECIAL = /^(?:[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN)$/;
const FLOAT_EXP = /^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)[eE][-+]?[0-9]+$/;
const FLOAT = /^[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*)$/;
/** Octal and hex ints, and anything else starting like a number, are left to the library. */
const NUMBER_LIKE = /^[-+.]?[0-9]/;

/** Characters that cannot start a plain scalar here (YAML's indicators, kept out of the subset). */
const NOT_PLAIN_START = new Set(['[', ']', '{', '}', ',', '#', '&', '*', '!', '|', '>', "'", '"', '%', '@', '`', '?', ':']);
/** Tabs, CRLF, control characters, a byte-order mark and the Unicode line separators: all the library's. */
const OUTSIDE_THE_SUBSET = /[\x00-\x09\x0b-\x1f\x7f\x85\u2028\u2029\ufeff]/;
/** Deeper nesting is left to the library (which reports absurd depths instead of overflowing the stack). */
const MAX_DEPTH = 64;
const FLOW_END = new Set([',', '[', ']', '{', '}']);
const [COMMA, OPEN_SEQ, CLOSE_SEQ, OPEN_MAP, CLOSE_MAP, COLON, HASH, SPACE] = [',', '[', ']', '{', '}', ':', '#', ' '].map((c) => c.charCodeAt(0)) as [number, number, number, number, number, number, number, number];
const isFlowEnd = (code: number): boolean => code === COMMA || code === OPEN_SEQ || code === CLOSE_SEQ || code === OPEN_MAP || code === CLOSE_MAP;
const DOUBLE_QUOTED_ESCAPES: Record<string, string> = { '\\': '\\', '"': '"', '/': '/', n: '\n', t: '\t' };

/** The data of a YAML text in the common subset; undefined when the text is anything else. */
export function readCommonYaml(text: string): Json | undefined {
  return readCommonYamlWithSpans(text)?.data;
}

/**
 * The data of a YAML text in the common subset and, when the block sequence at `spansAt` (mapping
 * keys from the top) is in it, where its items are; undefined when the text is anything else.
 */
export function readCommonYamlWithSpans(text: string, spansAt?: readonly string[]): { data: Json; spans?: ItemSpans } | undefined {
  if (OUTSIDE_THE_SUBSET.test(text)) return undefined;
  return common(() => {
    const reader = new Reader(significantLines(text), text.length, spansAt);
    const data = reader.document();
    return reader.spans ? { data, spans: reader.spans } : { data };
  });
}

/**
 * The items of a block sequence cut out of a document (whole lines, its items' `- ` at `column`),
 * read exactly as they read in place at nesting depth `depth`, with where each starts; undefined
 * when the text is not only such items in the common subset.
 */
export function readCommonSequence(text: string, column: number, depth: number): { items: Json[]; starts: number[] } | undefined {
  if (OUTSIDE_THE_SUBSET.test(text)) return undefined;
  return common(() => {
    const lines = significantLines(text);
    if (lines.length === 0) return { items: [], starts: [] };
    const reader = new Reader(lines, text.length, []);
    const items = reader.sequence(column, depth);
    return { items, starts: reader.spans!.starts };
  });
}

/** Whether no line of `text` holds data (each is blank or a comment), in the subset's characters. */
export function holdsNoData(text: string): boolean {
  if (OUTSIDE_THE_SUBSET.test(text)) return false;
  for (const line of text.split('\n')) {
    let at = 0;
    while (line.charCodeAt(at) === 32) at++;
    if (at < line.length && line[at] !== '#') return false;
  }
  return true;
}

function common<T>(read: () => T): T | undefined {
  try {
    return read();
  } catch (error) {
    if (error instanceof NotCommon) return undefined;
    throw error;
  }
}

/** The lines that hold data: blank and comment-only lines are dropped (no block scalar can hold them here). */
function significantLines(text: string): Line[] {
  const lines: Line[] = [];
  let start = 0;
  for (const raw of text.split('\n')) {
    const lineStart = start;
    start += raw.length + 1;
    let indent = 0;
    while (raw.charCodeAt(indent) === 32) indent++;
    if (indent === raw.length || raw[indent] === '#') continue;
    // Directives and document markers (several documents, %YAML) are the library's.
    if (indent === 0 && (raw[0] === '%' || raw.startsWith('---') || raw.startsWith('...'))) notCommon();
    lines.push({ indent, text: trimSpaces(raw), start: lineStart });
  }
  return lines;
}

function isSeqItem(text: string, at: number): boolean {
  return text[at] === '-' && (at + 1 === text.length || text[at + 1] === ' ');
}

/** A place in the document below a sequence item: never a path of `spansAt`. */
const IN_ITEM = -1;

class Reader {
  private next = 0;
  private depth = 0;
  /** The mapping keys (IN_ITEM below a sequence item) down to the node being read. */
  private readonly path: Array<string | typeof IN_ITEM> = [];
  /** The items of the sequence at `spansAt`, once read. */
  spans?: ItemSpans;

  constructor(
    private readonly lines: Line[],
    private readonly textLength: number,
    private readonly spansAt?: readonly string[],
  ) {}

  /** The items of a block sequence at `column` that are all there is, read at nesting depth `depth`. */
  sequence(column: number, depth: number): Json[] {
    const first = this.lines[0]!;
    if (first.indent !== column || !isSeqItem(first.text, column)) notCommon();
    this.depth = depth;
    const items = this.blockSequence(column);
    if (this.next !== this.lines.length) notCommon();
    return items;
  }

  document(): Json {
    if (this.lines.length === 0) notCommon();
    const first = this.lines[0]!;
    if (first.indent !== 0) notCommon();
    const data = this.blockNode(first.indent);
    if (this.next !== this.lines.length) notCommon();
    return data;
  }

  /** A block mapping or sequence whose first entry starts at column `column` of the current line. */
  private blockNode(column: number): Json {
    const line = this.lines[this.next]!;
    if (++this.depth > MAX_DEPTH) notCommon();
    let node: Json;
    if (isSeqItem(line.text, column)) node = this.blockSequence(column);
    else if (this.keyEnd(line.text, column) !== undefined) node = this.blockMapping(column);
    // A scalar or flow collection alone on its line (a value below its key) is the library's.
    else notCommon();
    this.depth--;
    return node;
  }

  private blockSequence(column: number): Json[] {
    const items: Json[] = [];
    const starts: number[] | undefined = this.spans === undefined && this.isSpansPath() ? [] : undefined;
    const depth = this.depth;
    let first = true;
    while (this.next < this.lines.length) {
      const line = this.lines[this.next]!;
      // The first item may sit after a `- ` on a less indented line (`- - x`).
      if ((!first && line.indent !== column) || !isSeqItem(line.text, column)) break;
      first = false;
      starts?.push(line.start);
      let at = column + 1;
      while (line.text[at] === ' ') at++;
      if (at >= line.text.length || line.text[at] === '#') {
        this.next++;
        this.path.push(IN_ITEM);
        items.push(this.valueBelow(column, false));
        this.path.pop();
      } else if (isSeqItem(line.text, at) || this.keyEnd(line.text, at) !== undefined) {
        // `- key: value` / `- - x`: a collection whose later lines align with its first entry.
        this.path.push(IN_ITEM);
        items.push(this.blockNode(at));
        this.path.pop();
      } else {
        items.push(this.inlineValue(line.text, at));
        this.next++;
      }
    }
    if (this.next < this.lines.length && this.lines[this.next]!.indent > column) notCommon();
    if (starts) this.spans = { path: this.spansAt!, column, depth, starts, end: this.next < this.lines.length ? this.lines[this.next]!.start : this.textLength };
    return items;
  }

  private isSpansPath(): boolean {
    const wanted = this.spansAt;
    if (wanted === undefined || wanted.length !== this.path.length) return false;
    for (let i = 0; i < wanted.length; i++) if (wanted[i] !== this.path[i]) return false;
    return true;
  }

  private blockMapping(column: number): JsonObject {
    const map: JsonObject = {};
    let first = true;
    while (this.next < this.lines.length) {
      const line = this.lines[this.next]!;
      // The first entry may sit after a `- ` on a less indented line.
      if (!first && line.indent !== column) break;
      first = false;
      const end = this.keyEnd(line.text, column);
      if (end === undefined) notCommon();
      const key = this.key(line.text.slice(column, end));
      if (Object.prototype.hasOwnProperty.call(map, key)) notCommon(); // the library reports it
      let at = end + 1;
      while (line.text[at] === ' ') at++;
      if (at >= line.text.length || line.text[at] === '#') {
        this.next++;
        this.path.push(key);
        map[key] = this.valueBelow(column, true);
        this.path.pop();
      } else {
        map[key] = this.inlineValue(line.text, at);
        this.next++;
      }
    }
    if (this.next < this.lines.length && this.lines[this.next]!.indent > column) notCommon();
    return map;
  }

  /** The value of `key:` or `-` with nothing after it: a more indented block, a sequence at the key's column, or null. */
  private valueBelow(column: number, underKey: boolean): Json {
    const below = this.lines[this.next];
    if (below && below.indent > column) return this.blockNode(below.indent);
    if (below && underKey && below.indent === column && isSeqItem(below.text, column)) return this.blockSequence(column);
    return null;
  }

  /** Where the `:` of a `key: value` line starting at `at` is; undefined when the line is no mapping entry. */
  private keyEnd(text: string, at: number): number | undefined {
    const c = text[at];
    if (c === '"' || c === "'") {
      const end = quotedEnd(text, at);
      return text[end] === ':' && (end + 1 === text.length || text[end + 1] === ' ') ? end : undefined;
    }
    if (c === undefined || NOT_PLAIN_START.has(c) || isSeqItem(text, at)) return undefined;
    for (let i = at; i < text.length; i++) {
      if (text[i] === ':' && (i + 1 === text.length || text[i + 1] === ' ')) return i;
      if (text[i] === '#' && text[i - 1] === ' ') return undefined;
    }
    return undefined;
  }

  private key(written: string): string {
    const raw = trimSpaces(written);
    if (raw.length > 1000) notCommon(); // the library limits implicit keys to 1024 characters
    const c = raw[0];
    const key = c === '"' || c === "'" ? quoted(raw, 0).value : plainValue(raw);
    // Keys that are not strings (numbers, booleans, null), the merge key and __proto__ are the library's.
    if (typeof key !== 'string' || key === '<<' || key === '__proto__') notCommon();
    return key as string;
  }

  /** A value that ends its line: a quoted or plain scalar or a flow collection, then an optional comment. */
  private inlineValue(text: string, at: number): Json {
    const c = text[at]!;
    let value: Json;
    let end: number;
    if (c === '"' || c === "'") ({ value, end } = quoted(text, at));
    else if (c === '{' || c === '[') ({ value, end } = flow(text, at));
    else {
      if (NOT_PLAIN_START.has(c) || isSeqItem(text, at)) notCommon();
      end = text.length;
      for (let i = at; i < text.length; i++) {
        if (text[i] === '#' && text[i - 1] === ' ') {
          end = i;
          break;
        }
        // `a: b: c` is an error the library words; `b:` at the end of a line would start a mapping.
        if (text[i] === ':' && (i + 1 === text.length || text[i + 1] === ' ')) notCommon();
      }
      return plainValue(trimSpaces(text.slice(at, end)));
    }
    endsLine(text, end);
    return value;
  }
}

/** After a value, only spaces and a comment (itself after a space) may follow. */
function endsLine(text: string, at: number): void {
  let i = at;
  while (text[i] === ' ') i++;
  if (i < text.length && !(text[i] === '#' && i > at)) notCommon();
}

/** The index just after the closing quote of the quoted scalar at `at`, on this line. */
function quotedEnd(text: string, at: number): number {
  const quote = text[at];
  for (let i = at + 1; i < text.length; i++) {
    if (quote === '"' && text[i] === '\\') i++;
    else if (text[i] === quote) {
      if (quote === "'" && text[i + 1] === "'") i++;
      else return i + 1;
    }
  }
  return notCommon(); // continues on the next line
}

function quoted(text: string, at: number): { value: string; end: number } {
  const end = quotedEnd(text, at);
  const body = text.slice(at + 1, end - 1);
  if (text[at] === "'") return { value: body.replaceAll("''", "'"), end };
  if (!body.includes('\\')) return { value: body, end };
  let value = '';
  for (let i = 0; i < body.length; i++) {
    if (body[i] !== '\\') {
      value += body[i];
      continue;
    }
    const escaped = DOUBLE_QUOTED_ESCAPES[body[++i]!];
    if (escaped === undefined) notCommon(); // \x, \u, \0 … are the library's
    value += escaped;
  }
  return { value, end };
}

/** A plain scalar as the core schema resolves it. */
function plainValue(raw: string): Json {
  // Most scalars of an experiment (its keys, names, model ids) start with a letter: those can only
  // be a null's or a boolean's spelling or a string, decided without the schema's patterns (each
  // of which needs ~ or -+. or a digit first to match anything else). Exactly as the patterns do.
  const first = raw.charCodeAt(0);
  if (!startsLikeNumberOrTilde(first)) {
    if (raw === 'null' || raw === 'Null' || raw === 'NULL') return null;
    if (raw === 'true' || raw === 'True' || raw === 'TRUE') return true;
    if (raw === 'false' || raw === 'False' || raw === 'FALSE') return false;
    return raw;
  }
  // From here on neither a null's nor a boolean's pattern can match, but for `~` itself.
  if (first === 0x7e) return NULL.test(raw) ? null : raw;
  if (INT.test(raw)) {
    // parseInt, as the library does; beyond 15 digits parseInt may round differently from the text.
    if (raw.replace(/^[-+]/, '').length > 15) notCommon();
    return parseInt(raw, 10);
  }
  if (FLOAT_SPECIAL.test(raw)) notCommon(); // NaN and Infinity are not JSON
  if (FLOAT_EXP.test(raw) || FLOAT.test(raw)) return parseFloat(raw);
  if (NUMBER_LIKE.test(raw) && /^[-+.0-9a-fA-FxXoO_]+$/.test(raw)) notCommon(); // 0x1F, 0o17, 1_000: left to the library
  return raw;
}

/** `-`, `+`, `.`, a digit or `~`: how anything but a string or a spelled-out null or boolean starts. */
function startsLikeNumberOrTilde(code: number): boolean {
  return code === 0x2d || code === 0x2b || code === 0x2e || code === 0x7e || (code >= 0x30 && code <= 0x39);
}

/** A flow collection opened at `at` and closed on the same line. */
function flow(text: string, at: number, depth = 0): { value: Json; end: number } {
  if (depth > MAX_DEPTH) notCommon();
  const open = text[at];
  const close = open === '{' ? '}' : ']';
  const map: JsonObject = {};
  const list: Json[] = [];
  let i = skipSpaces(text, at + 1);
  if (text[i] === close) return { value: open === '{' ? map : list, end: i + 1 };
  for (;;) {
    if (open === '{') {
      const key = flowScalar(text, i);
      if (typeof key.value !== 'string' || key.value === '<<' || key.value === '__proto__' || Object.prototype.hasOwnProperty.call(map, key.value)) notCommon();
      // `key: value`, the colon right after the key and a space after it (`{a:1}` is one plain scalar).
      if (text[key.end] !== ':' || text[key.end + 1] !== ' ') notCommon();
      const value = flowEntry(text, skipSpaces(text, key.end + 1), depth);
      map[key.value as string] = value.value;
      i = value.end;
    } else {
      const value = flowEntry(text, i, depth);
      if (text[value.end] === ':') notCommon(); // `[a: 1]`, a pair in a sequence
      list.push(value.value);
      i = value.end;
    }
    i = skipSpaces(text, i);
    if (text[i] === close) return { value: open === '{' ? map : list, end: i + 1 };
    if (text[i] !== ',') notCommon();
    i = skipSpaces(text, i + 1);
    if (text[i] === close || text[i] === ',') notCommon(); // a trailing or doubled comma
  }
}

function flowEntry(text: string, at: number, depth: number): { value: Json; end: number } {
  if (text[at] === '{' || text[at] === '[') {
    const nested = flow(text, at, depth + 1);
    return { value: nested.value, end: nested.end };
  }
  return flowScalar(text, at);
}

/** A quoted or plain scalar inside a flow collection; `end` is where it stops (before any spaces). */
function flowScalar(text: string, at: number): { value: Json; end: number } {
  const c = text[at];
  if (c === '"' || c === "'") return quoted(text, at);
  const after = text[at + 1];
  if (c === undefined || NOT_PLAIN_START.has(c) || (c === '-' && (after === undefined || after === ' ' || FLOW_END.has(after)))) notCommon();
  // Character codes, not one-character strings and set lookups: this loop sees every character of
  // every one-line trial of a 10,000-trial list.
  let i = at;
  for (; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (isFlowEnd(code)) break;
    if (code === COLON) {
      const next = text.charCodeAt(i + 1); // NaN past the end
      if (next === SPACE || Number.isNaN(next) || isFlowEnd(next)) break;
    }
    if (code === HASH && text.charCodeAt(i - 1) === SPACE) notCommon(); // a comment: the collection continues on another line
  }
  const raw = trimSpaces(text.slice(at, i));
  if (raw.length === 0) notCommon();
  return { value: plainValue(raw), end: at + raw.length };
}

/**
 * Trailing spaces removed. Not `trimEnd()`: that also removes Unicode spaces (U+00A0, U+3000 …),
 * which YAML keeps as part of a scalar.
 */
function trimSpaces(text: string): string {
  let end = text.length;
  while (end > 0 && text.charCodeAt(end - 1) === 32) end--;
  return end === text.length ? text : text.slice(0, end);
}

function skipSpaces(text: string, at: number): number {
  let i = at;
  while (text[i] === ' ') i++;
  return i;
}
