#!/usr/bin/env node
// After tsc: the command line as one bundle (dist/bundle/), made by esbuild from the compiled ESM.
// Loading ~160 modules one by one cost a planning command ~0.2 s of its ~0.8 s on the project's
// 2-core machines. The bundle is one CommonJS file, ckbuild.cjs, which the bin (dist/bundle/main.cjs,
// cli/launch.ts) runs from V8's code cache made here: compiling it at every start was another
// 40–60 ms of a one-trial re-plan. Lazily imported commands are bundled as lazily initialised
// modules, so `--help` and the no-op fast path still run almost nothing. The modules in dist/
// remain what the tests import and what the package exposes; the bin is the bundle.
//
// Left out of the bundle: ajv (loaded only when the precompiled validator does not fit) and the
// report's vega, vega-lite and marked (large, and only `ckbuild report` needs them).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const outdir = join(root, 'dist', 'bundle');
/** The bin, package.json's `bin`. */
const BIN = 'main.cjs';
// An earlier build's files would linger (its code cache, chunks of older layouts in the code digest).
rmSync(outdir, { recursive: true, force: true });
const shared = { absWorkingDir: root, bundle: true, platform: 'node', target: 'node20', logLevel: 'warning' };
const [cli] = (
  await build({
    ...shared,
    entryPoints: ['dist/cli/main.js'],
    outfile: join(outdir, 'ckbuild.cjs'),
    format: 'cjs',
    write: false,
    external: ['ajv', 'vega', 'vega-lite', 'marked'],
    // The modules find their neighbours (the validator, the worker, the templates) from their own URL.
    define: { 'import.meta.url': '__ckbuildModuleUrl' },
    banner: { js: "const __ckbuildModuleUrl = require('node:url').pathToFileURL(__filename).href;" },
  })
).outputFiles;
// The build id names the code cache made for exactly this bundle (cli/launch.ts); from its content,
// so that rebuilding the same code gives the same bundle (and the same code digest, core/upToDate.ts).
// The bin runs the bundle through vm.Script, where import() has no loader (cli/launch.ts): the one
// the code needs goes through the bin's (core/report/charts.ts), and no other may appear.
const stray = /[^\w$.]import\(\s*["'`]/.exec(cli.text);
if (stray) throw new Error(`scripts/bundle.mjs: the bundle would import() at ${cli.text.slice(stray.index, stray.index + 60)}: route it through the bin's import (see core/report/charts.ts)`);
const buildId = createHash('sha256').update(cli.contents).digest('hex').slice(0, 16);
mkdirSync(outdir, { recursive: true });
writeFileSync(cli.path, `${cli.text}//# ckbuild-build ${buildId}\n`);
await build({ ...shared, entryPoints: ['dist/core/existenceWorker.js'], outfile: join(outdir, 'existenceWorker.js'), format: 'esm' });
// The bin, with the few lines it shares with its test (cli/codeCache.ts) inlined: one file to read
// at start. CommonJS: node reaches the first line of an ES module entry ~8 ms later (its loader),
// and every command pays it.
await build({ ...shared, entryPoints: ['dist/cli/launch.js'], outfile: join(outdir, BIN), format: 'cjs', define: { 'import.meta.url': '__ckbuildModuleUrl' }, banner: { js: "const __ckbuildModuleUrl = require('node:url').pathToFileURL(__filename).href;" } });
// Beside the bundle, which loads each by a path relative to itself (core/experiment/validate.ts, core/jobScript.ts, rules/torchtune/template.ts).
copyFileSync(join(root, 'dist', 'core', 'experiment', 'experimentValidator.cjs'), join(outdir, 'experimentValidator.cjs'));
copyFileSync(join(root, 'dist', 'core', 'experiment', 'experimentValidator.cjs.v8cache'), join(outdir, 'experimentValidator.cjs.v8cache'));
copyFileSync(join(root, 'dist', 'core', 'jobTemplate.cjs'), join(outdir, 'jobTemplate.cjs'));
copyFileSync(join(root, 'dist', 'rules', 'torchtune', 'finetuneTemplate.json'), join(outdir, 'finetuneTemplate.json'));
// npm links the project's own bin (what `npx ckbuild` runs in a fresh clone) before `prepare`
// builds it, and esbuild writes it without the execute bit: without this, the README's quick
// start fails with "ckbuild: Permission denied".
chmodSync(join(outdir, BIN), 0o755);

// The code cache: the bin run on small projects, each run writing V8's cache of the bundle with
// what it compiled, the ones before included (a run that starts from the cache keeps what it
// took from it): a dry run of a sweep (planning, every run's files), then a local build of
// command steps (claims, the job starter, recording) and its no-op. Without a cache ckbuild is
// slower to start, not wrong: a failure here is a warning.
const { localProject, LOCAL_BUILD, sweepProject } = await import(join(root, 'dist', 'bench', 'workload.js'));
const samples = [sweepProject(20), localProject(3)];
const training = [
  [samples[0], ['build', 'experiments/sweep.yaml', '--dry-run']],
  [samples[1], LOCAL_BUILD],
  [samples[1], LOCAL_BUILD],
];
try {
  for (const [cwd, args] of training) {
    const made = spawnSync(process.execPath, [join(outdir, BIN), ...args, '--quiet'], { cwd, env: { ...process.env, CKBUILD_WRITE_CODE_CACHE: '1' }, encoding: 'utf8' });
    if (made.status !== 0) console.warn(`bundle: making the code cache, \`ckbuild ${args.join(' ')}\` exited ${made.status}: ${made.stderr.slice(-500)}`);
  }
  if (!readdirSync(outdir).some((name) => name.startsWith('ckbuild.') && name.endsWith('.v8cache'))) console.warn('bundle: no code cache made: ckbuild will compile its bundle at each start');
} finally {
  for (const sample of samples) rmSync(sample, { recursive: true, force: true });
}
