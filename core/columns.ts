/**
 * Files of one row per run kept as columns instead (the saved plan, core/planBase.ts; the manifest
 * index, core/manifestIndex.ts): one array per field, values that repeat in a table the column
 * indexes, run keys as one string. JSON.parse reads a few dozen arrays several times faster than
 * 20,000 rows of small objects. What both write and check the same way is here.
 */

/** A run key: sha256 in hex. */
export const KEY_LENGTH = 64;

/** The keys as one string, or undefined when one is not KEY_LENGTH long (then no columns are kept). */
export function joinedKeys(keys: readonly string[]): string | undefined {
  return keys.every((key) => key.length === KEY_LENGTH) ? keys.join('') : undefined;
}

/** Key `i` of a joined string of keys. */
export function keyAt(keys: string, i: number): string {
  return keys.slice(i * KEY_LENGTH, (i + 1) * KEY_LENGTH);
}

export const isStrings = (value: unknown): value is string[] => Array.isArray(value) && value.every((item) => typeof item === 'string');

/** A column of `length` integers in [least, within): indexes into a table of `within` items (-1 for none when least is -1). */
export function isIndexColumn(column: unknown, length: number, least: number, within: number): column is number[] {
  if (!Array.isArray(column) || column.length !== length) return false;
  // An indexed loop: a plan runs this once, cold, over columns of 20,000 items, where `for…of`
  // (its iterator, interpreted) cost ~5× as much, ~8 ms of a one-trial re-plan.
  for (let i = 0; i < length; i++) {
    const item: unknown = column[i];
    if (!Number.isInteger(item) || (item as number) < least || (item as number) >= within) return false;
  }
  return true;
}

/** The distinct values of a column, each kept once and referred to by its place in `items`. */
export class ValueTable<T> {
  readonly items: T[] = [];
  private readonly places = new Map<string, number>();

  /** The place of `value`, added if new; two values are one when their `signature` is (JSON by default). */
  indexOf(value: T, signature: string = JSON.stringify(value)): number {
    let place = this.places.get(signature);
    if (place === undefined) {
      place = this.items.push(value) - 1;
      this.places.set(signature, place);
    }
    return place;
  }
}
