/**
 * `npm run bench -- --against <rev> [--pairs N] [--only sweep|local] [--json]`: this tree against
 * another commit, run for run. On a shared VM whose speed drifts by 20–50 % within minutes, two
 * benchmark runs an hour apart say more about the machine than about the code; alternating the two
 * builds run by run, and in both orders, puts them in the same minutes. Each scenario reports both
 * medians and the paired difference (this tree minus the other, mean ± twice its standard error),
 * and in how many pairs this tree was faster.
 *
 * The other commit is checked out in a temporary git worktree (sharing this tree's node_modules)
 * and built with its own `npm run build`; each side gets its own copy of every project, since a
 * saved plan and the up-to-date stamp belong to the code that wrote them.
 *
 * `--json` prints one object per scenario:
 *   {"scenario", "runs", "against", "pairs", "base_s", "head_s", "diff_s", "diff_2se_s", "head_faster"}
 */
import { spawnSync } from 'node:child_process';
import { appendFileSync, cpSync, existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../core/paths.js';
import { median, round, timeCommand } from './timing.js';
import { cleanLocal, editTrial, LOCAL_BUILD, localProject, seedFinished, sweepProject } from './workload.js';

export interface CompareOptions {
  pairs: number;
  json: boolean;
  only?: string;
  trials: number;
}

/** One side of the comparison: the bin it runs, and what to call it. */
interface Side {
  label: string;
  cli: string;
}

interface Pairing {
  scenario: string;
  runs: number;
  args: string[];
  /** The folder each side runs in. */
  dirs: Map<Side, string>;
  /** Before each timed run of a side, in its folder. */
  before?: (dir: string) => void;
}

/** Checks `rev` out beside this tree and builds it; its bin and how to remove it. */
function buildRevision(rev: string): { side: Side; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'ckbench-against-'));
  const remove = (): void => {
    spawnSync('git', ['-C', packageRoot, 'worktree', 'remove', '--force', dir], { stdio: 'ignore' });
    spawnSync('git', ['-C', packageRoot, 'worktree', 'prune'], { stdio: 'ignore' });
    rmSync(dir, { recursive: true, force: true });
  };
  const run = (command: string, args: string[], cwd: string): void => {
    const result = spawnSync(command, args, { cwd, encoding: 'utf8' });
    if (result.status !== 0) {
      remove();
      throw new Error(`${command} ${args.join(' ')} (in ${cwd}): exit ${result.status}\n${(result.stderr || result.stdout).slice(-2000)}`);
    }
  };
  run('git', ['-C', packageRoot, 'worktree', 'add', '--detach', dir, rev], packageRoot);
  symlinkSync(join(packageRoot, 'node_modules'), join(dir, 'node_modules'));
  run('npm', ['run', 'build'], dir);
  // The bin is main.cjs since 2026-12 (main.js before: an ES module, which node starts later).
  const cli = ['main.cjs', 'main.js'].map((name) => join(dir, 'dist', 'bundle', name)).find((path) => existsSync(path));
  if (!cli) {
    remove();
    throw new Error(`${rev} builds no dist/bundle/main.cjs or main.js: it predates the bundled bin, so it cannot be compared this way`);
  }
  const short = spawnSync('git', ['-C', packageRoot, 'rev-parse', '--short', rev], { encoding: 'utf8' }).stdout.trim();
  return { side: { label: short || rev, cli }, remove };
}

/** `pairs` timed runs of each side, alternating which goes first. */
function pair(pairing: Pairing, base: Side, head: Side, pairs: number): { base: number[]; head: number[] } {
  const times = new Map<Side, number[]>([
    [base, []],
    [head, []],
  ]);
  for (let i = 0; i < pairs; i++) {
    for (const side of i % 2 === 0 ? [base, head] : [head, base]) {
      const dir = pairing.dirs.get(side)!;
      pairing.before?.(dir);
      times.get(side)!.push(timeCommand(process.execPath, [side.cli, ...pairing.args], dir).seconds);
    }
  }
  return { base: times.get(base)!, head: times.get(head)! };
}

function report(pairing: Pairing, base: Side, times: { base: number[]; head: number[] }, options: CompareOptions): void {
  const diffs = times.head.map((head, i) => head - times.base[i]!);
  const mean = diffs.reduce((sum, d) => sum + d, 0) / diffs.length;
  const variance = diffs.reduce((sum, d) => sum + (d - mean) ** 2, 0) / Math.max(1, diffs.length - 1);
  const twoSe = 2 * Math.sqrt(variance / diffs.length);
  const faster = diffs.filter((d) => d < 0).length;
  if (options.json) {
    console.log(JSON.stringify({ scenario: pairing.scenario, runs: pairing.runs, against: base.label, pairs: diffs.length, base_s: round(median(times.base)), head_s: round(median(times.head)), diff_s: round(mean), diff_2se_s: round(twoSe), head_faster: faster }));
    return;
  }
  const ms = (seconds: number): string => `${seconds >= 0 ? '+' : '−'}${Math.abs(seconds * 1000).toFixed(0)} ms`;
  console.log(`${pairing.scenario.padEnd(50)} ${base.label} ${median(times.base).toFixed(3)} s, this tree ${median(times.head).toFixed(3)} s; difference ${ms(mean)} ± ${(twoSe * 1000).toFixed(0)} ms, faster in ${faster} of ${diffs.length}`);
}

/** A copy of `dir` for each side, both made alike (an original written file by file and a copy may not read alike); `dir` is removed. */
function perSide(dir: string, base: Side, head: Side): Map<Side, string> {
  const copies = new Map<Side, string>();
  for (const side of [base, head]) {
    const copy = mkdtempSync(join(tmpdir(), 'ckbench-against-project-'));
    cpSync(dir, copy, { recursive: true });
    copies.set(side, copy);
  }
  rmSync(dir, { recursive: true, force: true });
  return copies;
}

/** Whether every run of the seeded sweep is up to date for this side: its keys are this tree's. */
function upToDate(side: Side, dir: string): boolean {
  const result = spawnSync(process.execPath, [side.cli, 'plan', 'experiments/sweep.yaml', '--json'], { cwd: dir, encoding: 'utf8', maxBuffer: 1 << 30 });
  try {
    return (JSON.parse(result.stdout) as { counts?: { stale?: number } }).counts?.stale === 0;
  } catch {
    return false;
  }
}

async function sweep(base: Side, head: Side, options: CompareOptions): Promise<void> {
  const runs = options.trials * 2;
  const seeded = sweepProject(options.trials);
  await seedFinished(seeded);
  const dirs = perSide(seeded, base, head);
  const fresh = sweepProject(options.trials);
  const freshDirs = perSide(fresh, base, head);
  try {
    const build = ['experiments/sweep.yaml', '--no-commit', '--executor', 'local'];
    if ([base, head].every((side) => upToDate(side, dirs.get(side)!))) {
      for (const side of [base, head]) timeCommand(process.execPath, [side.cli, ...build], dirs.get(side)!); // writes the up-to-date stamp
      let bump = 0;
      const pairings: Pairing[] = [
        { scenario: 'no-op with a valid stamp', runs, args: build, dirs },
        { scenario: 'no-op, stamp not holding (a comment edited)', runs, args: build, dirs, before: (dir) => appendFileSync(join(dir, 'experiments', 'sweep.yaml'), '# edit\n') },
        { scenario: 'one trial changed → plan + regenerate its 2 runs', runs, args: ['build', 'experiments/sweep.yaml', '--dry-run'], dirs, before: (dir) => editTrial(dir, 0, ++bump) },
      ];
      for (const pairing of pairings) report(pairing, base, pair(pairing, base, head, options.pairs), options);
    } else if (!options.json) {
      console.log(`no-op and one-trial edit: skipped, ${base.label} does not find this tree's recorded runs up to date (its keys differ)`);
    }
    const freshPlan: Pairing = { scenario: 'plan of a fresh clone, nothing cached', runs, args: ['plan', 'experiments/sweep.yaml', '--json'], dirs: freshDirs, before: (dir) => rmSync(join(dir, '.ckbuild'), { recursive: true, force: true }) };
    report(freshPlan, base, pair(freshPlan, base, head, options.pairs), options);
  } finally {
    for (const dir of [...dirs.values(), ...freshDirs.values()]) rmSync(dir, { recursive: true, force: true });
  }
}

function local(base: Side, head: Side, options: CompareOptions): void {
  const dirs = perSide(localProject(200), base, head);
  try {
    const pairing: Pairing = { scenario: 'full local build, 200 runs, -j 2', runs: 200, args: LOCAL_BUILD, dirs, before: cleanLocal };
    report(pairing, base, pair(pairing, base, head, options.pairs), options);
  } finally {
    for (const dir of dirs.values()) rmSync(dir, { recursive: true, force: true });
  }
}

export async function compareAgainst(rev: string, options: CompareOptions): Promise<void> {
  if (options.only !== undefined && options.only !== 'sweep' && options.only !== 'local') throw new Error(`--against compares the sweep and local scenarios: --only sweep or --only local, not ${options.only}`);
  const { side: base, remove } = buildRevision(rev);
  const head: Side = { label: 'this tree', cli: join(packageRoot, 'dist', 'bundle', 'main.cjs') };
  try {
    if (!options.json) console.log(`ckbuild benchmark — this tree against ${base.label}, ${options.pairs} pairs per scenario, alternating which goes first; node ${process.version}\n`);
    if (!options.only || options.only === 'sweep') await sweep(base, head, options);
    if (!options.only || options.only === 'local') local(base, head, options);
  } finally {
    remove();
  }
}
