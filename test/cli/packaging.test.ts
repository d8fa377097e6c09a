/**
 * The package as a user gets it: `npm pack`, install the tarball into a fresh folder (from the
 * npm cache when it holds the dependencies, else the registry), run its `ckbuild` bin. The tarball
 * holds only what the tool needs: compiled JavaScript (no tests, no benchmarks), templates,
 * schemas, the shipped scripts, README and licence.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { projectRoot } from '../helpers/paths.js';

const pkg = JSON.parse(readFileSync(join(projectRoot, 'package.json'), 'utf8')) as { name: string; version: string; bin: Record<string, string>; engines: { node: string }; files: string[]; license: string };
const npm = (args: string[], cwd: string, timeout = 240_000) => spawnSync('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], { cwd, encoding: 'utf8', timeout, env: { ...process.env, NO_COLOR: '1', npm_config_update_notifier: 'false' } });

test('package.json: bin, engines and licence are right', () => {
  assert.deepEqual(pkg.bin, { ckbuild: 'dist/bundle/main.cjs' });
  assert.match(readFileSync(join(projectRoot, 'cli', 'main.ts'), 'utf8'), /^#!\/usr\/bin\/env node\n/);
  assert.match(pkg.engines.node, /^>=\s*20/);
  const [major, minor] = process.versions.node.split('.').map(Number);
  const [wantMajor, wantMinor = 0] = pkg.engines.node.replace(/^>=\s*/, '').split('.').map(Number);
  assert.ok(major! > wantMajor! || (major === wantMajor && minor! >= wantMinor), 'the engines range admits the Node this suite runs on');
  assert.equal(pkg.license, 'MIT');
  assert.match(readFileSync(join(projectRoot, 'LICENSE'), 'utf8'), /^MIT License/);
});

test('npm pack → npm install the tarball in a fresh folder → its ckbuild runs (--help, --version, init, check)', { timeout: 600_000 }, () => {
  const packDir = mkdtempSync(join(tmpdir(), 'ckbuild-pack-'));
  // --ignore-scripts: the suite has compiled dist/ already; recompiling here would rewrite it under tests running alongside.
  const pack = npm(['pack', '--json', '--ignore-scripts', '--pack-destination', packDir], projectRoot);
  assert.equal(pack.status, 0, pack.stderr);
  const [info] = JSON.parse(pack.stdout.slice(pack.stdout.indexOf('['))) as Array<{ filename: string; files: Array<{ path: string }> }>;
  const files = info!.files.map((f) => f.path);

  // What ships, and what does not.
  for (const needed of ['package.json', 'README.md', 'LICENSE', 'dist/bundle/main.cjs', 'dist/bundle/ckbuild.cjs', 'dist/bundle/existenceWorker.js', 'dist/bundle/experimentValidator.cjs', 'dist/bundle/jobTemplate.cjs', 'dist/cli/main.js', 'dist/core/plan.js', 'dist/rules/index.js', 'templates/job.sh.hbs', 'templates/init/starter.yaml', 'templates/init/ckbuild.local.yaml.example', 'schema/experiment.schema.json', 'schema/local-config.schema.json', 'scripts/python-env.sh', 'scripts/python-requirements.txt']) {
    assert.ok(files.includes(needed), `the package holds ${needed}`);
  }
  const unwanted = files.filter((f) => /^(test|dist\/test|dist\/bench|bench|core|cli|rules|docs|experiments|node_modules)\//.test(f) || f.startsWith('test/slurm') || f.endsWith('.ts') || f === 'tsconfig.json' || f === 'scripts/run-tests.mjs');
  assert.deepEqual(unwanted, [], 'no sources, tests, benchmarks or test infrastructure');

  // A fresh folder, as a user's project: install the tarball, offline when the cache allows.
  const user = mkdtempSync(join(tmpdir(), 'ckbuild-user-'));
  writeFileSync(join(user, 'package.json'), JSON.stringify({ name: 'my-study', version: '1.0.0', private: true }));
  const tarball = join(packDir, info!.filename);
  let install = npm(['install', '--offline', tarball], user);
  if (install.status !== 0) install = npm(['install', '--prefer-offline', tarball], user);
  assert.equal(install.status, 0, install.stderr);
  assert.ok(existsSync(join(user, 'node_modules', '.bin', 'ckbuild')), 'the bin is linked');

  const npx = (args: string[]) => spawnSync('npx', ['--no-install', 'ckbuild', ...args], { cwd: user, encoding: 'utf8', timeout: 60_000, env: { ...process.env, NO_COLOR: '1', CKBUILD_EXECUTOR: 'local' } });
  const help = npx(['--help']);
  assert.equal(help.status, 0, help.stderr);
  assert.match(help.stdout, /^ckbuild — make for LLM experiments/);
  const version = npx(['--version']);
  assert.equal(version.status, 0, version.stderr);
  assert.equal(version.stdout.trim(), pkg.version);
  // Templates and schemas are found inside the installed package.
  const init = npx(['init']);
  assert.equal(init.status, 0, init.stdout + init.stderr);
  assert.match(readFileSync(join(user, 'experiments', 'starter.yaml'), 'utf8'), /^# yaml-language-server: \$schema=\.\.\/node_modules\/ckbuild\/schema\/experiment\.schema\.json$/m);
  const check = npx(['check', 'experiments/starter.yaml']);
  assert.equal(check.status, 0, check.stdout + check.stderr);
  const schema = npx(['schema']);
  assert.equal(schema.status, 0, schema.stderr);
  assert.ok(JSON.parse(schema.stdout));
});
