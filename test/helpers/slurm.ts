/**
 * The real local SLURM cluster for scheduling tests (test/slurm/cluster/local-slurm.sh). When it cannot run
 * here (not root, not Debian), tests skip and say why; CI runs as root on Debian and starts it.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { projectRoot } from './paths.js';

let cached: { ok: true } | { ok: false; reason: string } | undefined;

function script(...args: string[]): { code: number; stdout: string } {
  const result = spawnSync('bash', [join(projectRoot, 'test', 'slurm', 'cluster', 'local-slurm.sh'), ...args], { encoding: 'utf8', timeout: 300_000 });
  return { code: result.status ?? 1, stdout: `${result.stdout ?? ''}${result.stderr ?? ''}`.trim() };
}

/** Ensures the cluster is up; returns a skip reason when it cannot be. */
export function slurmSkipReason(): string | undefined {
  if (!cached) {
    if (script('status').code === 0) cached = { ok: true };
    else {
      const canRun = script('can-run');
      if (canRun.code !== 0) cached = { ok: false, reason: `SLURM tests skipped: ${canRun.stdout}` };
      else {
        const started = script('start', '--quiet');
        cached = started.code === 0 ? { ok: true } : { ok: false, reason: `SLURM tests skipped: local SLURM failed to start: ${started.stdout}` };
      }
    }
  }
  if (!cached.ok && process.env.CI) {
    // CI must run the scheduling tests: a cluster that cannot start there is a failure.
    throw new Error(cached.reason);
  }
  return cached.ok ? undefined : cached.reason;
}

export function squeueNames(): string[] {
  const result = spawnSync('squeue', ['-h', '-o', '%j|%T'], { encoding: 'utf8', maxBuffer: 1 << 28 });
  return (result.stdout ?? '').split('\n').filter(Boolean);
}
