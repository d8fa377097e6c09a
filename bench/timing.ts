/** One timed run of a command as a whole process, as the benchmark and its comparison mode take it. */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const GNU_TIME = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;

export interface Timed {
  seconds: number;
  /** Peak resident memory in MB (GNU time's %M), where GNU time is installed. */
  peakRssMb: number | null;
}

/** Runs `command args` once in `cwd` (with `env` over this process's): its wall time and peak RSS. Exit 0 and 1 (a plan with stale runs, a run that failed) are results; anything else throws. */
export function timeCommand(command: string, args: string[], cwd: string, env: Record<string, string> = {}): Timed {
  const rssFile = join(tmpdir(), `ckbench-rss-${process.pid}`);
  // Dirty pages flushed first, outside the timing: the setup writes tens of thousands of files
  // (a seeded sweep, ninja's and make's outputs), and their writeback otherwise lands on
  // whichever tool is timed next (a 200-run local build measured 6 ms a run or 16 with it).
  spawnSync('sync');
  const [file, argv] = GNU_TIME ? [GNU_TIME, ['-f', '%M', '-o', rssFile, command, ...args]] : [command, args];
  const started = process.hrtime.bigint();
  // Output goes to /dev/null, as hyperfine sends it by default: read back into a string here, a
  // 100,000-run `plan --json` (109 MB) timed this process's own reading and decoding, 0.35–0.9 s
  // of its 3.2 s. Only stderr is kept, for the error below.
  const result = spawnSync(file, argv, { cwd, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', ...env }, stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 1 << 30 });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (result.status !== 0 && result.status !== 1) throw new Error(`${command} ${args.join(' ')}: exit ${result.status}\n${result.stderr.slice(-2000)}`);
  let peakRssMb: number | null = null;
  if (GNU_TIME) {
    const kb = Number(readFileSync(rssFile, 'utf8').trim().split('\n').at(-1));
    if (Number.isFinite(kb)) peakRssMb = kb / 1024;
    rmSync(rssFile, { force: true });
  }
  return { seconds, peakRssMb };
}

/** The middle of a set of timings (the upper one of an even count). */
export const median = (seconds: readonly number[]): number => [...seconds].sort((a, b) => a - b)[Math.floor(seconds.length / 2)]!;

/** Seconds as the benchmark's JSON gives them: to a tenth of a millisecond. */
export const round = (seconds: number): number => Number(seconds.toFixed(4));
