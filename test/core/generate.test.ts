/**
 * Generation publishes a run directory with one rename of a staging folder beside it. A folder
 * left by a generation that was killed is removed by the next one for the same run, unless its
 * process still lives; the runs root is listed once per plan, not once per run.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
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

test('a killed generation’s staging folder is removed by the next generation of that run; a live one is left alone', async () => {
  const file = join(sweepProject(3), 'experiments', 'sweep.yaml');
  const result = await planExperiment(file, { rules: ruleRegistry, foreign: foreignFormats });
  assert.ok(result.plan);
  const plan = result.plan;
  const [first, second] = plan.runs;
  mkdirSync(plan.runsRoot, { recursive: true });
  const dead = `${first!.runDir}.partial-${DEAD_PID}`;
  const live = `${second!.runDir}.partial-1`; // pid 1 always runs
  for (const leftover of [dead, live]) {
    mkdirSync(leftover);
    writeFileSync(join(leftover, 'run.json'), '{"half": true');
  }
  const generation = generateTargets(plan, selectTargets(plan), ruleRegistry);
  assert.deepEqual(generation.diagnostics, []);
  assert.equal(generation.runs.size, plan.runs.length);
  assert.equal(existsSync(dead), false, 'the dead generation’s folder is gone');
  assert.equal(existsSync(live), true, 'a live process’s folder is not touched');
  assert.ok(existsSync(runSpecPath(first!.runDir)), 'and its run directory published');
  const partial = readdirSync(plan.runsRoot).filter((name) => name.includes('.partial-'));
  assert.deepEqual(partial, [live.slice(plan.runsRoot.length + 1)]);
});
