/** Where the CLI writes, and how: colours only on a TTY (and never with NO_COLOR). */
import { relative } from 'node:path';
import type { Diagnostic } from '../core/diagnostics.js';

export const isTty = Boolean(process.stdout.isTTY);
const colour = isTty && !process.env.NO_COLOR;
const paint = (code: string) => (text: string) => (colour ? `\u001b[${code}m${text}\u001b[0m` : text);
export const bold = paint('1');
export const red = paint('31');
export const green = paint('32');
export const yellow = paint('33');
export const dim = paint('2');
export const cyan = paint('36');

export function out(line = ''): void {
  process.stdout.write(line + '\n');
}

export function err(line = ''): void {
  process.stderr.write(line + '\n');
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

export function table(header: string[], rows: string[][]): string[] {
  const strip = (text: string): string => text.replace(/\u001b\[[0-9;]*m/g, '');
  const widths = header.map((h, i) => Math.max(strip(h).length, ...rows.map((r) => strip(r[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell + ' '.repeat(widths[i]! - strip(cell).length)))
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
