/**
 * `ckbuild doctor [experiment…]`: checks this machine for what ckbuild and the experiments need,
 * one line per check (pass / warn / fail) with how to fix what is not right. Exit 0 when nothing
 * fails (warnings do not fail), 1 otherwise. Every external command runs under a short timeout
 * and is killed past it: a scheduler whose controller does not answer is a failed check, not a hang.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { hasErrors } from '../../core/diagnostics.js';
import { environmentSetup } from '../../core/jobScript.js';
import { LOCAL_CONFIG_FILE, type LocalConfig, loadLocalConfig, modelsDirOf, runsRootOf } from '../../core/localConfig.js';
import { packageRoot } from '../../core/paths.js';
import { findProjectDir } from '../../core/projectDir.js';
import { type ParsedArgs, flag } from '../args.js';
import { environment } from '../environment.js';
import { planFile } from '../load.js';
import { bold, dim, displayPath, green, out, outJson, red, yellow } from '../output.js';
import { experimentFiles } from './status.js';

type Verdict = 'pass' | 'warn' | 'fail';

export interface Check {
  name: string;
  verdict: Verdict;
  message: string;
  fix?: string;
}

interface Ran {
  ok: boolean;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  missing: boolean;
}

/** Runs a command, never longer than `timeoutMs` (SIGKILL past it). */
function run(command: string, args: string[], timeoutMs = 5000, cwd?: string): Ran {
  const result = spawnSync(command, args, { encoding: 'utf8', timeout: timeoutMs, killSignal: 'SIGKILL', stdio: ['ignore', 'pipe', 'pipe'], cwd });
  const error = result.error as NodeJS.ErrnoException | undefined;
  return {
    ok: !error && result.status === 0,
    stdout: (result.stdout ?? '').trim(),
    stderr: (result.stderr ?? '').trim(),
    timedOut: error?.code === 'ETIMEDOUT',
    missing: error?.code === 'ENOENT',
  };
}

const firstLine = (text: string): string => text.split('\n').find((l) => l.trim() !== '')?.trim() ?? '';

function versionAtLeast(version: string, minimum: string): boolean {
  const a = version.replace(/^v/, '').split('.').map(Number);
  const b = minimum.split('.').map(Number);
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) > (b[i] ?? 0);
  }
  return true;
}

function checkNode(): Check {
  const engines = (JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as { engines?: { node?: string } }).engines?.node ?? '>=20';
  const minimum = engines.replace(/^>=\s*/, '');
  return versionAtLeast(process.version, minimum)
    ? { name: 'node', verdict: 'pass', message: `${process.version} (needs ${engines})` }
    : { name: 'node', verdict: 'fail', message: `${process.version}, but ckbuild needs ${engines}`, fix: 'install a newer Node (https://nodejs.org, or `module load nodejs` on a cluster)' };
}

function checkGit(): Check {
  const git = run('git', ['--version']);
  if (!git.ok) return { name: 'git', verdict: 'fail', message: 'git is not installed (or does not run)', fix: 'install git: ckbuild records every run in a manifest it commits' };
  const version = /(\d+\.\d+(\.\d+)?)/.exec(git.stdout)?.[1] ?? git.stdout;
  return versionAtLeast(version, '2.20') ? { name: 'git', verdict: 'pass', message: version } : { name: 'git', verdict: 'warn', message: `${version} is old`, fix: 'git 2.20 or newer is tested' };
}

function checkRepository(projectDir: string, local: LocalConfig): Check[] {
  const checks: Check[] = [];
  const top = run('git', ['rev-parse', '--show-toplevel'], 5000, projectDir);
  if (!top.ok) checks.push({ name: 'repository', verdict: 'warn', message: `${displayPath(projectDir)} is not a git repository: manifests are written but not committed`, fix: '`git init` (or `ckbuild init`)' });
  else checks.push({ name: 'repository', verdict: 'pass', message: `git repository ${displayPath(top.stdout)}` });
  const experiments = join(projectDir, 'experiments');
  if (!existsSync(experiments)) checks.push({ name: 'experiments', verdict: 'warn', message: 'no experiments/ folder', fix: '`ckbuild init` writes a starter experiment' });
  else {
    const count = readdirSync(experiments).filter((n) => /\.ya?ml$/.test(n)).length;
    checks.push({ name: 'experiments', verdict: count > 0 ? 'pass' : 'warn', message: `${count} experiment file(s) in experiments/`, ...(count === 0 ? { fix: '`ckbuild init` writes a starter experiment' } : {}) });
  }
  if (top.ok) {
    const runsRoot = runsRootOf(projectDir, local);
    const probes = [LOCAL_CONFIG_FILE, ...(runsRoot.startsWith(projectDir + '/') ? [join(runsRoot.slice(projectDir.length + 1), 'x')] : [])];
    const ignored = run('git', ['check-ignore', '--no-index', ...probes], 5000, projectDir).stdout.split('\n').filter(Boolean);
    const notIgnored = probes.filter((p) => !ignored.includes(p)).map((p) => (p.endsWith('/x') ? p.slice(0, -2) + '/' : p));
    checks.push(
      notIgnored.length === 0
        ? { name: 'gitignore', verdict: 'pass', message: 'the runs root and the local config are git-ignored' }
        : { name: 'gitignore', verdict: 'warn', message: `not git-ignored: ${notIgnored.join(', ')}`, fix: `add ${notIgnored.join(' and ')} to .gitignore (\`ckbuild init\` does)` },
    );
  }
  return checks;
}

/** The models the experiments name, by directory name (as the rules look them up under models_dir). */
function modelsNamed(plans: Awaited<ReturnType<typeof planFile>>[]): Map<string, string | undefined> {
  const models = new Map<string, string | undefined>();
  for (const result of plans) {
    for (const run of result.plan?.runs ?? []) {
      const base = (run.params as Record<string, unknown>).base_model;
      const path = run.site?.model_path;
      if (typeof path === 'string') models.set(path, path);
      else if (typeof base === 'string' && (run.rule === 'torchtune' || run.rule === 'inspect' || run.rule === 'adapter-merge' || run.rule === 'export')) {
        const trimmed = base.trim().replace(/\/+$/, '');
        models.set(trimmed.slice(trimmed.lastIndexOf('/') + 1), undefined);
      }
    }
  }
  return models;
}

function checkLocalConfig(projectDir: string, plans: Awaited<ReturnType<typeof planFile>>[]): { checks: Check[]; local: LocalConfig } {
  const loaded = loadLocalConfig(projectDir, environment.modelsDir ? { models_dir: environment.modelsDir } : {});
  const checks: Check[] = [];
  if (!loaded.file) checks.push({ name: 'local config', verdict: 'pass', message: `no ${LOCAL_CONFIG_FILE}: defaults (runs in ./runs, models in ./models, executor by what is installed)` });
  else if (hasErrors(loaded.diagnostics)) {
    const d = loaded.diagnostics.find((x) => x.severity === 'error')!;
    checks.push({ name: 'local config', verdict: 'fail', message: `${displayPath(d.file)}:${d.line}:${d.column}: ${d.field ? `${d.field}: ` : ''}${d.message}`, fix: 'fix the line (schema: schema/local-config.schema.json)' });
    return { checks, local: loaded.config };
  } else checks.push({ name: 'local config', verdict: 'pass', message: `${displayPath(loaded.file)} is valid` });
  const local = loaded.config;

  const modelsDir = modelsDirOf(projectDir, local);
  const models = modelsNamed(plans);
  if (models.size === 0) checks.push({ name: 'models', verdict: 'pass', message: `no experiment names a base model${existsSync(modelsDir) ? ` (models dir ${displayPath(modelsDir)})` : ''}` });
  else if (!existsSync(modelsDir) && [...models.values()].some((p) => p === undefined)) {
    checks.push({ name: 'models', verdict: 'warn', message: `the models dir ${displayPath(modelsDir)} does not exist; the experiments name ${[...models.keys()].join(', ')}`, fix: 'set models_dir in ckbuild.local.yaml (or $CKBUILD_MODELS_DIR) to where <model name>/ folders are (fine-tunes run where the models are: on the cluster)' });
  } else {
    const missing = [...models.entries()].filter(([name, path]) => !existsSync(path ?? join(modelsDir, name))).map(([name]) => name);
    checks.push(
      missing.length === 0
        ? { name: 'models', verdict: 'pass', message: `${[...models.keys()].join(', ')} found in ${displayPath(modelsDir)}` }
        : { name: 'models', verdict: 'warn', message: `not found in ${displayPath(modelsDir)}: ${missing.join(', ')}`, fix: `download them into ${displayPath(modelsDir)}/<name>/ (e.g. \`tune download <hf id> --output-dir ${displayPath(modelsDir)}/<name>\`), or set models_dir` },
    );
  }

  const runsRoot = runsRootOf(projectDir, local);
  let probe = runsRoot;
  while (!existsSync(probe) && dirname(probe) !== probe) probe = dirname(probe);
  let writable = false;
  try {
    if (statSync(probe).isDirectory()) {
      accessSync(probe, constants.W_OK);
      const scratch = mkdtempSync(join(probe, '.ckbuild-doctor-'));
      rmSync(scratch, { recursive: true, force: true });
      writable = true;
    }
  } catch {
    writable = false;
  }
  checks.push(
    writable
      ? { name: 'runs root', verdict: 'pass', message: `${displayPath(runsRoot)} is writable${probe === runsRoot ? '' : ' (it will be created)'}` }
      : { name: 'runs root', verdict: 'fail', message: `${displayPath(runsRoot)} is not writable (${displayPath(probe)})`, fix: 'set runs_root in ckbuild.local.yaml to a folder you can write (on a cluster: scratch)' },
  );
  return { checks, local };
}

function checkScheduler(local: LocalConfig): Check[] {
  const which = (command: string): boolean => run('sh', ['-c', 'command -v "$0"', command], 3000).ok;
  const present = ['sbatch', 'squeue', 'sacct', 'sinfo'].filter(which);
  if (present.length === 0) {
    return [{ name: 'scheduler', verdict: local.executor === 'slurm' ? 'fail' : 'pass', message: 'no SLURM commands here: builds run on the local executor', ...(local.executor === 'slurm' ? { fix: 'executor: slurm is set in ckbuild.local.yaml, but sbatch is not on PATH: run on a login node, or `module load slurm`' } : {}) }];
  }
  const checks: Check[] = [];
  const absent = ['sbatch', 'squeue', 'sacct'].filter((c) => !present.includes(c));
  if (absent.length > 0) checks.push({ name: 'scheduler', verdict: 'fail', message: `SLURM is partly installed: missing ${absent.join(', ')}`, fix: 'ckbuild needs sbatch, squeue and sacct together (or pass --executor local)' });
  const version = run('squeue', ['--version'], 3000);
  const user = environment.user ?? '';
  const queue = run('squeue', ['-h', ...(user ? ['-u', user] : []), '-o', '%i'], 5000);
  if (!queue.ok) {
    checks.push({
      name: 'scheduler',
      verdict: 'fail',
      message: queue.timedOut ? 'squeue did not answer within 5 s: the SLURM controller is unreachable' : `squeue failed: ${firstLine(queue.stderr) || 'no message'}`,
      fix: 'check the controller (`scontrol ping`; SLURM_CONF), or build here with `--executor local` (or executor: local in ckbuild.local.yaml)',
    });
    return checks;
  }
  checks.push({ name: 'scheduler', verdict: 'pass', message: `${firstLine(version.stdout) || 'slurm'}: the controller answers (${queue.stdout ? queue.stdout.split('\n').length : 0} job(s) of ${user || 'this user'} queued)` });
  if (present.includes('sacct')) {
    const sacct = run('sacct', ['-n', '-X', '-P', '-S', 'now-1hours', '-o', 'JobID'], 5000);
    const text = `${sacct.stdout}\n${sacct.stderr}`;
    if (!sacct.ok || /accounting storage is disabled|not enabled/i.test(text)) {
      checks.push({ name: 'accounting', verdict: 'warn', message: sacct.timedOut ? 'sacct did not answer within 5 s' : `accounting is not available: ${firstLine(sacct.stderr) || firstLine(sacct.stdout)}`, fix: 'without accounting, finished jobs are known only from the status file each job writes (OOM and timeouts are reported less precisely)' });
    } else checks.push({ name: 'accounting', verdict: 'pass', message: 'sacct answers: finished jobs are read from accounting' });
  }
  if (present.includes('sinfo')) {
    const sinfo = run('sinfo', ['-h', '-o', '%P|%l|%D|%G'], 5000);
    if (!sinfo.ok) checks.push({ name: 'partitions', verdict: 'warn', message: `sinfo failed: ${firstLine(sinfo.stderr)}` });
    else {
      const partitions = sinfo.stdout.split('\n').filter(Boolean).map((line) => {
        const [name = '', limit = '', nodes = '', gres = ''] = line.split('|');
        return { name: name.replace(/\*$/, ''), text: `${name} (time limit ${limit}, ${nodes} node(s)${gres && gres !== '(null)' ? `, ${gres}` : ''})` };
      });
      const wanted = local.partition;
      if (wanted && !partitions.some((p) => p.name === wanted)) checks.push({ name: 'partitions', verdict: 'fail', message: `partition ${wanted} (ckbuild.local.yaml) is not one of: ${partitions.map((p) => p.name).join(', ')}`, fix: 'set partition in ckbuild.local.yaml to one that exists' });
      else checks.push({ name: 'partitions', verdict: 'pass', message: partitions.map((p) => p.text).join('; ') || 'none listed' });
    }
  }
  return checks;
}

/** A framework's version, in the environment jobs activate (local config `env`), else on PATH. */
function checkFrameworks(projectDir: string, local: LocalConfig, needed: Set<string>): Check[] {
  const setup = environmentSetup(local);
  const where = local.env?.venv ? `venv ${local.env.venv}` : local.env?.conda ? `conda env ${local.env.conda}` : 'PATH';
  const probes: Array<{ name: string; rule: string; script: string; fix: string }> = [
    { name: 'python', rule: '', script: 'python3 --version 2>&1 || python --version 2>&1', fix: 'install Python 3.10+ (or set env.conda / env.venv in ckbuild.local.yaml)' },
    { name: 'tune', rule: 'torchtune', script: 'command -v tune >/dev/null && python3 -c "import torchtune; print(\'torchtune\', torchtune.__version__)"', fix: 'pip install torchtune torchao (in the environment env.venv / env.conda names)' },
    { name: 'inspect', rule: 'inspect', script: 'inspect --version', fix: 'pip install inspect-ai (in the environment env.venv / env.conda names)' },
  ];
  if (needed.has('dspy')) probes.push({ name: 'dspy', rule: 'dspy', script: 'python3 -c "import dspy; print(\'dspy\', dspy.__version__)"', fix: 'pip install dspy' });
  const checks: Check[] = [];
  for (const probe of probes) {
    const result = run('bash', ['-c', [...setup, probe.script].join('\n')], 20_000, projectDir);
    const version = firstLine(result.stdout);
    if (result.ok && version) checks.push({ name: probe.name, verdict: 'pass', message: `${version} (${where})` });
    else {
      const isNeeded = probe.rule === '' || needed.has(probe.rule);
      const message = `${result.timedOut ? 'did not answer within 20 s' : 'not found'} in ${where}${isNeeded ? '' : ' (no experiment here needs it)'}`;
      checks.push({ name: probe.name, verdict: isNeeded ? 'warn' : 'pass', message, ...(isNeeded ? { fix: `${probe.fix}; runs that need it are reported blocked where it is missing` } : {}) });
    }
  }
  // This repository's own pinned environment (the real tier), when doctor runs in a ckbuild checkout.
  const script = join(projectDir, 'scripts', 'python-env.sh');
  if (existsSync(script)) {
    const env = run('bash', [script, 'path'], 10_000, projectDir);
    checks.push(
      env.ok
        ? { name: 'python env', verdict: 'pass', message: `ckbuild's pinned environment: ${firstLine(env.stdout)}` }
        : { name: 'python env', verdict: 'warn', message: `ckbuild's pinned environment is not installed: ${firstLine(env.stderr) || 'incomplete'}`, fix: '`bash scripts/python-env.sh install` (needed only for the real-framework tests)' },
    );
  }
  return checks;
}

function checkGpus(): Check {
  const smi = run('nvidia-smi', ['--query-gpu=index,name,memory.total', '--format=csv,noheader'], 5000);
  if (smi.missing) return { name: 'gpus', verdict: 'warn', message: 'no nvidia-smi: no GPU here', fix: 'fine on a laptop or a login node: fine-tunes run on GPU nodes (SLURM) or a GPU machine' };
  if (!smi.ok) return { name: 'gpus', verdict: 'warn', message: smi.timedOut ? 'nvidia-smi did not answer within 5 s' : `nvidia-smi failed: ${firstLine(smi.stderr || smi.stdout)}`, fix: 'check the NVIDIA driver' };
  const gpus = smi.stdout.split('\n').filter(Boolean);
  return { name: 'gpus', verdict: 'pass', message: `${gpus.length} GPU(s): ${gpus.map((g) => g.split(',').slice(1).map((s) => s.trim()).join(' ')).join('; ')}` };
}

export async function doctorCommand(args: ParsedArgs): Promise<number> {
  let files: string[] = [];
  try {
    files = experimentFiles(args.positionals);
  } catch {
    files = [];
  }
  const projectDir = findProjectDir(files[0] ?? join(process.cwd(), 'experiments', 'x.yaml'));
  const plans = [];
  for (const file of files) plans.push(await planFile(file));
  const needed = new Set(plans.flatMap((p) => p.plan?.runs.map((r) => r.rule) ?? []));
  const checks: Check[] = [checkNode(), checkGit()];
  const config = checkLocalConfig(projectDir, plans);
  checks.push(...checkRepository(projectDir, config.local));
  for (const [index, result] of plans.entries()) {
    if (!result.plan) checks.push({ name: 'experiment', verdict: 'fail', message: `${displayPath(files[index]!)} does not plan (${result.diagnostics.filter((d) => d.severity === 'error').length} error(s))`, fix: `\`ckbuild check ${displayPath(files[index]!)}\` shows them` });
  }
  checks.push(...config.checks, ...checkScheduler(config.local), ...checkFrameworks(projectDir, config.local, needed), checkGpus());
  const failed = checks.some((c) => c.verdict === 'fail');
  if (flag(args, '--json')) {
    outJson({ ok: !failed, checks });
    return failed ? 1 : 0;
  }
  const word = { pass: green('pass'), warn: yellow('warn'), fail: red('FAIL') };
  const width = Math.max(...checks.map((c) => c.name.length));
  for (const check of checks) {
    out(`${word[check.verdict]}  ${check.name.padEnd(width)}  ${check.message}${check.fix ? dim(` — fix: ${check.fix}`) : ''}`);
  }
  const tally = (v: Verdict): number => checks.filter((c) => c.verdict === v).length;
  out(bold(`${tally('pass')} passed, ${tally('warn')} warning(s), ${tally('fail')} failed`));
  return failed ? 1 : 0;
}
