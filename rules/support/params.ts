/**
 * What several rules read from their parameters: the dataset binding the expansion gives a run.
 * Parameters themselves are read with core's one reader, `ParamReader` (core/params.ts).
 */
import { isObject, type Json, type JsonObject } from '../../core/json.js';
import type { ParamReader } from '../../core/params.js';

/** The dataset binding the expansion gives a run: `{format, split, file?}`. */
export interface DatasetParams {
  format: string;
  split: string;
  /** A file inside a prepare step's outputs (only when the dataset comes from one). */
  file?: string;
}

export function readDataset(reader: ParamReader, name: string, defaultSplit: string): DatasetParams | undefined {
  return datasetOf(reader.object(name), defaultSplit);
}

/** The binding as JSON holds it (a resolved run's or a record's); undefined when there is none. */
export function datasetOf(value: Json | undefined, defaultSplit: string): DatasetParams | undefined {
  if (!isObject(value)) return undefined;
  const format = typeof value.format === 'string' ? value.format : 'json';
  const split = typeof value.split === 'string' ? value.split : defaultSplit;
  const file = typeof value.file === 'string' ? value.file : undefined;
  return file === undefined ? { format, split } : { format, split, file };
}

export function datasetJson(dataset: DatasetParams): JsonObject {
  return dataset.file === undefined ? { format: dataset.format, split: dataset.split } : { format: dataset.format, split: dataset.split, file: dataset.file };
}
