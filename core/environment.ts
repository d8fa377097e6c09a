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
    } catch {
      // Not a git repository, or no commit yet.
    }
    cache.set(projectDir, env);
  }
  return env;
}
