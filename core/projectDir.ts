/** Where a project starts: kept free of heavy imports, because the no-op fast path needs it. */
import { existsSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';

/**
 * The project folder is the nearest ancestor holding a `.git` or a `ckbuild.local.yaml`; paths in
 * the experiment file are relative to it. Without either, an `experiments/` folder's parent.
 */
export function findProjectDir(experimentFile: string): string {
  const start = dirname(resolve(experimentFile));
  for (let dir = start; ; dir = dirname(dir)) {
    if (existsSync(join(dir, '.git')) || existsSync(join(dir, 'ckbuild.local.yaml'))) return dir;
    if (dirname(dir) === dir) break;
  }
  return basename(start) === 'experiments' ? dirname(start) : start;
}

export function resolveProjectPath(projectDir: string, path: string): string {
  return isAbsolute(path) ? path : join(projectDir, path);
}
