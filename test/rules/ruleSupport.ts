/**
 * Hand-built contexts for rule tests, golden-file comparison, and the shell harness that runs a
 * rendered command with fake executables on PATH (so injection tests see what a real job would
 * run, without the framework).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Diagnostic } from '../../core/diagnostics.js';
import type { JsonObject } from '../../core/json.js';
import type { ExpandedRun, RenderContext, ResolveContext, StepKind, UpstreamView } from '../../core/rule.js';
import { goldenDir, updateGolden } from '../helpers/paths.js';

export const PROJECT = '/work/project';
export const MODELS = '/shared/models';
export const RUNS = '/scratch/ck/runs';

export function expandedRun(overrides: Partial<ExpandedRun> & { id: string; step: StepKind; rule: string }): ExpandedRun {
  return { params: {}, inputs: {}, needs: {}, origins: {}, labels: {}, resources: {}, ...overrides };
}

/** ResolveContext.readText as planning gives it, uncached. */
export function readTextOrNothing(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

export function resolveContext(runs: ExpandedRun[] = []): ResolveContext {
  return {
    runs: new Map(runs.map((run) => [run.id, run])),
    projectDir: PROJECT,
    readText: readTextOrNothing, exists: existsSync,
    diagnostic: (param, message, options): Diagnostic => ({
      severity: options.severity ?? 'error',
      code: options.code,
      file: 'experiments/test.yaml',
      line: 1,
      column: 1,
      field: param,
      message,
    }),
  };
}

export function upstreamView(id: string, step: StepKind, rule: string, params: JsonObject, key = 'f'.repeat(64)): UpstreamView {
  const runDir = `${RUNS}/${key.slice(0, 16)}-${id.replace(/[^a-z0-9]+/gi, '-')}`;
  return { id, key, rule, step, params, runDir, outputsDir: `${runDir}/outputs` };
}

export function renderContext(overrides: Partial<RenderContext> & { id: string; params: JsonObject }): RenderContext {
  const key = overrides.key ?? 'a1b2c3d4e5f60718'.padEnd(64, '0');
  const runDir = overrides.runDir ?? `${RUNS}/${key.slice(0, 16)}-brave-otter`;
  return {
    key,
    name: 'brave-otter',
    inputs: {},
    upstream: {},
    runDir,
    outputsDir: `${runDir}/outputs`,
    resources: {},
    site: { modelsDir: MODELS, projectDir: PROJECT },
    experiment: { name: 'cap-rank-sweep', project: 'capitalization' },
    ...overrides,
  };
}

export function codes(diagnostics: Diagnostic[], severity: 'error' | 'warning' = 'error'): string[] {
  return diagnostics.filter((d) => d.severity === severity).map((d) => d.code);
}

/** Compares with test/golden/<path>, or rewrites it with UPDATE_GOLDEN=1. */
export function assertGolden(path: string, actual: string): void {
  const file = join(goldenDir, path);
  if (updateGolden || !existsSync(file)) {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, actual);
    if (!updateGolden) assert.fail(`golden file ${path} did not exist: written now, check it and rerun`);
    return;
  }
  assert.equal(actual, readFileSync(file, 'utf8'), `rendered output differs from golden ${path} (UPDATE_GOLDEN=1 to accept)`);
}

/** `bash -n` on a rendered command wrapped in a script the way the job wrapper runs it. */
export function assertBashSyntax(command: string): void {
  const result = spawnSync('bash', ['-n'], { input: `#!/usr/bin/env bash\nset -uo pipefail\n(\n${command.trimEnd()}\n) &\nwait $!\n`, encoding: 'utf8' });
  assert.equal(result.status, 0, `bash -n failed:\n${result.stderr}\n${command}`);
}

/** An executable on a test PATH that records its argv (NUL-separated) and exits with `status`. */
export function fakeExecutable(binDir: string, name: string, argvFile: string, status = 0): void {
  mkdirSync(binDir, { recursive: true });
  const path = join(binDir, name);
  writeFileSync(path, `#!/usr/bin/env bash\nprintf '%s\\0' "$@" > ${JSON.stringify(argvFile)}\nexit ${status}\n`);
  chmodSync(path, 0o755);
}

export function readArgv(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return text === '' ? [] : text.replace(/\0$/, '').split('\0');
}

/** Runs a rendered command as the job would (in a subshell, with the CK_ variables set). */
export function runRendered(command: string, env: Record<string, string>): { status: number | null; stdout: string; stderr: string } {
  const script = `set -uo pipefail\n(\n${command.trimEnd()}\n)\n`;
  const result = spawnSync('bash', ['-c', script], { env: { ...process.env, ...env }, encoding: 'utf8' });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

export function hasPythonYaml(): boolean {
  return spawnSync('python3', ['-c', 'import yaml'], { encoding: 'utf8' }).status === 0;
}

export function python(code: string, input: string): string {
  const result = spawnSync('python3', ['-c', code], { input, encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
  return result.stdout;
}
