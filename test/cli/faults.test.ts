/**
 * Bad input and bad disks end in a clear message, never a stack trace, and nothing half-written
 * (issue: reliability). The disk tests put the project on a small tmpfs the test mounts itself,
 * so they need root; elsewhere they skip and say why.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { TempProject } from '../helpers/project.js';

const EXPERIMENT = `version: "1.0"
experiment_name: exp
prepare:
  a: { command: 'echo a > "$CK_OUTPUTS/a.txt"; echo a >> "$CK_PROJECT_DIR/ran.log"', outputs: [a.txt] }
  b: { command: 'cat "$CK_NEEDS_A/a.txt" > "$CK_OUTPUTS/b.txt"', outputs: [b.txt], needs: [a] }
`;

function noStackTrace(output: string): void {
  assert.doesNotMatch(output, /internal error|\n\s+at .+:\d+:\d+/, output);
}

test('YAML alias errors are diagnostics at the alias, in the experiment and in the local config', () => {
  const project = new TempProject();
  project.write('experiments/exp.yaml', 'version: "1.0"\nexperiment_name: exp\nconfig: *missing\n');
  const unresolved = project.run(['plan', 'experiments/exp.yaml']);
  assert.equal(unresolved.code, 2);
  assert.match(unresolved.stderr, /exp\.yaml:3:9: error: YAML: Unresolved alias.*define the anchor/);
  noStackTrace(unresolved.stderr);

  let bomb = 'version: "1.0"\nexperiment_name: exp\na0: &a0 [x, x, x, x, x, x, x, x, x, x]\n';
  for (let i = 1; i < 8; i++) bomb += `a${i}: &a${i} [${Array.from({ length: 10 }, () => `*a${i - 1}`).join(', ')}]\n`;
  project.write('experiments/exp.yaml', bomb);
  const exploded = project.run(['plan', 'experiments/exp.yaml']);
  assert.equal(exploded.code, 2);
  assert.match(exploded.stderr, /exp\.yaml:\d+:\d+: error: YAML: Excessive alias count/);

  project.write('experiments/exp.yaml', EXPERIMENT);
  project.write('ckbuild.local.yaml', 'runs_root: *nowhere\n');
  for (const command of [['plan'], ['check'], [], ['status']]) {
    const result = project.run([...command, 'experiments/exp.yaml']);
    assert.notEqual(result.code, 0);
    assert.match(result.stderr + result.stdout, /ckbuild\.local\.yaml:1:12: error: YAML: Unresolved alias/);
    noStackTrace(result.stderr);
  }
});

test('a runs root that is the project, a folder above it, or the experiments folder is refused at its line', () => {
  const project = new TempProject();
  project.write('experiments/exp.yaml', EXPERIMENT);
  for (const root of ['.', '..', 'experiments']) {
    project.write('ckbuild.local.yaml', `runs_root: ${root}\n`);
    const result = project.run(['experiments/exp.yaml']);
    assert.equal(result.code, 2, root);
    assert.match(result.stderr, /ckbuild\.local\.yaml:1:12: error: runs_root: the runs root .* (contains the project folder|holds the experiment file)/);
    assert.equal(existsSync(project.path('.gitignore')), false, 'no `*` .gitignore written into the project');
    assert.equal(existsSync(project.path('ran.log')), false);
  }
});

test('--only globs match in linear time, and a step name that matches nothing suggests the run', () => {
  const project = new TempProject();
  const steps = Array.from({ length: 300 }, (_, i) => `  s${i}: { command: 'echo ${i} > "$CK_OUTPUTS/o"', outputs: [o] }`).join('\n');
  project.write('experiments/exp.yaml', `version: "1.0"\nexperiment_name: exp\nprepare:\n${steps}\n  report: { command: 'true > "$CK_OUTPUTS/o"', outputs: [o] }\n`);
  const started = Date.now();
  const globbed = project.run(['experiments/exp.yaml', '--dry-run', '--only', '*a*a*a*a*a*a*a*a*a*a*b']);
  assert.ok(Date.now() - started < 20_000, 'a many-star glob returns promptly');
  assert.equal(globbed.code, 2);
  assert.match(globbed.stderr, /--only \*a\*a.* matches no run/);
  const typo = project.run(['experiments/exp.yaml', '--only', 'report']);
  assert.equal(typo.code, 2);
  assert.match(typo.stderr, /--only report matches no run; did you mean `prepare\/report`\?/);
  const star = project.run(['experiments/exp.yaml', '--dry-run', '--only', 'prepare/s1*9']);
  assert.equal(star.code, 0, star.stderr);
  assert.match(star.stdout, /generated 11 run directories/);
});

test('a damaged up-to-date stamp, and a lock path that is a folder, are handled, not crashes', () => {
  const project = new TempProject();
  project.write('experiments/exp.yaml', EXPERIMENT);
  assert.equal(project.run(['experiments/exp.yaml']).code, 0);
  const stamps = project.path('.ckbuild', 'up-to-date');
  for (const entry of existsSync(stamps) ? readdirSync(stamps) : []) writeFileSync(join(stamps, entry), '{"version": 1, "files": 7}');
  const rebuilt = project.run(['experiments/exp.yaml']);
  assert.equal(rebuilt.code, 0, rebuilt.stderr);
  assert.match(rebuilt.stdout, /up to date: 2 runs/);

  const lock = project.path('.ckbuild', 'locks', 'build.lock');
  rmSync(lock, { force: true });
  mkdirSync(lock, { recursive: true });
  project.write('experiments/exp.yaml', EXPERIMENT.replace('echo a >', 'echo A >'));
  const locked = project.run(['experiments/exp.yaml']);
  assert.equal(locked.code, 2);
  assert.match(locked.stderr, /error: the build lock .*build\.lock exists but is not a file; remove it/);
  noStackTrace(locked.stderr);
});

/** A tmpfs of `size` mounted for the test, or the reason it cannot be. */
function tmpfs(size: string): { dir: string; remount(options: string): void; unmount(): void } | string {
  if (process.getuid?.() !== 0) return 'needs root to mount a tmpfs';
  const dir = mkdtempSync(join(tmpdir(), 'ckbuild-tmpfs-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'pipe' });
  } catch (error) {
    return `cannot mount a tmpfs here: ${String((error as Error).message).split('\n')[0]}`;
  }
  return {
    dir,
    remount: (options) => execFileSync('mount', ['-o', `remount,${options}`, dir], { stdio: 'pipe' }),
    unmount: () => execFileSync('umount', ['-l', dir], { stdio: 'pipe' }),
  };
}

function projectIn(dir: string): TempProject {
  const project = new TempProject({ git: false });
  rmSync(project.dir, { recursive: true, force: true });
  Object.defineProperty(project, 'dir', { value: dir });
  project.git('init', '-q', '-b', 'main');
  project.git('config', 'user.email', 'test@example.com');
  project.git('config', 'user.name', 'ckbuild test');
  project.write('.gitignore', 'runs/\n.ckbuild/\n');
  project.write('experiments/exp.yaml', EXPERIMENT);
  project.git('add', '.');
  project.git('commit', '-qm', 'experiment');
  return project;
}

test('a read-only checkout: plan, check and status work and write nothing; a build says why it cannot run', (t) => {
  const disk = tmpfs('16m');
  if (typeof disk === 'string') return t.skip(disk);
  try {
    const project = projectIn(disk.dir);
    assert.equal(project.run(['experiments/exp.yaml']).code, 0);
    project.write('experiments/exp.yaml', EXPERIMENT.replace('echo a >', 'echo A >'));
    disk.remount('ro');
    const plan = project.run(['plan', 'experiments/exp.yaml']);
    assert.equal(plan.code, 0, plan.stderr);
    assert.match(plan.stdout, /2 stale/);
    const check = project.run(['check', 'experiments/exp.yaml']);
    assert.equal(check.code, 0, check.stdout + check.stderr);
    const status = project.run(['status', 'experiments/exp.yaml']);
    assert.equal(status.code, 0, status.stderr);
    const built = project.run(['experiments/exp.yaml']);
    assert.notEqual(built.code, 0);
    assert.notEqual(built.code, 70, built.stderr);
    assert.match(built.stderr, /read-only|EROFS/);
    noStackTrace(built.stderr);
  } finally {
    disk.unmount();
  }
});

test('a full disk mid-build: a clear message, nothing half-written, and the next build repairs', (t) => {
  const disk = tmpfs('4m');
  if (typeof disk === 'string') return t.skip(disk);
  try {
    const project = projectIn(disk.dir);
    // Leave a few kilobytes: enough to start, not enough to generate and record everything.
    const filler = project.path('filler');
    try {
      execFileSync('dd', ['if=/dev/zero', `of=${filler}`, 'bs=4k', 'count=4000'], { stdio: 'pipe' });
    } catch {
      // dd stops at the full disk: exactly what we want.
    }
    const full = project.run(['experiments/exp.yaml']);
    assert.notEqual(full.code, 0);
    assert.notEqual(full.code, 70, full.stderr);
    assert.match(full.stderr, /no space left|ENOSPC/i);
    noStackTrace(full.stderr);
    const leftovers = execFileSync('find', [disk.dir, '-name', '*.tmp-*', '-o', '-path', '*/.partial/*', '-prune'], { encoding: 'utf8' }).trim();
    assert.equal(leftovers, '', 'no temporary files left behind');
    rmSync(filler);
    const repaired = project.run(['experiments/exp.yaml']);
    assert.equal(repaired.code, 0, repaired.stdout + repaired.stderr);
    assert.ok(project.manifest().runs.every((run) => run.status === 'succeeded'));
    assert.equal(project.read('ran.log').trim().split('\n').length, 1, 'run a executed once');
  } finally {
    disk.unmount();
  }
});
