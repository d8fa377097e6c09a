/**
 * `npm run bench`: ckbuild's performance, measured on this machine (not a test). Each scenario is
 * timed as a whole `ckbuild` process, as a user would feel it.
 *
 *   no-op, 10,000-trial sweep (20,000 runs: fine-tune + eval) — target ≤ 0.5 s (ninja: 0.12 s)
 *   plan, 100,000 runs                                        — target ≤ 5 s
 *   one change in the 20,000-run sweep → plan                  — ≈ no-op + one run
 *   full local build of 200 command runs                       — per-run overhead
 *   input hashing throughput (1 GiB file, cold stat cache)     — target ≥ 1 GB/s
 *   SLURM submission of 1,000 runs (when a local SLURM is up)
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { InputHasher } from '../core/hash.js';
import { writeManifest } from '../core/manifest.js';
import { planExperiment } from '../core/plan.js';
import { baseRecord } from '../core/records.js';
import { foreignFormats } from '../core/formats/index.js';
import { packageRoot } from '../core/paths.js';
import { ruleRegistry } from '../rules/index.js';

const cli = join(packageRoot, 'dist', 'cli', 'main.js');
const only = process.argv[2];

function time(label: string, args: string[], cwd: string, repeat = 3, before?: () => void): number {
  const samples: number[] = [];
  let last = '';
  for (let i = 0; i < repeat; i++) {
    before?.();
    const started = process.hrtime.bigint();
    const result = spawnSync(process.execPath, [cli, ...args], { cwd, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' }, maxBuffer: 1 << 30 });
    samples.push(Number(process.hrtime.bigint() - started) / 1e9);
    last = (result.stdout + result.stderr).trim().split('\n').slice(-1)[0] ?? '';
    if (result.status !== 0 && result.status !== 1) throw new Error(`${label}: exit ${result.status}\n${result.stderr}`);
  }
  samples.sort((a, b) => a - b);
  const median = samples[Math.floor(samples.length / 2)]!;
  console.log(`${label.padEnd(58)} ${median.toFixed(3)} s  (median of ${repeat}; ${last.slice(0, 70)})`);
  return median;
}

function sweepProject(trials: number, withEval: boolean): string {
  const dir = mkdtempSync(join(tmpdir(), 'ckbench-'));
  mkdirSync(join(dir, '.git')); // marks the project folder; no commits are made (--no-commit)
  writeFileSync(join(dir, 'data.json'), JSON.stringify({ train: [{ input: 'abc', output: 'Abc' }], test: [{ input: 'abd', output: 'Abd' }] }));
  writeFileSync(join(dir, 'task.py'), '# inspect task placeholder for planning\n');
  const lrs = Array.from({ length: Math.ceil(trials / 10) }, (_, i) => Number((1e-5 * (i + 1)).toPrecision(3)));
  const ranks = [4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048].slice(0, Math.min(10, trials));
  mkdirSync(join(dir, 'experiments'));
  writeFileSync(
    join(dir, 'experiments', 'sweep.yaml'),
    [
      'version: "1.0"',
      'experiment_name: sweep',
      'dataset: { path: data.json }',
      'config:',
      '  base_model: Llama-3.2-1B-Instruct',
      'protocol:',
      '  type: grid',
      `  vary: { learning_rate: [${lrs.join(', ')}], lora_rank: [${ranks.join(', ')}] }`,
      ...(withEval ? ['evaluation:', '  tasks: [{ name: t, script: task.py }]', '  models: [finetuned]'] : []),
      '',
    ].join('\n'),
  );
  return dir;
}

/** Records every run as succeeded with its outputs in place, as a finished sweep would leave it. */
async function seedFinished(dir: string): Promise<void> {
  const result = await planExperiment(join(dir, 'experiments', 'sweep.yaml'), { rules: ruleRegistry, foreign: foreignFormats });
  if (!result.plan) throw new Error(JSON.stringify(result.diagnostics.slice(0, 3)));
  const plan = result.plan;
  const now = new Date().toISOString();
  for (const run of plan.runs) {
    const record = baseRecord(run, plan, now);
    record.status = 'succeeded';
    record.outputs = [{ path: 'outputs/done', size: 0 }];
    plan.manifest.runs.set(run.key, record);
    mkdirSync(join(run.runDir, 'outputs'), { recursive: true });
    writeFileSync(join(run.runDir, 'outputs', 'done'), '');
  }
  writeManifest(plan.manifestPath, plan.manifest);
}

async function main(): Promise<void> {
  console.log(`ckbuild benchmark — node ${process.version}, ${(await import('node:os')).cpus().length} CPUs\n`);
  if (!only || only === 'noop') {
    const dir = sweepProject(10_000, true);
    await seedFinished(dir);
    const build = ['experiments/sweep.yaml', '--no-commit', '--executor', 'local'];
    const dropStamp = (): void => rmSync(join(dir, '.ckbuild', 'stamps'), { recursive: true, force: true });
    time('no-op, 20,000 runs, full plan (no up-to-date stamp)', build, dir, 3, dropStamp);
    time('no-op, 20,000 runs (stamp from the previous build)', build, dir);
    time('plan, 10,000 trials (20,000 runs), all up to date', ['plan', 'experiments/sweep.yaml', '--json'], dir);
    const yaml = join(dir, 'experiments', 'sweep.yaml');
    const { readFileSync } = await import('node:fs');
    writeFileSync(yaml, readFileSync(yaml, 'utf8').replace('lora_rank: [4,', 'lora_rank: [3,'));
    time('plan after one change (1,000 fine-tunes + evals stale)', ['plan', 'experiments/sweep.yaml', '--json'], dir);
    rmSync(dir, { recursive: true, force: true });
  }
  if (!only || only === 'plan100k') {
    const dir = sweepProject(50_000, true);
    time('plan, 50,000 trials (100,000 runs), nothing recorded', ['plan', 'experiments/sweep.yaml', '--json'], dir, 1);
    rmSync(dir, { recursive: true, force: true });
  }
  if (!only || only === 'local') {
    const dir = mkdtempSync(join(tmpdir(), 'ckbench-local-'));
    mkdirSync(join(dir, '.git'));
    const steps = Array.from({ length: 200 }, (_, i) => `  s${i}:\n    command: 'echo ${i} > "$CK_OUTPUTS/x"'\n    outputs: [x]\n`).join('');
    mkdirSync(join(dir, 'experiments'));
    writeFileSync(join(dir, 'experiments', 'local.yaml'), `version: "1.0"\nexperiment_name: local\nprepare:\n${steps}`);
    const full = time('full local build, 200 command runs, -j 2', ['experiments/local.yaml', '--no-commit', '-j', '2', '--executor', 'local'], dir, 1);
    console.log(`${''.padEnd(58)} ${((full * 1000) / 200).toFixed(1)} ms per run`);
    time('no-op, same 200 runs', ['experiments/local.yaml', '--no-commit', '--executor', 'local'], dir);
    rmSync(dir, { recursive: true, force: true });
  }
  if (!only || only === 'hash') {
    const dir = mkdtempSync(join(tmpdir(), 'ckbench-hash-'));
    const file = join(dir, 'big.bin');
    const chunk = Buffer.alloc(1 << 24, 7);
    const { openSync, writeSync, closeSync, readFileSync } = await import('node:fs');
    const fd = openSync(file, 'w');
    for (let i = 0; i < 64; i++) writeSync(fd, chunk);
    closeSync(fd);
    readFileSync(file); // warm the page cache, as perf-anchors.md did
    const hasher = new InputHasher();
    const started = process.hrtime.bigint();
    await hasher.digest(file);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    console.log(`${'hash 1 GiB input (page cache warm, cold stat cache)'.padEnd(58)} ${seconds.toFixed(3)} s  (${((1 << 30) / seconds / 1e9).toFixed(2)} GB/s)`);
    const cached = new InputHasher(join(dir, 'cache.json'));
    await cached.digest(file);
    cached.save();
    const again = new InputHasher(join(dir, 'cache.json'));
    const t2 = process.hrtime.bigint();
    await again.digest(file);
    console.log(`${'same file, stat cache warm'.padEnd(58)} ${(Number(process.hrtime.bigint() - t2) / 1e6).toFixed(2)} ms (files read: ${again.filesRead})`);
    rmSync(dir, { recursive: true, force: true });
  }
  if (!only || only === 'slurm') {
    const status = spawnSync('bash', [join(packageRoot, 'test', 'slurm', 'cluster', 'local-slurm.sh'), 'status'], { encoding: 'utf8' });
    if (status.status !== 0) {
      console.log('SLURM submission: skipped (no local SLURM up; sudo bash test/slurm/cluster/local-slurm.sh start)');
    } else {
      const dir = mkdtempSync(join(tmpdir(), 'ckbench-slurm-'));
      mkdirSync(join(dir, '.git'));
      const tag = Date.now().toString(36);
      const steps = Array.from({ length: 1000 }, (_, i) => `  s${i}:\n    command: 'echo ${tag} ${i} > "$CK_OUTPUTS/x"'\n    outputs: [x]\n`).join('');
      mkdirSync(join(dir, 'experiments'));
      writeFileSync(join(dir, 'experiments', 'many.yaml'), `version: "1.0"\nexperiment_name: many\nprepare:\n${steps}`);
      // No queue cap: this measures submission, not how fast the one-node cluster drains.
      writeFileSync(join(dir, 'ckbuild.local.yaml'), 'slurm: { max_queued: 5000 }\n');
      time('SLURM: submit 1,000 runs (one sbatch each)', ['experiments/many.yaml', '--no-commit', '--executor', 'slurm'], dir, 1);
      spawnSync('scancel', ['-u', process.env.USER ?? 'root', '-n', 'x'], {});
      spawnSync('bash', ['-c', `squeue -h -o '%i %j' | awk '/ck-/ {print $1}' | xargs -r scancel`]);
      writeFileSync(join(dir, 'ckbuild.local.yaml'), 'slurm: { array_min: 10, max_queued: 5000 }\n');
      writeFileSync(join(dir, 'experiments', 'many.yaml'), `version: "1.0"\nexperiment_name: many\nprepare:\n${steps.replace(new RegExp(tag, 'g'), `${tag}b`)}`);
      time('SLURM: submit 1,000 runs as a job array', ['experiments/many.yaml', '--no-commit', '--executor', 'slurm'], dir, 1);
      spawnSync('bash', ['-c', `squeue -h -o '%i %j' | awk '/ck-/ {print $1}' | xargs -r scancel`]);
      rmSync(dir, { recursive: true, force: true });
    }
  }
  void dirname;
}

await main();
