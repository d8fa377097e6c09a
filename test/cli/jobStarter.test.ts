/**
 * Local jobs start from the job starter (templates/python/job_starter.py) rather than from
 * ckbuild itself: the real CLI in a temporary repository. Faults the real starter will not
 * produce (dying between reading a job and answering) are injected with a stand-in named by
 * CKBUILD_JOB_STARTER, as a PATH shim would.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import { exitOf, TempProject, waitFor } from '../helpers/project.js';

// ckbuild starts the helper as a build begins to write run directories, and starts a job itself
// while the helper still boots: `warm` (half a second) may be one, and the others, after it, are
// the helper's to start. Each records the command line of the
// process that started it; a waits while the file `slow` exists; b needs a.
const PARENT = (file: string) => `tr "\\\\0" " " < "/proc/$PPID/cmdline" > "$CK_PROJECT_DIR/${file}"`;
const EXPERIMENT = `version: "1.0"
experiment_name: exp
prepare:
  warm:
    command: 'sleep 0.5; echo w > "$CK_OUTPUTS/w.txt"'
    outputs: [w.txt]
  a:
    command: 'echo a >> "$CK_PROJECT_DIR/ran.log"; ${PARENT('a.parent')}; while [ -e "$CK_PROJECT_DIR/slow" ]; do sleep 0.1; done; echo a > "$CK_OUTPUTS/a.txt"'
    needs: [warm]
    outputs: [a.txt]
  b:
    command: 'echo b >> "$CK_PROJECT_DIR/ran.log"; cat "$CK_NEEDS_A/a.txt" > "$CK_OUTPUTS/b.txt"'
    needs: [a]
    outputs: [b.txt]
  c:
    command: 'echo c >> "$CK_PROJECT_DIR/ran.log"; ${PARENT('c.parent')}; echo c > "$CK_OUTPUTS/c.txt"'
    needs: [warm]
    outputs: [c.txt]
`;

function setup(): TempProject {
  const project = new TempProject();
  project.write('.gitignore', 'runs/\n.ckbuild/\n');
  project.write('experiments/exp.yaml', EXPERIMENT);
  project.git('add', '.');
  project.git('commit', '-qm', 'experiment');
  return project;
}

const ran = (project: TempProject): string[] => (existsSync(project.path('ran.log')) ? project.read('ran.log').trim().split('\n').sort() : []);

/** Pids of the running job starters that `chosen` picks (by pid). */
function starters(chosen: (pid: string) => boolean): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes('job_starter.py') && chosen(entry)) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/** Those serving builds in this project (its working directory). */
const startersOf = (project: TempProject): number[] => starters((pid) => readlinkSync(`/proc/${pid}/cwd`) === project.dir);

/** Those this test process started (field 4 of /proc/<pid>/stat, after the command name). */
const ownStarters = (): number[] => starters((pid) => Number(readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ')[1]) === process.pid);

const skipWithoutPython = spawnSync('python3', ['-c', 'import os; os.posix_spawn']).status === 0 ? false : 'no python3 with posix_spawn: the job starter cannot run here (jobs start from ckbuild itself)';

test('jobs start from the job starter; with CKBUILD_JOB_STARTER=none from ckbuild; the same results either way', { skip: skipWithoutPython }, () => {
  const viaStarter = setup();
  const first = viaStarter.run(['experiments/exp.yaml']);
  assert.equal(first.code, 0, first.stdout + first.stderr);
  assert.match(viaStarter.read('c.parent'), /job_starter\.py/);
  assert.deepEqual(ran(viaStarter), ['a', 'b', 'c']);

  const inProcess = setup();
  const second = inProcess.run(['experiments/exp.yaml'], { CKBUILD_JOB_STARTER: 'none' });
  assert.equal(second.code, 0, second.stdout + second.stderr);
  assert.doesNotMatch(inProcess.read('c.parent'), /job_starter/);
  assert.match(inProcess.read('c.parent'), /bundle\/main\.cjs/, 'the job is ckbuild\'s own child');
  assert.deepEqual(ran(inProcess), ['a', 'b', 'c']);
  assert.deepEqual(
    inProcess.manifest().runs.map((r) => [r.id, r.key, r.status]),
    viaStarter.manifest().runs.map((r) => [r.id, r.key, r.status]),
  );
});

test('the job starter killed mid-build: the running job is still watched, later jobs start from ckbuild, each once', { skip: skipWithoutPython }, async () => {
  const project = setup();
  project.write('slow', '');
  const child = project.start(['experiments/exp.yaml', '-j', '1']);
  await waitFor(() => ran(project).includes('a'), 20_000, 'run a to start');
  await waitFor(() => existsSync(project.path('a.parent')), 20_000, 'run a to say who started it');
  assert.match(project.read('a.parent'), /job_starter\.py/, 'the running job is one the helper started');
  const starters = startersOf(project);
  assert.equal(starters.length, 1, 'one job starter serves the build');
  process.kill(starters[0]!, 'SIGKILL');
  await new Promise((resolve) => setTimeout(resolve, 300));
  const { rmSync } = await import('node:fs');
  rmSync(project.path('slow'));
  const code = await exitOf(child);
  assert.equal(code, 0, child.output());
  assert.deepEqual(ran(project), ['a', 'b', 'c'], 'every run executed exactly once');
  assert.ok(project.manifest().runs.every((r) => r.status === 'succeeded'), child.output());
});

/** A stand-in for the starter that reads one job and then, starting it or not, exits (or hangs) without answering. */
function failingStarter(project: TempProject, startsTheJob: boolean, then: 'exit 0' | 'exec sleep 600'): string {
  const path = project.path('failing-starter');
  const start = startsTheJob ? 'setsid bash "$script" >>"$log" 2>&1 </dev/null &' : ':';
  const read = project.path('starter-read.log');
  writeFileSync(path, `#!/usr/bin/env bash\necho ready\nIFS=$'\\t' read -r token log script gpus\necho "$script" >> '${read}'\n${start}\n${then}\n`);
  chmodSync(path, 0o755);
  return path;
}

for (const startsTheJob of [false, true]) {
  test(`a starter that dies unanswered ${startsTheJob ? 'after starting' : 'before starting'} the job: it runs exactly once, and the build succeeds`, () => {
    const project = setup();
    const result = project.run(['experiments/exp.yaml', '-j', '1'], { CKBUILD_JOB_STARTER: failingStarter(project, startsTheJob, 'exit 0') });
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.equal(project.read('starter-read.log').trim().split('\n').length, 1, 'the stand-in read one job and said nothing');
    assert.deepEqual(ran(project), ['a', 'b', 'c'], 'never started twice, never lost');
    assert.ok(project.manifest().runs.every((r) => r.status === 'succeeded'), result.stdout);
  });
}

test('a starter that hangs without answering is stopped: the build does not hang, and the job runs once', () => {
  const project = setup();
  const result = project.run(['experiments/exp.yaml', '-j', '1'], { CKBUILD_JOB_STARTER: failingStarter(project, true, 'exec sleep 600') }, 60_000);
  assert.equal(result.code, 0, result.stdout + result.stderr);
  assert.equal(project.read('starter-read.log').trim().split('\n').length, 1, 'the stand-in read one job and hung');
  assert.deepEqual(ran(project), ['a', 'b', 'c']);
  assert.ok(project.manifest().runs.every((r) => r.status === 'succeeded'), result.stdout);
});

test('prepare() starts the job starter before the first job, and close() stops one that was never used', { skip: skipWithoutPython }, async () => {
  const { LocalExecutor } = await import('../../core/executors/local.js');
  const executor = new LocalExecutor({ jobs: 2, gpus: [], environment: { ...process.env } });
  assert.deepEqual(ownStarters(), [], 'creating the executor starts nothing (status and cancel create one too)');
  executor.prepare();
  // The build writes its run directories meanwhile; the helper boots beside it.
  await waitFor(() => ownStarters().length === 1, 10_000, 'the job starter to be started');
  const [pid] = ownStarters();
  await executor.close();
  await waitFor(() => !existsSync(`/proc/${pid}`) || readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z '), 10_000, 'the unused job starter to stop');
});
