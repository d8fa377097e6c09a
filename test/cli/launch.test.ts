/**
 * The bin runs the bundle from V8's code cache made at build time (cli/launch.ts): a copy of the
 * built bundle, its cache removed, damaged or made again, must run the same commands alike.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { bundleScript, codeCachePath } from '../../cli/codeCache.js';
import { projectRoot } from '../helpers/paths.js';
import { TempProject } from '../helpers/project.js';

const cacheOf = (bundle: string): string[] => readdirSync(bundle).filter((name) => name.startsWith('ckbuild.') && name.endsWith('.v8cache'));

/** Whether V8 takes `cache` for the bundle in `bundle`, compiled as the bin compiles it. */
function accepted(bundle: string, cache: string): boolean {
  const file = join(bundle, 'ckbuild.cjs');
  return !bundleScript(readFileSync(file, 'utf8'), file, readFileSync(join(bundle, cache))).cachedDataRejected;
}

test('the bin runs its bundle from the build’s code cache, and alike without it or with a damaged one', () => {
  const built = join(projectRoot, 'dist', 'bundle');
  const [made] = cacheOf(built);
  assert.ok(made, 'the build made a code cache');
  assert.equal(codeCachePath(built, readFileSync(join(built, 'ckbuild.cjs'), 'utf8')), join(built, made), 'named by the build id at the end of the bundle');
  assert.equal(accepted(built, made), true, 'and V8 takes it for this Node');

  // A copy inside the package (the bundle finds its templates from there), to damage.
  const copy = join(mkdtempSync(join(projectRoot, 'dist', 'launch-test-')), 'bundle');
  cpSync(built, copy, { recursive: true });
  const project = new TempProject();
  try {
    project.write('.gitignore', 'runs/\n.ckbuild/\n');
    project.write('experiments/exp.yaml', 'version: "1.0"\nexperiment_name: exp\nprepare:\n  hello:\n    command: \'echo hi > "$CK_OUTPUTS/x"\'\n    outputs: [x]\n');
    project.git('add', '.');
    project.git('commit', '-qm', 'experiment');
    const planWith = (env: Record<string, string> = {}) => {
      const result = spawnSync(process.execPath, [join(copy, 'main.cjs'), 'plan', 'experiments/exp.yaml', '--json'], { cwd: project.dir, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', ...env } });
      assert.equal(result.status, 0, result.stderr);
      return (JSON.parse(result.stdout) as { runs: Array<{ id: string; key: string }> }).runs.map((run) => [run.id, run.key]);
    };
    const withCache = planWith();

    writeFileSync(join(copy, made), Buffer.from('not a code cache'));
    assert.deepEqual(planWith(), withCache, 'a damaged cache: V8 refuses it, the bundle compiles');

    rmSync(join(copy, made));
    assert.deepEqual(planWith(), withCache, 'no cache at all');
    assert.deepEqual(cacheOf(copy), [], 'and none is written unless asked');

    assert.deepEqual(planWith({ CKBUILD_WRITE_CODE_CACHE: '1' }), withCache);
    assert.deepEqual(cacheOf(copy), [made], 'asked: the cache is written again, under the same name');
    assert.equal(accepted(copy, made), true);
  } finally {
    rmSync(dirname(copy), { recursive: true, force: true });
  }
});
