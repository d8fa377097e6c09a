/**
 * Crash injection against the real local SLURM (issue 12): a build submitting to the cluster is
 * killed with SIGKILL at every named point it passes (CKBUILD_TEST_CRASH_AT), then rerun with
 * --wait. Afterwards each run was submitted and executed exactly once — counted by the jobs
 * themselves, which append to a counter file, not from ckbuild's records — every run is recorded
 * succeeded, and the manifest is committed. Imported by slurm.test.ts (one cluster, one file).
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { slurmSkipReason } from '../helpers/slurm.js';
import { checkout, countedExperiment, executions, exitCode, overlaps, sharedDir } from '../guarantees/support.js';

const skip = slurmSkipReason();

/** Last figures, for the README's Guarantees section. */
export const slurmCrashFigures = { points: 0, crashed: 0, notReached: [] as string[] };

describe('crash injection on SLURM', { skip: skip ?? false, concurrency: false }, () => {
  test('killed at every crash point of a SLURM build, then rerun: each run submitted and executed exactly once, all recorded', { timeout: 600_000 }, async () => {
    const slurm = ['experiments/exp.yaml', '--executor', 'slurm'];
    const traceShared = sharedDir();
    const traced = checkout({ 'experiments/exp.yaml': countedExperiment(traceShared, 'exp', 0.2) });
    const trace = join(traceShared, 'trace');
    // Traced as it is killed: a build that submits and returns (no --wait).
    const clean = traced.run(slurm, { CKBUILD_TEST_CRASH_TRACE: trace });
    assert.equal(clean.code, 0, clean.stdout + clean.stderr);
    const points = [...new Set(readFileSync(trace, 'utf8').split('\n').filter(Boolean))];
    for (const point of ['after-generate:1', 'before-submit:1', 'after-submit:1', 'before-commit:1', 'after-commit:1']) assert.ok(points.includes(point), `${point} in ${points.join(' ')}`);
    slurmCrashFigures.points = points.length;

    const failures: string[] = [];
    for (const point of points) {
      const shared = sharedDir();
      const project = checkout({ 'experiments/exp.yaml': countedExperiment(shared, 'exp', 0.2) });
      const killed = project.start(slurm, { CKBUILD_TEST_CRASH_AT: point });
      const exit = await exitCode(killed);
      if (exit.signal === 'SIGKILL') slurmCrashFigures.crashed++;
      else slurmCrashFigures.notReached.push(point);
      // The rerun adopts what the dead build submitted and waits for every run to finish.
      const rerun = project.run([...slurm, '--wait'], {}, 180_000);
      const problems: string[] = [];
      if (rerun.code !== 0) problems.push(`rerun exited ${rerun.code}: ${rerun.stdout.slice(-800)}${rerun.stderr.slice(-800)}`);
      const counts = Object.fromEntries([...executions(shared)].sort());
      if (JSON.stringify(counts) !== '{"a":1,"b":1,"c":1}') problems.push(`executions ${JSON.stringify(counts)}`);
      if (overlaps(shared).length > 0) problems.push(`overlapping executions ${overlaps(shared).join(',')}`);
      const statuses = project.manifest().runs.map((run) => `${run.id}:${run.status}`).sort();
      if (statuses.join(' ') !== 'prepare/a:succeeded prepare/b:succeeded prepare/c:succeeded') problems.push(`manifest ${statuses.join(' ')}`);
      if (project.git('status', '--porcelain', '--', 'experiments').trim() !== '') problems.push('manifest left uncommitted');
      if (problems.length > 0) failures.push(`${point}: ${problems.join('; ')}`);
    }
    writeFileSync(join(traceShared, '..', 'ckbuild-slurm-crash-figures.json'), JSON.stringify(slurmCrashFigures));
    assert.deepEqual(failures, []);
    assert.ok(slurmCrashFigures.crashed >= points.length - 2, `most points were reached: ${JSON.stringify(slurmCrashFigures)}`);
  });
});
