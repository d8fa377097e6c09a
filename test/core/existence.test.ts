/** Existence checks on a worker (core/existence.ts) answer as existsSync does, path by path. */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { checkExistence } from '../../core/existence.js';

test('thousands of paths are checked on a worker, a few on this thread, with the same answers', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ck-exists-'));
  const paths: string[] = [];
  for (let i = 0; i < 5000; i++) {
    const path = join(dir, `d${i % 50}`, `f${i}`);
    paths.push(path);
    // Every third missing, some in folders that do not exist, one a folder (it exists too).
    if (i % 3 === 0) continue;
    mkdirSync(join(dir, `d${i % 50}`), { recursive: true });
    if (i === 7) mkdirSync(path);
    else writeFileSync(path, '');
  }
  paths.push(join(dir, 'no-such-folder', 'x'));
  const many = checkExistence(paths);
  assert.equal(many.onWorker(), true, 'a worker answered');
  paths.forEach((path, i) => assert.equal(many.exists(i), existsSync(path), path));
  // The same worker answers the next check of the process (watch mode), about the files as they are now.
  for (let i = 1; i < 5000; i += 97) rmSync(paths[i]!, { recursive: true, force: true });
  const again = checkExistence(paths);
  assert.equal(again.onWorker(), true, 'the worker answered again');
  paths.forEach((path, i) => assert.equal(again.exists(i), existsSync(path), `again: ${path}`));
  const few = checkExistence(paths.slice(0, 10));
  assert.equal(few.onWorker(), false);
  paths.slice(0, 10).forEach((path, i) => assert.equal(few.exists(i), existsSync(path), path));
  rmSync(dir, { recursive: true, force: true });
});

test('a plan of 4,200 finished runs finds the outputs deleted since, checked on the worker', async () => {
  const { seedFinished, sweepProject } = await import('../../bench/workload.js');
  const { planExperiment } = await import('../../core/plan.js');
  const { ruleRegistry } = await import('../../rules/index.js');
  const dir = sweepProject(2100);
  const file = join(dir, 'experiments', 'sweep.yaml');
  const first = await seedFinished(dir);
  const gone = [first.runs[0]!, first.runs[2500]!, first.runs.at(-1)!];
  for (const run of gone) rmSync(join(run.runDir, 'outputs', 'done'));
  const plan = (await planExperiment(file, { rules: ruleRegistry })).plan!;
  const stale = plan.runs.filter((run) => run.state === 'stale');
  assert.deepEqual(stale.map((run) => run.id).sort(), gone.map((run) => run.id).sort());
  for (const run of stale) assert.deepEqual(run.reasons, [{ kind: 'outputs-missing', runDir: run.runDir, paths: ['outputs/done'] }]);
  assert.equal(plan.runs.length - stale.length, 4197);
  rmSync(dir, { recursive: true, force: true });
});
