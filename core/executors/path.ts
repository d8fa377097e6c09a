/** Whether an executable is on PATH (the shell's own lookup, so aliases of PATH rules match). */
import { execFileSync } from 'node:child_process';

export function onPath(command: string): boolean {
  try {
    execFileSync('sh', ['-c', 'command -v "$0"', command], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
