/** The job wrapper, run for real with bash: outcome recording, divergence guard, cancellation. */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { type JobStatusFile, parseStatusText, readStatusFile } from '../../core/executors/statusFile.js';
import { compileTemplate, renderJobScript, sbatchDirectives, TEMPLATE_OPTIONS, UnsafeDirectiveError, usesPrecompiledTemplate } from '../../core/jobScript.js';
import { shellQuote } from '../../core/shell.js';
import type { RenderedRun } from '../../core/rule.js';
import { projectRoot } from '../helpers/paths.js';

function job(command: string, extra: Partial<RenderedRun> = {}, earlyStopLoss?: number): { dir: string; script: string } {
  const dir = mkdtempSync(join(tmpdir(), 'ck-job-'));
  mkdirSync(join(dir, 'config'));
  const rendered: RenderedRun = { files: {}, command, requires: [], outputs: [], diagnostics: [], ...extra };
  const script = renderJobScript({ id: 'finetune/x', key: 'ab'.repeat(32), name: 'brave-otter', runDir: dir, outputsDir: join(dir, 'outputs'), projectDir: dir, resources: { gpus: 1, mem: '8G', time: '00:10:00' }, local: {}, rendered, earlyStopLoss });
  writeFileSync(join(dir, 'config', 'job.sh'), script);
  return { dir, script: join(dir, 'config', 'job.sh') };
}

/** The job's state as ckbuild reads it. */
const status = (dir: string): JobStatusFile => {
  const state = readStatusFile(dir);
  assert.ok(state, `no readable status in ${dir}`);
  return state;
};

test('success, failure and a missing declared output are recorded by the job itself', () => {
  const ok = job('echo hi > "$CK_OUTPUTS/x.txt"', { outputs: ['outputs/x.txt'] });
  assert.equal(spawnSync('bash', [ok.script]).status, 0);
  assert.equal(status(ok.dir).status, 'succeeded');

  const failing = job('exit 7');
  assert.equal(spawnSync('bash', [failing.script]).status, 7);
  assert.deepEqual([status(failing.dir).status, status(failing.dir).exit_code], ['failed', 7]);

  const missing = job('true', { outputs: ['outputs/never.txt'] });
  assert.equal(spawnSync('bash', [missing.script]).status, 2);
  assert.match(status(missing.dir).detail, /declared output outputs\/never.txt is missing/);
});

test('the status file: "running" at the start, the verdict appended; a line cut short reads as the one before it', () => {
  const ok = job('grep -c running "$CK_RUN_DIR/metadata/status.json" > "$CK_OUTPUTS/seen.txt"', { outputs: ['outputs/seen.txt'] });
  assert.equal(spawnSync('bash', [ok.script]).status, 0);
  assert.equal(readFileSync(join(ok.dir, 'outputs', 'seen.txt'), 'utf8').trim(), '1', 'the job sees its own "running" line');
  const text = readFileSync(join(ok.dir, 'metadata', 'status.json'), 'utf8');
  const lines = text.trimEnd().split('\n').map((line) => JSON.parse(line) as { status: string; pid: number });
  assert.deepEqual(lines.map((line) => line.status), ['running', 'succeeded']);
  assert.equal(lines[0]!.pid, lines[1]!.pid);
  // Every cut of the verdict short of its end reads as "running": never a verdict that was not written.
  const verdictStart = text.indexOf('\n') + 1;
  for (let end = verdictStart; end < text.length - 1; end++) assert.equal(parseStatusText(text.slice(0, end))?.status, 'running', `cut at ${end}`);
  assert.equal(parseStatusText(text.slice(0, -1))?.status, 'succeeded', 'the newline is not needed');
  // A verdict with a line break in its detail stays one line.
  const multiline = job('true', { outputs: ['outputs/never\nseen.txt'] });
  assert.equal(spawnSync('bash', [multiline.script]).status, 2);
  assert.match(status(multiline.dir).detail, /declared output outputs\/never\nseen.txt is missing/);
  // What a job of an earlier version wrote: one document, possibly over several lines.
  assert.equal(parseStatusText(JSON.stringify({ status: 'failed', exit_code: 1 }, null, 2))?.status, 'failed');
});

test('a missing framework blocks the job with what to install', () => {
  const blocked = job('no-such-framework-xyz --train', { requires: ['no-such-framework-xyz'], install: { 'no-such-framework-xyz': 'pip install xyz' } });
  const result = spawnSync('bash', [blocked.script], { encoding: 'utf8' });
  assert.equal(result.status, 127);
  assert.equal(status(blocked.dir).status, 'blocked');
  assert.match(status(blocked.dir).detail, /no-such-framework-xyz is not installed on this machine: pip install xyz/);
});

test('early_stop_loss: a loss above the threshold stops the job as diverged', () => {
  const command = 'mkdir -p "$CK_OUTPUTS/logs"; for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do echo "Step $i | loss:$((i * 2)).5 lr:0.0001" >> "$CK_OUTPUTS/logs/log_1.txt"; sleep 1; done';
  const diverging = job(command, { lossLog: 'outputs/logs/log_*.txt' }, 5);
  const started = Date.now();
  const result = spawnSync('bash', [diverging.script], { encoding: 'utf8' });
  assert.equal(result.status, 3);
  assert.ok(Date.now() - started < 15_000, 'stopped well before the 20 steps');
  assert.equal(status(diverging.dir).status, 'diverged');
  assert.match(status(diverging.dir).detail, /diverged: loss \d+\.5 \(early_stop_loss 5\)/);
});

test('NaN loss counts as divergence', () => {
  const nan = job('mkdir -p "$CK_OUTPUTS/logs"; echo "Step 1 | loss:nan lr:1" > "$CK_OUTPUTS/logs/log_1.txt"; sleep 12', { lossLog: 'outputs/logs/log_*.txt' }, 100);
  assert.equal(spawnSync('bash', [nan.script]).status, 3);
  assert.equal(status(nan.dir).status, 'diverged');
});

test('SIGTERM (scancel, Ctrl-C) stops the framework and records cancelled', async () => {
  const long = job('sleep 60');
  const child = spawn('bash', [long.script], { stdio: 'ignore' });
  await new Promise((resolve) => setTimeout(resolve, 700));
  child.kill('SIGTERM');
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  assert.equal(code, 143);
  assert.equal(status(long.dir).status, 'cancelled');
});

test('SBATCH directives: resources as directives, values that SLURM cannot carry are refused', () => {
  assert.deepEqual(sbatchDirectives('c'.repeat(64), 'brave-otter', { gpus: 2, mem: '80G', time: '01:00:00', account: 'lab', partition: 'gpu' }), [
    '--job-name=ck-cccccccccccc-brave-otter',
    '--nodes=1',
    '--ntasks=1',
    '--cpus-per-task=2',
    '--mem=80G',
    '--time=01:00:00',
    '--gres=gpu:2',
    '--account=lab',
    '--partition=gpu',
  ]);
  assert.throws(() => sbatchDirectives('c'.repeat(64), 'x', { partition: 'gpu; rm -rf ~' }), UnsafeDirectiveError);
});

test('the job template interpolates nothing unquoted', () => {
  const template = readFileSync(join(projectRoot, 'templates', 'job.sh.hbs'), 'utf8');
  // Raw ({{{…}}}) is allowed only for values core builds already quoted or validated.
  const raw = [...template.matchAll(/\{\{\{\s*([^}]+?)\s*\}\}\}/g)].map((m) => m[1]);
  assert.deepEqual([...new Set(raw)].sort(), ['command', 'idComment', 'lossLog', 'this'].sort());
  const plain = [...template.matchAll(/(?<!\{)\{\{(?!\{)\s*([^}#/]+?)\s*\}\}/g)].map((m) => m[1]!.trim());
  for (const expression of plain) assert.ok(/^(q |else$|key$|this\.command$|this\.install$)/.test(expression), `unquoted interpolation {{${expression}}}`);
});

test('the build’s compiled job template is this template’s, and renders exactly what Handlebars compiles from it now', async () => {
  const source = readFileSync(join(projectRoot, 'templates', 'job.sh.hbs'), 'utf8');
  assert.ok(usesPrecompiledTemplate(source), 'npm test builds it (scripts/precompile.mjs)');
  assert.equal(usesPrecompiledTemplate(`${source}# edited\n`), false, 'an edited template is compiled at run time');
  const { default: Handlebars } = await import('handlebars');
  const handlebars = Handlebars.create();
  handlebars.registerHelper('q', (value: unknown) => (value === undefined || value === null ? "''" : shellQuote(String(value))));
  const now = handlebars.compile(source, TEMPLATE_OPTIONS);
  const contexts = [
    { idComment: 'finetune/x', key: 'ab'.repeat(32), directives: ['--job-name=ck-x', '--mem=8G'], runDir: '/r d', outputsDir: "/r d/it's", projectDir: '/p', id: 'finetune/x', earlyStopLoss: '0.5', setup: ['module load cuda', 'export A="$B"'], command: 'echo "$CK_OUTPUTS" && tune run', lossLog: 'outputs/logs/*.txt', outputs: ['outputs/a b', 'outputs/$x'], requires: [{ command: 'tune', install: 'pip install torchtune', message: 'tune is not installed' }] },
    { idComment: 'evaluate/t/base', key: 'cd'.repeat(32), directives: [], runDir: '/r', outputsDir: '/r/outputs', projectDir: '/p', id: 'evaluate/t/base', earlyStopLoss: '', setup: [], command: 'inspect eval', lossLog: undefined, outputs: [], requires: [] },
  ];
  for (const context of contexts) assert.equal(compileTemplate(source)(context), now(context), context.id);
  // An edited template takes effect without a rebuild.
  assert.match(compileTemplate(`${source}# edited {{q id}}\n`)(contexts[1]), /# edited evaluate\/t\/base\n$/);
});
