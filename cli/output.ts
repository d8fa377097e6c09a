/**
 * Where the CLI writes, and how: colours only on a TTY (never with NO_COLOR or --no-color); a
 * reader that goes away (`ckbuild plan … | head -1`) ends the output quietly, never with an EPIPE
 * stack trace; `--quiet` and `--verbose` decide which lines are printed.
 */
import { relative } from 'node:path';
import type { Diagnostic } from '../core/diagnostics.js';

export const isTty = Boolean(process.stdout.isTTY);
let colour = isTty && !process.env.NO_COLOR;
const paint = (code: string) => (text: string) => (colour ? `\u001b[${code}m${text}\u001b[0m` : text);
export const bold = paint('1');
export const red = paint('31');
export const green = paint('32');
export const yellow = paint('33');
export const dim = paint('2');
export const cyan = paint('36');

export type Verbosity = 'quiet' | 'normal' | 'verbose';
let verbosity: Verbosity = 'normal';

export function configureOutput(options: { colour?: boolean; verbosity?: Verbosity }): void {
  if (options.colour === false) colour = false;
  if (options.verbosity) verbosity = options.verbosity;
}

export const isQuiet = (): boolean => verbosity === 'quiet';

let stdoutGone = false;
let stderrGone = false;

/**
 * The reader of stdout went away (EPIPE). Nothing more is written. A command that is only printing
 * ends now, quietly; a build (it listens for SIGTERM) is stopped as by Ctrl-C, so it cancels and
 * records its runs and releases its lock instead of dying halfway.
 */
function readerGone(stream: 'stdout' | 'stderr'): void {
  if (stream === 'stderr') {
    stderrGone = true;
    return;
  }
  if (stdoutGone) return;
  stdoutGone = true;
  if (process.listenerCount('SIGTERM') > 0) process.kill(process.pid, 'SIGTERM');
  else process.exit(typeof process.exitCode === 'number' ? process.exitCode : 0);
}

for (const [name, stream] of [['stdout', process.stdout], ['stderr', process.stderr]] as const) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE' || error.code === 'ERR_STREAM_DESTROYED') readerGone(name);
    else throw error;
  });
}

export function out(line = ''): void {
  if (!stdoutGone) process.stdout.write(line + '\n');
}

/**
 * A `--json` answer: indented for a person at a terminal, on one line for a program (a pipe, a
 * file), where it is a third smaller and faster to write: a 20,000-run plan is 17 MB instead of 27.
 */
export function outJson(value: unknown): void {
  out(JSON.stringify(value, null, process.stdout.isTTY ? 2 : undefined));
}

/** The most bytes one UTF-16 code unit takes in UTF-8: what a chunk must have room for. */
const UTF8_PER_UNIT = 3;
const CHUNK_BYTES = 1 << 20;

/**
 * A `--json` answer holding one long list (a plan's runs), each item given as its JSON text:
 * outJson's bytes, but written as they are made, a megabyte at a time, when they go to a program.
 * A 100,000-run plan is 85 MB of JSON; as one string, and once more as the buffer written, it cost
 * 1.3 s and twice its size in memory. Each piece is encoded straight into the chunk written (no
 * string of the chunk is joined, then encoded again): at 100,000 runs, joining megabyte strings on
 * a large heap cost ~0.3 s. Texts, not values: the caller writes what many items share once.
 */
export function outJsonWithList(value: Record<string, unknown>, listKey: string, itemTexts: Iterable<string>): void {
  if (process.stdout.isTTY) {
    outJson({ ...value, [listKey]: Array.from(itemTexts, (text): unknown => JSON.parse(text)) });
    return;
  }
  let chunk = Buffer.allocUnsafe(CHUNK_BYTES);
  let used = 0;
  const write = (text: string): void => {
    if (used + text.length * UTF8_PER_UNIT > chunk.length) {
      flush();
      if (text.length * UTF8_PER_UNIT > chunk.length) {
        if (!stdoutGone) process.stdout.write(text);
        return;
      }
    }
    used += chunk.write(text, used);
  };
  const flush = (last = false): void => {
    // The chunk written is never reused: a write may still hold it.
    if (!stdoutGone && used > 0) process.stdout.write(chunk.subarray(0, used));
    if (!last) chunk = Buffer.allocUnsafe(CHUNK_BYTES);
    used = 0;
  };
  write('{');
  let first = true;
  for (const [key, member] of Object.entries({ ...value, [listKey]: value[listKey] ?? [] })) {
    const text = key === listKey ? undefined : JSON.stringify(member);
    if (key !== listKey && text === undefined) continue; // as JSON.stringify leaves out undefined members
    write(`${first ? '' : ','}${JSON.stringify(key)}:`);
    first = false;
    if (text !== undefined) {
      write(text);
      continue;
    }
    write('[');
    let firstItem = true;
    for (const text of itemTexts) {
      if (!firstItem) write(',');
      write(text);
      firstItem = false;
    }
    write(']');
  }
  write('}\n');
  flush(true);
}

export function err(line = ''): void {
  if (!stderrGone) process.stderr.write(line + '\n');
}

/** Progress and notes: not printed with --quiet. */
export function info(line = ''): void {
  if (verbosity !== 'quiet') out(line);
}

/** What ckbuild decided and why: printed (on stderr) only with --verbose. */
export function debug(line: string): void {
  if (verbosity === 'verbose') err(dim(`ckbuild: ${line}`));
}

/** The width tables must fit: the terminal's, else 100 (a pipe, a file, CI). */
export function terminalWidth(): number {
  const columns = process.stdout.isTTY ? process.stdout.columns : undefined;
  const fromEnv = Number(process.env.COLUMNS);
  if (columns && columns > 0) return columns;
  if (Number.isInteger(fromEnv) && fromEnv > 20) return fromEnv;
  return 100;
}

export function displayPath(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel === '' ? '.' : rel.startsWith('..') && rel.split('/').filter((p) => p === '..').length > 2 ? path : rel;
}

/** The one place diagnostics are worded for people: `file:line:col: error: field: message`. */
export function renderDiagnostics(diagnostics: readonly Diagnostic[]): void {
  for (const d of diagnostics) {
    const where = d.line > 0 ? `${displayPath(d.file)}:${d.line}:${d.column}` : displayPath(d.file);
    const severity = d.severity === 'error' ? red('error') : yellow('warning');
    err(`${bold(where)}: ${severity}: ${d.field ? `${d.field}: ` : ''}${d.message}`);
  }
  const errors = diagnostics.filter((d) => d.severity === 'error').length;
  const warnings = diagnostics.length - errors;
  if (errors > 0) err(`${errors} error(s)${warnings ? `, ${warnings} warning(s)` : ''}`);
}

const strip = (text: string): string => text.replace(/\u001b\[[0-9;]*m/g, '');

/** Cuts a cell to `width` visible characters, with `…`; a painted cell loses its colour when cut. */
function cut(cell: string, width: number): string {
  const plain = strip(cell);
  if (plain.length <= width) return cell;
  return width <= 1 ? '…'.slice(0, width) : plain.slice(0, width - 1) + '…';
}

/**
 * Aligned columns that fit `width` (default: the terminal's): when too wide, the widest columns are
 * narrowed (cells cut with `…`) until the table fits, never below the header's width.
 * Explanations too long for a cell belong below the table, not in it.
 */
export function table(header: string[], rows: string[][], width = terminalWidth()): string[] {
  const widths = header.map((h, i) => Math.max(strip(h).length, ...rows.map((r) => strip(r[i] ?? '').length)));
  const total = (): number => widths.reduce((sum, w) => sum + w, 0) + 2 * (widths.length - 1);
  const floor = header.map((h) => Math.max(4, strip(h).length));
  while (total() > width) {
    let widest = -1;
    for (let i = 0; i < widths.length; i++) if (widths[i]! > floor[i]! && (widest < 0 || widths[i]! > widths[widest]!)) widest = i;
    if (widest < 0) break;
    widths[widest] = Math.max(floor[widest]!, widths[widest]! - Math.max(1, total() - width));
  }
  const line = (cells: string[]): string =>
    cells
      .map((raw, i) => {
        const cell = cut(raw, widths[i]!);
        return i === cells.length - 1 ? cell : cell + ' '.repeat(Math.max(0, widths[i]! - strip(cell).length));
      })
      .join('  ')
      .trimEnd();
  return [bold(line(header)), ...rows.map(line)];
}

export function formatDuration(seconds: number | undefined): string {
  if (seconds === undefined) return '';
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 1 : 0)}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m${String(Math.round(seconds % 60)).padStart(2, '0')}s`;
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, '0')}m`;
}
