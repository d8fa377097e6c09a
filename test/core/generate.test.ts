/**
 * Generation publishes a run directory with one rename of a folder assembled in runs/.partial/.
 * A folder left there by a generation that was killed is removed by the next generation, unless
 * its process still lives; the runs root itself is never listed to find them.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { join } from 'node:path';
import { test } from 'node:test';
import { generateTargets } from '../../core/build.js';
import { foreignFormats } from '../../core/formats/index.js';
import { planExperiment } from '../../core/plan.js';
import { runSpecPath } from '../../core/runDir.js';
import { selectTargets } from '../../core/targets.js';
import { ruleRegistry } from '../../rules/index.js';
import { sweepProject } from '../../bench/workload.js';

/** A pid no process has: beyond the kernel's pid_max. */
const DEAD_PID = 4_194_304 + 1;

test('a killed generation’s staging folder is removed by the next generation; a live one is left alone', async () => {
  const file = join(sweepProject(3), 'experiments', 'sweep.yaml');
  const result = await planExperiment(file, { rules: ruleRegistry, foreign: foreignFormats });
  assert.ok(result.plan);
  const plan = result.plan;
  const [first, second, third] = plan.runs;
  const staging = join(plan.runsRoot, '.partial');
  mkdirSync(staging, { recursive: true });
  const dead = join(staging, `${basename(first!.runDir)}.${DEAD_PID}`);
  const live = join(staging, `${basename(second!.runDir)}.1`); // pid 1 always runs
  const reused = join(staging, `${basename(third!.runDir)}.${process.pid}`); // a pid reused since
  for (const leftover of [dead, live, reused]) {
    mkdirSync(join(leftover, 'config'), { recursive: true });
    writeFileSync(join(leftover, 'config', 'run.json'), '{"half": true');
  }
  const generation = generateTargets(plan, selectTargets(plan), ruleRegistry);
  assert.deepEqual(generation.diagnostics, []);
  assert.equal(generation.runs.size, plan.runs.length);
  assert.equal(existsSync(dead), false, 'the dead generation’s folder is gone');
  assert.equal(existsSync(live), true, 'a live process’s folder is not touched');
  assert.ok(existsSync(runSpecPath(first!.runDir)), 'and its run directory published');
  assert.equal(existsSync(reused), false);
  assert.notEqual(readFileSync(runSpecPath(third!.runDir), 'utf8'), '{"half": true', 'a folder left under this process’s pid is not published as it was');
  assert.deepEqual(readdirSync(staging), [basename(live)], 'only the live process’s folder is left in runs/.partial/');
  assert.ok(readdirSync(plan.runsRoot).every((name) => name === '.partial' || name === '.gitignore' || plan.runs.some((run) => basename(run.runDir) === name)), 'nothing staged beside the run directories');
});

test('a runs root deleted between two generations of one process gets its .gitignore back', async () => {
  const file = join(sweepProject(2), 'experiments', 'sweep.yaml');
  const result = await planExperiment(file, { rules: ruleRegistry, foreign: foreignFormats });
  assert.ok(result.plan);
  const plan = result.plan;
  const marker = join(plan.runsRoot, '.gitignore');
  assert.deepEqual(generateTargets(plan, selectTargets(plan), ruleRegistry).diagnostics, []);
  assert.match(readFileSync(marker, 'utf8'), /^\*$/m);
  // As in watch mode: the user removes runs/, the next save regenerates in the same process.
  rmSync(plan.runsRoot, { recursive: true, force: true });
  assert.deepEqual(generateTargets(plan, selectTargets(plan), ruleRegistry).diagnostics, []);
  assert.ok(existsSync(runSpecPath(plan.runs[0]!.runDir)), 'the run directory is there again');
  assert.match(readFileSync(marker, 'utf8'), /^\*$/m, 'and runs/ is ignored by git again');
});
