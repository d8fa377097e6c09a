/**
 * mapState for every SLURM job state and the reasons that change a verdict: a table, no cluster.
 * Rows are what squeue (state, reason, dependency) and sacct (state text, "exit:signal") print.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { mapState, type SlurmRow } from '../../core/executors/slurm.js';
import { mayBeMemoryKill, neverStarts, parseExitCode } from '../../core/executors/slurm/states.js';
import type { JobStatusFile } from '../../core/executors/statusFile.js';

const row = (state: string, reason = 'None', extra: Partial<SlurmRow> = {}): SlurmRow => ({ jobId: '42', state, reason, node: 'vm', ...extra });
const file = (status: JobStatusFile['status'], detail = ''): JobStatusFile => ({ status, exit_code: status === 'succeeded' ? 0 : 1, started_at: '2026-01-01T00:00:00Z', finished_at: '2026-01-01T00:01:00Z', host: 'vm', pid: 1, job_id: '42', detail });

/** What the job's wrapper records when the framework dies of SIGKILL. */
const killed = (): JobStatusFile => ({ ...file('failed', 'the framework exited with status 137'), exit_code: 137 });

// [what SLURM says, what the job's status file says, expected status, expected detail (a pattern)]
const table: Array<[string, SlurmRow | undefined, JobStatusFile | undefined, string, RegExp | undefined]> = [
  ['PENDING', row('PENDING'), undefined, 'queued', undefined],
  ['PENDING Priority', row('PENDING', 'Priority'), undefined, 'queued', /pending: Priority/],
  ['PENDING Resources', row('PENDING', 'Resources'), undefined, 'queued', /pending: Resources/],
  ['PENDING Dependency', row('PENDING', 'Dependency', { dependency: 'afterok:41(unfulfilled)' }), undefined, 'queued', /upstream job \(job 41\)/],
  ['PENDING DependencyNeverSatisfied', row('PENDING', 'DependencyNeverSatisfied', { dependency: 'afterok:41(failed)' }), undefined, 'cancelled', /upstream job did not succeed \(job 41\)/],
  ['PENDING BadConstraints', row('PENDING', 'BadConstraints'), undefined, 'failed', /never start this job \(BadConstraints\)/],
  ['PENDING PartitionTimeLimit', row('PENDING', 'PartitionTimeLimit'), undefined, 'failed', /PartitionTimeLimit/],
  ['PENDING PartitionNodeLimit', row('PENDING', 'PartitionNodeLimit'), undefined, 'failed', /PartitionNodeLimit/],
  ['PENDING InvalidAccount', row('PENDING', 'InvalidAccount'), undefined, 'failed', /InvalidAccount/],
  ['PENDING QOSMaxWallDurationPerJobLimit', row('PENDING', 'QOSMaxWallDurationPerJobLimit'), undefined, 'failed', /QOSMaxWallDurationPerJobLimit/],
  ['PENDING AssocGrpGRES (a wait)', row('PENDING', 'AssocGrpGRES'), undefined, 'queued', /AssocGrpGRES/],
  ['PENDING PartitionDown (a wait)', row('PENDING', 'PartitionDown'), undefined, 'queued', /PartitionDown/],
  ['PENDING ReqNodeNotAvail (a wait)', row('PENDING', 'ReqNodeNotAvail, UnavailableNodes:vm'), undefined, 'queued', /ReqNodeNotAvail/],
  ['PENDING launch failed requeued held', row('PENDING', 'launch failed requeued held'), undefined, 'interrupted', /requeued it held/],
  ['PENDING JobHeldUser', row('PENDING', 'JobHeldUser'), undefined, 'queued', /held \(JobHeldUser\)/],
  ['PENDING JobHeldAdmin', row('PENDING', 'JobHeldAdmin'), undefined, 'queued', /held \(JobHeldAdmin\)/],
  ['CONFIGURING', row('CONFIGURING'), undefined, 'running', undefined],
  ['RUNNING', row('RUNNING'), file('running'), 'running', undefined],
  ['COMPLETING', row('COMPLETING'), undefined, 'running', undefined],
  ['RESIZING', row('RESIZING'), undefined, 'running', undefined],
  ['SIGNALING', row('SIGNALING'), undefined, 'running', undefined],
  ['STAGE_OUT', row('STAGE_OUT'), undefined, 'running', undefined],
  ['SUSPENDED', row('SUSPENDED'), undefined, 'running', /suspended/],
  ['STOPPED', row('STOPPED'), undefined, 'running', /SIGSTOP/],
  ['REQUEUED', row('REQUEUED'), undefined, 'queued', /requeued/],
  ['REQUEUE_HOLD', row('REQUEUE_HOLD'), undefined, 'queued', /held by SLURM/],
  ['COMPLETED', row('COMPLETED', 'None', { exitCode: 0 }), file('succeeded'), 'succeeded', undefined],
  ['COMPLETED without a status file', row('COMPLETED', 'None', { exitCode: 0 }), undefined, 'succeeded', undefined],
  ['COMPLETED, the job says diverged', row('COMPLETED'), file('diverged', 'loss 7.2 > early_stop_loss 5'), 'diverged', /loss 7\.2/],
  ['COMPLETED, the job says blocked', row('COMPLETED'), file('blocked', 'tune is not installed'), 'blocked', /tune is not installed/],
  ['FAILED exit 3', row('FAILED', 'NonZeroExitCode', { exitCode: 3 }), undefined, 'failed', /SLURM: FAILED \(exit 3\)/],
  ['FAILED, the job says why', row('FAILED', 'NonZeroExitCode', { exitCode: 1 }), file('failed', 'tune exited with 1'), 'failed', /tune exited with 1/],
  ['FAILED "0:9" (SIGKILL, nothing in the log)', row('FAILED', 'JobLaunchFailure', { ...parseExitCode('0:9') }), file('running'), 'failed', /killed by signal 9 \(SIGKILL\), JobLaunchFailure/],
  ['FAILED "0:9" with slurmstepd memory kill (OverMemoryKill)', row('FAILED', 'JobLaunchFailure', { ...parseExitCode('0:9') }), file('running'), 'oom', /exceeding its memory limit/],
  ['FAILED exit 137 with slurmstepd memory kill (its over-memory kill: no signal, the wrapper saw 137)', row('FAILED', 'NonZeroExitCode', { exitCode: 137 }), killed(), 'oom', /exceeding its memory limit/],
  ['FAILED exit 137 (SIGKILL, nothing in the log)', row('FAILED', 'NonZeroExitCode', { exitCode: 137 }), killed(), 'failed', /exited with status 137/],
  ['CANCELLED by slurmstepd memory kill (its over-memory kill cancels the job)', row('CANCELLED', 'None', { start: '2026-01-01T00:00:00' }), killed(), 'oom', /exceeding its memory limit/],
  ['unknown to SLURM, the wrapper saw 137 and the log a memory kill', undefined, killed(), 'oom', /exceeding its memory limit/],
  ['unknown to SLURM, the wrapper saw 137, nothing in the log', undefined, killed(), 'failed', /exited with status 137/],
  ['OUT_OF_MEMORY', row('OUT_OF_MEMORY', 'OutOfMemory', { ...parseExitCode('0:125') }), undefined, 'oom', /raise resources.<step>.mem/],
  ['CANCELLED (squeue, running)', row('CANCELLED', 'None', { start: '2026-01-01T00:00:00' }), file('cancelled', 'received SIGTERM'), 'cancelled', /cancelled while running \(scancel/],
  ['CANCELLED (squeue, never started)', row('CANCELLED', 'None'), undefined, 'cancelled', /^cancelled \(scancel, or an administrator\)$/],
  ['CANCELLED by uid (sacct)', row('CANCELLED', 'CANCELLED by 1000', { ...parseExitCode('0:15') }), undefined, 'cancelled', /cancelled by uid 1000 \(scancel\)/],
  ['CANCELLED while pending on Resources', row('CANCELLED', 'Resources'), undefined, 'cancelled', /cancelled while pending \(Resources\)/],
  ['CANCELLED DependencyNeverSatisfied (kill-on-invalid-dep)', row('CANCELLED', 'DependencyNeverSatisfied', { dependency: 'aftercorr:40_*(failed)' }), undefined, 'cancelled', /upstream job did not succeed \(job 40\), so SLURM cancelled/],
  ['TIMEOUT', row('TIMEOUT', 'TimeLimit', { ...parseExitCode('0:15') }), file('cancelled', 'received SIGTERM'), 'timeout', /time limit/],
  ['DEADLINE', row('DEADLINE'), undefined, 'timeout', /deadline/],
  ['NODE_FAIL', row('NODE_FAIL'), undefined, 'failed', /node failed/],
  ['BOOT_FAIL', row('BOOT_FAIL'), undefined, 'failed', /failed to boot/],
  ['PREEMPTED', row('PREEMPTED'), undefined, 'interrupted', /preempted/],
  ['REVOKED', row('REVOKED'), undefined, 'interrupted', /revoked/],
  ['SPECIAL_EXIT', row('SPECIAL_EXIT', 'None', { exitCode: 5 }), undefined, 'failed', /SPECIAL_EXIT.*exit 5/],
  ['unknown to SLURM, the job left a verdict', undefined, file('succeeded'), 'succeeded', undefined],
];

describe('mapState: every SLURM job state', () => {
  for (const [name, slurm, status, expected, detail] of table) {
    test(name, () => {
      const log = name.includes('memory kill') ? 'slurmstepd-vm: error: StepId=25.batch exceeded memory limit (434868224 > 52428800), being killed\nslurmstepd-vm: error: Exceeded job memory limit\n' : '';
      const state = mapState(slurm, status, log);
      assert.ok(state, 'a state');
      assert.equal(state.status, expected);
      if (detail) assert.match(String(state.detail), detail);
      else assert.ok(state.detail === undefined || !/SLURM: None/.test(state.detail));
      assert.doesNotMatch(String(state.detail ?? ''), /SLURM: None|\n/);
    });
  }

  test('the output is read for a memory kill only where one can have happened', () => {
    assert.equal(mayBeMemoryKill(row('FAILED', 'NonZeroExitCode', { exitCode: 137 }), killed()), true);
    assert.equal(mayBeMemoryKill(row('CANCELLED'), undefined), true);
    assert.equal(mayBeMemoryKill(row('COMPLETED', 'None', { ...parseExitCode('0:9') }), undefined), true);
    assert.equal(mayBeMemoryKill(undefined, killed()), true);
    assert.equal(mayBeMemoryKill(row('RUNNING'), file('running')), false);
    assert.equal(mayBeMemoryKill(row('COMPLETED', 'None', { exitCode: 0 }), file('succeeded')), false);
    assert.equal(mayBeMemoryKill(undefined, file('failed', 'tune exited with 1')), false);
  });

  test('unknown to SLURM and no verdict: no state (the executor decides it is lost)', () => {
    assert.equal(mapState(undefined, undefined), undefined);
    assert.equal(mapState(undefined, file('running')), undefined);
  });

  test('exit codes: "N:S" forms', () => {
    assert.deepEqual(parseExitCode('0:0'), { exitCode: 0 });
    assert.deepEqual(parseExitCode('3:0'), { exitCode: 3 });
    assert.deepEqual(parseExitCode('0:9'), { exitCode: 0, signal: 9 });
    assert.deepEqual(parseExitCode('0:15'), { exitCode: 0, signal: 15 });
    assert.deepEqual(parseExitCode('1'), { exitCode: 1 });
    assert.deepEqual(parseExitCode(''), {});
    assert.deepEqual(parseExitCode(undefined), {});
  });

  test('reasons that can never be satisfied, and the ones that are waits', () => {
    for (const reason of ['BadConstraints', 'PartitionTimeLimit', 'PartitionNodeLimit', 'InvalidQOS', 'AssocMaxWallDurationPerJobLimit', 'QOSMaxGRESPerJob']) assert.ok(neverStarts(reason), reason);
    for (const reason of ['Resources', 'Priority', 'Dependency', 'DependencyNeverSatisfied', 'AssocGrpGRES', 'QOSGrpCpuLimit', 'PartitionDown', 'JobHeldUser', 'BeginTime']) assert.ok(!neverStarts(reason), reason);
  });
});
