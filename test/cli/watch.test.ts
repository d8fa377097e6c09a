/**
 * `ckbuild watch` through the real binary: real file-system events in a temporary project, the
 * spawned CLI's output read against deadlines (never fixed sleeps: the machine may be loaded).
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { after, test } from 'node:test';
import { exitOf, TempProject, waitFor } from '../helpers/project.js';

const EXPERIMENT = (n: number, cInputs = '[c.mjs]'): string => `version: "1.0"
experiment_name: exp
prepare:
  a:
    command: node a.mjs "$CK_PARAM_N" > "$CK_OUTPUTS/a.txt"
    inputs: [a.mjs]
    outputs: [a.txt]
    params: { n: ${n} }
  b:
    command: cat "$CK_NEEDS_A/a.txt" > "$CK_OUTPUTS/b.txt"
    needs: [a]
    outputs: [b.txt]
  c:
    command: node c.mjs > "$CK_OUTPUTS/c.txt"
    inputs: ${cInputs}
    outputs: [c.txt]
`;

function project(): TempProject {
  const p = new TempProject();
  p.write('a.mjs', 'console.log(process.argv[2]);\n');
  p.write('c.mjs', 'console.log("c");\n');
  p.write('extra.txt', 'one\n');
  p.write('unrelated.txt', 'nothing uses me\n');
  p.write('.gitignore', 'runs/\n.ckbuild/\n');
  p.write('experiments/exp.yaml', EXPERIMENT(1));
  p.git('add', '.');
  p.git('commit', '-qm', 'init');
  return p;
}

const children: Array<{ kill: (signal?: NodeJS.Signals) => boolean; exitCode: number | null }> = [];
after(() => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
});

function startWatch(p: TempProject, extra: string[] = []) {
  const child = p.start(['watch', 'experiments/exp.yaml', ...extra]);
  children.push(child);
  // 60 s: a --build iteration runs a whole build, which on a loaded 2-core CI machine takes a while.
  /** Waits for `pattern` in the output printed after offset `from` (0: all of it). */
  const until = (pattern: RegExp, from = 0) => waitFor(() => pattern.test(child.output().slice(from)), 60_000, `${String(pattern)} in:\n${child.output().slice(from)}`);
  /** The numbers of the iterations printed so far (`[2] …` lines). */
  const iterations = () => [...new Set([...child.output().matchAll(/^\[(\d+)\] /gm)].map((m) => Number(m[1])))];
  return { child, until, iterations };
}

const runDirs = (p: TempProject): string[] => {
  try {
    return readdirSync(p.path('runs')).filter((name) => !name.startsWith('.')).sort();
  } catch {
    return [];
  }
};

test('watch: a parameter edit regenerates exactly the runs whose key changed; reverting it finds the recorded keys', async () => {
  const p = project();
  const built = p.run(['experiments/exp.yaml']);
  assert.equal(built.code, 0, built.stdout + built.stderr);
  const before = runDirs(p);
  assert.equal(before.length, 3);
  const { child, until } = startWatch(p);
  await until(/watch: ready/);
  assert.match(child.output(), /watching experiments\/exp\.yaml: 3 runs \(3 up to date\)/);

  p.write('experiments/exp.yaml', EXPERIMENT(2));
  await until(/\[2\] regenerated/);
  const output = child.output();
  assert.match(output, /stale {5}prepare\/a .*parameter params.n: 1 → 2/);
  assert.match(output, /stale {5}prepare\/b .*upstream prepare\/a changed/);
  assert.doesNotMatch(output, /prepare\/c/);
  assert.match(output, /\[2\] regenerated 2 run directories: prepare\/a, prepare\/b/);
  const now = runDirs(p);
  assert.equal(now.length, 5, now.join('\n'));
  assert.deepEqual(now.filter((d) => !before.includes(d)).length, 2);

  p.write('experiments/exp.yaml', EXPERIMENT(1));
  await until(/\[3\] regenerated 0 run directories/);
  assert.match(child.output(), /reusable {2}prepare\/a .*back to a recorded key \(up to date\)/);
  assert.match(child.output(), /reusable {2}prepare\/b /);
  assert.equal(runDirs(p).length, 5, 'reverting regenerates nothing');
  child.kill('SIGINT');
  assert.equal(await exitOf(child), 130);
});

test('watch: an invalid edit is shown, not fatal, and leaves the artifacts untouched; the next valid edit recovers', async () => {
  const p = project();
  const { child, until } = startWatch(p);
  await until(/watch: ready/);
  assert.match(child.output(), /generated 3 run directories/);
  const dirs = runDirs(p);
  const stamp = (): string[] => dirs.map((d) => `${d}:${statSync(p.path('runs', d, 'config', 'run.json')).mtimeMs}`);
  const stamps = stamp();

  p.write('experiments/exp.yaml', EXPERIMENT(2).replace('params: { n: 2 }', 'params: { n: 2'));
  await until(/\[2\] invalid/);
  assert.match(child.output(), /experiments\/exp\.yaml:\d+:\d+: error/);
  assert.deepEqual(runDirs(p), dirs);
  assert.deepEqual(stamp(), stamps, 'no artifact was rewritten');

  p.write('experiments/exp.yaml', EXPERIMENT(2));
  await until(/\[3\] regenerated 2 run directories: prepare\/a, prepare\/b/);
  assert.equal(child.exitCode, null, 'still watching');
  child.kill('SIGINT');
  assert.equal(await exitOf(child), 130);
});

test('watch: a newly referenced input becomes watched, a dropped one is released; unrelated files trigger nothing', async () => {
  const p = project();
  const { child, until, iterations } = startWatch(p);
  await until(/watch: ready/);

  // Not an input: no iteration. The sentinel edit after it must be iteration 2.
  p.write('unrelated.txt', 'still nothing\n');
  p.write('extra.txt', 'not yet an input\n');
  p.write('experiments/exp.yaml', EXPERIMENT(1, '[c.mjs, extra.txt]'));
  await until(/\[2\] regenerated 1 run directory: prepare\/c/);
  assert.deepEqual(iterations(), [2]);
  assert.match(child.output(), /\[2\] experiments\/exp\.yaml changed\n/);

  p.write('extra.txt', 'now an input\n');
  await until(/\[3\] regenerated 1 run directory: prepare\/c/);
  assert.match(child.output(), /\[3\] extra\.txt changed/);
  assert.match(child.output(), /stale {5}prepare\/c .*input extra\.txt changed/);

  p.write('experiments/exp.yaml', EXPERIMENT(1));
  await until(/\[4\] regenerated 1 run directory: prepare\/c/);
  // extra.txt is released: editing it triggers nothing; the sentinel edit is iteration 5 and names only the experiment.
  p.write('extra.txt', 'released\n');
  p.write('experiments/exp.yaml', EXPERIMENT(3));
  await until(/\[5\] regenerated 2 run directories/);
  assert.match(child.output(), /\[5\] experiments\/exp\.yaml changed\n/);
  assert.deepEqual(iterations(), [2, 3, 4, 5]);
  child.kill('SIGINT');
  assert.equal(await exitOf(child), 130);
});

test('watch: a rename-style save and a double write are one iteration each', async () => {
  const p = project();
  const { child, until, iterations } = startWatch(p);
  await until(/watch: ready/);

  const file = p.path('experiments', 'exp.yaml');
  writeFileSync(`${file}.tmp`, EXPERIMENT(2));
  renameSync(`${file}.tmp`, file);
  await until(/\[2\] regenerated 2 run directories/);

  writeFileSync(file, EXPERIMENT(3).slice(0, 40)); // half a save…
  writeFileSync(file, EXPERIMENT(3)); // …and the rest, at once
  await until(/\[3\] regenerated 2 run directories/);
  // A last edit proves nothing else was queued: it is iteration 4.
  p.write('experiments/exp.yaml', EXPERIMENT(4));
  await until(/\[4\] regenerated 2 run directories/);
  assert.deepEqual(iterations(), [2, 3, 4]);
  assert.doesNotMatch(child.output(), /invalid/);
  child.kill('SIGINT');
  assert.equal(await exitOf(child), 130);
});

test('watch: an edit saved the moment an iteration ends is never lost (chokidar drops a change within 50 ms of the last)', async () => {
  const p = project();
  const { child, until } = startWatch(p);
  await until(/watch: ready/);
  // Each edit is written as soon as the previous one's iteration is printed (polled every
  // millisecond, not every 50): an iteration that read the file before chokidar's change throttle
  // ran out would never see it.
  for (let n = 2; n <= 7; n++) {
    const from = child.output().length;
    p.write('experiments/exp.yaml', EXPERIMENT(n));
    const printed = new RegExp(`parameter params\\.n: \\d+ → ${n}\\n[\\s\\S]*?regenerated 2 run directories`);
    const deadline = Date.now() + 60_000;
    while (!printed.test(child.output().slice(from))) {
      assert.ok(Date.now() < deadline, `edit ${n} was never planned:\n${child.output().slice(from)}`);
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
  }
  child.kill('SIGINT');
  assert.equal(await exitOf(child), 130);
});

test('watch: Ctrl-C exits at once with 130, leaving no half-written run directory; --build builds through the ordinary build', async () => {
  const p = project();
  const { child, until } = startWatch(p, ['--build']);
  await until(/\[1\] build exited 0/);
  assert.equal(p.manifest().runs.filter((r) => r.status === 'succeeded').length, 3);
  // The build's own manifest commit is shown as an iteration (runs now up to date), not rebuilt.
  await until(/watch: ready[\s\S]*now {7}prepare\/a .*stale → up to date|now {7}prepare\/a .*stale → up to date[\s\S]*watch: ready/);
  const mark = child.output().length;
  p.write('experiments/exp.yaml', EXPERIMENT(2));
  await until(/\[\d+\] build exited 0[\s\S]*now {7}prepare\/a .*stale → up to date/, mark);
  assert.equal(p.manifest().runs.filter((r) => r.status === 'succeeded').length, 5);
  await until(/watch: ready/);
  const started = Date.now();
  child.kill('SIGINT');
  assert.equal(await exitOf(child), 130);
  assert.ok(Date.now() - started < 5_000, `exited in ${Date.now() - started} ms`);
  assert.deepEqual(existsSync(p.path('runs', '.partial')) ? readdirSync(p.path('runs', '.partial')) : [], [], 'no staging folder left');
});
