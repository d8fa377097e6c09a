/**
 * A shared runs root is a team cache (issue 12, item 2): checkouts of one experiment that share a
 * `runs_root` never execute a run twice, never run it concurrently in one run directory, and reuse
 * a run another checkout finished. Executions are counted by the jobs themselves.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { claimPath, claimRun, readClaim, releaseClaim } from '../../core/claim.js';
import { checkout, countedExperiment, executions, exitCode, overlaps, sharedDir } from './support.js';

const local = (root: string): string => `runs_root: ${JSON.stringify(root)}\n`;

test('four checkouts sharing a runs root build at once: each run executes once, never concurrently, and every manifest records every run', async () => {
  const shared = sharedDir();
  const root = join(shared, 'runs');
  const experiment = countedExperiment(shared);
  const clones = Array.from({ length: 4 }, () => checkout({ 'experiments/exp.yaml': experiment }, local(root)));
  const builds = clones.map((clone) => clone.start(['experiments/exp.yaml']));
  const exits = await Promise.all(builds.map(exitCode));
  exits.forEach((exit, i) => assert.equal(exit.code, 0, builds[i]!.output()));
  assert.deepEqual(Object.fromEntries(executions(shared)), { a: 1, b: 1, c: 1 }, 'each run executed exactly once across the four checkouts');
  assert.deepEqual(overlaps(shared), [], 'no two executions in one run directory at once');
  for (const clone of clones) {
    const runs = clone.manifest().runs;
    assert.deepEqual(runs.map((run) => `${run.id}:${run.status}`).sort(), ['prepare/a:succeeded', 'prepare/b:succeeded', 'prepare/c:succeeded']);
    assert.equal(clone.git('status', '--porcelain', '--', 'experiments').trim(), '', 'the manifest is committed in every checkout');
  }
  const waited = builds.filter((build) => /\bwait\b|\breuse\b|found/.test(build.output())).length;
  assert.ok(waited >= 1, 'at least one checkout waited for or reused another one’s run');
  // No claim is left behind once every run has its verdict.
  for (const dir of readdirSync(root).filter((entry) => !entry.startsWith('.'))) assert.equal(existsSync(claimPath(join(root, dir))), false, dir);
});

test('a run another checkout finished is reused: recorded as succeeded here, not executed again', () => {
  const shared = sharedDir();
  const root = join(shared, 'runs');
  const experiment = countedExperiment(shared, 'exp', 0);
  const first = checkout({ 'experiments/exp.yaml': experiment }, local(root));
  assert.equal(first.run(['experiments/exp.yaml']).code, 0);
  const second = checkout({ 'experiments/exp.yaml': experiment }, local(root));
  const reused = second.run(['experiments/exp.yaml']);
  assert.equal(reused.code, 0, reused.stdout + reused.stderr);
  assert.deepEqual(Object.fromEntries(executions(shared)), { a: 1, b: 1, c: 1 });
  assert.ok(second.manifest().runs.every((run) => run.status === 'succeeded'));
  assert.match(second.git('log', '-1', '--format=%s'), /3 runs succeeded/);
});

test('a run claimed by a live process is waited for, then run once its claimer goes away without a verdict; a dead claimer’s claim is taken over', async () => {
  const shared = sharedDir();
  const root = join(shared, 'runs');
  const experiment = countedExperiment(shared, 'exp', 0);
  const project = checkout({ 'experiments/exp.yaml': experiment }, local(root));
  assert.equal(project.run(['experiments/exp.yaml', '--dry-run']).code, 0);
  const runDir = (step: string): string => join(root, readdirSync(root).find((entry) => entry.endsWith(step) || entry.includes(`-${step}`))!);
  const dirs = readdirSync(root).filter((entry) => !entry.startsWith('.'));
  assert.equal(dirs.length, 3);
  // A claim by a live process (a sleeper standing in for another checkout's ckbuild) on every run,
  // and one by a process that has exited.
  // Long enough to outlive a slow start of the build on a loaded machine.
  const sleeper = spawn('sleep', ['8'], { stdio: 'ignore' });
  const dead = spawn('true', [], { stdio: 'ignore' });
  await exitCode(dead);
  const claim = (dir: string, pid: number): void => {
    mkdirSync(join(root, dir, 'metadata'), { recursive: true });
    writeFileSync(claimPath(join(root, dir)), JSON.stringify({ key: 'x', host: hostname(), pid, checkout: '/elsewhere', started_at: new Date().toISOString(), nonce: `n${pid}` }));
  };
  claim(dirs[0]!, sleeper.pid!);
  claim(dirs[1]!, dead.pid!);
  claim(dirs[2]!, sleeper.pid!);
  const started = Date.now();
  const built = project.run(['experiments/exp.yaml']);
  assert.equal(built.code, 0, built.stdout + built.stderr);
  assert.match(built.stdout, /wait .*claimed by pid \d+ on /);
  assert.ok(Date.now() - started >= 1500, 'it waited for the live claim');
  assert.deepEqual(Object.fromEntries(executions(shared)), { a: 1, b: 1, c: 1 });
  assert.ok(project.manifest().runs.every((run) => run.status === 'succeeded'));
  void runDir;
});

test('claims: the second claimer sees the holder; a released claim can be taken again', () => {
  const shared = sharedDir();
  const dir = join(shared, 'run');
  mkdirSync(join(dir, 'metadata'), { recursive: true });
  const first = claimRun(dir, 'k', '/a');
  assert.equal(first.claimed, true);
  const second = claimRun(dir, 'k', '/b');
  assert.ok(!second.claimed && 'holder' in second && second.holder.checkout === '/a', 'the live holder is reported');
  if (first.claimed) releaseClaim(first.claim);
  assert.equal(readClaim(dir), undefined);
  const third = claimRun(dir, 'k', '/b');
  assert.equal(third.claimed, true);
});
