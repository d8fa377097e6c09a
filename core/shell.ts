/**
 * Shell quoting. Every value interpolated into a generated script goes through `shellQuote`:
 * single quotes, with embedded single quotes closed, escaped and reopened, so that a value
 * such as `"; rm -rf ~` is an inert string.
 */
export function shellQuote(value: string | number | boolean): string {
  const text = String(value);
  if (text !== '' && /^[A-Za-z0-9_@%+=:,./-]+$/.test(text)) return text;
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

export function shellJoin(words: ReadonlyArray<string | number | boolean>): string {
  return words.map(shellQuote).join(' ');
}

/** A valid environment variable name from any label (`CK_NEEDS_WORDS`). */
export function envName(label: string): string {
  return label.toUpperCase().replace(/[^A-Z0-9]+/g, '_').replace(/^_+|_+$/g, '');
}
