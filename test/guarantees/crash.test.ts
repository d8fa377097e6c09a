/**
 * Crash injection (issue 12): a real build (the real CLI, the local executor, a temp git repo) is
 * killed with SIGKILL at every named point it passes (CKBUILD_TEST_CRASH_AT, core/crash.ts), then
 * rerun. Afterwards the manifest accounts for every run, each run executed exactly once, counted
 * by the jobs themselves, never two at once in one run directory, and the manifest is committed.
 * One of the jobs prints hundreds of lines (a job that prints must survive its ckbuild).
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { claimPath } from '../../core/claim.js';
import { checkout, countedExperiment, executions, exitCode, jobsGone, overlaps, sharedDir } from './support.js';

/** Last figures, for the README's Guarantees section (written under the system temp folder). */
export const figures: { points: number; crashed: number; notReached: string[] } = { points: 0, crashed: 0, notReached: [] };

test('killed at every crash point of a build, then rerun: every run recorded, each executed exactly once, manifest committed', { timeout: 300_000 }, async () => {
  // 1. The points a clean build passes, in order.
  const traceShared = sharedDir();
  const traced = checkout({ 'experiments/exp.yaml': countedExperiment(traceShared, 'exp', 0.2) });
  const trace = join(traceShared, 'trace');
  const clean = traced.run(['experiments/exp.yaml'], { CKBUILD_TEST_CRASH_TRACE: trace });
  assert.equal(clean.code, 0, clean.stdout + clean.stderr);
  const points = readFileSync(trace, 'utf8').split('\n').filter(Boolean);
  for (const point of ['after-generate:1', 'before-submit:3', 'after-submit:3', 'before-manifest-write:1', 'after-manifest-write:1', 'before-commit:1', 'after-commit:1']) assert.ok(points.includes(point), `${point} in ${points.join(' ')}`);
  figures.points = points.length;

  // 2. Each point: a fresh checkout, killed there, then rerun; two cases at a time.
  const failures: string[] = [];
  const queue = [...points];
  const worker = async (): Promise<void> => {
    for (let point = queue.shift(); point !== undefined; point = queue.shift()) {
      const shared = sharedDir();
      const project = checkout({ 'experiments/exp.yaml': countedExperiment(shared, 'exp', 0.2) });
      const killed = project.start(['experiments/exp.yaml'], { CKBUILD_TEST_CRASH_AT: point });
      const exit = await exitCode(killed);
      if (exit.signal === 'SIGKILL') figures.crashed++;
      else figures.notReached.push(point); // a batched manifest write that this run's timing skipped
      const rerun = project.start(['experiments/exp.yaml']);
      const again = await exitCode(rerun);
      await jobsGone(project.dir);
      const problems: string[] = [];
      if (again.code !== 0) problems.push(`rerun exited ${again.code}: ${rerun.output()}`);
      const counts = Object.fromEntries(executions(shared));
      if (JSON.stringify(counts) !== JSON.stringify({ a: 1, b: 1, c: 1 }) && JSON.stringify(Object.fromEntries(Object.entries(counts).sort())) !== '{"a":1,"b":1,"c":1}') problems.push(`executions ${JSON.stringify(counts)}`);
      if (overlaps(shared).length > 0) problems.push(`overlapping executions ${overlaps(shared).join(',')}`);
      const statuses = existsSync(project.path('experiments/exp.manifest.json')) ? project.manifest().runs.map((run) => `${run.id}:${run.status}`).sort() : [];
      if (statuses.join(' ') !== 'prepare/a:succeeded prepare/b:succeeded prepare/c:succeeded') problems.push(`manifest ${statuses.join(' ')}`);
      if (project.git('status', '--porcelain', '--', 'experiments').trim() !== '') problems.push('manifest left uncommitted');
      const runs = project.path('runs');
      for (const dir of existsSync(runs) ? readdirSync(runs).filter((d) => !d.startsWith('.')) : []) if (existsSync(claimPath(join(runs, dir)))) problems.push(`claim left in ${dir}`);
      const third = project.run(['experiments/exp.yaml']);
      if (third.code !== 0 || !/up to date/.test(third.stdout)) problems.push(`a third build is not a no-op (exit ${third.code}): ${third.stdout}${third.stderr}`);
      if (problems.length > 0) failures.push(`${point}: ${problems.join('; ')}`);
    }
  };
  await Promise.all([worker(), worker()]);
  writeFileSync(join(traceShared, '..', 'ckbuild-crash-figures.json'), JSON.stringify(figures));
  assert.deepEqual(failures, []);
  assert.ok(figures.crashed >= points.length - 4, `most points were reached: ${JSON.stringify(figures)}`);
});
