/**
 * The first ten minutes (issue 17): help and suggestions, piping, table width, `status --json`'s
 * one shape, `init`, `doctor`, shell completion, dying with the parent, Ctrl-C, and the README's
 * tutorial run step by step, so the README cannot drift from the tool.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { cliEntry, projectRoot } from '../helpers/paths.js';
import { exitOf, TempProject, waitFor } from '../helpers/project.js';

const commandExperiment = (steps: string): string => `version: "1.0"\nexperiment_name: exp\nprepare:\n${steps}`;

function project(steps = '  a:\n    command: echo a > "$CK_OUTPUTS/a.txt"\n    outputs: [a.txt]\n'): TempProject {
  const p = new TempProject();
  p.write('.gitignore', 'runs/\n.ckbuild/\nckbuild.local.yaml\n');
  p.write('experiments/exp.yaml', commandExperiment(steps));
  p.git('add', '.');
  p.git('commit', '-qm', 'experiment');
  return p;
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

// ---- help and suggestions -------------------------------------------------------------------

test('a mistyped command suggests the nearest command, never "file not found" or the build usage', () => {
  const p = project();
  for (const [typo, meant] of [['stauts', 'status'], ['plna', 'plan'], ['doctr', 'doctor']]) {
    const result = p.run([typo!]);
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, new RegExp(`unknown command ${typo}; did you mean ${meant}\\?`));
    assert.doesNotMatch(result.stderr, /file not found|usage: ckbuild \[build\]/);
  }
});

test('a mistyped option suggests the nearest; an option of another command is rejected, per command', () => {
  const p = project();
  const typo = p.run(['experiments/exp.yaml', '--dryrun']);
  assert.equal(typo.code, 2);
  assert.match(typo.stderr, /unknown option --dryrun; did you mean --dry-run\?/);
  assert.doesNotMatch(typo.stderr, /options: /, 'no dump of every option');
  for (const command of ['plan', 'status']) {
    const result = p.run([command, 'experiments/exp.yaml', '--dry-run']);
    assert.equal(result.code, 2, `${command} --dry-run must be rejected: ${result.stdout}`);
    assert.match(result.stderr, new RegExp(`ckbuild ${command}\` does not take --dry-run`));
  }
  assert.equal(p.run(['check', 'experiments/exp.yaml', '--wait']).code, 2);
});

test('-j abc is rejected even when there is nothing to do (the no-op fast path)', () => {
  const p = project();
  assert.equal(p.run(['experiments/exp.yaml']).code, 0);
  assert.match(p.run(['experiments/exp.yaml']).stdout, /nothing to do/);
  const result = p.run(['experiments/exp.yaml', '-j', 'abc']);
  assert.equal(result.code, 2, result.stdout);
  assert.match(result.stderr, /-j takes a whole number ≥ 1, got "abc"/);
  assert.equal(p.run(['experiments/exp.yaml', '-j', '0']).code, 2);
  assert.match(p.run(['experiments/exp.yaml', '--executor', 'slrum']).stderr, /did you mean slurm\?/);
});

test("<command> --help prints that command's help: every option with its default and an example", () => {
  const p = project();
  for (const [command, options] of [
    ['plan', ['--json', '--explain']],
    ['status', ['--json', '--executor', '--no-commit']],
    ['build', ['--dry-run', '--only', '--until', '--force', '--keep-going', '-j', '--executor', '--wait', '--no-commit']],
    ['doctor', ['--json']],
  ] as const) {
    const result = p.run([command, '--help']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, new RegExp(`^usage: ckbuild ${command === 'build' ? '\\[build\\]' : command}`, 'm'));
    for (const option of options) {
      const at = result.stdout.indexOf(`  ${option}`);
      assert.ok(at >= 0, `${command} --help lists ${option}`);
      const block = result.stdout.slice(at, result.stdout.indexOf('\n  -', at + 3) > 0 ? result.stdout.indexOf('\n  -', at + 3) : undefined);
      assert.match(block, /default: /, `${option} has a default`);
      assert.match(block, /e\.g\. ckbuild /, `${option} has an example`);
    }
    for (const global of ['--quiet', '--verbose', '--no-color']) assert.match(result.stdout, new RegExp(global));
  }
  assert.doesNotMatch(p.run(['plan', '--help']).stdout, /--dry-run/, 'plan lists only its own options');
  assert.equal(p.run(['help', 'status']).stdout, p.run(['status', '--help']).stdout);
  const overview = p.run(['--help']);
  assert.equal(overview.code, 0);
  for (const command of ['init', 'doctor', 'completion', 'status', 'plan']) assert.match(overview.stdout, new RegExp(`^  ${command} `, 'm'));
});

test('--quiet prints no per-run progress, --verbose says what was decided; colours never without a TTY or with NO_COLOR', () => {
  const p = project('  a:\n    command: echo a > "$CK_OUTPUTS/a.txt"\n    outputs: [a.txt]\n  b:\n    command: echo b > "$CK_OUTPUTS/b.txt"\n    outputs: [b.txt]\n');
  const quiet = p.run(['experiments/exp.yaml', '--quiet', '--no-commit']);
  assert.equal(quiet.code, 0, quiet.stderr);
  assert.doesNotMatch(quiet.stdout, /^(start|done)\b/m);
  assert.match(quiet.stdout, /2 succeeded/);
  const verbose = p.run(['plan', 'experiments/exp.yaml', '--verbose']);
  assert.match(verbose.stderr, /ckbuild: command plan, node v/);
  assert.equal(p.run(['status', '--quiet', '--verbose']).code, 2);
  // Not a TTY here, even without NO_COLOR: no escape codes.
  const plain = spawnSync(process.execPath, [cliEntry, 'plan', 'experiments/exp.yaml'], { cwd: p.dir, encoding: 'utf8', env: { ...process.env, NO_COLOR: '', CKBUILD_EXECUTOR: 'local' } });
  assert.doesNotMatch(plain.stdout, /\u001b\[/);
  // On a TTY (script(1) gives one): colours, unless NO_COLOR or --no-color.
  if (spawnSync('script', ['--version']).status === 0) {
    const onTty = (extra: string, env: Record<string, string>): string =>
      spawnSync('script', ['-qec', `${JSON.stringify(process.execPath)} ${JSON.stringify(cliEntry)} plan experiments/exp.yaml ${extra}`, '/dev/null'], { cwd: p.dir, encoding: 'utf8', env: { ...process.env, CKBUILD_EXECUTOR: 'local', ...env } }).stdout;
    assert.match(onTty('', { NO_COLOR: '' }), /\u001b\[/);
    assert.doesNotMatch(onTty('', { NO_COLOR: '1' }), /\u001b\[[0-9;]*m/);
    assert.doesNotMatch(onTty('--no-color', { NO_COLOR: '' }), /\u001b\[[0-9;]*m/);
  }
});

// ---- piping ---------------------------------------------------------------------------------

/** Starts ckbuild with its stdout closed at once (the reader of `| head -1` gone): it must end quietly. */
async function closedReader(p: TempProject, args: string[]): Promise<{ code: number; stderr: string }> {
  const child = spawn(process.execPath, [cliEntry, ...args], { cwd: p.dir, env: { ...process.env, NO_COLOR: '1', CKBUILD_EXECUTOR: 'local' }, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.destroy();
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await exitOf(child);
  return { code, stderr };
}

test('`plan | head -1`, `status | head -1` and `--help | head -1` never die with an EPIPE stack trace', async () => {
  const steps = Array.from({ length: 40 }, (_, i) => `  s${i}:\n    command: echo ${i} > "$CK_OUTPUTS/o.txt"\n    outputs: [o.txt]\n`).join('');
  const p = project(steps);
  for (const args of [['plan', 'experiments/exp.yaml'], ['status', '--no-commit'], ['--help'], ['plan', 'experiments/exp.yaml', '--json']]) {
    for (let attempt = 0; attempt < 3; attempt++) {
      const result = await closedReader(p, args);
      assert.doesNotMatch(result.stderr, /EPIPE|internal error|Error:|at /, `${args.join(' ')}: ${result.stderr}`);
      assert.equal(result.code, 0, `${args.join(' ')}: exit ${result.code} ${result.stderr}`);
    }
  }
  // Through a real shell pipe, as a user types it.
  const shell = spawnSync('sh', ['-c', `for i in 1 2 3 4 5; do ${JSON.stringify(process.execPath)} ${JSON.stringify(cliEntry)} plan experiments/exp.yaml | head -1 >/dev/null; done`], { cwd: p.dir, encoding: 'utf8', env: { ...process.env, CKBUILD_EXECUTOR: 'local' } });
  assert.equal(shell.stderr, '');
});

// ---- tables and status --json ---------------------------------------------------------------

test('status fits the width (100 without a TTY, else COLUMNS) and puts explanations below the table, not in STATUS', () => {
  const long = 'x'.repeat(90);
  const p = project(`  ok:\n    command: echo ${long} > "$CK_OUTPUTS/o.txt"\n    outputs: [o.txt]\n    params: { note: "${long}" }\n  bad:\n    command: exit 4\n    outputs: [x]\n`);
  p.run(['experiments/exp.yaml', '--keep-going']);
  for (const [env, width] of [[{}, 100], [{ COLUMNS: '60' }, 60]] as const) {
    const status = p.run(['status', 'experiments/exp.yaml', '--no-commit'], env);
    assert.equal(status.code, 0, status.stderr);
    const lines = status.stdout.split('\n');
    for (const line of lines) assert.ok(line.length <= width, `${line.length} > ${width}: ${line}`);
    const header = lines.findIndex((line) => line.startsWith('NAME'));
    const bad = lines.slice(header).find((line) => /\bfailed\b/.test(line) && !/—/.test(line))!;
    assert.ok(bad, status.stdout);
    assert.doesNotMatch(bad, /exited with status 4/, 'the explanation is not in the STATUS column');
    assert.match(bad, /failed \[1\]/);
    assert.match(status.stdout.replace(/\n {4}/g, ' '), /^\[1\] prepare\/bad .*failed: the framework exited with status 4/m, 'the explanation is a note below the table (wrapped to the width)');
  }
});

test('status --json has one shape for one file, several files, or none: { ok, counts, runs, experiments }', () => {
  const p = project();
  p.write('experiments/other.yaml', 'version: "1.0"\nexperiment_name: other\nprepare:\n  z:\n    command: "true"\n    outputs: [z]\n');
  p.run(['experiments/exp.yaml']);
  type Shape = { ok: boolean; counts: Record<string, number>; runs: Array<{ experiment: string; file: string; id: string; status: string }>; experiments: Array<{ file: string; experiment: string; ok: boolean }> };
  const one = JSON.parse(p.run(['status', 'experiments/exp.yaml', '--json', '--no-commit']).stdout) as Shape;
  const all = JSON.parse(p.run(['status', '--json', '--no-commit']).stdout) as Shape;
  for (const shape of [one, all]) {
    assert.deepEqual(Object.keys(shape).sort(), ['counts', 'experiments', 'ok', 'runs']);
    assert.ok(Array.isArray(shape.runs) && Array.isArray(shape.experiments));
  }
  assert.deepEqual(one.counts, { succeeded: 1 });
  assert.equal(one.experiments.length, 1);
  assert.equal(one.runs[0]!.experiment, 'exp');
  assert.equal(all.experiments.length, 2);
  assert.deepEqual(all.counts, { succeeded: 1, 'not run': 1 });
  assert.deepEqual(all.runs.map((r) => `${r.experiment}:${r.id}`).sort(), ['exp:prepare/a', 'other:prepare/z']);
});

// ---- init -----------------------------------------------------------------------------------

test('init scaffolds a repository whose starter experiment checks clean and builds; it never overwrites', () => {
  const p = new TempProject({ git: false });
  const init = p.run(['init']);
  assert.equal(init.code, 0, init.stderr);
  assert.ok(existsSync(p.path('.git')), 'a git repository');
  const starter = p.read('experiments/starter.yaml');
  const hint = /^# yaml-language-server: \$schema=(.+)$/m.exec(starter);
  assert.ok(hint, 'the editor schema hint');
  assert.ok(existsSync(join(p.path('experiments'), hint[1]!)) || existsSync(hint[1]!), `the schema hint points at a file: ${hint[1]}`);
  assert.match(starter, /^# .+/m, 'commented');
  assert.match(p.read('ckbuild.local.yaml.example'), /# runs_root:/);
  const ignore = p.read('.gitignore').split('\n');
  for (const entry of ['runs/', 'ckbuild.local.yaml', '.ckbuild/']) assert.ok(ignore.includes(entry), `.gitignore has ${entry}`);
  const check = p.run(['check', 'experiments/starter.yaml']);
  assert.equal(check.code, 0, check.stdout + check.stderr);
  assert.equal(check.stderr, '', 'no warnings');
  p.git('config', 'user.email', 'test@example.com');
  p.git('config', 'user.name', 'ckbuild test');
  const build = p.run(['experiments/starter.yaml']);
  assert.equal(build.code, 0, build.stdout + build.stderr);

  // Again, after the user edited things: nothing is overwritten, nothing duplicated.
  p.write('experiments/starter.yaml', '# mine\n' + starter);
  const again = p.run(['init']);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /kept experiments\/starter\.yaml/);
  assert.ok(p.read('experiments/starter.yaml').startsWith('# mine\n'));
  assert.equal(p.read('.gitignore').split('\n').filter((l) => l === 'runs/').length, 1);
});

test('init adds to an existing repository: keeps its .gitignore and files', () => {
  const p = project();
  p.write('.gitignore', 'node_modules/\nruns/');
  const init = p.run(['init']);
  assert.equal(init.code, 0, init.stderr);
  const ignore = p.read('.gitignore');
  assert.match(ignore, /^node_modules\/\nruns\/\n/);
  assert.equal(ignore.split('\n').filter((l) => l === 'runs/').length, 1);
  assert.match(ignore, /^ckbuild\.local\.yaml$/m);
  assert.match(p.read('experiments/exp.yaml'), /experiment_name: exp/);
  const folder = p.run(['init', 'sub/study']);
  assert.equal(folder.code, 0, folder.stderr);
  assert.ok(existsSync(p.path('sub/study/experiments/starter.yaml')));
});

// ---- doctor ---------------------------------------------------------------------------------

/** A PATH whose SLURM commands are these scripts (the real ones, if any, come later). */
function fakeSlurm(scripts: Record<string, string>): string {
  const bin = mkdtempSync(join(tmpdir(), 'ckbuild-fake-slurm-'));
  for (const [name, body] of Object.entries(scripts)) {
    writeFileSync(join(bin, name), `#!/bin/sh\n${body}\n`);
    chmodSync(join(bin, name), 0o755);
  }
  return `${bin}:${process.env.PATH}`;
}

const answering = { sbatch: 'echo 1', squeue: '[ "$1" = --version ] && echo "slurm 23.02.0"; exit 0', sacct: 'exit 0', sinfo: 'echo "gpu*|1-00:00:00|4|gpu:a100:4"', 'nvidia-smi': 'echo "0, NVIDIA A100, 81920 MiB"' };

test('doctor: one line per check, pass/warn/fail with a fix, exit 0 when nothing fails', () => {
  const p = project();
  const result = p.run(['doctor'], { PATH: fakeSlurm(answering) });
  assert.equal(result.code, 0, result.stdout + result.stderr);
  for (const name of ['node', 'git', 'repository', 'local config', 'runs root', 'scheduler', 'accounting', 'partitions', 'python', 'tune', 'inspect', 'gpus']) {
    assert.match(result.stdout, new RegExp(`^(pass|warn|FAIL)  ${name} `, 'm'), `a line for ${name}`);
  }
  assert.match(result.stdout, /^pass  partitions .*gpu\* \(time limit 1-00:00:00, 4 node\(s\), gpu:a100:4\)/m);
  assert.match(result.stdout, /^pass  gpus .*NVIDIA A100/m);
  for (const line of result.stdout.split('\n').filter((l) => l.startsWith('warn') || l.startsWith('FAIL'))) assert.match(line, / — fix: /);
  const json = JSON.parse(p.run(['doctor', '--json'], { PATH: fakeSlurm(answering) }).stdout) as { ok: boolean; checks: Array<{ name: string; verdict: string }> };
  assert.equal(json.ok, true);
});

test('doctor fails (exit 1) on an invalid local config, an unknown partition, and a runs root it cannot write', () => {
  const p = project();
  p.write('ckbuild.local.yaml', 'jobs: many\n');
  const invalid = p.run(['doctor'], { PATH: fakeSlurm(answering) });
  assert.equal(invalid.code, 1);
  assert.match(invalid.stdout, /^FAIL  local config +ckbuild\.local\.yaml:1:\d+: jobs: /m);
  p.write('ckbuild.local.yaml', 'partition: gpux\nruns_root: /proc/ckbuild-cannot-write\n');
  const wrong = p.run(['doctor'], { PATH: fakeSlurm(answering) });
  assert.equal(wrong.code, 1);
  assert.match(wrong.stdout, /^FAIL  partitions +partition gpux .* is not one of: gpu/m);
  assert.match(wrong.stdout, /^FAIL  runs root +(\.\.\/)*\/?proc\/ckbuild-cannot-write is not writable/m);
});

test('doctor never hangs: a controller that does not answer is a failed check within seconds, suggesting --executor local', () => {
  const p = project();
  const started = Date.now();
  const result = p.run(['doctor'], { PATH: fakeSlurm({ ...answering, squeue: '[ "$1" = --version ] && { echo "slurm 23.02.0"; exit 0; }; sleep 60', sacct: 'sleep 60', sinfo: 'sleep 60' }) });
  const seconds = (Date.now() - started) / 1000;
  assert.equal(result.code, 1, result.stdout + result.stderr);
  assert.match(result.stdout, /^FAIL  scheduler +squeue did not answer within 5 s.*--executor local/m);
  assert.ok(seconds < 20, `doctor took ${seconds}s`);
});

test('doctor reports models the experiments name that are missing from the models dir', () => {
  const p = project();
  p.write('data/d.json', JSON.stringify([{ input: 'a', output: 'A' }]));
  p.write('experiments/ft.yaml', 'version: "1.0"\nexperiment_name: ft\ndataset: { path: data/d.json, format: json }\nconfig: { base_model: Llama-3.2-1B-Instruct, method: lora, epochs: 1, prompt: "{input}" }\n');
  mkdirSync(p.path('models'));
  const result = p.run(['doctor'], { PATH: fakeSlurm(answering) });
  assert.match(result.stdout, /^warn  models +not found in models: Llama-3\.2-1B-Instruct — fix: /m);
  mkdirSync(p.path('models', 'Llama-3.2-1B-Instruct'));
  assert.match(p.run(['doctor'], { PATH: fakeSlurm(answering) }).stdout, /^pass  models +Llama-3\.2-1B-Instruct found in models/m);
});

// ---- completion -----------------------------------------------------------------------------

test('completion: bash completes commands, per-command options and option values; zsh parses', () => {
  const p = project();
  const bash = p.run(['completion', 'bash']);
  assert.equal(bash.code, 0, bash.stderr);
  const script = p.write('completion.bash', bash.stdout);
  const complete = (words: string[]): string[] => {
    const line = `source ${JSON.stringify(script)}; COMP_WORDS=(${words.map((w) => JSON.stringify(w)).join(' ')}); COMP_CWORD=${words.length - 1}; _ckbuild; printf '%s\\n' "\${COMPREPLY[@]}"`;
    return spawnSync('bash', ['-c', line], { cwd: p.dir, encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
  };
  assert.deepEqual(complete(['ckbuild', 'sta']), ['status']);
  assert.ok(complete(['ckbuild', 'plan', '--']).includes('--explain'));
  assert.ok(!complete(['ckbuild', 'plan', '--']).includes('--dry-run'), 'plan does not offer build options');
  assert.ok(complete(['ckbuild', 'experiments/exp.yaml', '--dr']).includes('--dry-run'));
  assert.deepEqual(complete(['ckbuild', 'x.yaml', '--executor', '']), ['local', 'slurm']);
  assert.ok(complete(['ckbuild', 'plan', 'experiments/']).includes('experiments/exp.yaml'));
  const zsh = p.run(['completion', 'zsh']);
  assert.equal(zsh.code, 0);
  assert.match(zsh.stdout, /^#compdef ckbuild/);
  if (spawnSync('zsh', ['--version']).status === 0) {
    assert.equal(spawnSync('zsh', ['-n', p.write('_ckbuild', zsh.stdout)]).status, 0);
  }
  assert.equal(p.run(['completion', 'fish']).code, 2);
});

// ---- interrupts and the parent --------------------------------------------------------------

const SLOW = '  slow:\n    command: sleep 30; echo done > "$CK_OUTPUTS/o.txt"\n    outputs: [o.txt]\n';

test('ckbuild dies with its parent: a killed parent (timeout killing npx) stops the build and frees the lock', async () => {
  const p = project(SLOW);
  // The parent: a process that starts ckbuild and is then killed outright, as `timeout` kills npx.
  const parentScript = p.write('parent.mjs', `import { spawn } from 'node:child_process';\nconst child = spawn(process.execPath, [${JSON.stringify(cliEntry)}, 'experiments/exp.yaml', '--no-commit'], { stdio: ['ignore', 'ignore', 'ignore'], env: { ...process.env, CKBUILD_EXECUTOR: 'local' } });\nconsole.log(child.pid);\nsetInterval(() => {}, 1000);\n`);
  const parent = spawn(process.execPath, [parentScript], { cwd: p.dir, stdio: ['ignore', 'pipe', 'inherit'] });
  let text = '';
  parent.stdout!.on('data', (chunk: Buffer) => (text += chunk.toString()));
  await waitFor(() => /\d+\n/.test(text), 10_000, 'the child pid');
  const pid = Number(text.trim());
  await waitFor(() => existsSync(p.path('.ckbuild', 'locks', 'build.lock')), 20_000, 'the build to hold its lock');
  await new Promise((resolve) => setTimeout(resolve, 500));
  parent.kill('SIGKILL');
  const started = Date.now();
  await waitFor(() => !alive(pid), 8_000, 'ckbuild to stop after its parent died');
  assert.ok(Date.now() - started < 8000);
  assert.equal(existsSync(p.path('.ckbuild', 'locks', 'build.lock')), false, 'the lock is released');
});

test('Ctrl-C stops a local build within two seconds', async () => {
  const p = project(SLOW);
  const child = p.start(['experiments/exp.yaml', '--no-commit']);
  await waitFor(() => /start/.test(child.output()), 20_000, 'the run to start');
  const started = Date.now();
  child.kill('SIGINT');
  const code = await exitOf(child);
  assert.equal(code, 130, child.output());
  assert.ok(Date.now() - started < 2000, `took ${Date.now() - started} ms`);
});

// ---- the README's tutorial ------------------------------------------------------------------

/**
 * The tutorial section of README.md, as steps: ```sh blocks are commands (one per line, `#`
 * comments dropped), a ```yaml block whose first line is `# file: <path>` is written to that path.
 */
export function tutorialSteps(readme: string): Array<{ kind: 'run'; command: string } | { kind: 'write'; path: string; text: string }> {
  const start = readme.indexOf('\n## Tutorial');
  assert.ok(start >= 0, 'README.md has a "## Tutorial" section');
  const end = readme.indexOf('\n## ', start + 1);
  const section = readme.slice(start, end < 0 ? undefined : end);
  const steps: ReturnType<typeof tutorialSteps> = [];
  for (const match of section.matchAll(/```(sh|yaml)\n([\s\S]*?)```/g)) {
    const [, lang, body] = match;
    if (lang === 'yaml') {
      const file = /^# file: (\S+)\n/.exec(body!);
      if (file) steps.push({ kind: 'write', path: file[1]!, text: body!.slice(file[0].length) });
      continue;
    }
    for (const raw of body!.split('\n')) {
      const line = raw.replace(/\s+#.*$/, '').replace(/^\$ /, '').trim();
      if (line === '' || line.startsWith('#')) continue;
      steps.push({ kind: 'run', command: line });
    }
  }
  return steps;
}

test("the README's tutorial runs, step by step, in a fresh folder", () => {
  const readme = readFileSync(join(projectRoot, 'README.md'), 'utf8');
  const steps = tutorialSteps(readme);
  assert.ok(steps.length >= 8, `${steps.length} steps`);
  const dir = mkdtempSync(join(tmpdir(), 'ckbuild-tutorial-'));
  const bin = mkdtempSync(join(tmpdir(), 'ckbuild-bin-'));
  writeFileSync(join(bin, 'ckbuild'), `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(cliEntry)} "$@"\n`);
  chmodSync(join(bin, 'ckbuild'), 0o755);
  const env = { ...process.env, PATH: `${bin}:${process.env.PATH}`, NO_COLOR: '1', CKBUILD_EXECUTOR: 'local', GIT_AUTHOR_NAME: 'tutorial', GIT_AUTHOR_EMAIL: 't@example.com', GIT_COMMITTER_NAME: 'tutorial', GIT_COMMITTER_EMAIL: 't@example.com' };
  const outputs: string[] = [];
  for (const step of steps) {
    if (step.kind === 'write') {
      mkdirSync(join(dir, step.path, '..'), { recursive: true });
      writeFileSync(join(dir, step.path), step.text);
      continue;
    }
    const result = spawnSync('sh', ['-c', step.command], { cwd: dir, env, encoding: 'utf8', timeout: 120_000 });
    assert.equal(result.status, 0, `\`${step.command}\` failed:\n${result.stdout}${result.stderr}`);
    outputs.push(`$ ${step.command}\n${result.stdout}${result.stderr}`);
  }
  // What the tutorial promises: the rebuild after the parameter change reruns only what changed,
  // and the build after that has nothing to do.
  const log = outputs.join('\n');
  assert.match(log, /up to date: \d+ runs, nothing to do/);
  assert.match(log, /already up to date/);
});

test('the tutorial says `executor: local`: it runs here even where sbatch is on PATH and no executor is asked for', () => {
  const project = new TempProject();
  for (const folder of ['experiments', 'data', 'tutorial']) cpSync(join(projectRoot, folder), project.path(folder), { recursive: true });
  const bin = project.path('fakebin');
  mkdirSync(bin);
  // An sbatch that would hang: if the experiment's executor were ignored, the build would wait on it.
  for (const tool of ['sbatch', 'squeue', 'sacct', 'scontrol', 'sinfo']) writeFileSync(join(bin, tool), '#!/bin/sh\nsleep 600\n', { mode: 0o755 });
  const started = Date.now();
  const result = project.run(['experiments/tutorial.yaml'], { CKBUILD_EXECUTOR: '', PATH: `${bin}:${process.env.PATH}` });
  assert.equal(result.code, 0, result.stdout + result.stderr);
  assert.match(result.stdout, /tutorial \(local\): \d+ succeeded/);
  assert.ok(Date.now() - started < 60_000);
});
