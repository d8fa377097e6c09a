/** Where ckbuild's own files are, whether it runs from the source tree or an installed package. */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findPackageRoot(start: string): string {
  for (let dir = start; dirname(dir) !== dir; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'templates'))) return dir;
  }
  throw new Error(`ckbuild's package root was not found above ${start}`);
}

export const packageRoot = findPackageRoot(dirname(fileURLToPath(import.meta.url)));
export const templatesDir = join(packageRoot, 'templates');
