/**
 * The file a build saves its plan in (`.ckbuild/plans/<experiment>.json`, written by
 * core/planBase.ts), and reading it back. Three lines of JSON: a header, compared before anything
 * else is parsed; the experiment's reading (its text as planned, its data, where its trials are);
 * the body, the runs, parsed only for a splice. Kept apart from planBase.ts, whose imports are the
 * planner's: the no-op check reads an edited experiment from the reading without loading those.
 */
import { isStrings } from './columns.js';
import type { ItemSpans } from './commonYaml.js';
import type { ItemsReading } from './editedYaml.js';
import { projectCachePath } from './ignoredDir.js';
import type { Json } from './json.js';
import { readText } from './textFile.js';
import { codeDigest } from './upToDate.js';
import { writeFileAtomic } from './atomicFile.js';
import { sha256 } from './hash.js';

export const BASE_VERSION = 5;

/** Compared before the rest is parsed: a base that does not apply costs a few milliseconds, not a 9 MB parse. */
export interface SavedHeader {
  version: number;
  code: string;
  experiment: string;
  local: string;
  /** outlineDigest of the experiment's data. */
  outline: string;
  /** Plan.reads: checked, like the rest of the header, before the body is read. */
  reads: Array<[string, string]>;
  /** sha256 of the reading's line: a reading damaged on disk would otherwise stand for the file's data unnoticed. */
  reading: string;
}

/** The experiment as planned: its data and, when its trials' places were known, its text and those. */
export interface SavedReading {
  document: Json;
  text?: string;
  spans?: ItemSpans;
}

export function basePath(projectDir: string, experimentFile: string): string {
  return projectCachePath(projectDir, 'plans', experimentFile);
}

/**
 * A plan an earlier process saved for this experiment, read once: its header matched this code and
 * file; the rest is parsed when asked for.
 */
export interface SavedPlan {
  header: SavedHeader;
  /** The experiment's reading, when it is there to read edited trials from. */
  reading: ItemsReading | undefined;
  document: Json;
  /** The body line, parsed only for a splice. */
  body: string;
}

/** The plan saved for this experiment by this code; undefined when there is none it can trust. */
export function readSavedPlan(projectDir: string, experimentFile: string): SavedPlan | undefined {
  let header: unknown;
  let lines: string[];
  try {
    const text = readText(basePath(projectDir, experimentFile));
    const headerEnd = text.indexOf('\n');
    const readingEnd = text.indexOf('\n', headerEnd + 1);
    if (headerEnd < 0 || readingEnd < 0) return undefined;
    header = JSON.parse(text.slice(0, headerEnd));
    if (!isObject(header) || header.version !== BASE_VERSION || header.experiment !== experimentFile || header.code !== codeDigest()) return undefined;
    lines = [text.slice(headerEnd + 1, readingEnd), text.slice(readingEnd + 1)];
  } catch {
    return undefined; // none, unreadable, or ckbuild's own files being replaced
  }
  const [readingLine, body] = lines as [string, string];
  if (!isSavedHeader(header) || sha256(readingLine) !== header.reading) return undefined;
  let reading: unknown;
  try {
    reading = JSON.parse(readingLine);
  } catch {
    return undefined;
  }
  if (!isObject(reading) || !isObject(reading.document)) return undefined;
  const document = reading.document as Json;
  const spans = reading.spans;
  const text = reading.text;
  const readable = typeof text === 'string' && isItemSpans(spans, text.length);
  return { header, reading: readable ? { text, data: document, spans } : undefined, document, body };
}

function isSavedHeader(header: Record<string, unknown>): header is Record<string, unknown> & SavedHeader {
  if (typeof header.local !== 'string' || typeof header.outline !== 'string' || typeof header.reading !== 'string') return false;
  return Array.isArray(header.reads) && header.reads.every((read): read is [string, string] => Array.isArray(read) && read.length === 2 && typeof read[0] === 'string' && typeof read[1] === 'string');
}

/** Spans that can be those of a text this long: item starts in order, within it. */
function isItemSpans(value: unknown, textLength: number): value is ItemSpans {
  if (!isObject(value) || !isStrings(value.path) || !Number.isInteger(value.column) || !Number.isInteger(value.depth) || !Number.isInteger(value.end)) return false;
  const { starts, end } = value as unknown as ItemSpans;
  if (!Array.isArray(starts) || end > textLength) return false;
  let previous = -1;
  for (const start of starts) {
    if (!Number.isInteger(start) || start <= previous || start >= end) return false;
    previous = start;
  }
  return true;
}

/**
 * The saved plan again with the reading of a new text of the same data (comments edited, which
 * the no-op check vouched for): the next edit of a trial is then read against this text, not as
 * one edit reaching from that trial to the comment. Nothing else changes: the data is the saved
 * one. False when it could not be written (a read-only checkout: the next edit reads more).
 */
export function keepReading(projectDir: string, experimentFile: string, saved: SavedPlan, reading: ItemsReading): boolean {
  if (reading.data !== saved.document) return false;
  const line = JSON.stringify({ document: saved.document, text: reading.text, spans: reading.spans } satisfies SavedReading);
  try {
    writeFileAtomic(basePath(projectDir, experimentFile), `${JSON.stringify({ ...saved.header, reading: sha256(line) })}\n${line}\n${saved.body}`);
    return true;
  } catch {
    return false;
  }
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
