/**
 * Folders ckbuild owns inside a project (`runs/`, `.ckbuild/`) carry their own `.gitignore`
 * (`*`), so they never show up in `git status` even if the user's .gitignore does not list them.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export function ensureIgnoredDir(dir: string, root = dirname(dir)): string {
  mkdirSync(dir, { recursive: true });
  const owned = dir.startsWith(join(root, '.ckbuild')) ? join(root, '.ckbuild') : dir;
  const marker = join(owned, '.gitignore');
  if (!existsSync(marker)) writeFileSync(marker, '# created by ckbuild: nothing here belongs in git\n*\n');
  return dir;
}
