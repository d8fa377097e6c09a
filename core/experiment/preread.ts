/**
 * The experiment file read by the no-op check (core/upToDate.ts) when its text changed: from the
 * saved plan's reading (core/savedPlan.ts), so that a one-trial edit reads one trial. A build that
 * then plans hands it to the planner (PlanOptions.preread), which takes the reading while the file
 * still holds that text, and the saved plan as read: neither is read twice.
 */
import { resolve } from 'node:path';
import { findProjectDir } from '../projectDir.js';
import { keepReading, readSavedPlan, type SavedPlan } from '../savedPlan.js';
import { type LoadedSource, loadSourceFile } from '../source.js';
import { TRIAL_ITEMS } from './load.js';

export interface Preread {
  /** The saved plan of this experiment, if there was one this code can use. */
  saved: SavedPlan | undefined;
  /** The experiment file, read from the saved plan's reading where it could be. */
  loaded: LoadedSource;
}

export function prereadExperiment(file: string): Preread {
  const absolute = resolve(file);
  const saved = readSavedPlan(findProjectDir(absolute), absolute);
  return { saved, loaded: loadSourceFile(absolute, saved?.reading ? { itemsAt: TRIAL_ITEMS, earlier: saved.reading } : { itemsAt: TRIAL_ITEMS }) };
}

/**
 * After the no-op check found the experiment's data unchanged: the saved plan keeps the reading of
 * this text (when it read it from the saved one, comments alone having changed), so that a later
 * edit of one trial is told apart from the comments edited before it.
 */
export function keepPrereading(preread: Preread): void {
  const { saved, loaded } = preread;
  const source = loaded.source;
  if (!saved?.reading || !source?.items || source.data !== saved.reading.data || source.text === saved.reading.text) return;
  keepReading(findProjectDir(source.file), source.file, saved, { text: source.text, data: source.data, spans: source.items });
}
