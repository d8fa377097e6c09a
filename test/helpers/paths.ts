/** Locations tests need, independent of whether they run from test/ or compiled dist/test/. */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findRoot(start: string): string {
  for (let dir = start; dirname(dir) !== dir; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'rules'))) return dir;
  }
  throw new Error(`project root not found above ${start}`);
}

export const projectRoot = findRoot(dirname(fileURLToPath(import.meta.url)));
export const goldenDir = join(projectRoot, 'test', 'golden');
/** The command line as users run it: the package's bin, the bundle (scripts/bundle.mjs). */
export const cliEntry = join(projectRoot, 'dist', 'bundle', 'main.cjs');
/** Set UPDATE_GOLDEN=1 to rewrite golden files instead of comparing against them. */
export const updateGolden = process.env.UPDATE_GOLDEN === '1';
