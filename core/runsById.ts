/**
 * Runs by id, answered from where each stands in a list and a lookup of places that exists
 * already: a plan's runs through its graph (RunGraph.indexOf), an expansion's through its map of
 * positions. A second map of every id is not made: a 100,000-run plan filled one for ~40 ms, and a
 * build asks it of a few runs.
 */
export class RunsById<Run extends { id: string }> implements ReadonlyMap<string, Run> {
  constructor(
    /** In the graph's order: the run at `placeOf(id)` is the one with that id. */
    private readonly runs: readonly Run[],
    private readonly placeOf: (id: string) => number | undefined,
  ) {}

  get size(): number {
    return this.runs.length;
  }

  get(id: string): Run | undefined {
    const at = this.placeOf(id);
    return at === undefined ? undefined : this.runs[at];
  }

  has(id: string): boolean {
    return this.placeOf(id) !== undefined;
  }

  forEach(callback: (run: Run, id: string, map: ReadonlyMap<string, Run>) => void, thisArg?: unknown): void {
    for (const run of this.runs) callback.call(thisArg, run, run.id, this);
  }

  *entries(): MapIterator<[string, Run]> {
    for (const run of this.runs) yield [run.id, run];
  }

  *keys(): MapIterator<string> {
    for (const run of this.runs) yield run.id;
  }

  *values(): MapIterator<Run> {
    yield* this.runs;
  }

  [Symbol.iterator](): MapIterator<[string, Run]> {
    return this.entries();
  }
}
