#!/usr/bin/env node
// After tsc: the command line as one bundle of modules (dist/bundle/), made by esbuild from the
// compiled ESM. Loading ~160 modules one by one cost a planning command ~0.2 s of its ~0.8 s on the
// project's 2-core machines; the bundle loads in half that. Commands stay in their own chunks
// (--splitting), so `--help` and the no-op fast path still load almost nothing. The modules in
// dist/ remain what the tests import and what the package exposes; the bin is the bundle.
//
// Left out of the bundle: ajv (loaded only when the precompiled validator does not fit) and the
// report's vega, vega-lite and marked (large, and only `ckbuild report` needs them).
import { chmodSync, copyFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const outdir = join(root, 'dist', 'bundle');
// Chunks are named by content: an earlier build's would linger (and count in the code digest).
rmSync(outdir, { recursive: true, force: true });
await build({
  absWorkingDir: root,
  entryPoints: ['dist/cli/main.js', 'dist/core/existenceWorker.js'],
  entryNames: '[name]',
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: ['ajv', 'vega', 'vega-lite', 'marked'],
  // CommonJS dependencies (handlebars) call require(); an ES module has none of its own.
  banner: { js: "import { createRequire as __ckbuildCreateRequire } from 'node:module'; const require = __ckbuildCreateRequire(import.meta.url);" },
  logLevel: 'warning',
});
// Beside the chunk that loads each by a path relative to itself (core/experiment/validate.ts, core/jobScript.ts, rules/torchtune/template.ts).
copyFileSync(join(root, 'dist', 'core', 'experiment', 'experimentValidator.cjs'), join(outdir, 'experimentValidator.cjs'));
copyFileSync(join(root, 'dist', 'core', 'experiment', 'experimentValidator.cjs.v8cache'), join(outdir, 'experimentValidator.cjs.v8cache'));
copyFileSync(join(root, 'dist', 'core', 'jobTemplate.cjs'), join(outdir, 'jobTemplate.cjs'));
copyFileSync(join(root, 'dist', 'rules', 'torchtune', 'finetuneTemplate.json'), join(outdir, 'finetuneTemplate.json'));
// npm links the project's own bin (what `npx ckbuild` runs in a fresh clone) before `prepare`
// builds it, and esbuild writes it without the execute bit: without this, the README's quick
// start fails with "ckbuild: Permission denied".
chmodSync(join(outdir, 'main.js'), 0o755);
