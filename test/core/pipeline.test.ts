/**
 * The build pipeline in-process, against a scripted in-memory executor (the executor interface is
 * the seam): plan → reconcile → select → generate → execute → record. The real-CLI tests
 * (test/cli) and real-SLURM tests (test/slurm) cover the same paths with real processes; these
 * pin down the stages' contracts and run in milliseconds.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { build } from '../../core/build.js';
import type { BuildEvent } from '../../core/events.js';
import type { Executor, JobHandle, JobState, SubmitRequest, SubmitResult } from '../../core/executors/types.js';
import { foreignFormats } from '../../core/formats/index.js';
import type { RunStatus } from '../../core/manifest.js';
import { type Plan, planExperiment, type PlannedRun } from '../../core/plan.js';
import { type Executors, reconcile } from '../../core/reconcile.js';
import { Recorder } from '../../core/recorder.js';
import { statusFilePath } from '../../core/runDir.js';
import { ruleRegistry } from '../../rules/index.js';

/** What the scripted executor does with each run, by step name (`prepare/a` → `a`). */
interface Script {
  /** Final status; default succeeded. */
  outcome?: RunStatus;
  /** Polls before the job finishes. */
  polls?: number;
  /** Deferred this many times before it is accepted (a busy GPU). */
  defer?: number;
}

class ScriptedExecutor implements Executor {
  readonly name = 'scripted';
  readonly submissions: Array<{ id: string; dependencies: string[] }> = [];
  readonly cancelled: string[] = [];
  private readonly jobs = new Map<string, { id: string; remaining: number; outcome: RunStatus }>();
  private readonly deferrals = new Map<string, number>();
  adoptable = new Map<string, JobHandle>();
  private next = 1;

  constructor(
    private readonly script: Record<string, Script>,
    readonly handlesDependencies = false,
    readonly capacity = 8,
  ) {}

  private scriptOf(run: PlannedRun): Script {
    return this.script[run.id.split('/').pop()!] ?? {};
  }

  async submit({ run, dependencies }: SubmitRequest): Promise<SubmitResult> {
    const script = this.scriptOf(run);
    const deferred = this.deferrals.get(run.id) ?? 0;
    if (deferred < (script.defer ?? 0)) {
      this.deferrals.set(run.id, deferred + 1);
      return { deferred: 'busy' };
    }
    const jobId = `job-${this.next++}`;
    this.submissions.push({ id: run.id, dependencies: dependencies.map((d) => d.jobId) });
    this.jobs.set(jobId, { id: run.id, remaining: script.polls ?? 0, outcome: script.outcome ?? 'succeeded' });
    return { handle: { executor: this.name, jobId } };
  }

  async poll(jobs: ReadonlyArray<{ run: PlannedRun; handle: JobHandle }>): Promise<Map<string, JobState>> {
    const states = new Map<string, JobState>();
    for (const { run, handle } of jobs) {
      const job = this.jobs.get(handle.jobId);
      if (!job) continue;
      if (job.remaining-- > 0) states.set(run.id, { status: 'running' });
      else states.set(run.id, { status: job.outcome, exitCode: job.outcome === 'succeeded' ? 0 : 1, elapsedS: 1, ...(job.outcome === 'succeeded' ? {} : { detail: 'scripted failure' }) });
    }
    return states;
  }

  async cancel(jobs: ReadonlyArray<{ run: PlannedRun; handle: JobHandle }>): Promise<void> {
    for (const { run, handle } of jobs) {
      this.cancelled.push(run.id);
      const job = this.jobs.get(handle.jobId);
      if (job) Object.assign(job, { remaining: 0, outcome: 'cancelled' });
    }
  }

  async adopt(runs: readonly PlannedRun[]): Promise<Map<string, JobHandle>> {
    const found = new Map<string, JobHandle>();
    for (const run of runs) {
      const handle = this.adoptable.get(run.id);
      if (handle) {
        found.set(run.key, handle);
        this.jobs.set(handle.jobId, { id: run.id, remaining: 0, outcome: 'succeeded' });
      }
    }
    return found;
  }

  waitForChange(ms: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, ms));
  }
  async close(): Promise<void> {}
}

const EXPERIMENT = `version: "1.0"
experiment_name: pipe
prepare:
  a: { command: 'echo a > "$CK_OUTPUTS/a.txt"', outputs: [a.txt] }
  b: { command: 'echo b > "$CK_OUTPUTS/b.txt"', outputs: [b.txt], needs: [a] }
  c: { command: 'echo c > "$CK_OUTPUTS/c.txt"', outputs: [c.txt], needs: [b] }
  d: { command: 'echo d > "$CK_OUTPUTS/d.txt"', outputs: [d.txt] }
`;

function project(text = EXPERIMENT): string {
  const dir = mkdtempSync(join(tmpdir(), 'ckbuild-pipeline-'));
  mkdirSync(join(dir, '.git'));
  mkdirSync(join(dir, 'experiments'));
  writeFileSync(join(dir, 'experiments', 'pipe.yaml'), text);
  return join(dir, 'experiments', 'pipe.yaml');
}

async function planOf(file: string): Promise<Plan> {
  const result = await planExperiment(file, { rules: ruleRegistry, foreign: foreignFormats });
  assert.ok(result.plan, result.diagnostics.map((d) => d.message).join('\n'));
  return result.plan;
}

const clock = (): Date => new Date('2026-12-01T00:00:00Z');

async function runBuild(file: string, executor: ScriptedExecutor, options: { keepGoing?: boolean; select?: (run: PlannedRun) => boolean; signal?: AbortSignal; wait?: boolean } = {}) {
  const plan = await planOf(file);
  const executors: Executors = { primary: executor, byName: (name) => (name === executor.name ? executor : undefined) };
  const recorder = new Recorder(plan, ruleRegistry, clock);
  const reconciled = await reconcile(plan, executors, recorder);
  const events: BuildEvent[] = [];
  const result = await build(reconciled, { executors, recorder, rules: ruleRegistry, environment: () => ({ ckbuild: 'test' }), onEvent: (e) => events.push(e), pollMs: 1, ...options });
  const manifest = JSON.parse(readFileSync(plan.manifestPath, 'utf8')) as { runs: Array<{ id: string; status: string; attempts?: number; detail?: string }> };
  const statuses = Object.fromEntries(manifest.runs.map((r) => [r.id, r.status]));
  return { plan, reconciled, result, events, manifest, statuses };
}

test('pipeline: runs go out in dependency order, each after its upstream succeeded, and every transition is recorded', async () => {
  const executor = new ScriptedExecutor({ a: { polls: 2 } });
  const { result, statuses } = await runBuild(project(), executor);
  const order = executor.submissions.map((s) => s.id);
  assert.ok(order.indexOf('prepare/a') < order.indexOf('prepare/b') && order.indexOf('prepare/b') < order.indexOf('prepare/c'));
  assert.deepEqual(statuses, { 'prepare/a': 'succeeded', 'prepare/b': 'succeeded', 'prepare/c': 'succeeded', 'prepare/d': 'succeeded' });
  assert.equal(result.upToDate.size, 4);
  assert.equal(result.submitted.size, 4);
});

test('pipeline: a failure stops new submissions; with keepGoing only its dependents are skipped', async () => {
  const stopping = await runBuild(project(), new ScriptedExecutor({ a: { outcome: 'failed' }, d: { polls: 3 } }, false, 1));
  assert.equal(stopping.statuses['prepare/a'], 'failed');
  assert.equal(stopping.statuses['prepare/d'], undefined, 'nothing new is submitted after the failure');

  const going = await runBuild(project(), new ScriptedExecutor({ a: { outcome: 'failed' } }), { keepGoing: true });
  assert.deepEqual(going.statuses, { 'prepare/a': 'failed', 'prepare/b': 'skipped', 'prepare/c': 'skipped', 'prepare/d': 'succeeded' });
  assert.match(going.manifest.runs.find((r) => r.id === 'prepare/b')!.detail!, /upstream run prepare\/a did not succeed/);
});

test('pipeline: an executor that holds dependencies gets the whole DAG at once, with upstream job ids', async () => {
  const executor = new ScriptedExecutor({}, true);
  const { statuses } = await runBuild(project(), executor, { wait: true });
  const b = executor.submissions.find((s) => s.id === 'prepare/b')!;
  const a = executor.submissions.findIndex((s) => s.id === 'prepare/a');
  assert.deepEqual(b.dependencies, [`job-${a + 1}`]);
  assert.equal(statuses['prepare/c'], 'succeeded');
});

test('pipeline: without wait, a queueing executor returns once everything is submitted, runs recorded as queued', async () => {
  const executor = new ScriptedExecutor({}, true);
  const { result, statuses } = await runBuild(project(), executor, { wait: false });
  assert.equal(result.inFlight.size, 4);
  assert.ok(Object.values(statuses).every((status) => status === 'queued'));
});

test('pipeline: a deferred submission (busy GPU) is offered again, not failed', async () => {
  const executor = new ScriptedExecutor({ d: { defer: 2 } });
  const { statuses } = await runBuild(project(), executor);
  assert.equal(statuses['prepare/d'], 'succeeded');
  assert.equal(executor.submissions.filter((s) => s.id === 'prepare/d').length, 1);
});

test('pipeline: selection brings the stale upstream along and nothing else', async () => {
  const executor = new ScriptedExecutor({});
  await runBuild(project(), executor, { select: (run) => run.id === 'prepare/b' });
  assert.deepEqual(executor.submissions.map((s) => s.id).sort(), ['prepare/a', 'prepare/b']);
});

test('reconcile: a job the executor finds for a stale run is adopted, never submitted again', async () => {
  const file = project();
  const executor = new ScriptedExecutor({});
  const plan = await planOf(file);
  executor.adoptable.set('prepare/a', { executor: 'scripted', jobId: 'job-from-before' });
  const { statuses } = await runBuild(file, executor);
  assert.equal(statuses['prepare/a'], 'succeeded');
  assert.ok(!executor.submissions.some((s) => s.id === 'prepare/a'));
  void plan;
});

test('reconcile: a verdict a job left in its run directory makes plan, reconcile and build agree: up to date, recorded, not rerun', async () => {
  const file = project();
  const first = await runBuild(file, new ScriptedExecutor({}));
  // The scripted jobs wrote nothing; make run d look like it finished while nobody watched.
  const d = first.plan.runs.find((run) => run.id === 'prepare/d')!;
  writeFileSync(join(d.runDir, 'outputs', 'd.txt'), 'd\n');
  writeFileSync(statusFilePath(d.runDir), JSON.stringify({ status: 'succeeded', exit_code: 0, started_at: '2026-12-01T00:00:00Z', finished_at: '2026-12-01T00:00:05Z', host: 'h', pid: 1, job_id: 'local:1', detail: '' }));
  const manifestPath = first.plan.manifestPath;
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { runs: Array<{ id: string; status: string }> };
  manifest.runs.find((r) => r.id === 'prepare/d')!.status = 'failed';
  writeFileSync(manifestPath, JSON.stringify(manifest));

  const planned = await planOf(file);
  assert.equal(planned.byId.get('prepare/d')!.state, 'up-to-date', 'plan sees the verdict');
  const executor = new ScriptedExecutor({});
  const again = await runBuild(file, executor);
  assert.equal(again.statuses['prepare/d'], 'succeeded');
  assert.ok(!executor.submissions.some((s) => s.id === 'prepare/d'), 'the build does not rerun it');
});

test('pipeline: an abort cancels what is running and records it as cancelled', async () => {
  const controller = new AbortController();
  const executor = new ScriptedExecutor({ a: { polls: 1000 }, d: { polls: 1000 } });
  const running = runBuild(project(), executor, { signal: controller.signal });
  setTimeout(() => controller.abort(), 20);
  const { result, statuses } = await running;
  assert.equal(result.cancelled, true);
  assert.deepEqual(executor.cancelled.sort(), ['prepare/a', 'prepare/d']);
  assert.equal(statuses['prepare/a'], 'cancelled');
});
