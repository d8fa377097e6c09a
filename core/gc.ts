/**
 * Collecting old run directories (`ckbuild gc`). A run directory is kept when a manifest record
 * references it (in the working tree, or in the manifests as they stood at the last N commits; a
 * recorded reproduction's directory too), when the current plan of an experiment needs it, or when
 * its run is queued or running (recorded so, or claimed by a live process). Everything else that
 * is a ckbuild run directory (`<key16>-<adjective>-<noun>`, or a `.reproduce-N` beside one) is
 * garbage; nothing else under the runs root is touched. Core decides and removes; the CLI shows.
 */
import { lstatSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { liveHolder } from './claim.js';
import type { FoundRecord } from './history.js';
import { ACTIVE_STATUSES } from './manifest.js';
import { runDirName } from './runDir.js';

export const RUN_DIR_PATTERN = /^([0-9a-f]{16})-[a-z]+-[a-z]+(\.reproduce-\d+)?$/;

export type KeepReason = 'recorded' | 'needed by the plan' | 'queued or running' | 'claimed by a live process';

export interface RunDirEntry {
  dir: string;
  name: string;
  bytes: number;
  keep?: KeepReason;
  /** The record that references it, when one does. */
  id?: string;
}

export interface Collection {
  remove: RunDirEntry[];
  keep: RunDirEntry[];
  removeBytes: number;
  keepBytes: number;
}

/** Bytes under a path, not following symbolic links. */
export function diskUsage(path: string): number {
  let stat;
  try {
    stat = lstatSync(path);
  } catch {
    return 0;
  }
  if (!stat.isDirectory()) return stat.size;
  let total = 0;
  let entries: string[] = [];
  try {
    entries = readdirSync(path);
  } catch {
    return total;
  }
  for (const entry of entries) total += diskUsage(join(path, entry));
  return total;
}

export interface GcInput {
  runsRoot: string;
  projectDir: string;
  /** Records of the working tree's manifests and of the manifests at the last N commits. */
  records: readonly FoundRecord[];
  /** Run directories the current plans need (absolute). */
  needed: ReadonlySet<string>;
}

export function planCollection(input: GcInput): Collection {
  const referenced = new Map<string, { reason: KeepReason; id: string }>();
  for (const { record, source } of input.records) {
    const active = source.kind === 'working-tree' && ACTIVE_STATUSES.has(record.status);
    const reason: KeepReason = active ? 'queued or running' : 'recorded';
    const names = [runDirName(record.key, record.name), record.run_dir.split('/').pop() ?? ''];
    for (const reproduction of record.reproductions ?? []) if (typeof reproduction.run_dir === 'string') names.push(reproduction.run_dir.split('/').pop()!);
    for (const name of names) if (name && (!referenced.has(name) || active)) referenced.set(name, { reason, id: record.id });
  }
  const keep: RunDirEntry[] = [];
  const remove: RunDirEntry[] = [];
  let entries: string[];
  try {
    entries = readdirSync(input.runsRoot);
  } catch {
    entries = [];
  }
  for (const name of entries.sort()) {
    if (!RUN_DIR_PATTERN.test(name)) continue;
    const dir = join(input.runsRoot, name);
    try {
      if (!lstatSync(dir).isDirectory()) continue;
    } catch {
      continue;
    }
    const entry: RunDirEntry = { dir, name, bytes: diskUsage(dir) };
    const reference = referenced.get(name);
    if (reference) entry.id = reference.id;
    if (liveHolder(dir)) entry.keep = 'claimed by a live process';
    else if (reference?.reason === 'queued or running') entry.keep = 'queued or running';
    else if (input.needed.has(dir)) entry.keep = 'needed by the plan';
    else if (reference) entry.keep = 'recorded';
    (entry.keep ? keep : remove).push(entry);
  }
  const sum = (list: RunDirEntry[]): number => list.reduce((total, entry) => total + entry.bytes, 0);
  return { remove, keep, removeBytes: sum(remove), keepBytes: sum(keep) };
}

/** Removes the collected directories, checking each is still unclaimed right before. Returns those removed. */
export function removeCollected(collection: Collection): RunDirEntry[] {
  const removed: RunDirEntry[] = [];
  for (const entry of collection.remove) {
    if (liveHolder(entry.dir)) continue; // claimed since the listing
    rmSync(entry.dir, { recursive: true, force: true });
    removed.push(entry);
  }
  return removed;
}
