/**
 * `ckbuild <experiment>` end to end: the real CLI, a real git repository, command-rule runs
 * whose jobs are small shell scripts executed by the local executor.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { editTrial, seedFinished, sweepProject } from '../../bench/workload.js';
import { cliEntry } from '../helpers/paths.js';
import { exitOf, TempProject, waitFor } from '../helpers/project.js';

// Run a sleeps for as many seconds as the file `slow` says. It reads the file once: tests remove it
// while the job runs, and a test-then-read (`[ -f slow ] && sleep "$(cat slow)"`) failed the job
// with `sleep ''` when the removal fell between the two (seen once in 26 runs, under load).
const EXPERIMENT = (x: number, cCommand = 'echo c > "$CK_OUTPUTS/c.txt"') => `version: "1.0"
experiment_name: exp
prepare:
  a:
    command: 'echo "$CK_PARAM_X" > "$CK_OUTPUTS/a.txt"; echo a >> "$CK_PROJECT_DIR/ran.log"; slow=$(cat "$CK_PROJECT_DIR/slow" 2>/dev/null || true); if [ -n "$slow" ]; then sleep "$slow"; fi'
    outputs: [a.txt]
    params: { x: ${x} }
  b:
    command: 'cat "$CK_NEEDS_A/a.txt" > "$CK_OUTPUTS/b.txt"; echo b >> "$CK_PROJECT_DIR/ran.log"'
    needs: [a]
    outputs: [b.txt]
  c:
    command: '${cCommand.replace(/'/g, "''")}; echo c >> "$CK_PROJECT_DIR/ran.log"'
    outputs: [c.txt]
`;

function setup(x = 1, cCommand?: string): TempProject {
  const project = new TempProject();
  project.write('.gitignore', 'runs/\n.ckbuild/\n');
  project.write('experiments/exp.yaml', EXPERIMENT(x, cCommand));
  project.git('add', '.');
  project.git('commit', '-qm', 'experiment');
  return project;
}

const ranLines = (project: TempProject): string[] => (existsSync(project.path('ran.log')) ? project.read('ran.log').trim().split('\n').filter(Boolean).sort() : []);
const statuses = (project: TempProject): Record<string, string> => Object.fromEntries(project.manifest().runs.map((r) => [`${r.id}@${r.key.slice(0, 6)}`, r.status]));

test('build, no-op rebuild, one parameter change reruns exactly its dependents, revert reruns nothing', () => {
  const project = setup(1);
  const first = project.run(['experiments/exp.yaml']);
  assert.equal(first.code, 0, first.stderr + first.stdout);
  assert.deepEqual(ranLines(project), ['a', 'b', 'c']);
  assert.match(first.stdout, /3 succeeded/);
  assert.ok(project.manifest().runs.every((r) => r.status === 'succeeded'));
  assert.match(project.git('log', '-1', '--format=%s'), /^exp: 3 runs succeeded$/m);

  const again = project.run(['experiments/exp.yaml']);
  assert.equal(again.code, 0);
  assert.match(again.stdout, /up to date: 3 runs, nothing to do/);
  assert.deepEqual(ranLines(project), ['a', 'b', 'c'], 'a no-op rebuild runs nothing');

  project.write('experiments/exp.yaml', EXPERIMENT(2));
  const plan = project.run(['plan', 'experiments/exp.yaml', '--json']);
  const planned = JSON.parse(plan.stdout) as { runs: Array<{ id: string; state: string; reasons: Array<{ kind: string; changes?: Array<{ ingredient: string; name?: string; upstream?: string }> }> }> };
  const stale = planned.runs.filter((r) => r.state === 'stale').map((r) => r.id);
  assert.deepEqual(stale, ['prepare/a', 'prepare/b']);
  assert.deepEqual(planned.runs.find((r) => r.id === 'prepare/a')!.reasons[0]!.changes, [{ ingredient: 'param', name: 'params.x', from: 1, to: 2 }]);
  assert.equal(planned.runs.find((r) => r.id === 'prepare/b')!.reasons[0]!.changes![0]!.ingredient, 'upstream');

  const rebuilt = project.run(['experiments/exp.yaml']);
  assert.equal(rebuilt.code, 0, rebuilt.stderr);
  assert.deepEqual(ranLines(project), ['a', 'a', 'b', 'b', 'c']);
  assert.equal(project.read(`runs/${readdirSync(project.path('runs')).find((d) => existsSync(project.path('runs', d, 'outputs', 'b.txt')) && project.read(`runs/${d}/outputs/b.txt`).trim() === '2')}/outputs/b.txt`).trim(), '2');

  project.write('experiments/exp.yaml', EXPERIMENT(1));
  const reverted = project.run(['experiments/exp.yaml']);
  assert.equal(reverted.code, 0);
  assert.match(reverted.stdout, /up to date/);
  assert.deepEqual(ranLines(project), ['a', 'a', 'b', 'b', 'c'], 'reverting reuses the old results');
});

test('a failing run with --keep-going: its dependents are skipped, the rest completes; a rerun retries only those', () => {
  const project = setup(1, 'exit 7');
  project.write('experiments/exp.yaml', EXPERIMENT(1).replace('cat "$CK_NEEDS_A/a.txt"', 'exit 5; cat "$CK_NEEDS_A/a.txt"').replace("    outputs: [b.txt]\n", "    outputs: [b.txt]\n  d:\n    command: 'echo d > \"$CK_OUTPUTS/d.txt\"; echo d >> \"$CK_PROJECT_DIR/ran.log\"'\n    needs: [b]\n    outputs: [d.txt]\n"));
  const result = project.run(['experiments/exp.yaml', '--keep-going', '-j', '1']);
  assert.equal(result.code, 1, result.stdout + result.stderr);
  const byId = Object.fromEntries(project.manifest().runs.map((r) => [r.id, r]));
  assert.equal(byId['prepare/a']!.status, 'succeeded');
  assert.equal(byId['prepare/b']!.status, 'failed');
  assert.equal(byId['prepare/b']!.exit_code, 5);
  assert.equal(byId['prepare/d']!.status, 'skipped');
  assert.match(String(byId['prepare/d']!.detail), /upstream run prepare\/b did not succeed/);
  assert.equal(byId['prepare/c']!.status, 'succeeded');
  assert.match(result.stdout, /failed\s+prepare\/b/);

  // Fix b: a rerun runs b and d only.
  project.write('experiments/exp.yaml', project.read('experiments/exp.yaml').replace('exit 5; ', ''));
  const before = ranLines(project).length;
  const retry = project.run(['experiments/exp.yaml']);
  assert.equal(retry.code, 0, retry.stderr + retry.stdout);
  assert.deepEqual(ranLines(project).slice(before).length, 2);
  assert.equal(project.manifest().runs.filter((r) => r.id === 'prepare/d' && r.status === 'succeeded').length, 1);
});

test('without --keep-going the build stops submitting after the first failure', () => {
  const project = setup(1);
  project.write('experiments/exp.yaml', EXPERIMENT(1).replace('echo "$CK_PARAM_X" >', 'echo "ValueError: a broke" >&2; exit 9; echo "$CK_PARAM_X" >'));
  const result = project.run(['experiments/exp.yaml', '-j', '1']);
  assert.equal(result.code, 1);
  const byId = Object.fromEntries(project.manifest().runs.map((r) => [r.id, r.status]));
  assert.equal(byId['prepare/a'], 'failed');
  // b needs a: recorded skipped, naming a. c does not: left unrecorded, for the next build.
  assert.equal(byId['prepare/b'], 'skipped');
  assert.match(String(project.manifest().runs.find((r) => r.id === 'prepare/b')!.detail), /upstream run prepare\/a did not succeed/);
  assert.equal(byId['prepare/c'], undefined, 'c never started');
  // The build says what it left unstarted, and the failed run's log is on screen.
  assert.match(result.stdout, /stopped: 1 run\(s\) never started: prepare\/c;/);
  assert.match(result.stdout, /log: .*outputs\/job\.log \(last \d+ lines?\)\n.*ValueError: a broke/);
  // status says the same: why, where the log is, and its last lines; --json names the log.
  const status = project.run(['status', 'experiments/exp.yaml']);
  assert.match(status.stdout, /prepare\/a .*: failed: .*\n\s+log: .*outputs\/job\.log \(last \d+ lines?\)\n(\s+│ .*\n)*\s+│ ValueError: a broke/);
  const json = JSON.parse(project.run(['status', 'experiments/exp.yaml', '--json']).stdout) as { runs: Array<{ id: string; log: string | null }> };
  assert.match(String(json.runs.find((r) => r.id === 'prepare/a')!.log), /outputs\/job\.log$/);
  assert.equal(json.runs.find((r) => r.id === 'prepare/c')!.log, null);
});

test('--dry-run generates every artifact and records nothing', () => {
  const project = setup(1);
  const result = project.run(['experiments/exp.yaml', '--dry-run']);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /generated 3 run directories/);
  assert.equal(existsSync(project.path('experiments/exp.manifest.json')), false);
  const dirs = readdirSync(project.path('runs')).filter((d) => !d.startsWith('.'));
  assert.equal(dirs.length, 3);
  for (const dir of dirs) assert.ok(existsSync(project.path('runs', dir, 'config', 'job.sh')));
  assert.equal(ranLines(project).length, 0);
});

test('Ctrl-C mid-build cancels the running job, records it, and the next build resumes', async () => {
  const project = setup(1);
  project.write('slow', '30');
  const child = project.start(['experiments/exp.yaml', '-j', '1']);
  await waitFor(() => ranLines(project).includes('a'), 20_000, 'run a to start');
  child.kill('SIGINT');
  const code = await exitOf(child);
  assert.equal(code, 130, child.output());
  const byId = Object.fromEntries(project.manifest().runs.map((r) => [r.id, r]));
  assert.equal(byId['prepare/a']!.status, 'cancelled');
  assert.match(child.output(), /cancelled/);

  project.git('rm', '-q', '--cached', '--ignore-unmatch', 'slow');
  const { rmSync } = await import('node:fs');
  rmSync(project.path('slow'));
  const resumed = project.run(['experiments/exp.yaml']);
  assert.equal(resumed.code, 0, resumed.stdout + resumed.stderr);
  assert.ok(project.manifest().runs.filter((r) => r.status === 'succeeded').length >= 3);
});

test('kill -9 of ckbuild mid-build: the next invocation adopts the still-running job instead of starting a second one', async () => {
  const project = setup(1);
  project.write('slow', '8');
  const child = project.start(['experiments/exp.yaml', '-j', '1']);
  await waitFor(() => ranLines(project).includes('a'), 20_000, 'run a to start');
  child.kill('SIGKILL');
  await exitOf(child);
  // The lock's owner is dead: the next invocation takes it over, finds the job and waits for it.
  const { rmSync } = await import('node:fs');
  rmSync(project.path('slow')); // does not affect the job already sleeping
  const resumed = project.run(['experiments/exp.yaml']);
  assert.equal(resumed.code, 0, resumed.stdout + resumed.stderr);
  // Adopted while still running, or (on a slow machine, where the 8 s job outlived the restart)
  // found finished in its own status file: either way it is never started a second time.
  assert.match(resumed.stdout, /adopt\s+prepare\/a|found\s+prepare\/a \S+ succeeded/);
  assert.doesNotMatch(resumed.stdout, /start\s+prepare\/a/);
  assert.equal(ranLines(project).filter((l) => l === 'a').length, 1, 'run a executed exactly once');
  assert.ok(project.manifest().runs.every((r) => r.status === 'succeeded'));
});

test('a job that prints survives a kill -9 of ckbuild: its output goes to its own log, it finishes once, the next build records it', async () => {
  const project = new TempProject();
  project.write('.gitignore', 'runs/\n.ckbuild/\n');
  project.write(
    'experiments/exp.yaml',
    `version: "1.0"
experiment_name: exp
prepare:
  chatty:
    command: 'echo start >> "$CK_PROJECT_DIR/ran.log"; for i in $(seq 1 30); do echo "step $i"; echo "err $i" >&2; sleep 0.1; done; echo done > "$CK_OUTPUTS/out.txt"; echo end >> "$CK_PROJECT_DIR/ran.log"'
    outputs: [out.txt]
`,
  );
  const child = project.start(['experiments/exp.yaml']);
  await waitFor(() => existsSync(project.path('ran.log')), 20_000, 'the job to start');
  child.kill('SIGKILL');
  await exitOf(child);
  // Before the fix the job died of SIGPIPE at its next line of output; now it runs to its end.
  await waitFor(() => project.read('ran.log').includes('end'), 20_000, 'the orphaned job to finish');
  const resumed = project.run(['experiments/exp.yaml']);
  assert.equal(resumed.code, 0, resumed.stdout + resumed.stderr);
  assert.deepEqual(project.read('ran.log').trim().split('\n'), ['start', 'end'], 'executed exactly once');
  assert.equal(project.manifest().runs[0]!.status, 'succeeded');
  const log = project.read(`${String(project.manifest().runs[0]!.run_dir)}/outputs/job.log`);
  assert.match(log, /step 30/);
  assert.match(log, /err 30/);
});

test('two concurrent invocations: the second says who holds the lock and runs nothing', async () => {
  const project = setup(1);
  project.write('slow', '30');
  const first = project.start(['experiments/exp.yaml', '-j', '1']);
  await waitFor(() => ranLines(project).includes('a'), 20_000, 'first build to start a');
  const second = project.run(['experiments/exp.yaml']);
  assert.equal(second.code, 3);
  assert.match(second.stderr, new RegExp(`another ckbuild is building in this project: pid ${first.pid} .*\\(ckbuild experiments/exp.yaml -j 1\\)`));
  // Another experiment of the same project waits its turn too: they may share runs.
  project.write('experiments/other.yaml', project.read('experiments/exp.yaml').replace('experiment_name: exp', 'experiment_name: other'));
  assert.equal(project.run(['experiments/other.yaml']).code, 3);
  first.kill('SIGINT');
  await exitOf(first);
  assert.equal(ranLines(project).filter((l) => l === 'a').length, 1);
});

test('the manifest commit contains only the manifest while another file stays staged', () => {
  const project = setup(1);
  project.write('notes.txt', 'work in progress\n');
  project.git('add', 'notes.txt');
  const result = project.run(['experiments/exp.yaml']);
  assert.equal(result.code, 0, result.stderr);
  assert.deepEqual(project.git('show', '--name-only', '--format=', 'HEAD').trim().split('\n'), ['experiments/exp.manifest.json']);
  assert.match(project.git('status', '--porcelain'), /^A  notes\.txt$/m, 'the user’s staged file is still staged, uncommitted');
});

test('works in a repository with no commits yet', () => {
  const project = new TempProject();
  project.write('experiments/exp.yaml', EXPERIMENT(1));
  const result = project.run(['experiments/exp.yaml']);
  assert.equal(result.code, 0, result.stderr);
  assert.deepEqual(project.git('show', '--name-only', '--format=', 'HEAD').trim().split('\n'), ['experiments/exp.manifest.json']);
});

test('outside a git repository it warns and does not commit; --no-commit does not commit', () => {
  const outside = new TempProject({ git: false });
  outside.write('experiments/exp.yaml', EXPERIMENT(1));
  const result = outside.run(['experiments/exp.yaml']);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stderr, /not a git repository; the manifest was written but not committed/);
  assert.ok(existsSync(outside.path('experiments/exp.manifest.json')));

  const inside = setup(1);
  const head = inside.git('rev-parse', 'HEAD');
  assert.equal(inside.run(['experiments/exp.yaml', '--no-commit']).code, 0);
  assert.equal(inside.git('rev-parse', 'HEAD'), head);
});

test('status: a table with counts per state, and --json', () => {
  const project = setup(1, 'exit 4');
  project.run(['experiments/exp.yaml', '--keep-going']);
  const table = project.run(['status', 'experiments/exp.yaml']);
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /NAME\s+KEY\s+STEP\s+PARAMETERS\s+STATUS\s+TIME\s+METRIC/);
  assert.match(table.stdout, /prepare\s+step=c\s+failed \[1\]/);
  assert.match(table.stdout, /^\[1\] prepare\/c .*failed: the framework exited with status 4/m);
  assert.match(table.stdout, /2 succeeded, 1 failed — 3 runs/);
  const json = JSON.parse(project.run(['status', 'experiments/exp.yaml', '--json']).stdout) as { counts: Record<string, number>; runs: Array<{ id: string; status: string }> };
  assert.deepEqual(json.counts, { succeeded: 2, failed: 1 });
  // With no argument, status covers every experiment under experiments/.
  assert.match(project.run(['status']).stdout, /^exp$/m);
});

test('--only builds the selected runs and the stale runs they need, nothing else', () => {
  const project = setup(1);
  const result = project.run(['experiments/exp.yaml', '--only', 'prepare/b']);
  assert.equal(result.code, 0, result.stderr);
  assert.deepEqual(ranLines(project), ['a', 'b']);
  void statuses;
});

test('a detached HEAD still gets the manifest commit', () => {
  const project = setup(1);
  project.git('checkout', '-q', '--detach');
  const result = project.run(['experiments/exp.yaml']);
  assert.equal(result.code, 0, result.stderr);
  assert.deepEqual(project.git('show', '--name-only', '--format=', 'HEAD').trim().split('\n'), ['experiments/exp.manifest.json']);
});

test('a manifest written by a newer ckbuild is refused with a clear message, never misread', () => {
  const project = setup(1);
  project.write('experiments/exp.manifest.json', JSON.stringify({ version: 99, experiment: 'exp', runs: [] }));
  const result = project.run(['experiments/exp.yaml']);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /written by a newer ckbuild \(manifest version 99; this ckbuild reads up to 1\); upgrade ckbuild/);
  project.write('experiments/exp.manifest.json', '{ not json');
  assert.match(project.run(['plan', 'experiments/exp.yaml']).stderr, /the manifest is not valid JSON/);
});

test('local GPUs: each GPU job gets its own CUDA_VISIBLE_DEVICES', () => {
  const project = setup(1);
  project.write('ckbuild.local.yaml', 'gpus: [0, 1]\n');
  project.write(
    'experiments/exp.yaml',
    `version: "1.0"
experiment_name: exp
prepare:
${[1, 2, 3].map((i) => `  g${i}:\n    command: 'start=$(date +%s%N); sleep 1; echo "$CUDA_VISIBLE_DEVICES $start $(date +%s%N)" > "$CK_OUTPUTS/gpu"; : g${i}'\n    outputs: [gpu]\n`).join('')}resources:
  prepare: { gpus: 1 }
`,
  );
  const result = project.run(['experiments/exp.yaml', '-j', '3']);
  assert.equal(result.code, 0, result.stdout + result.stderr);
  const jobs = project.manifest().runs.map((r) => {
    const [device, start, end] = project.read(`${String(r.run_dir)}/outputs/gpu`).trim().split(' ');
    return { device: device!, start: Number(start), end: Number(end) };
  });
  assert.ok(jobs.every((job) => job.device === '0' || job.device === '1'), JSON.stringify(jobs));
  // Three one-GPU jobs on two GPUs with -j 3: two run at once, and jobs that overlap in time never share a device.
  const overlapping = jobs.flatMap((a, i) => jobs.slice(i + 1).filter((b) => a.start < b.end && b.start < a.end).map((b) => [a, b] as const));
  assert.ok(overlapping.length > 0, `no two GPU jobs ran at once: ${JSON.stringify(jobs)}`);
  for (const [a, b] of overlapping) assert.notEqual(a.device, b.device, `concurrent jobs shared GPU ${a.device}`);
});

test('an edit made while a build runs is never hidden by the up-to-date stamp', async () => {
  const project = setup(1);
  project.write('slow', '2');
  const child = project.start(['experiments/exp.yaml', '-j', '1']);
  await waitFor(() => ranLines(project).includes('a'), 20_000, 'run a to start');
  project.write('experiments/exp.yaml', EXPERIMENT(1, 'echo changed > "$CK_OUTPUTS/c.txt"'));
  assert.equal(await exitOf(child), 0, child.output());
  const { rmSync } = await import('node:fs');
  rmSync(project.path('slow'));
  const next = project.run(['experiments/exp.yaml']);
  assert.doesNotMatch(next.stdout, /nothing to do/);
  assert.match(next.stdout, /start\s+prepare\/c/);
});

test('a failure found while reconciling does not stop the retry of that run or skip its dependents', async () => {
  const project = setup(1);
  project.write('slow', '2');
  // a logs its start, sleeps, then fails while the file `fail` exists.
  project.write('experiments/exp.yaml', EXPERIMENT(1).replace('sleep "$slow"; fi', 'sleep "$slow"; fi; if [ -f "$CK_PROJECT_DIR/fail" ]; then exit 6; fi'));
  assert.match(project.read('experiments/exp.yaml'), /exit 6/);
  project.write('fail', '');
  const child = project.start(['experiments/exp.yaml', '-j', '1']);
  await waitFor(() => ranLines(project).includes('a'), 20_000, 'run a to start');
  child.kill('SIGKILL'); // a keeps running and fails with nobody watching
  await exitOf(child);
  await new Promise((resolve) => setTimeout(resolve, 2500));
  const { rmSync } = await import('node:fs');
  rmSync(project.path('fail'));
  rmSync(project.path('slow'));
  const retry = project.run(['experiments/exp.yaml', '-j', '1']);
  assert.equal(retry.code, 0, retry.stdout + retry.stderr);
  const latest = new Map(project.manifest().runs.map((r) => [r.id, r.status]));
  assert.deepEqual([...latest.entries()].sort(), [['prepare/a', 'succeeded'], ['prepare/b', 'succeeded'], ['prepare/c', 'succeeded']]);
});

test('two steps that are the same run (same key) execute once, and both are satisfied', () => {
  const project = setup(1);
  project.write(
    'experiments/exp.yaml',
    `version: "1.0"
experiment_name: exp
prepare:
  first:
    command: 'echo same > "$CK_OUTPUTS/x"; echo ran >> "$CK_PROJECT_DIR/ran.log"'
    outputs: [x]
  second:
    command: 'echo same > "$CK_OUTPUTS/x"; echo ran >> "$CK_PROJECT_DIR/ran.log"'
    outputs: [x]
  after:
    command: 'cat "$CK_NEEDS_SECOND/x" > "$CK_OUTPUTS/y"'
    needs: [second]
    outputs: [y]
`,
  );
  const result = project.run(['experiments/exp.yaml', '-j', '2']);
  assert.equal(result.code, 0, result.stdout + result.stderr);
  assert.deepEqual(ranLines(project), ['ran'], 'the shared run executed once');
  const again = project.run(['plan', 'experiments/exp.yaml', '--json']);
  assert.ok((JSON.parse(again.stdout) as { runs: Array<{ state: string }> }).runs.every((r) => r.state === 'up-to-date'));
});

test('a command runs in the shell `bash -e command.sh` gives it: -e only, nothing of the job script, its background jobs in its own process group', () => {
  // Sourced into the job's subshell rather than started as a second bash: what it sees must not change.
  const probe = [
    'echo "flags=$-"',
    'set -o | grep -E "^pipefail"',
    'echo "functions=$(declare -F | grep -c " ck_" || true)"',
    'echo "zero=${0##*/}" "name=${name-unset}" "child=${CK_CHILD-unset}" "unset=${NOT_SET_ANYWHERE}"',
    'sleep 5 & bg=$!; read -r _ _ _ _ bgGroup _ < "/proc/$bg/stat"; read -r _ _ _ _ group _ < "/proc/$BASHPID/stat"; kill "$bg"',
    'echo "same-group=$([ "$bgGroup" = "$group" ] && echo yes || echo no)"',
  ].join('; ');
  const project = setup(1, `{ ${probe}; } > "$CK_OUTPUTS/c.txt"`);
  const result = project.run(['experiments/exp.yaml', '--only', 'prepare/c']);
  assert.equal(result.code, 0, result.stdout + result.stderr);
  const [runDir] = readdirSync(project.path('runs')).filter((name) => existsSync(project.path('runs', name, 'outputs', 'c.txt')));
  const seen = readFileSync(project.path('runs', runDir!, 'outputs', 'c.txt'), 'utf8');
  const flags = /^flags=(\S*)$/m.exec(seen)?.[1] ?? '';
  assert.ok(flags.includes('e') && !flags.includes('u') && !flags.includes('m'), `flags ${flags}`);
  assert.match(seen, /^pipefail\s+off$/m);
  assert.match(seen, /^functions=0$/m);
  assert.match(seen, /^zero=command\.sh name=unset child=unset unset=$/m);
  assert.match(seen, /^same-group=yes$/m, 'a cancel (TERM to the process group) reaches what the command started');

  project.write('experiments/exp.yaml', EXPERIMENT(1, 'false; echo c > "$CK_OUTPUTS/c.txt"'));
  const failing = project.run(['experiments/exp.yaml', '--only', 'prepare/c']);
  assert.notEqual(failing.code, 0, 'a failing line still fails the step');
});

test('a one-trial edit of a finished sweep: the up-to-date check reads that trial alone, and the build plans from its reading and splices', async () => {
  const dir = sweepProject(20);
  await seedFinished(dir);
  // No torchtune on this PATH: the two runs the edit makes stale are blocked at once, nothing trains.
  const env = { ...process.env, NO_COLOR: '1', CKBUILD_EXECUTOR: 'local', PATH: `${dirname(process.execPath)}:/usr/bin:/bin` };
  const build = (...extra: string[]) => spawnSync(process.execPath, [cliEntry, 'experiments/sweep.yaml', '--no-commit', ...extra], { cwd: dir, env, encoding: 'utf8' });
  assert.equal(build().status, 0, 'the finished sweep builds nothing, and leaves its stamp and saved plan');
  assert.match(build().stdout, /up to date: 40 runs, nothing to do/);
  const file = join(dir, 'experiments', 'sweep.yaml');
  writeFileSync(file, `${readFileSync(file, 'utf8')}# a comment\n`);
  assert.match(build().stdout, /up to date: 40 runs, nothing to do/, 'a comment: the same data, read from the saved reading');
  // The saved reading moved to the commented text: the trial edited next is that edit alone, not one reaching to the comment.
  editTrial(dir, 3, 1);
  const edited = build('--verbose');
  assert.match(edited.stderr, /the experiment as the up-to-date check read it \(not read again\)/, edited.stderr);
  assert.match(edited.stderr, /trials read again alone: protocol\.runs\[3\]\n/);
  assert.match(edited.stderr, /spliced into the saved plan/);
  const plan = JSON.parse(spawnSync(process.execPath, [cliEntry, 'plan', 'experiments/sweep.yaml', '--json'], { cwd: dir, env, encoding: 'utf8' }).stdout) as { runs: Array<{ id: string; status: string | null }> };
  const notSucceeded = plan.runs.filter((run) => run.status !== 'succeeded').map((run) => run.id);
  assert.deepEqual(notSucceeded.sort(), ['evaluate/t/r00003/epoch0', 'finetune/r00003'], 'the edited trial’s two runs were built (blocked here), no other');
});
