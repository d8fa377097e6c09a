/**
 * Issue 11 (and 17's absent controller) against the real local SLURM: controller crashes,
 * vanished jobs, a ckbuild killed while sbatch is in flight, two checkouts of one experiment,
 * arrays over MaxArraySize and grids as arrays, transient errors and verdicts, requests the
 * cluster can never satisfy. A PATH shim around sbatch only slows it down or makes it fail.
 * Imported by slurm.test.ts, so that no two files drive (and crash) the one cluster at once.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { readStatusFile } from '../../core/executors/statusFile.js';
import { projectRoot } from '../helpers/paths.js';
import { slurmSkipReason } from '../helpers/slurm.js';
import { exitOf, TempProject, waitFor } from '../helpers/project.js';

const skip = slurmSkipReason();
if (skip) console.log(`# ${skip}`);

type Run = { id: string; key: string; status: string; detail: string | null; job_id: string | null };

function experiment(steps: string, tag = randomUUID().slice(0, 8), extra = ''): string {
  return `version: "1.0"\nexperiment_name: exp\nprepare:\n${steps.replace(/TAG/g, tag)}${extra}`;
}

function project(text: string, local?: string): TempProject {
  const p = new TempProject();
  p.write('.gitignore', 'runs/\n.ckbuild/\nckbuild.local.yaml\n');
  p.write('experiments/exp.yaml', text);
  if (local) p.write('ckbuild.local.yaml', local);
  return p;
}

function status(p: TempProject, env: Record<string, string> = {}): Map<string, Run> {
  const result = p.run(['status', 'experiments/exp.yaml', '--json', '--executor', 'slurm'], env);
  assert.equal(result.code, 0, result.stdout + result.stderr);
  return new Map((JSON.parse(result.stdout) as { runs: Run[] }).runs.map((r) => [r.id, r]));
}

async function settle(p: TempProject, timeoutMs = 90_000, tick: () => void = () => {}): Promise<Map<string, Run>> {
  let last = status(p);
  await waitFor(() => {
    tick();
    last = status(p);
    return [...last.values()].every((r) => !['queued', 'running', 'submitted'].includes(r.status));
  }, timeoutMs, 'jobs to finish');
  return last;
}

/** All jobs the controller knows, with name and comment. */
function jobs(): Array<{ id: string; name: string; state: string; comment: string }> {
  // Every job of the last hour (MinJobAge): after a few suites that is over spawnSync's default
  // 1 MB of output, which cut the list short and lost jobs the test was looking for.
  const listed = spawnSync('squeue', ['-h', '-r', '-t', 'all', '-o', '%i|%j|%T|%k'], { encoding: 'utf8', maxBuffer: 1 << 28 });
  if (listed.error || listed.status !== 0) throw new Error(`squeue failed: ${listed.error?.message ?? listed.stderr}`);
  const out = listed.stdout;
  return out.split('\n').filter(Boolean).map((line) => {
    const [id = '', name = '', state = '', ...comment] = line.split('|');
    return { id, name, state, comment: comment.join('|') };
  });
}

function keysOf(p: TempProject): string[] {
  return (JSON.parse(p.run(['plan', 'experiments/exp.yaml', '--json']).stdout) as { runs: Array<{ key: string }> }).runs.map((r) => r.key);
}

/** A directory with an `sbatch` that sleeps first (a slow controller) or fails as scripted. */
function sbatchShim(body: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'ck-sbatch-'));
  const file = join(dir, 'sbatch');
  writeFileSync(file, `#!/usr/bin/env bash\n${body}\n`);
  chmodSync(file, 0o755);
  return dir;
}

const withShim = (dir: string): Record<string, string> => ({ PATH: `${dir}:${process.env.PATH}` });
const cluster = join(projectRoot, 'test', 'slurm', 'cluster', 'local-slurm.sh');

function restartController(): void {
  const result = spawnSync('bash', [cluster, 'start', '--quiet'], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(result.status, 0, result.stdout + result.stderr);
  // A job the crash lost may still run on the node under a reused id; the node must take jobs again.
  spawnSync('scontrol', ['update', 'nodename=vm', 'state=resume']);
}

function killController(): void {
  const pid = Number(readFileSync('/run/slurm-local/slurmctld.pid', 'utf8').trim());
  process.kill(pid, 'SIGKILL');
  spawnSync('bash', ['-c', `while kill -0 ${pid} 2>/dev/null && ! grep -q '^State:.*Z' /proc/${pid}/status 2>/dev/null; do sleep 0.05; done`], { timeout: 10_000 });
}

function trainEval(count: number): string {
  let steps = '';
  for (let i = 0; i < count; i++) {
    steps += `  t${i}:\n    command: 'sleep 1; echo TAG ${i} > "$CK_OUTPUTS/m"'\n    outputs: [m]\n`;
    steps += `  e${i}:\n    command: 'cat "$CK_NEEDS_T${i}/m" > "$CK_OUTPUTS/s"'\n    needs: [t${i}]\n    outputs: [s]\n`;
  }
  return steps;
}

describe('SLURM defects (issue 11)', { skip: skip ?? false, concurrency: false }, () => {
  test('controller SIGKILL mid 16-run submission: every record agrees with the job carrying its key; no evaluation runs without its fine-tune', async () => {
    const p = project(experiment(trainEval(8)), 'slurm: { array_min: 100 }\n');
    const keys = new Set(keysOf(p));
    const shim = sbatchShim('sleep 0.3\nexec /usr/bin/sbatch "$@"');
    const child = p.start(['experiments/exp.yaml', '--executor', 'slurm'], withShim(shim));
    const ours = (): number => jobs().filter((j) => [...keys].some((k) => j.comment.includes(k))).length;
    await waitFor(() => ours() >= 4, 30_000, 'four jobs accepted');
    killController();
    await new Promise((resolve) => setTimeout(resolve, 1500));
    restartController();
    // 1 when the controller lost some of the jobs (those runs are "interrupted"), never a crash.
    assert.ok([0, 1].includes(await exitOf(child)), child.output());
    // Each record's job id, if the controller knows it, is the job that carries that record's key.
    const queue = new Map(jobs().map((j) => [j.id, j]));
    const records = p.manifest().runs;
    // (Runs skipped below a lost fine-tune have no job at all.)
    const ids = records.filter((r) => r.job_id).map((r) => String(r.job_id));
    assert.equal(new Set(ids).size, ids.length, `no two runs share a job id: ${ids.join(' ')}`);
    // After a controller crash, slurmd may still hold a lost job under an id the controller hands
    // out again and drains the node ("Duplicate jobid"): what a cluster's admin or ReturnToService
    // undoes. The test does it, so the runs can finish.
    const final = await settle(p, 90_000, () => {
      if (/drain/.test(spawnSync('sinfo', ['-h', '-o', '%T'], { encoding: 'utf8' }).stdout)) spawnSync('scontrol', ['update', 'nodename=vm', 'state=resume']);
    });
    for (const [id, run] of final) {
      // A run whose recorded id now names another run's job was lost: interrupted, never that job's verdict.
      const job = queue.get(String(run.job_id));
      // (Unless its own job ran before the crash and left its verdict, written under that id.)
      if (job && !job.comment.includes(run.key)) {
        const record = p.manifest().runs.find((r) => r.id === id)!;
        const own: { job_id?: string; status?: string } = readStatusFile(p.path(String(record.run_dir))) ?? {};
        if (run.status !== 'interrupted') assert.ok(run.status === 'succeeded' && own.job_id === run.job_id && own.status === 'succeeded', `${id}: job ${run.job_id} carries ${job.name}; ${run.status}: ${run.detail}`);
      }
    }
    for (let i = 0; i < 8; i++) {
      const evaluation = final.get(`prepare/e${i}`)!;
      const train = final.get(`prepare/t${i}`)!;
      if (evaluation.status === 'succeeded') assert.equal(train.status, 'succeeded', `e${i} ran only after t${i}`);
      assert.notEqual(evaluation.status === 'failed' && train.status !== 'succeeded', true, `e${i} never ran without t${i}: ${evaluation.detail}`);
    }
    // A rebuild brings every lost run back.
    const again = p.run(['experiments/exp.yaml', '--executor', 'slurm', '--wait']);
    assert.equal(again.code, 0, again.stdout + again.stderr);
    assert.ok([...status(p).values()].every((r) => r.status === 'succeeded'));
  });

  test('several jobs vanish at once: each is noticed (not queued forever), and a rebuild resubmits them', async () => {
    const steps = [0, 1, 2, 3].map((i) => `  v${i}:\n    command: 'sleep 20; echo TAG ${i} > "$CK_OUTPUTS/x"'\n    outputs: [x]\n`).join('');
    const p = project(experiment(steps));
    const keys = keysOf(p);
    // A controller that crashes before saving its state forgets the jobs it accepted: its saved
    // state is put back to what it was before the submission, then it is SIGKILLed and restarted.
    // A blocker holding every CPU keeps the runs pending, so no forgotten job is still running
    // on the node when the controller hands its id out again (slurmd would drain the node).
    const savedAt0 = statSync('/var/spool/slurm-local/ctld/job_state').mtimeMs;
    const blocker = spawnSync('sbatch', ['--parsable', '-c', '8', '--output=/dev/null', '--wrap', 'sleep 60'], { encoding: 'utf8' }).stdout.trim();
    await waitFor(() => jobs().some((j) => j.id === blocker && j.state === 'RUNNING'), 20_000, 'the blocker to run');
    const saved = '/var/spool/slurm-local/ctld/job_state';
    // The snapshot must hold the blocker (a running job the restored controller did not know
    // would collide with a reused id): wait for the controller to save after accepting it.
    await waitFor(() => statSync(saved).mtimeMs > savedAt0, 30_000, 'the controller to save its state');
    await new Promise((resolve) => setTimeout(resolve, 500));
    const before = readFileSync(saved);
    assert.equal(p.run(['experiments/exp.yaml', '--executor', 'slurm']).code, 0);
    killController();
    writeFileSync(saved, before);
    rmSync(`${saved}.old`, { force: true });
    restartController();
    const known = jobs();
    const vanished = p.manifest().runs.filter((r) => !known.some((j) => j.id === String(r.job_id) && j.comment.includes(r.key))).map((r) => r.id);
    assert.equal(vanished.length, 4, `every job vanished (${vanished.length})`);
    const seen = status(p);
    for (const id of vanished) assert.equal(seen.get(id)!.status, 'interrupted', `${id}: ${seen.get(id)!.detail}`);
    const rebuild = p.run(['experiments/exp.yaml', '--executor', 'slurm']);
    for (const id of vanished) assert.match(rebuild.stdout, new RegExp(`start\\s+${id}`));
    p.run(['cancel', 'experiments/exp.yaml']);
    spawnSync('scancel', [blocker]);
    spawnSync('scontrol', ['update', 'nodename=vm', 'state=resume']);
    assert.equal(keys.length, 4);
  });

  test('kill -9 of ckbuild while a slow sbatch is in flight: the rerun waits for it and adopts, never a duplicate', async () => {
    const steps = `  slow:\n    command: 'sleep 3; echo TAG > "$CK_OUTPUTS/x"'\n    outputs: [x]\n`;
    const grid = Array.from({ length: 12 }, (_, i) => `  g${i}:\n    command: 'echo TAG ${i} > "$CK_OUTPUTS/x"'\n    outputs: [x]\n`).join('');
    const p = project(experiment(steps + grid), 'slurm: { array_min: 10 }\n');
    const keys = keysOf(p);
    const shim = sbatchShim('sleep 3\nexec /usr/bin/sbatch "$@"');
    const child = p.start(['experiments/exp.yaml', '--executor', 'slurm'], withShim(shim));
    const inFlight = (): boolean => spawnSync('pgrep', ['-f', '--', '--job-name=ck-'], { encoding: 'utf8' }).stdout.trim().length > 0;
    await waitFor(inFlight, 30_000, 'sbatch in flight');
    child.kill('SIGKILL');
    await exitOf(child);
    const rerun = p.run(['experiments/exp.yaml', '--executor', 'slurm']);
    assert.equal(rerun.code, 0, rerun.stdout + rerun.stderr);
    await settle(p);
    const all = jobs();
    for (const key of keys) {
      const carrying = all.filter((j) => j.comment.includes(key) || (j.comment.startsWith('ckbuild-array:') && p.manifest().runs.some((r) => r.key === key && String(r.job_id) === j.id)));
      assert.ok(carrying.length <= 1, `one job for ${key.slice(0, 12)}: ${carrying.map((j) => j.id).join(' ')}`);
    }
    const arrays = new Set(all.filter((j) => j.comment.startsWith('ckbuild-array:') && readdirSync(p.path('runs', '.arrays')).some((f) => j.comment.includes(f.replace(/\.list$/, '')))).map((j) => j.id.split('_')[0]));
    assert.equal(arrays.size, 1, `one array for the grid, got ${[...arrays].join(' ')}`);
    assert.ok([...status(p).values()].every((r) => r.status === 'succeeded'));
  });

  test('two checkouts of one experiment never adopt or cancel each other\'s jobs', async () => {
    const text = experiment(`  shared:\n    command: 'sleep 8; echo TAG > "$CK_OUTPUTS/x"'\n    outputs: [x]\n`);
    const a = project(text);
    const b = project(text);
    assert.deepEqual(keysOf(a), keysOf(b));
    const key = keysOf(a)[0]!;
    assert.equal(a.run(['experiments/exp.yaml', '--executor', 'slurm']).code, 0);
    const second = b.run(['experiments/exp.yaml', '--executor', 'slurm']);
    assert.equal(second.code, 0, second.stderr);
    assert.doesNotMatch(second.stdout, /adopt/);
    assert.match(second.stdout, /start\s+prepare\/shared/);
    const idA = String(a.manifest().runs[0]!.job_id);
    const idB = String(b.manifest().runs[0]!.job_id);
    assert.notEqual(idA, idB);
    assert.equal(jobs().filter((j) => j.comment.includes(key)).length, 2);
    assert.equal(b.run(['cancel', 'experiments/exp.yaml']).code, 0);
    const stateOf = (id: string): string | undefined => jobs().find((j) => j.id === id)?.state;
    await waitFor(() => stateOf(idB) === 'CANCELLED', 15_000, `job ${idB} of checkout B to be cancelled`);
    assert.match(String(stateOf(idA)), /PENDING|RUNNING/);
    const final = await settle(a);
    assert.equal(final.get('prepare/shared')!.status, 'succeeded');
    assert.ok(existsSync(a.path(String(a.manifest().runs[0]!.run_dir), 'outputs', 'x')));
  });

  test('a 1,050 fine-tune + 1,050 evaluation grid: arrays split at MaxArraySize, evaluations as aftercorr arrays', async () => {
    const p = project(experiment(trainEval(1050)), 'slurm: { max_queued: 5000 }\n');
    try {
      const started = Date.now();
      // Seconds on an idle cluster (5 s measured); generous so a slow machine is slow, not a failure.
      const submit = p.run(['experiments/exp.yaml', '--executor', 'slurm'], {}, 600_000);
      const seconds = (Date.now() - started) / 1000;
      assert.equal(submit.code, 0, submit.stdout.slice(-2000) + submit.stderr);
      const records = p.manifest().runs;
      assert.equal(records.length, 2100);
      const arrayIds = new Set(records.map((r) => String(r.job_id).split('_')[0]));
      const tasks = jobs().filter((j) => records.some((r) => String(r.job_id) === j.id));
      const maxIndex = Math.max(...records.map((r) => Number(String(r.job_id).split('_')[1])));
      console.log(`# 2,100-run grid: submitted in ${seconds.toFixed(1)} s as ${arrayIds.size} sbatch calls (arrays); highest task index ${maxIndex}`);
      assert.ok(records.every((r) => /^\d+_\d+$/.test(String(r.job_id))), 'every run is an array task');
      assert.ok(arrayIds.size <= 6, `a handful of arrays, got ${arrayIds.size}`);
      assert.ok(maxIndex < 1001, 'no index at or over MaxArraySize');
      assert.equal(tasks.length, 2100);
      const deps = spawnSync('squeue', ['-h', '-o', '%i|%E', '-j', [...arrayIds].join(',')], { encoding: 'utf8' }).stdout;
      assert.match(deps, /aftercorr:\d+/);
    } finally {
      // 2,100 trivial jobs would hold the one node for minutes: they are not what is tested.
      const arrays = [...new Set(p.manifest().runs.map((r) => String(r.job_id).split('_')[0]!))];
      spawnSync('scancel', arrays);
    }
  });

  test('a controller refusing jobs (its job table full) is said at once, nothing is recorded, and the next build submits', () => {
    // The real sbatch's words when slurmctld is at MaxJobCount (measured on the local cluster with
    // MaxJobCount lowered); it then sleeps and retries by itself for about two minutes.
    const full = sbatchShim('echo "sbatch: error: Slurm temporarily unable to accept job, sleeping and retrying" >&2\nexec sleep 300');
    const p = project(experiment(`  one:\n    command: 'echo TAG > "$CK_OUTPUTS/x"'\n    outputs: [x]\n`));
    const started = Date.now();
    const refused = p.run(['experiments/exp.yaml', '--executor', 'slurm', '--wait'], withShim(full));
    const seconds = (Date.now() - started) / 1000;
    assert.equal(refused.code, 1, refused.stdout + refused.stderr);
    assert.ok(seconds < 20, `said within seconds, not after sbatch's minutes of retrying: ${seconds.toFixed(1)} s`);
    assert.match(refused.stdout + refused.stderr, /not accepting jobs \(Slurm temporarily unable to accept job\).*MaxJobCount/);
    const recorded = existsSync(join(p.dir, 'experiments/exp.manifest.json')) ? p.manifest().runs : [];
    assert.deepEqual(recorded.map((run) => run.id), [], 'no record for a run that was never queued');
    const next = p.run(['experiments/exp.yaml', '--executor', 'slurm', '--wait']);
    assert.equal(next.code, 0, next.stdout + next.stderr);
    assert.equal(p.manifest().runs[0]!.status, 'succeeded');
  });

  test('transient sbatch errors are retried; a two-line rejection stays on one line', () => {
    const p = project(experiment(`  one:\n    command: 'echo TAG > "$CK_OUTPUTS/x"'\n    outputs: [x]\n`));
    const state = mkdtempSync(join(tmpdir(), 'ck-flaky-'));
    const flaky = sbatchShim(`if [ ! -e ${state}/failed ]; then touch ${state}/failed; echo "sbatch: error: slurm_persist_conn_open: Connection reset by peer" >&2; echo "sbatch: error: Batch job submission failed: Connection reset by peer" >&2; exit 1; fi\nexec /usr/bin/sbatch "$@"`);
    const retried = p.run(['experiments/exp.yaml', '--executor', 'slurm', '--wait'], withShim(flaky));
    assert.equal(retried.code, 0, retried.stdout + retried.stderr);
    assert.equal(p.manifest().runs[0]!.status, 'succeeded');

    const q = project(experiment(`  two:\n    command: 'echo TAG > "$CK_OUTPUTS/x"'\n    outputs: [x]\n`));
    const rejecting = sbatchShim('echo "sbatch: error: Batch job submission failed: Invalid account or account/partition combination specified" >&2\necho "sbatch: error: check your association" >&2\nexit 1');
    const rejected = q.run(['experiments/exp.yaml', '--executor', 'slurm'], withShim(rejecting));
    assert.equal(rejected.code, 1);
    const detail = String(q.manifest().runs[0]!.detail);
    assert.doesNotMatch(detail, /\n/);
    assert.match(detail, /Invalid account or account\/partition combination specified; check your association/);
  });

  test('a job killed for its memory is recorded oom; a cancelled job says who cancelled it', async () => {
    const p = project(experiment(`  hungry:\n    command: 'echo TAG; python3 -c "x = bytearray(600 * 1024 * 1024); import time; time.sleep(30)"'\n    outputs: [x]\n`, undefined, 'resources:\n  prepare: { mem: 100M, time: "00:05:00" }\n'));
    assert.equal(p.run(['experiments/exp.yaml', '--executor', 'slurm']).code, 0);
    const final = await settle(p, 60_000);
    assert.equal(final.get('prepare/hungry')!.status, 'oom', String(final.get('prepare/hungry')!.detail));
    assert.match(String(final.get('prepare/hungry')!.detail), /memory/);

    const q = project(experiment(`  long:\n    command: 'sleep 120; echo TAG > "$CK_OUTPUTS/x"'\n    outputs: [x]\n`));
    assert.equal(q.run(['experiments/exp.yaml', '--executor', 'slurm']).code, 0);
    const id = String(q.manifest().runs[0]!.job_id);
    spawnSync('scancel', [id]);
    const cancelled = await settle(q, 30_000);
    assert.equal(cancelled.get('prepare/long')!.status, 'cancelled');
    assert.doesNotMatch(String(cancelled.get('prepare/long')!.detail), /SLURM: None/);
    assert.match(String(cancelled.get('prepare/long')!.detail), /cancelled/);
  });

  test('requests the cluster can never satisfy fail before submission, naming the request and the limit, per run', () => {
    const steps = `  big:\n    command: 'echo TAG > "$CK_OUTPUTS/x"'\n    outputs: [x]\n  gpus:\n    command: 'echo TAG > "$CK_OUTPUTS/y"'\n    outputs: [y]\n`;
    // Twice the node's memory, whatever machine runs the tests (CI's may have more than 40G).
    const realMemoryMb = Number(/RealMemory=(\d+)/.exec(spawnSync('scontrol', ['show', 'node'], { encoding: 'utf8' }).stdout)?.[1]);
    assert.ok(realMemoryMb > 0, 'scontrol shows the node memory');
    const mem = `${realMemoryMb * 2}M`;
    const p = project(experiment(steps, undefined, `resources:\n  prepare: { mem: ${mem}, gpus: 3 }\n`));
    // Ids, not a count: finished jobs of earlier tests age out of the controller meanwhile.
    const before = new Set(jobs().map((j) => j.id));
    const result = p.run(['experiments/exp.yaml', '--executor', 'slurm', '--keep-going']);
    assert.equal(result.code, 1, result.stdout + result.stderr);
    for (const record of p.manifest().runs) {
      assert.equal(record.status, 'failed');
      assert.match(String(record.detail), new RegExp(`mem ${mem} exceeds the memory of the largest node in partition debug \\(RealMemory ${realMemoryMb} MB\\)`));
      assert.match(String(record.detail), /gpus 3 exceeds the GPUs of the largest node in partition debug \(gres gpu:2\)/);
    }
    assert.deepEqual(jobs().filter((j) => !before.has(j.id)), [], 'nothing reached the queue (no BadConstraints job records)');
  });

  test('sbatch present but no controller answering: the first probe fails within seconds, plainly', () => {
    const p = project(experiment(`  one:\n    command: 'echo TAG > "$CK_OUTPUTS/x"'\n    outputs: [x]\n`));
    const conf = join(mkdtempSync(join(tmpdir(), 'ck-noctld-')), 'slurm.conf');
    writeFileSync(conf, readFileSync('/etc/slurm/slurm.conf', 'utf8').replace(/^SlurmctldPort=.*$/m, 'SlurmctldPort=6999'));
    const started = Date.now();
    const result = p.run(['experiments/exp.yaml', '--executor', 'slurm'], { SLURM_CONF: conf });
    const seconds = (Date.now() - started) / 1000;
    assert.ok(seconds < 10, `answered in ${seconds.toFixed(1)} s`);
    assert.equal(result.code, 1);
    assert.match(result.stdout + result.stderr, /the SLURM controller does not answer .*--executor local/);
    // Said once, and no verdict on the run: a controller that is down says nothing about it.
    assert.equal((result.stdout + result.stderr).match(/does not answer/g)?.length, 1, result.stdout + result.stderr);
    assert.match(result.stdout, /1 run\(s\) not submitted and not recorded: prepare\/one/);
    assert.equal(existsSync(p.path('experiments', 'exp.manifest.json')) ? p.manifest().runs.length : 0, 0);
  });

  test('the queue cap is a ceiling: a sweep over it submits up to the cap and returns; the next build submits the rest', async () => {
    // 6 fine-tunes with an evaluation each under a cap of 5: arrays off, so the count is plain.
    const p = project(experiment(trainEval(6)), 'slurm: { max_queued: 5, array_min: 100 }\n');
    const started = Date.now();
    const first = p.run(['experiments/exp.yaml', '--executor', 'slurm']);
    assert.equal(first.code, 0, first.stdout + first.stderr);
    assert.ok(Date.now() - started < 30_000, 'the prompt comes back: no trickling while jobs run');
    assert.equal(p.manifest().runs.length, 5);
    assert.match(first.stdout, /7 run\(s\) wait for room in the queue \(slurm\.max_queued is 5 jobs\): run `ckbuild build experiments\/exp\.yaml` again/);
    // Every evaluation submitted has its fine-tune in the queue or done: the cap never splits a dependency wrongly.
    await settle(p);
    const second = p.run(['experiments/exp.yaml', '--executor', 'slurm']);
    assert.equal(second.code, 0, second.stdout + second.stderr);
    assert.equal(p.manifest().runs.length, 10);
    await settle(p);
    const third = p.run(['experiments/exp.yaml', '--executor', 'slurm', '--wait']);
    assert.equal(third.code, 0, third.stdout + third.stderr);
    const final = status(p);
    assert.equal(final.size, 12);
    assert.ok([...final.values()].every((r) => r.status === 'succeeded'), JSON.stringify([...final.values()].map((r) => `${r.id}:${r.status}`)));
  });

  test('a rejected fine-tune leaves its evaluation recorded skipped, naming it', () => {
    const steps = `  t:\n    command: 'echo TAG > "$CK_OUTPUTS/m"'\n    outputs: [m]\n  e:\n    command: 'cat "$CK_NEEDS_T/m" > "$CK_OUTPUTS/s"'\n    needs: [t]\n    outputs: [s]\n`;
    const p = project(experiment(steps, undefined, 'resources:\n  prepare: { gpus: 3 }\n'));
    const result = p.run(['experiments/exp.yaml', '--executor', 'slurm']);
    assert.equal(result.code, 1, result.stdout + result.stderr);
    const records = new Map(p.manifest().runs.map((r) => [r.id, r]));
    assert.equal(records.get('prepare/t')?.status, 'failed');
    assert.match(String(records.get('prepare/t')?.detail), /gpus 3 exceeds/);
    assert.equal(records.get('prepare/e')?.status, 'skipped');
    assert.match(String(records.get('prepare/e')?.detail), /upstream run prepare\/t did not succeed/);
  });
});
