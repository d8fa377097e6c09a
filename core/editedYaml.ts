/**
 * Reading an edited YAML text again where the edit stayed inside the items of one block sequence:
 * the one-trial edit of a 10,000-trial list, which otherwise reads (and validates) all 10,000 trials
 * again to change one. The earlier reading (its text, its data, where its sequence's items are)
 * comes from the previous plan of this process (watch) or the one a build saved (core/planBase.ts).
 *
 * The text outside the changed characters is the same, byte for byte, so everything outside the
 * items that hold them reads as before: those items are cut out of the new text as whole lines and
 * read alone (commonYaml's readCommonSequence, at the column and depth they have in place), and
 * their data replaces the earlier items'. Block YAML is read line by line with a stack of columns,
 * so items that read as a sequence at their column on their own read the same in place. An edit
 * of comment lines only, anywhere, changes no data at all (the subset has no block scalars that
 * could hold them). Anything else (the edit reaches outside the sequence, the items do not read
 * alone, the text leaves commonYaml's subset) answers undefined, and the caller reads it whole.
 */
import { holdsNoData, type ItemSpans, readCommonSequence } from './commonYaml.js';
import type { Json, JsonObject } from './json.js';

/** A reading of a whole text whose items at `spans.path` can be read again alone. */
export interface ItemsReading {
  text: string;
  data: Json;
  spans: ItemSpans;
}

export interface Reread extends ItemsReading {
  /** The items read again, as indexes of the new sequence: from, and up to but not including, to. */
  changed: { from: number; to: number };
}

/** The new text's reading from the earlier one, when the edit changed items of its sequence only. */
export function rereadEdited(earlier: ItemsReading, text: string): Reread | undefined {
  const before = earlier.text;
  if (text === before) return { ...earlier, changed: { from: 0, to: 0 } };
  const { starts, end } = earlier.spans;
  const items = itemsAt(earlier.data, earlier.spans.path);
  if (!items || items.length !== starts.length || starts.length === 0) return undefined;
  // The edit replaced before[prefix, changedEnd) with something else; the rest is the same.
  const prefix = commonPrefix(before, text);
  const changedEnd = before.length - commonSuffix(before, text, Math.min(before.length, text.length) - prefix);
  const shift = text.length - before.length;
  const comments = commentsOnly(earlier, text, prefix, changedEnd, shift);
  if (comments) return comments;
  if (prefix < starts[0]! || changedEnd > end) return undefined;
  // An edit at the very start of an item (before its `- `) may be lines that continue the item before it.
  const at = lastAtOrBefore(starts, prefix);
  const first = at > 0 && prefix <= starts[at]! + earlier.spans.column + 1 ? at - 1 : at;
  const last = changedEnd > prefix ? Math.max(first, lastAtOrBefore(starts, changedEnd - 1)) : first;
  const cutStart = starts[first]!;
  const cutEnd = last + 1 < starts.length ? starts[last + 1]! : end;
  // The cut ends a line in the new text too (the edit may have joined it to the next line).
  if (cutEnd + shift < text.length && text.charCodeAt(cutEnd + shift - 1) !== 10) return undefined;
  const read = readCommonSequence(text.slice(cutStart, cutEnd + shift), earlier.spans.column, earlier.spans.depth);
  if (!read || items.length - (last + 1 - first) + read.items.length === 0) return undefined; // no items left: `runs:` would be null
  const newItems = [...items.slice(0, first), ...read.items, ...items.slice(last + 1)];
  const newStarts = [...starts.slice(0, first), ...read.starts.map((start) => cutStart + start), ...starts.slice(last + 1).map((start) => start + shift)];
  return {
    text,
    data: withItems(earlier.data, earlier.spans.path, newItems),
    spans: { ...earlier.spans, starts: newStarts, end: end + shift },
    changed: { from: first, to: first + read.items.length },
  };
}

/**
 * The earlier reading with its places moved, when the lines the edit touched (whole lines, before
 * and after) hold no data; undefined otherwise.
 */
function commentsOnly(earlier: ItemsReading, text: string, prefix: number, changedEnd: number, shift: number): Reread | undefined {
  const before = earlier.text;
  const from = prefix === 0 ? 0 : before.lastIndexOf('\n', prefix - 1) + 1;
  // The touched lines end where the edit ends, if both texts have a line break (or nothing) there.
  const endsLine = (value: string, at: number): boolean => at === from || value.charCodeAt(at - 1) === 10;
  const newline = before.indexOf('\n', changedEnd);
  const to = endsLine(before, changedEnd) && endsLine(text, changedEnd + shift) ? changedEnd : newline < 0 ? before.length : newline + 1;
  if (!holdsNoData(before.slice(from, to)) || !holdsNoData(text.slice(from, to + shift))) return undefined;
  const moved = (at: number): number => (at >= to ? at + shift : at);
  return { text, data: earlier.data, spans: { ...earlier.spans, starts: earlier.spans.starts.map(moved), end: moved(earlier.spans.end) }, changed: { from: 0, to: 0 } };
}

function itemsAt(data: Json, path: readonly string[]): Json[] | undefined {
  let node: Json | undefined = data;
  for (const key of path) node = isMapping(node) ? node[key] : undefined;
  return Array.isArray(node) ? node : undefined;
}

/** A copy of `data` with `items` at `path`: only the mappings on the way are copied, each in its key order. */
export function withItems(data: Json, path: readonly string[], items: Json[]): Json {
  if (path.length === 0) return items;
  const [key, ...rest] = path as [string, ...string[]];
  const mapping = data as JsonObject;
  return { ...mapping, [key]: withItems(mapping[key]!, rest, items) };
}

const isMapping = (value: Json | undefined): value is JsonObject => typeof value === 'object' && value !== null && !Array.isArray(value);

/** The largest i with sorted[i] ≤ value (sorted[0] ≤ value). */
function lastAtOrBefore(sorted: readonly number[], value: number): number {
  let low = 0;
  let high = sorted.length - 1;
  while (low < high) {
    const middle = (low + high + 1) >> 1;
    if (sorted[middle]! <= value) low = middle;
    else high = middle - 1;
  }
  return low;
}

/** How many characters the two texts start with alike: compared a block at a time, by the engine. */
function commonPrefix(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  let at = 0;
  for (let block = 4096; at < length; ) {
    const next = Math.min(length, at + block);
    if (a.slice(at, next) === b.slice(at, next)) at = next;
    else if (block > 1) block >>= 3;
    else break;
  }
  return at;
}

/** How many characters the two texts end with alike, at most `limit`. */
function commonSuffix(a: string, b: string, limit: number): number {
  let matched = 0;
  for (let block = 4096; matched < limit; ) {
    const next = Math.min(limit, matched + block);
    if (a.slice(a.length - next, a.length - matched) === b.slice(b.length - next, b.length - matched)) matched = next;
    else if (block > 1) block >>= 3;
    else break;
  }
  return matched;
}
