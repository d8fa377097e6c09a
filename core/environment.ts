/** What a record says about where a run was launched from: ckbuild's version and the repository's commit. */
import { execFileSync } from 'node:child_process';
import type { JsonObject } from './json.js';
import { CKBUILD_VERSION } from './version.js';

const cache = new Map<string, JsonObject>();

export function runEnvironment(projectDir: string): JsonObject {
  let env = cache.get(projectDir);
  if (!env) {
    env = { ckbuild: CKBUILD_VERSION, node: process.version };
    try {
      env.git_commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: projectDir, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
      // Whether the commit is the whole story: changed or untracked files (manifests aside, which
      // ckbuild itself writes and commits) mean the run saw something no commit holds.
      const changed = execFileSync('git', ['status', '--porcelain', '--untracked-files=all', '-z'], { cwd: projectDir, stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 64 << 20 })
        .toString()
        .split('\0')
        .filter((entry) => /^[ MADRCUT?!]{2} /.test(entry)) // a rename's second entry (its old path) has no status
        .map((entry) => entry.slice(3))
        .filter((path) => path !== '' && !path.endsWith('.manifest.json'));
      env.git_clean = changed.length === 0;
      if (changed.length > 0) env.git_changed = [...changed.slice(0, 20), ...(changed.length > 20 ? [`… and ${changed.length - 20} more`] : [])];
    } catch {
      // Not a git repository, or no commit yet.
    }
    cache.set(projectDir, env);
  }
  return env;
}
