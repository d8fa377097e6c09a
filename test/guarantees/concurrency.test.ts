/**
 * Concurrency (issue 12): N builds of one experiment, builds of different experiments of one
 * project, and builds in several checkouts sharing a runs root, all at once. Zero duplicate
 * executions (counted by the jobs), zero overlapping executions in a run directory, zero lost
 * records (every manifest ends with every run succeeded), and a shared finished run reused.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { checkout, countedCommand, countedExperiment, executions, exitCode, overlaps, sharedDir, step } from './support.js';

const statuses = (runs: Array<{ id: string; status: string }>): string[] => runs.map((run) => `${run.id}:${run.status}`).sort();

test('four builds of one experiment at once: one builds, the others are refused by the lock; nothing runs twice, nothing is lost', async () => {
  const shared = sharedDir();
  const project = checkout({ 'experiments/exp.yaml': countedExperiment(shared) });
  const builds = Array.from({ length: 4 }, () => project.start(['experiments/exp.yaml']));
  const exits = await Promise.all(builds.map(exitCode));
  exits.forEach((exit, i) => assert.ok(exit.code === 0 || exit.code === 3, builds[i]!.output()));
  assert.ok(exits.some((exit) => exit.code === 0));
  for (const [i, exit] of exits.entries()) if (exit.code === 3) assert.match(builds[i]!.output(), /another ckbuild is building in this project/);
  const after = project.run(['experiments/exp.yaml']);
  assert.equal(after.code, 0, after.stdout + after.stderr);
  assert.deepEqual(Object.fromEntries(executions(shared)), { a: 1, b: 1, c: 1 });
  assert.deepEqual(overlaps(shared), []);
  assert.deepEqual(statuses(project.manifest().runs), ['prepare/a:succeeded', 'prepare/b:succeeded', 'prepare/c:succeeded']);
});

test('two experiments of one project sharing a step, built at once and again: the shared run executes once and both manifests record it', async () => {
  const shared = sharedDir();
  const common = step('common', countedCommand('common', shared, { sleep: 0.3 }));
  const one = `version: "1.0"\nexperiment_name: one\nprepare:\n${common}${step('x', countedCommand('x', shared, { sleep: 0.2 }))}`;
  const two = `version: "1.0"\nexperiment_name: two\nprepare:\n${common}${step('y', countedCommand('y', shared, { sleep: 0.2 }))}`;
  const project = checkout({ 'experiments/one.yaml': one, 'experiments/two.yaml': two });
  const builds = [project.start(['experiments/one.yaml']), project.start(['experiments/two.yaml'])];
  const exits = await Promise.all(builds.map(exitCode));
  exits.forEach((exit, i) => assert.ok(exit.code === 0 || exit.code === 3, builds[i]!.output()));
  for (const file of ['experiments/one.yaml', 'experiments/two.yaml']) {
    const again = project.run([file]);
    assert.equal(again.code, 0, again.stdout + again.stderr);
  }
  const counts = Object.fromEntries(executions(shared));
  assert.deepEqual(counts, { common: 1, x: 1, y: 1 }, 'the shared step (one key) executed once for both experiments');
  assert.deepEqual(statuses(project.manifest('experiments/one.manifest.json').runs), ['prepare/common:succeeded', 'prepare/x:succeeded']);
  assert.deepEqual(statuses(project.manifest('experiments/two.manifest.json').runs), ['prepare/common:succeeded', 'prepare/y:succeeded']);
});

test('three checkouts sharing a runs root, two builds started in each at once (six ckbuilds): every run once, every manifest complete', async () => {
  const shared = sharedDir();
  const root = join(shared, 'runs');
  const experiment = countedExperiment(shared, 'exp', 0.3);
  const clones = Array.from({ length: 3 }, () => checkout({ 'experiments/exp.yaml': experiment }, `runs_root: ${JSON.stringify(root)}\n`));
  const builds = clones.flatMap((clone) => [clone.start(['experiments/exp.yaml']), clone.start(['experiments/exp.yaml'])]);
  const exits = await Promise.all(builds.map(exitCode));
  exits.forEach((exit, i) => assert.ok(exit.code === 0 || exit.code === 3, builds[i]!.output()));
  for (const clone of clones) {
    const again = clone.run(['experiments/exp.yaml']);
    assert.equal(again.code, 0, again.stdout + again.stderr);
    assert.deepEqual(statuses(clone.manifest().runs), ['prepare/a:succeeded', 'prepare/b:succeeded', 'prepare/c:succeeded']);
  }
  assert.deepEqual(Object.fromEntries(executions(shared)), { a: 1, b: 1, c: 1 });
  assert.deepEqual(overlaps(shared), []);
});
