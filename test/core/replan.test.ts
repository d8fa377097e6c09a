/**
 * Watch mode re-plans with the previous plan at hand. What it reuses from it (the manifest) must
 * be exactly what planning from scratch would read: reused only while the file provably has not
 * been rewritten since, and never within the second in which a rewrite may keep the mtime.
 */
import assert from 'node:assert/strict';
import { utimesSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { foreignFormats } from '../../core/formats/index.js';
import { writeManifest } from '../../core/manifest.js';
import { type Plan, planExperiment } from '../../core/plan.js';
import { baseRecord } from '../../core/records.js';
import { ruleRegistry } from '../../rules/index.js';
import { sweepProject } from '../../bench/workload.js';

async function plan(file: string, previous?: Plan): Promise<Plan> {
  const result = await planExperiment(file, { rules: ruleRegistry, foreign: foreignFormats, previous });
  assert.ok(result.plan, result.diagnostics.map((d) => d.message).join('\n'));
  return result.plan;
}

function record(plan: Plan, index: number): void {
  const run = plan.runs[index]!;
  const done = baseRecord(run, plan, new Date().toISOString());
  done.status = 'failed';
  plan.manifest.set(run.key, done);
  writeManifest(plan.manifestPath, plan.manifest);
}

const anHourAgo = (path: string): void => utimesSync(path, new Date(Date.now() - 3_600_000), new Date(Date.now() - 3_600_000));

test('a re-plan reuses the previous manifest only while its file is unchanged and older than a second', async () => {
  const file = join(sweepProject(3), 'experiments', 'sweep.yaml');
  const first = await plan(file);
  assert.equal(first.manifestStat, undefined, 'no manifest yet');

  record(first, 0);
  // Just written: its mtime cannot vouch for it yet, so the next two plans read it.
  const fresh = await plan(file, first);
  assert.equal(fresh.runs[0]!.reasons[0]!.kind, 'failed');
  const racy = await plan(file, fresh);
  assert.notEqual(racy.manifest, fresh.manifest, 'read again within the racy second');

  anHourAgo(first.manifestPath);
  const settled = await plan(file, racy);
  assert.notEqual(settled.manifest, racy.manifest, 'its mtime moved: read again');
  const reused = await plan(file, settled);
  assert.equal(reused.manifest, settled.manifest, 'unchanged and old: reused');
  assert.deepEqual(reused.runs.map((r) => [r.id, r.state]), settled.runs.map((r) => [r.id, r.state]));

  // A rewrite (a build in another process) is seen, even with its mtime put back.
  const other = await plan(file);
  record(other, 1);
  anHourAgo(first.manifestPath);
  const after = await plan(file, reused);
  assert.notEqual(after.manifest, reused.manifest);
  assert.equal(after.runs[1]!.reasons[0]!.kind, 'failed');
  const scratch = await plan(file);
  assert.deepEqual(after.runs.map((r) => [r.id, r.key, r.state]), scratch.runs.map((r) => [r.id, r.key, r.state]), 'as planned from scratch');
});

test('within() is join() for every path a run directory may be given', async () => {
  const { join } = await import('node:path');
  const { within } = await import('../../core/runDir.js');
  for (const dir of ['/', '/a', '/a/b-c', '/tmp/x y']) {
    for (const relative of ['outputs/done', 'x', '', '.', '..', './x', 'x/.', 'x/..', '../x', 'a//b', '/abs', 'a/', '.hidden', '..x', 'x..', 'a/.b/c', 'a b/c']) {
      assert.equal(within(dir, relative), join(dir, relative), `${dir} + ${relative}`);
    }
  }
});
