/**
 * Helpers for the guarantee tests: projects whose jobs count their own executions from the job
 * side (a line appended to a counter file the job writes itself, never ckbuild's records) and
 * notice when two executions of one run overlap in its run directory.
 */
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ChildProcess } from 'node:child_process';
import { TempProject } from '../helpers/project.js';

export const sq = (text: string): string => `'${text.replace(/'/g, "'\\''")}'`;

/**
 * A command step that appends its name to `counter` when it starts, holds `busy` in its run
 * directory while it runs (a second execution there at the same time appends to `overlap`),
 * optionally prints `lines` lines, sleeps `sleep` seconds, and leaves its output.
 */
export function countedCommand(name: string, shared: string, options: { sleep?: number; lines?: number; needs?: string } = {}): string {
  const counter = join(shared, 'count.log');
  const overlap = join(shared, 'overlap.log');
  const parts = [
    `mkdir "$CK_RUN_DIR/busy" 2>/dev/null || echo ${name} >> ${sq(overlap)}`,
    `echo ${name} >> ${sq(counter)}`,
    options.lines ? `for i in $(seq ${options.lines}); do echo "${name} line $i"; done` : '',
    options.sleep ? `sleep ${options.sleep}` : '',
    options.needs ? `cat "$CK_NEEDS_${options.needs.toUpperCase()}/${options.needs}.txt" > "$CK_OUTPUTS/${name}.txt"` : `echo ${name} > "$CK_OUTPUTS/${name}.txt"`,
    `rmdir "$CK_RUN_DIR/busy"`,
  ].filter(Boolean);
  return parts.join('; ');
}

/** YAML for a command step (single-quoted scalar). */
export function step(name: string, command: string, needs?: string): string {
  return `  ${name}:\n    command: '${command.replace(/'/g, "''")}'\n    outputs: [${name}.txt]\n${needs ? `    needs: [${needs}]\n` : ''}`;
}

/** A small pipeline: a → b, and c that prints. */
export function countedExperiment(shared: string, name = 'exp', sleep = 0.3): string {
  return `version: "1.0"\nexperiment_name: ${name}\nprepare:\n${step('a', countedCommand('a', shared, { sleep }))}${step('b', countedCommand('b', shared, { sleep, needs: 'a' }), 'a')}${step('c', countedCommand('c', shared, { sleep, lines: 300 }))}`;
}

export function sharedDir(): string {
  return mkdtempSync(join(tmpdir(), 'ckbuild-shared-'));
}

/** A checkout: a git repository with the experiment committed, optionally with its own local config. */
export function checkout(files: Record<string, string>, local?: string): TempProject {
  const project = new TempProject();
  project.write('.gitignore', 'runs/\n.ckbuild/\n');
  for (const [path, content] of Object.entries(files)) project.write(path, content);
  if (local !== undefined) project.write('ckbuild.local.yaml', local);
  project.git('add', '.');
  project.git('commit', '-qm', 'experiment');
  return project;
}

/** How many times each step executed, counted by the jobs themselves. */
export function executions(shared: string): Map<string, number> {
  const counts = new Map<string, number>();
  const file = join(shared, 'count.log');
  if (!existsSync(file)) return counts;
  for (const line of readFileSync(file, 'utf8').split('\n').filter(Boolean)) counts.set(line, (counts.get(line) ?? 0) + 1);
  return counts;
}

export function overlaps(shared: string): string[] {
  const file = join(shared, 'overlap.log');
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
}

export function exitCode(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve({ code: child.exitCode, signal: child.signalCode });
    else child.on('exit', (code, signal) => resolve({ code, signal }));
  });
}

/** Waits until no process runs a job script under `dir` (jobs outlive a killed ckbuild). */
export async function jobsGone(dir: string, timeoutMs = 30_000): Promise<void> {
  const { readdirSync } = await import('node:fs');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const busy = readdirSync('/proc').some((pid) => {
      if (!/^\d+$/.test(pid)) return false;
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(`${dir}/`) && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('job.sh');
      } catch {
        return false;
      }
    });
    if (!busy) return;
    if (Date.now() > deadline) throw new Error(`jobs under ${dir} still running after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
