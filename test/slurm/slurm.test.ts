/**
 * The SLURM executor against a real one-node SLURM (test/slurm/cluster/local-slurm.sh): command-rule jobs
 * stand in for fine-tunes and evaluations.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { describe, test } from 'node:test';
import { readStatusFile } from '../../core/executors/statusFile.js';
import { slurmSkipReason, squeueNames } from '../helpers/slurm.js';
import { exitOf, TempProject, waitFor } from '../helpers/project.js';

const skip = slurmSkipReason();
if (skip) console.log(`# ${skip}`);

interface StatusJson {
  runs: Array<{ id: string; key: string; status: string; detail: string | null; job_id: string | null; elapsed_s: number | null }>;
}

function project(body: string, local?: string): TempProject {
  const p = new TempProject();
  p.write('.gitignore', 'runs/\n.ckbuild/\nckbuild.local.yaml\n');
  // A unique parameter per test keeps keys (and SLURM job names) distinct between tests.
  p.write('experiments/exp.yaml', `version: "1.0"\nexperiment_name: exp\nprepare:\n${body.replace(/TAG/g, randomUUID().slice(0, 8))}`);
  if (local) p.write('ckbuild.local.yaml', local);
  return p;
}

function status(p: TempProject): Map<string, StatusJson['runs'][number]> {
  const result = p.run(['status', 'experiments/exp.yaml', '--json', '--executor', 'slurm']);
  assert.equal(result.code, 0, result.stderr);
  return new Map((JSON.parse(result.stdout) as StatusJson).runs.map((r) => [r.id, r]));
}

async function settle(p: TempProject, timeoutMs = 60_000): Promise<Map<string, StatusJson['runs'][number]>> {
  let last = status(p);
  await waitFor(() => {
    last = status(p);
    return [...last.values()].every((r) => !['queued', 'running', 'submitted'].includes(r.status));
  }, timeoutMs, 'jobs to finish');
  return last;
}

const startedAt = (p: TempProject, id: string, field: 'started_at' | 'finished_at'): number => {
  const manifest = p.manifest().runs.find((r) => r.id === id)!;
  const runDir = p.path(String(manifest.run_dir));
  return Date.parse(readStatusFile(runDir)![field]);
};

describe('SLURM executor', { skip: skip ?? false, concurrency: false }, () => {
  test('a fine-tune → eval chain is submitted at once; the eval starts only after its upstream succeeds', async () => {
    const p = project(`  train:
    command: 'sleep 3; echo TAG > "$CK_OUTPUTS/model.txt"'
    outputs: [model.txt]
  evaluate:
    command: 'cat "$CK_NEEDS_TRAIN/model.txt" > "$CK_OUTPUTS/score.txt"'
    needs: [train]
    outputs: [score.txt]
`);
    const started = Date.now();
    const submit = p.run(['experiments/exp.yaml', '--executor', 'slurm']);
    assert.equal(submit.code, 0, submit.stdout + submit.stderr);
    assert.ok(Date.now() - started < 15_000, 'submission returns without waiting for the jobs');
    assert.match(submit.stdout, /start\s+prepare\/train .*\(slurm \d+\)/);
    assert.match(submit.stdout, /start\s+prepare\/evaluate .*\(slurm \d+\)/);
    const queued = p.manifest().runs;
    assert.ok(queued.every((r) => ['queued', 'running'].includes(r.status) && /^\d+$/.test(String(r.job_id))), JSON.stringify(queued.map((r) => r.status)));
    const final = await settle(p);
    assert.equal(final.get('prepare/train')!.status, 'succeeded');
    assert.equal(final.get('prepare/evaluate')!.status, 'succeeded');
    assert.ok(startedAt(p, 'prepare/evaluate', 'started_at') >= startedAt(p, 'prepare/train', 'finished_at'), 'eval started after train finished');
    assert.match(p.git('log', '-1', '--format=%s'), /^exp: /);
    // A rebuild after success submits nothing.
    const again = p.run(['experiments/exp.yaml', '--executor', 'slurm']);
    assert.match(again.stdout, /up to date/);
  });

  test('a failing upstream cancels its dependents (afterok with kill-on-invalid-dep)', async () => {
    const p = project(`  train:
    command: 'echo TAG; exit 3'
    outputs: [model.txt]
  evaluate:
    command: 'echo never > "$CK_OUTPUTS/score.txt"'
    needs: [train]
    outputs: [score.txt]
`);
    assert.equal(p.run(['experiments/exp.yaml', '--executor', 'slurm']).code, 0);
    const final = await settle(p);
    assert.equal(final.get('prepare/train')!.status, 'failed');
    assert.equal(final.get('prepare/evaluate')!.status, 'cancelled');
    assert.match(String(final.get('prepare/evaluate')!.detail), /upstream/);
    // status names the SLURM job's log and shows its last lines; `ckbuild log` prints it.
    const shown = p.run(['status', 'experiments/exp.yaml', '--executor', 'slurm']);
    assert.match(shown.stdout, /log: runs\/.*\/outputs\/slurm-\d+\.out \(last \d+ lines?\)\n\s+│ /);
    assert.match(p.run(['log', 'prepare/train']).stdout, /^[0-9a-f-]+$/m);
    // Rerunning resubmits the failed run and its dependent.
    const retry = p.run(['experiments/exp.yaml', '--executor', 'slurm']);
    assert.match(retry.stdout, /start\s+prepare\/train/);
    assert.match(retry.stdout, /start\s+prepare\/evaluate/);
    await settle(p);
  });

  test('a second ckbuild while jobs are queued submits nothing', async () => {
    const p = project(`  slow:
    command: 'sleep 4; echo TAG > "$CK_OUTPUTS/x"'
    outputs: [x]
`);
    assert.equal(p.run(['experiments/exp.yaml', '--executor', 'slurm']).code, 0);
    const key = p.manifest().runs[0]!.key.slice(0, 12);
    const second = p.run(['experiments/exp.yaml', '--executor', 'slurm']);
    assert.equal(second.code, 0, second.stderr);
    assert.doesNotMatch(second.stdout, /start/);
    assert.equal(squeueNames().filter((line) => line.includes(key)).length, 1);
    await settle(p);
  });

  test('kill -9 right after sbatch, manifest lost: the rerun adopts the job, never a duplicate', async () => {
    const p = project(`  slow:
    command: 'sleep 6; echo TAG > "$CK_OUTPUTS/x"'
    outputs: [x]
`);
    const planned = JSON.parse(p.run(['plan', 'experiments/exp.yaml', '--json']).stdout) as { runs: Array<{ key: string }> };
    const key = planned.runs[0]!.key.slice(0, 12);
    const child = p.start(['experiments/exp.yaml', '--executor', 'slurm']);
    await waitFor(() => squeueNames().some((line) => line.includes(key)), 20_000, 'the job to appear in squeue');
    child.kill('SIGKILL');
    await exitOf(child);
    rmSync(p.path('experiments/exp.manifest.json'), { force: true }); // as if the crash came before the write
    const rerun = p.run(['experiments/exp.yaml', '--executor', 'slurm']);
    assert.equal(rerun.code, 0, rerun.stdout + rerun.stderr);
    assert.match(rerun.stdout, /adopt\s+prepare\/slow/);
    assert.equal(squeueNames().filter((line) => line.includes(key)).length, 1, 'exactly one job for the run');
    const final = await settle(p);
    assert.equal(final.get('prepare/slow')!.status, 'succeeded');
  });

  test('sbatch missing, or rejecting a job (bad partition): a clear error and a correct manifest', () => {
    const p = project(`  one:
    command: 'echo TAG > "$CK_OUTPUTS/x"'
    outputs: [x]
`);
    const noSbatch = p.run(['experiments/exp.yaml', '--executor', 'slurm'], { PATH: '/usr/local/bin:/bin' .split(':').filter((d) => !existsSync(`${d}/sbatch`)).join(':') });
    assert.equal(noSbatch.code, 1);
    // No sbatch here is no verdict on the run: said once, nothing recorded.
    assert.match(noSbatch.stderr, /error: sbatch is not available on this machine/);
    assert.match(noSbatch.stdout, /1 run\(s\) not submitted and not recorded: prepare\/one/);
    assert.equal(existsSync(p.path('experiments', 'exp.manifest.json')) ? p.manifest().runs.length : 0, 0);

    p.write('ckbuild.local.yaml', 'partition: nosuchpartition\n');
    const rejected = p.run(['experiments/exp.yaml', '--executor', 'slurm']);
    assert.equal(rejected.code, 1);
    assert.match(rejected.stdout, /partition "nosuchpartition" does not exist on this cluster \(partitions: debug\)/);
    const record = p.manifest().runs[0]!;
    assert.equal(record.status, 'failed');
    assert.match(String(record.detail), /partition/i);
  });

  test('GPU jobs get CUDA_VISIBLE_DEVICES from the fake gres', async () => {
    const p = project(`  gpu:
    command: 'echo "TAG $CUDA_VISIBLE_DEVICES" > "$CK_OUTPUTS/devices.txt"'
    outputs: [devices.txt]
`);
    p.write('experiments/exp.yaml', p.read('experiments/exp.yaml') + 'resources:\n  prepare: { gpus: 1, time: "00:05:00" }\n');
    assert.equal(p.run(['experiments/exp.yaml', '--executor', 'slurm']).code, 0);
    const final = await settle(p);
    assert.equal(final.get('prepare/gpu')!.status, 'succeeded');
    const record = p.manifest().runs[0]!;
    const devices = readFileSync(p.path(String(record.run_dir), 'outputs', 'devices.txt'), 'utf8');
    assert.match(devices, / [01]\n$/);
    assert.match(readFileSync(p.path(String(record.run_dir), 'config', 'job.sh'), 'utf8'), /#SBATCH --gres=gpu:1/);
  });

  test('a sweep of independent runs goes out as one job array', async () => {
    const steps = [1, 2, 3, 4, 5].map((i) => `  s${i}:\n    command: 'echo TAG ${i} > "$CK_OUTPUTS/x"'\n    outputs: [x]\n`).join('');
    const p = project(steps, 'slurm: { array_min: 3, array_throttle: 2 }\n');
    const submit = p.run(['experiments/exp.yaml', '--executor', 'slurm']);
    assert.equal(submit.code, 0, submit.stderr);
    const jobIds = p.manifest().runs.map((r) => String(r.job_id));
    assert.equal(jobIds.length, 5);
    assert.ok(jobIds.every((id) => /^\d+_\d$/.test(id)), `array task ids: ${jobIds.join(' ')}`);
    assert.equal(new Set(jobIds.map((id) => id.split('_')[0])).size, 1, 'one array job');
    const final = await settle(p);
    assert.ok([...final.values()].every((r) => r.status === 'succeeded'));
  });

  test('--wait blocks until the submitted runs finish; cancel stops queued and running jobs', async () => {
    const p = project(`  quick:
    command: 'sleep 1; echo TAG > "$CK_OUTPUTS/x"'
    outputs: [x]
`);
    const waited = p.run(['experiments/exp.yaml', '--executor', 'slurm', '--wait']);
    assert.equal(waited.code, 0, waited.stdout + waited.stderr);
    assert.match(waited.stdout, /done\s+prepare\/quick/);
    const record = p.manifest().runs[0]!;
    assert.equal(record.status, 'succeeded');
    assert.ok(typeof record.elapsed_s === 'number' && typeof record.node === 'string' && record.gpu_hours === 0, JSON.stringify(record));

    const q = project(`  long:
    command: 'sleep 120; echo TAG > "$CK_OUTPUTS/x"'
    outputs: [x]
  after:
    command: 'echo TAG > "$CK_OUTPUTS/y"'
    needs: [long]
    outputs: [y]
`);
    assert.equal(q.run(['experiments/exp.yaml', '--executor', 'slurm']).code, 0);
    const cancel = q.run(['cancel', 'experiments/exp.yaml']);
    assert.equal(cancel.code, 0, cancel.stderr);
    assert.match(cancel.stdout, /cancelled prepare\/long/);
    const final = await settle(q, 30_000);
    assert.equal(final.get('prepare/long')!.status, 'cancelled');
    assert.equal(final.get('prepare/after')!.status, 'cancelled');
  });

  test('an unresponsive controller: sbatch times out, ckbuild retries and adopts the job that landed, never a duplicate', async () => {
    const p = project(`  flaky:
    command: 'echo TAG > "$CK_OUTPUTS/x"'
    outputs: [x]
`);
    const key = (JSON.parse(p.run(['plan', 'experiments/exp.yaml', '--json']).stdout) as { runs: Array<{ key: string }> }).runs[0]!.key.slice(0, 12);
    const controller = Number(readFileSync('/run/slurm-local/slurmctld.pid', 'utf8').trim());
    process.kill(controller, 'SIGSTOP'); // sbatch's 10 s MessageTimeout expires while the request sits in the socket
    const resume = setTimeout(() => process.kill(controller, 'SIGCONT'), 22_000);
    try {
      const child = p.start(['experiments/exp.yaml', '--executor', 'slurm']);
      const code = await exitOf(child);
      assert.equal(code, 0, child.output());
    } finally {
      clearTimeout(resume);
      process.kill(controller, 'SIGCONT');
    }
    await settle(p);
    // Finished jobs stay in squeue -t all for an hour (MinJobAge); sacct -c lags behind completion.
    const jobs = spawnSync('squeue', ['-h', '-t', 'all', '-o', '%i|%j'], { encoding: 'utf8', maxBuffer: 1 << 28 }).stdout.split('\n').filter((line) => line.includes(key));
    assert.equal(jobs.length, 1, `one job for the run, got: ${jobs.join(' | ')}`);
  });

  test('over budget: refuses to submit and says by how much, unless --force', () => {
    const p = project(`  big:
    command: 'echo TAG > "$CK_OUTPUTS/x"'
    outputs: [x]
`);
    p.write('experiments/exp.yaml', p.read('experiments/exp.yaml') + 'protocol: { type: standard, budget_gpu_hours: 0.5 }\nresources:\n  prepare: { gpus: 2, time: "01:00:00" }\n');
    const refused = p.run(['experiments/exp.yaml', '--executor', 'slurm']);
    assert.equal(refused.code, 4);
    assert.match(refused.stderr, /estimated 2 GPU-hours, over budget_gpu_hours 0\.5 by 1\.5/);
    assert.equal(existsSync(p.path('experiments/exp.manifest.json')), false);
    assert.ok(!readdirSync(p.dir).includes('runs') || readdirSync(p.path('runs')).length === 0);
  });
});

// The defects of issue 11 run in this file's process, after the tests above, never beside them.
await import('./defects.js');
await import('./crash.js');
