#!/usr/bin/env node
/**
 * The bin (dist/bundle/main.cjs): runs the command line's bundle, dist/bundle/ckbuild.cjs (one
 * CommonJS file, scripts/bundle.mjs), from the V8 code cache made when it was built. Compiling the
 * ~1.6 MB of the bundle, and each function again the first time it runs, cost a planning command
 * 40–60 ms on this project's 2-core machines, a tenth of a one-trial re-plan; Node 20 keeps no code
 * cache of its own (module.enableCompileCache is Node 22).
 *
 * The cache is an accelerator only. Its name carries the build id written at the end of the bundle,
 * so a cache made for other code is never looked at; V8 itself refuses one of another Node or
 * other flags (then the bundle compiles as without one). `CKBUILD_WRITE_CODE_CACHE=1` makes this
 * process write the cache on exit: the build does so after a dry run of a small sweep, so that the
 * functions a plan runs are in it, compiled.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleScript, codeCachePath } from './codeCache.js';

const here = dirname(fileURLToPath(import.meta.url));
const bundle = join(here, 'ckbuild.cjs');
const source = readFileSync(bundle, 'utf8');
const cachePath = codeCachePath(here, source);
let cachedData: Buffer | undefined;
try {
  if (cachePath) cachedData = readFileSync(cachePath);
} catch {
  // not made (a build whose dry run failed): compiled from the source
}
const script = bundleScript(source, bundle, cachedData);
// Code from a code cache made in another process cannot import() (Node 20 finds no callback for
// it): the report's charts import vega, an ES module, through this one (core/report/charts.ts).
(globalThis as Record<symbol, unknown>)[Symbol.for('ckbuild.import')] = (specifier: string): Promise<unknown> => import(specifier);
if (process.env.CKBUILD_WRITE_CODE_CACHE === '1' && cachePath) {
  process.on('exit', () => {
    const temporary = `${cachePath}.${process.pid}`;
    writeFileSync(temporary, script.createCachedData());
    renameSync(temporary, cachePath);
  });
}
const bundleModule = { exports: {} };
(script.runInThisContext() as (...args: unknown[]) => void)(bundleModule.exports, createRequire(bundle), bundleModule, bundle, here);
