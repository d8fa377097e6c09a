/**
 * Keys never change as a side effect. Every run key of the example experiments and of the
 * earlier toolkit's fixtures is pinned in test/fixtures/keys.json: a refactor, a new cache or a
 * faster planner must leave them identical. A deliberate change of identity (a rule's version, the
 * hash scheme) rewrites the file with UPDATE_KEYS=1 and says so in its commit.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { foreignFormats } from '../../core/formats/index.js';
import { planExperiment } from '../../core/plan.js';
import { ruleRegistry } from '../../rules/index.js';
import { place } from '../formats/fixtures.js';
import { projectRoot } from '../helpers/paths.js';
import { sweepProject } from '../../bench/workload.js';

const KEYS_FILE = join(projectRoot, 'test', 'fixtures', 'keys.json');

async function keysOf(file: string): Promise<Record<string, string>> {
  const result = await planExperiment(file, { rules: ruleRegistry, foreign: foreignFormats });
  assert.ok(result.plan, `${file} does not plan:\n${result.diagnostics.map((d) => d.message).join('\n')}`);
  return Object.fromEntries(result.plan.runs.map((run) => [run.id, run.key]));
}

/** The repository's own experiments, planned in a copy (planning writes the stat cache). */
function exampleProject(): string {
  const dir = mkdtempSync(join(tmpdir(), 'ckbuild-keys-'));
  mkdirSync(join(dir, '.git'));
  for (const folder of ['experiments', 'data', 'tasks', 'tutorial']) cpSync(join(projectRoot, folder), join(dir, folder), { recursive: true });
  return dir;
}

test('every run key of the examples and fixtures is unchanged', async () => {
  const examples = exampleProject();
  const actual: Record<string, Record<string, string>> = {
    'experiments/cap.yaml': await keysOf(join(examples, 'experiments', 'cap.yaml')),
    'experiments/tutorial.yaml': await keysOf(join(examples, 'experiments', 'tutorial.yaml')),
  };
  for (const fixture of ['base_vs_instruct', 'rank_lr_sweep']) {
    // Eval-only checkpoints are named by absolute path (a parameter of their cells): a fixed
    // folder, whatever TMPDIR says (the test runner points it at a folder of its own per run).
    const dir = join('/tmp', `ckbuild-keys-${fixture}`);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir);
    try {
      actual[`cruijff/${fixture}`] = await keysOf(place(fixture, (text) => text, dir).file);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  // The benchmark's sweep, small: what `npm run bench` measures is planned with the same keys.
  const sweep = sweepProject(25, join(tmpdir(), 'ckbuild-keys-bench-sweep'));
  actual['bench/sweep (25 trials)'] = await keysOf(join(sweep, 'experiments', 'sweep.yaml'));
  if (process.env.UPDATE_KEYS === '1') writeFileSync(KEYS_FILE, JSON.stringify(actual, null, 2) + '\n');
  const expected = JSON.parse(readFileSync(KEYS_FILE, 'utf8')) as typeof actual;
  assert.deepEqual(actual, expected);
});
