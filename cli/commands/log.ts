/** `ckbuild log <run> [-f]`: the job's log, printed or followed until the job ends. */
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { readStatusFile } from '../../core/executors/statusFile.js';
import { ACTIVE_STATUSES } from '../../core/manifest.js';
import { jobLogFor } from '../../core/jobLog.js';
import { type ParsedArgs, flag, UsageError } from '../args.js';
import { currentProject, expectedRunDir, findRun, runDirOf } from '../findRun.js';
import { dim, displayPath, err, red } from '../output.js';

export async function logCommand(args: ParsedArgs): Promise<number> {
  const [query, ...rest] = args.positionals;
  if (!query || rest.length > 0) throw new UsageError('usage: ckbuild log <run> [-f]   (a run id, readable name or key prefix)');
  const project = currentProject();
  const found = findRun(project, query);
  const runDir = runDirOf(project, found) ?? expectedRunDir(project, found);
  const log = jobLogFor(runDir, found.record.job_id);
  const follow = flag(args, '--follow');
  if (!existsSync(log) && !(follow && ACTIVE_STATUSES.has(found.record.status))) {
    err(`${red('error')}: ${found.record.id} (${found.record.name}) has no log on this machine: ${displayPath(log)} does not exist (${existsSync(runDir) ? 'the job has not started' : 'its run directory is not here: collected, or made on another machine'}); status ${found.record.status}${found.record.detail ? `: ${found.record.detail}` : ''}`);
    return 1;
  }
  err(dim(`${found.record.id} ${found.record.name}: ${displayPath(log)}`));
  let offset = 0;
  const drain = (): void => {
    let size: number;
    try {
      size = statSync(log).size;
    } catch {
      return;
    }
    if (size < offset) offset = 0; // a new attempt truncated it
    if (size === offset) return;
    const fd = openSync(log, 'r');
    try {
      const buffer = Buffer.alloc(Math.min(size - offset, 1 << 20));
      const read = readSync(fd, buffer, 0, buffer.length, offset);
      offset += read;
      process.stdout.write(buffer.subarray(0, read));
    } finally {
      closeSync(fd);
    }
  };
  drain();
  if (!follow) return 0;
  // Follow until the job's own verdict says it ended (status.json), then print what is left.
  let stop = false;
  const onSignal = (): void => {
    stop = true;
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    while (!stop) {
      drain();
      const status = readStatusFile(runDir);
      if (status && status.status !== 'running') {
        drain();
        err(dim(`${found.record.id}: ${status.status}${status.detail ? `: ${status.detail}` : ''}`));
        return status.status === 'succeeded' ? 0 : 1;
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    return 130;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
