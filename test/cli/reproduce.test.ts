/**
 * `ckbuild reproduce <run>` end to end: the real CLI in real git repositories, command-rule runs
 * executed by the local executor. A run is recorded, the experiment (and its dataset) change and
 * are committed, and the old run is reproduced from its record alone.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { TempProject } from '../helpers/project.js';

const EXPERIMENT = (x: number) => `version: "1.0"
experiment_name: exp
prepare:
  a:
    command: 'tr a-z A-Z < "$CK_INPUT_DATA_WORDS_TXT" > "$CK_OUTPUTS/a.txt"; echo "{\\"score\\": $CK_PARAM_X, \\"noise\\": $(cat "$CK_PROJECT_DIR/noise" 2>/dev/null || echo 0)}" > "$CK_OUTPUTS/metrics.json"; echo a >> "$CK_PROJECT_DIR/ran.log"'
    inputs: [data/words.txt]
    outputs: [a.txt, metrics.json]
    params: { x: ${x} }
  b:
    command: 'cat "$CK_NEEDS_A/a.txt" "$CK_NEEDS_A/a.txt" > "$CK_OUTPUTS/b.txt"; echo b >> "$CK_PROJECT_DIR/ran.log"'
    needs: [a]
    outputs: [b.txt]
`;

function setup(): TempProject {
  const project = new TempProject();
  project.write('.gitignore', 'runs/\n.ckbuild/\nran.log\nnoise\n');
  project.write('data/words.txt', 'apple\nbanana\n');
  project.write('experiments/exp.yaml', EXPERIMENT(1));
  project.git('add', '.');
  project.git('commit', '-qm', 'experiment');
  return project;
}

type Rec = { id: string; key: string; name: string; status: string; run_dir: string; artifacts?: Record<string, string>; env?: { git_clean?: boolean; ckbuild?: string }; reproductions?: Array<{ verdict: string; run_dir: string; inputs: Record<string, string>; metrics: Record<string, { recorded: unknown; reproduced: unknown; difference: number | null; tolerance: number; within: boolean }> }> };
const records = (project: TempProject): Rec[] => project.manifest().runs as unknown as Rec[];
const recordOf = (project: TempProject, id: string, key?: string): Rec => records(project).find((r) => r.id === id && (key === undefined || r.key === key))!;
const ran = (dir: string): string[] => (existsSync(join(dir, 'ran.log')) ? readFileSync(join(dir, 'ran.log'), 'utf8').trim().split('\n') : []);

/** The old run of `a` and `b`, then the experiment and dataset changed, committed and rebuilt. */
function recordThenChange(): { project: TempProject; oldA: Rec; oldB: Rec } {
  const project = setup();
  const first = project.run(['experiments/exp.yaml']);
  assert.equal(first.code, 0, first.stdout + first.stderr);
  const oldA = recordOf(project, 'prepare/a');
  const oldB = recordOf(project, 'prepare/b');
  project.write('data/words.txt', 'cherry\n');
  project.write('experiments/exp.yaml', EXPERIMENT(2));
  project.git('commit', '-qam', 'new data, x=2');
  const second = project.run(['experiments/exp.yaml']);
  assert.equal(second.code, 0, second.stdout + second.stderr);
  return { project, oldA, oldB };
}

test('reproduce an old run by key prefix after the experiment and its dataset changed: artifacts byte-identical, input restored from history, the command re-executed, metrics compared and recorded', () => {
  const { project, oldA } = recordThenChange();
  assert.ok(oldA.artifacts && Object.keys(oldA.artifacts).includes('config/job.sh'), 'new records carry artifact hashes');
  assert.equal(oldA.env?.git_clean, true, 'the record says the working tree was clean');
  const before = ran(project.dir).length;

  const result = project.run(['reproduce', oldA.key.slice(0, 8)]);
  assert.equal(result.code, 0, result.stdout + result.stderr);
  assert.match(result.stdout, /input data\/words\.txt: data\/words\.txt sha256 [0-9a-f]{12}… restored from git \(commit [0-9a-f]{12}\)/);
  assert.match(result.stdout, /artifacts: 4 files byte-identical to the record/);
  assert.match(result.stdout, /outputs\/a\.txt identical/);
  assert.match(result.stdout, /score\s+1\s+1\s+\+0\s+0\s+ok/);
  assert.match(result.stdout, /verdict: reproduced exactly/);
  assert.deepEqual(ran(project.dir).slice(before), ['a'], 'the command step ran again, alone');

  // A fresh run directory beside the original; its artifacts are the original's, byte for byte
  // once the run directory's own path is set aside (it is the only difference).
  const original = project.path(oldA.run_dir);
  const fresh = `${original}.reproduce-1`;
  assert.ok(existsSync(fresh));
  assert.equal(readFileSync(join(fresh, 'outputs', 'a.txt'), 'utf8'), 'APPLE\nBANANA\n', 'the recorded dataset, not the current one');
  for (const file of ['config/command.sh', 'inputs/inputs.json']) assert.equal(readFileSync(join(fresh, file), 'utf8'), readFileSync(join(original, file), 'utf8'), file);
  assert.equal(readFileSync(join(fresh, 'config/job.sh'), 'utf8').split(fresh).join('<dir>'), readFileSync(join(original, 'config/job.sh'), 'utf8').split(original).join('<dir>'));
  assert.equal(readFileSync(project.path('data/words.txt'), 'utf8'), 'cherry\n', 'the working tree is left as it was');

  // Recorded in the new run directory and in the manifest record, and committed.
  const reproduction = JSON.parse(readFileSync(join(fresh, 'metadata', 'reproduction.json'), 'utf8')) as { of: string; verdict: string };
  assert.equal(reproduction.of, oldA.key);
  assert.equal(reproduction.verdict, 'reproduced exactly');
  const entry = recordOf(project, 'prepare/a', oldA.key).reproductions![0]!;
  assert.equal(entry.verdict, 'reproduced exactly');
  assert.match(entry.inputs['data/words.txt']!, /^git [0-9a-f]{40}$/);
  assert.deepEqual(entry.metrics.score, { recorded: 1, reproduced: 1, difference: 0, tolerance: 0, within: true });
  assert.match(project.git('log', '-1', '--format=%s'), /^exp: reproduced prepare\/a \([0-9a-f]{12}\)$/m);
  assert.equal(project.git('status', '--porcelain', '--', 'experiments').trim(), '');

  // --dry-run verifies and compares, and writes nothing.
  const dry = project.run(['reproduce', oldA.key.slice(0, 8), '--dry-run']);
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(dry.stdout, /dry run: inputs verified and artifacts compared; nothing was written or executed/);
  assert.equal(existsSync(`${original}.reproduce-2`), false);
});

test('a metric that is not bit-reproducible: outside the default exact tolerance the verdict is "differs", inside a declared --tolerance it is reproduced', () => {
  const project = setup();
  project.write('noise', '5');
  assert.equal(project.run(['experiments/exp.yaml']).code, 0);
  const a = recordOf(project, 'prepare/a');
  project.write('noise', '7');
  const exact = project.run(['reproduce', a.name]);
  assert.equal(exact.code, 1, exact.stdout + exact.stderr);
  assert.match(exact.stdout, /noise\s+5\s+7\s+\+2\s+0\s+outside/);
  assert.match(exact.stdout, /verdict: differs/);
  const tolerant = project.run(['reproduce', a.name, '--tolerance', 'noise=2.5']);
  assert.equal(tolerant.code, 0, tolerant.stdout + tolerant.stderr);
  assert.match(tolerant.stdout, /noise\s+5\s+7\s+\+2\s+2\.5\s+ok/);
  assert.match(tolerant.stdout, /outputs\/metrics\.json different/);
  assert.match(tolerant.stdout, /verdict: reproduced within tolerance/);
  const bad = project.run(['reproduce', a.name, '--tolerance', 'noise']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--tolerance takes METRIC=ABSOLUTE/);
  // Declared in the experiment (no run key changes), and --tolerance still overrides it per metric.
  project.write('experiments/exp.yaml', `${project.read('experiments/exp.yaml')}reproduce:\n  tolerances: { noise: 3 }\n`);
  assert.equal(project.run(['plan', 'experiments/exp.yaml', '--json']).code, 0);
  const declared = project.run(['reproduce', a.name]);
  assert.equal(declared.code, 0, declared.stdout + declared.stderr);
  assert.match(declared.stdout, /tolerances declared in experiments\/exp\.yaml: noise ±3/);
  assert.match(declared.stdout, /noise\s+5\s+7\s+\+2\s+3\s+ok/);
  const overridden = project.run(['reproduce', a.name, '--tolerance', 'noise=1']);
  assert.equal(overridden.code, 1, overridden.stdout + overridden.stderr);
  assert.match(overridden.stdout, /noise\s+5\s+7\s+\+2\s+1\s+outside/);
});

test('an input found nowhere (changed, never committed, no snapshot) stops with its name and expected hash; nothing runs', () => {
  const project = new TempProject();
  project.write('.gitignore', 'runs/\n.ckbuild/\nran.log\n');
  project.write('experiments/exp.yaml', EXPERIMENT(1));
  project.git('add', '.');
  project.git('commit', '-qm', 'experiment; the dataset is never committed');
  project.write('data/words.txt', 'apple\n');
  assert.equal(project.run(['experiments/exp.yaml']).code, 0);
  const a = recordOf(project, 'prepare/a');
  assert.equal(a.env?.git_clean, false, 'the record says the dataset was not committed');
  const expected = (project.manifest().runs.find((r) => r.key === a.key)!.inputs as Record<string, { sha256: string }>)['data/words.txt']!.sha256;
  project.write('data/words.txt', 'changed\n');
  rmSync(project.path(a.run_dir), { recursive: true, force: true }); // and its inputs/ snapshot with it
  const before = ran(project.dir).length;
  const result = project.run(['reproduce', a.key.slice(0, 10)]);
  assert.equal(result.code, 2, result.stdout + result.stderr);
  assert.match(result.stderr, new RegExp(`input data/words\\.txt \\(data/words\\.txt\\) must hash to sha256 ${expected}: the working-tree file hashes to [0-9a-f]{12}…, no version in git history has that hash, and no inputs/ snapshot`));
  assert.match(result.stderr, /was not reproduced: nothing was written or run/);
  assert.equal(ran(project.dir).length, before);
  assert.deepEqual(readdirSync(project.path('runs')).filter((d) => d.startsWith(a.key.slice(0, 16))), []);

  // With the snapshot still there (the run directory kept), the input is restored from it.
  const other = setup();
  assert.equal(other.run(['experiments/exp.yaml']).code, 0);
  const otherA = recordOf(other, 'prepare/a');
  other.write('data/words.txt', 'uncommitted edit\n');
  other.git('rm', '-q', '--cached', 'data/words.txt');
  other.git('commit', '-qm', 'untrack the dataset');
  // The committed version is still in history: restored from git first.
  const fromGit = other.run(['reproduce', otherA.key.slice(0, 10), '--dry-run']);
  assert.match(fromGit.stdout, /restored from git/);
});

test('old records: another hash scheme fails with "recorded by ckbuild X, hash scheme N"; a record without artifact hashes reproduces without comparing them', () => {
  const project = setup();
  assert.equal(project.run(['experiments/exp.yaml']).code, 0);
  const manifest = project.manifest() as unknown as { runs: Array<Rec & { scheme: number }> };
  const a = manifest.runs.find((r) => r.id === 'prepare/a')!;
  const b = manifest.runs.find((r) => r.id === 'prepare/b')!;
  a.scheme = 0;
  a.env = { ckbuild: '0.0.1' };
  delete b.artifacts;
  writeFileSync(project.path('experiments/exp.manifest.json'), JSON.stringify(manifest, null, 2));
  const old = project.run(['reproduce', a.key.slice(0, 12)]);
  assert.equal(old.code, 2);
  assert.match(old.stderr, /recorded by ckbuild 0\.0\.1, hash scheme 0; this ckbuild \(\d+\.\d+\.\d+[^)]*\) uses hash scheme 1/);
  const unhashed = project.run(['reproduce', b.key.slice(0, 12), '--dry-run']);
  assert.equal(unhashed.code, 0, unhashed.stdout + unhashed.stderr);
  assert.match(unhashed.stdout, /artifacts: not compared: the record holds no artifact hashes \(recorded by ckbuild [^,]+, hash scheme 1/);
});

test('a fresh clone with an empty runs root, the experiment deleted: reproducing a downstream run first reproduces its upstream run into its own directory', () => {
  const { project, oldB } = recordThenChange();
  const clone = mkdtempSync(join(tmpdir(), 'ckbuild-clone-'));
  execFileSync('git', ['clone', '-q', project.dir, clone]);
  const git = (...args: string[]): string => execFileSync('git', args, { cwd: clone, encoding: 'utf8' });
  git('config', 'user.email', 'test@example.com');
  git('config', 'user.name', 'ckbuild test');
  git('rm', '-q', 'experiments/exp.yaml', 'experiments/exp.manifest.json');
  git('commit', '-qm', 'the experiment is retired');
  const cloned = Object.assign(Object.create(TempProject.prototype) as TempProject, { dir: clone });
  assert.equal(existsSync(join(clone, 'runs')), false);

  const result = cloned.run(['reproduce', oldB.name]);
  assert.equal(result.code, 0, result.stdout + result.stderr);
  assert.match(result.stdout, /upstream prepare\/a \w+-\w+ [0-9a-f]{12} exp, from history/);
  assert.match(result.stdout, /reproduce prepare\/b /);
  assert.equal((result.stdout.match(/files byte-identical to the record/g) ?? []).length, 2);
  assert.deepEqual(ran(clone), ['a', 'b'], 'upstream first, then the run');
  // Both in their own content-addressed directories (nothing was there): the old b's output again.
  const bDir = join(clone, oldB.run_dir);
  assert.equal(readFileSync(join(bDir, 'outputs', 'b.txt'), 'utf8'), 'APPLE\nBANANA\nAPPLE\nBANANA\n');
  assert.match(result.stdout, /its manifest is gone from the working tree: the experiment was deleted/);
  assert.ok(existsSync(join(bDir, 'metadata', 'reproduction.json')));
});
