/**
 * `ckbuild gc`: remove run directories nothing references any more. A dry run unless --delete:
 * it lists what it would remove and how much space that frees.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { planCollection, removeCollected } from '../../core/gc.js';
import { historyRecords, workingTreeRecords } from '../../core/history.js';
import { acquireLock, lockPathFor } from '../../core/lock.js';
import { type ParsedArgs, flag, intValue, UsageError } from '../args.js';
import { currentProject } from '../findRun.js';
import { planFile } from '../load.js';
import { bold, dim, displayPath, err, green, out, outJson, red, table, yellow } from '../output.js';
import { bytes } from './show.js';

const DEFAULT_COMMITS = 10;

export async function gcCommand(args: ParsedArgs): Promise<number> {
  if (args.positionals.length > 0) throw new UsageError('usage: ckbuild gc [--delete] [--commits N] [--json]   (run in the project folder)');
  const commits = intValue(args, '--commits') ?? DEFAULT_COMMITS;
  const remove = flag(args, '--delete');
  const json = flag(args, '--json');
  const project = currentProject();
  // The current plan of every experiment: a run it needs is kept even if nothing recorded it yet.
  const needed = new Set<string>();
  const unplanned: string[] = [];
  const experimentsDir = join(project.dir, 'experiments');
  const files = existsSync(experimentsDir) ? readdirSync(experimentsDir).filter((name) => /\.ya?ml$/.test(name)).sort().map((name) => join(experimentsDir, name)) : [];
  for (const file of files) {
    const result = await planFile(file);
    if (!result.plan) {
      unplanned.push(file);
      continue;
    }
    for (const run of result.plan.runs) needed.add(run.runDir);
  }
  if (unplanned.length > 0 && remove) {
    err(`${red('error')}: cannot tell which runs ${unplanned.map(displayPath).join(', ')} need${unplanned.length === 1 ? 's' : ''} (it does not plan: see \`ckbuild check\`); nothing was removed`);
    return 2;
  }
  const lock = remove ? acquireLock(lockPathFor(join(experimentsDir, 'gc')), 'ckbuild gc --delete') : undefined;
  if (lock && !lock.acquired) {
    err(`${red('error')}: ${'unusable' in lock ? lock.unusable : `another ckbuild is building in this project (pid ${lock.owner.pid} on ${lock.owner.host}); collect when it is done`}`);
    return 3;
  }
  try {
    const records = [...workingTreeRecords(project.dir), ...historyRecords(project.dir, { lastCommits: commits })];
    const collection = planCollection({ runsRoot: project.runsRoot, projectDir: project.dir, records, needed });
    const removed = remove ? removeCollected(collection) : [];
    if (json) {
      outJson({ ok: true, deleted: remove, runs_root: project.runsRoot, commits, remove: collection.remove.map((e) => ({ dir: e.dir, bytes: e.bytes })), remove_bytes: collection.removeBytes, keep: collection.keep.map((e) => ({ dir: e.dir, bytes: e.bytes, reason: e.keep, id: e.id ?? null })), keep_bytes: collection.keepBytes, unplanned });
      return 0;
    }
    for (const file of unplanned) err(`${yellow('warning')}: ${displayPath(file)} does not plan: the runs it needs cannot be told apart (gc --delete refuses until it does)`);
    const kept = new Map<string, number>(['recorded', 'needed by the plan', 'queued or running', 'claimed by a live process'].map((reason) => [reason, 0]));
    for (const entry of collection.keep) kept.set(entry.keep!, (kept.get(entry.keep!) ?? 0) + 1);
    out(`${bold('runs root')} ${displayPath(project.runsRoot)}: ${collection.keep.length + collection.remove.length} run directories, ${bytes(collection.keepBytes + collection.removeBytes)}`);
    out(`  keep ${collection.keep.length} (${bytes(collection.keepBytes)})${collection.keep.length > 0 ? `: ${[...kept].filter(([, n]) => n > 0).map(([reason, n]) => `${n} ${reason}`).join(', ')}` : ''}`);
    out(dim(`  referenced = a record in the working tree's manifests or in the manifests of the last ${commits} commits (--commits N)`));
    if (collection.remove.length === 0) {
      out(green('nothing to collect'));
      return 0;
    }
    for (const line of table(['run directory', 'size'], collection.remove.map((e) => [displayPath(e.dir), bytes(e.bytes)]))) out(`  ${line}`);
    if (remove) out(`${green('removed')} ${removed.length} run director${removed.length === 1 ? 'y' : 'ies'}, ${bytes(removed.reduce((t, e) => t + e.bytes, 0))} freed`);
    else out(`${bold('dry run')}: would remove ${collection.remove.length} run director${collection.remove.length === 1 ? 'y' : 'ies'}, ${bytes(collection.removeBytes)}; run \`ckbuild gc --delete\` to remove them`);
    return 0;
  } finally {
    if (lock?.acquired) lock.release();
  }
}
