/**
 * Committing the manifest, and nothing else. `git commit --only <paths>` commits exactly those
 * paths from the working tree while the user's other staged changes stay staged. The user's
 * hooks run (no --no-verify). Outside a repository it says so and commits nothing.
 */
import { realpathSync } from 'node:fs';
import { relative } from 'node:path';

export type CommitResult =
  | { committed: true; commit: string; message: string }
  | { committed: false; reason: 'not-a-repository' | 'unchanged' | 'failed'; detail?: string };

export async function commitPaths(cwd: string, paths: string[], message: string): Promise<CommitResult> {
  // Loaded here, not with the module: a dry run or a build with nothing to commit never needs it (10–15 ms to load).
  const { simpleGit } = await import('simple-git');
  const git = simpleGit({ baseDir: cwd });
  let root: string;
  try {
    root = (await git.revparse(['--show-toplevel'])).trim();
  } catch {
    return { committed: false, reason: 'not-a-repository' };
  }
  const repo = simpleGit({ baseDir: root });
  // git reports the top level with symlinks resolved; the paths must be resolved the same way.
  const relativePaths = paths.map((path) => relative(realpathSync(root), realpathSync(path)));
  try {
    const status = await repo.raw(['status', '--porcelain', '--untracked-files=all', '--', ...relativePaths]);
    if (status.trim() === '') return { committed: false, reason: 'unchanged' };
    // New manifests must be known to git before `commit --only` can name them.
    await repo.raw(['add', '--', ...relativePaths]);
    await repo.raw(['commit', '--only', '-m', message, '--', ...relativePaths]);
    const commit = (await repo.revparse(['HEAD'])).trim();
    return { committed: true, commit, message };
  } catch (error) {
    return { committed: false, reason: 'failed', detail: (error as Error).message.trim() };
  }
}
