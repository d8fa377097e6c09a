/**
 * Values for inspect's `-T`, `-M` and `--metadata` options. inspect does not take them as
 * strings: it splits `key=value` at the first `=`, YAML-parses the value (PyYAML, YAML 1.1), and
 * splits a resulting string at every comma into a list (inspect_ai/_cli/util.py,
 * `parse_cli_args`). So `no` arrives as False, `12:30` as 750, `1e-7` as a string, `a: b` as a
 * mapping and `a,b` as a list. This module writes each value so that it arrives as meant, or
 * says why it cannot (a string with a comma cannot be passed this way at all).
 */
import type { Json } from '../../core/json.js';

/** Words YAML 1.1 reads as booleans or null (PyYAML's resolver, any of the three casings). */
const YAML11_SPECIAL = /^(?:y|n|yes|no|true|false|on|off|null|~)$/i;

/**
 * Strings that PyYAML reads back unchanged as a plain scalar: absolute paths, and words that
 * start with a letter. Anything else is written as a double-quoted YAML scalar.
 */
function plainString(text: string): boolean {
  if (/^\/[A-Za-z0-9_.\/+@=-]*$/.test(text)) return true;
  return /^[A-Za-z_][A-Za-z0-9_.\/+@=-]*$/.test(text) && !YAML11_SPECIAL.test(text);
}

/**
 * A number as PyYAML reads it back as the same number: YAML 1.1 floats need a dot in the
 * mantissa and a sign in the exponent (`1e-7` would be the string "1e-7"; `1.0e-7` is a float).
 */
export function yamlNumber(value: number): string {
  if (Number.isInteger(value) && Math.abs(value) < 1e21) return String(value);
  const text = String(value);
  const [mantissa = text, exponent] = text.split('e');
  const dotted = mantissa.includes('.') ? mantissa : `${mantissa}.0`;
  return exponent === undefined ? dotted : `${dotted}e${/^[+-]/.test(exponent) ? exponent : `+${exponent}`}`;
}

export type CliValue = { ok: true; text: string } | { ok: false; reason: string };

/** The text after `key=` that inspect turns back into `value`. Not yet shell-quoted. */
export function inspectValue(value: Json): CliValue {
  if (value === null) return { ok: true, text: 'null' };
  if (typeof value === 'boolean') return { ok: true, text: value ? 'true' : 'false' };
  if (typeof value === 'number') return { ok: true, text: yamlNumber(value) };
  if (typeof value === 'string') {
    // inspect splits a parsed string at commas whatever the quoting, so no encoding helps.
    if (value.includes(',')) return { ok: false, reason: 'inspect splits string values of -T/-M/--metadata at commas into lists' };
    if (plainString(value)) return { ok: true, text: value };
    // A JSON string is a valid YAML double-quoted scalar with the same escapes.
    return { ok: true, text: JSON.stringify(value) };
  }
  // Lists and mappings in JSON (flow) syntax parse to the same structure, and are not split.
  return { ok: true, text: JSON.stringify(value) };
}

/** `key=value` for a `-T`/`-M`/`--metadata` argument, or the reason it cannot be passed. */
export function inspectArg(key: string, value: Json): CliValue {
  const encoded = inspectValue(value);
  return encoded.ok ? { ok: true, text: `${key}=${encoded.text}` } : encoded;
}
