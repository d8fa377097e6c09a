/**
 * A temporary project for CLI tests: a real git repository with an experiment file, driven by
 * the real `ckbuild` binary as a child process.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { cliEntry } from './paths.js';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export class TempProject {
  readonly dir: string;

  constructor(options: { git?: boolean } = {}) {
    this.dir = mkdtempSync(join(tmpdir(), 'ckbuild-test-'));
    if (options.git ?? true) {
      this.git('init', '-q', '-b', 'main');
      this.git('config', 'user.email', 'test@example.com');
      this.git('config', 'user.name', 'ckbuild test');
      this.git('config', 'commit.gpgsign', 'false');
    }
  }

  path(...parts: string[]): string {
    return join(this.dir, ...parts);
  }

  write(relative: string, content: string): string {
    const file = this.path(relative);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, content);
    return file;
  }

  read(relative: string): string {
    return readFileSync(this.path(relative), 'utf8');
  }

  git(...args: string[]): string {
    return execFileSync('git', args, { cwd: this.dir, stdio: ['ignore', 'pipe', 'pipe'] }).toString();
  }

  /** Runs ckbuild to completion. NO_COLOR keeps output plain for assertions. */
  /** `timeoutMs`: the real tier's builds train and evaluate for real (minutes on a loaded machine). */
  run(args: string[], env: Record<string, string> = {}, timeoutMs = 120_000): CliResult {
    const result = spawnSync(process.execPath, [cliEntry, ...args], {
      cwd: this.dir,
      env: { ...process.env, NO_COLOR: '1', CKBUILD_EXECUTOR: 'local', ...env },
      encoding: 'utf8',
      timeout: timeoutMs,
    });
    return { code: result.status ?? (result.signal ? 128 : 1), stdout: result.stdout, stderr: result.stderr };
  }

  /** Starts ckbuild without waiting, for interrupt and concurrency tests. */
  start(args: string[], env: Record<string, string> = {}): ChildProcess & { output: () => string } {
    const child = spawn(process.execPath, [cliEntry, ...args], { cwd: this.dir, env: { ...process.env, NO_COLOR: '1', CKBUILD_EXECUTOR: 'local', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    return Object.assign(child, { output: () => output });
  }

  manifest(relative = 'experiments/exp.manifest.json'): { runs: Array<Record<string, unknown> & { id: string; key: string; status: string }> } {
    return JSON.parse(this.read(relative)) as { runs: Array<Record<string, unknown> & { id: string; key: string; status: string }> };
  }
}

export async function waitFor(predicate: () => boolean, timeoutMs = 20_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export function exitOf(child: ChildProcess): Promise<number> {
  return new Promise((resolve) => child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1))));
}
