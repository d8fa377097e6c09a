/**
 * Folders ckbuild owns inside a project (`runs/`, `.ckbuild/`) carry their own `.gitignore`
 * (`*`), so they never show up in `git status` even if the user's .gitignore does not list them.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';

export function ensureIgnoredDir(dir: string, root = dirname(dir)): string {
  mkdirSync(dir, { recursive: true });
  const owned = dir.startsWith(join(root, '.ckbuild')) ? join(root, '.ckbuild') : dir;
  const marker = join(owned, '.gitignore');
  if (!existsSync(marker)) writeFileSync(marker, '# created by ckbuild: nothing here belongs in git\n*\n');
  return dir;
}

/**
 * `.ckbuild/<folder>/<file>.json` for a file of the project (an experiment, a manifest): what
 * ckbuild keeps about it there (a stamp, a saved plan, an index), one flat name per file.
 */
export function projectCachePath(projectDir: string, folder: string, file: string): string {
  return join(projectDir, '.ckbuild', folder, `${relative(projectDir, file).replace(/[^A-Za-z0-9_.-]+/g, '_')}.json`);
}
