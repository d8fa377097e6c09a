/** Checks of recorded outputs on a worker (core/existence.ts) answer as existsSync does, output by output. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { checkRecordedOutputs, type RecordedOutputList } from '../../core/existence.js';
import { readableName } from '../../core/names.js';
import { runDirName } from '../../core/runDir.js';

test('thousands of records are checked on a worker, a few on this thread, with the same answers', () => {
  const runsRoot = mkdtempSync(join(tmpdir(), 'ck-exists-'));
  // Lists shared by many records, one with paths that join normalises (`./`, `//`).
  const lists = [['outputs/done'], ['outputs/a', 'outputs/b'], ['./outputs//c']];
  const list: RecordedOutputList = { runsRoot, keys: [], lists, listOf: [] };
  const runDirOf = (key: string): string => join(runsRoot, runDirName(key, readableName(key)));
  for (let i = 0; i < 5000; i++) {
    const key = createHash('sha256').update(String(i)).digest('hex');
    list.keys.push(key);
    list.listOf.push(i % 3);
    // Every fifth run directory is gone; of the rest, every seventh output is missing, one is a folder.
    if (i % 5 === 0) continue;
    lists[i % 3]!.forEach((path, j) => {
      const file = join(runDirOf(key), path);
      mkdirSync(join(file, '..'), { recursive: true });
      if (i === 7 && j === 0) mkdirSync(file);
      else if ((i + j) % 7 !== 0) writeFileSync(file, '');
    });
  }
  const expected = (count: number): Map<string, string[]> => {
    const missing = new Map<string, string[]>();
    for (let i = 0; i < count; i++) {
      const key = list.keys[i]!;
      const gone = lists[list.listOf[i]!]!.filter((path) => !existsSync(join(runDirOf(key), path)));
      if (gone.length > 0) missing.set(key, gone);
    }
    return missing;
  };
  const answers = (check: ReturnType<typeof checkRecordedOutputs>, count: number): Map<string, string[]> => {
    const missing = new Map<string, string[]>();
    for (const key of list.keys.slice(0, count)) if (check.missing(key).length > 0) missing.set(key, [...check.missing(key)]);
    return missing;
  };
  const many = checkRecordedOutputs(list);
  assert.equal(many.onWorker(), true, 'a worker answered');
  const first = expected(5000);
  assert.ok(first.size > 1000 && first.size < 5000);
  assert.deepEqual(answers(many, 5000), first);
  assert.deepEqual(many.missing('not a key of the list'), []);
  // The same worker answers the next check of the process (watch mode), about the files as they are now.
  for (let i = 1; i < 5000; i += 97) rmSync(runDirOf(list.keys[i]!), { recursive: true, force: true });
  const again = checkRecordedOutputs(list);
  assert.equal(again.onWorker(), true, 'the worker answered again');
  assert.deepEqual(answers(again, 5000), expected(5000));
  const few = checkRecordedOutputs({ ...list, keys: list.keys.slice(0, 10), listOf: list.listOf.slice(0, 10) });
  assert.equal(few.onWorker(), false);
  assert.deepEqual(answers(few, 10), expected(10));
  rmSync(runsRoot, { recursive: true, force: true });
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
