/**
 * How the bin (cli/launch.ts) compiles the bundle with its code cache, kept apart so that the
 * test of the cache (test/cli/launch.test.ts) compiles it exactly so: V8 takes a cache only for the
 * very text and wrapping it was made from.
 */
import { join } from 'node:path';
import { Script } from 'node:vm';

/** The bundle's source wrapped as Node wraps a CommonJS module, compiled from `cachedData` where V8 takes it. */
export function bundleScript(source: string, filename: string, cachedData?: Buffer): Script {
  return new Script(`(function (exports, require, module, __filename, __dirname) {${source.replace(/^#!.*/, '')}\n})`, { filename, cachedData });
}

/** The cache made for this very bundle: named by the build id at its end (scripts/bundle.mjs); undefined without one. */
export function codeCachePath(bundleDir: string, source: string): string | undefined {
  // Looked for at the end only: the pattern run over the whole 1.6 MB took ~1.5 ms of every start.
  const buildId = /\/\/# ckbuild-build ([0-9a-f]+)\s*$/.exec(source.slice(-256))?.[1];
  return buildId === undefined ? undefined : join(bundleDir, `ckbuild.${buildId}.v8cache`);
}
