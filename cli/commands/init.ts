/**
 * `ckbuild init [folder]`: scaffolds an experiments repository, or adds to an existing one:
 * `experiments/starter.yaml` (a commented experiment that checks clean anywhere), the local-config
 * template `ckbuild.local.yaml.example`, and `.gitignore` entries for the runs root, the local
 * config and ckbuild's own folder. It never overwrites a file: one that exists is kept and said so.
 * Outside a git repository it runs `git init` (ckbuild commits manifests).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, join, relative, resolve } from 'node:path';
import { packageRoot, templatesDir } from '../../core/paths.js';
import { type ParsedArgs, UsageError } from '../args.js';
import { bold, displayPath, dim, err, green, info, out, yellow } from '../output.js';

const STARTER = 'experiments/starter.yaml';
const LOCAL_EXAMPLE = 'ckbuild.local.yaml.example';

function fill(template: string, values: Record<string, string>): string {
  return template.replace(/\{\{(\w+)\}\}/g, (_, name: string) => values[name] ?? '');
}

/** The editor hint's schema path: relative when ckbuild is installed inside the project (node_modules), else absolute. */
function schemaPath(projectDir: string, fromDir: string, schema: string): string {
  const target = join(packageRoot, 'schema', schema);
  const inside = !relative(projectDir, target).startsWith('..');
  return inside ? relative(fromDir, target) : target;
}

function insideGitRepo(dir: string): boolean {
  try {
    execFileSync('git', ['rev-parse', '--is-inside-work-tree'], { cwd: dir, stdio: 'ignore', timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}

export async function initCommand(args: ParsedArgs): Promise<number> {
  if (args.positionals.length > 1) throw new UsageError('usage: ckbuild init [folder]');
  const dir = resolve(args.positionals[0] ?? '.');
  if (existsSync(dir) && !statSync(dir).isDirectory()) throw new UsageError(`${displayPath(dir)} is not a folder`);
  mkdirSync(join(dir, 'experiments'), { recursive: true });
  const project = basename(dir).replace(/[^A-Za-z0-9_.-]+/g, '-') || 'project';
  const done: string[] = [];
  const kept: string[] = [];

  if (!insideGitRepo(dir)) {
    try {
      execFileSync('git', ['init', '-q'], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'], timeout: 10_000 });
      done.push(`${green('created')} a git repository (ckbuild commits each experiment's manifest)`);
    } catch (error) {
      err(`${yellow('warning')}: git init failed (${(error as Error).message.split('\n')[0]}); manifests will be written but not committed`);
    }
  }

  const create = (path: string, text: string): void => {
    const full = join(dir, path);
    if (existsSync(full)) {
      kept.push(path);
      return;
    }
    writeFileSync(full, text, { flag: 'wx' });
    done.push(`${green('created')} ${path}`);
  };
  const template = (name: string): string => readFileSync(join(templatesDir, 'init', name), 'utf8');
  create(STARTER, fill(template('starter.yaml'), { schema: schemaPath(dir, join(dir, 'experiments'), 'experiment.schema.json'), name: 'starter', file: 'starter.yaml', project }));
  create(LOCAL_EXAMPLE, fill(template('ckbuild.local.yaml.example'), { schema: schemaPath(dir, dir, 'local-config.schema.json') }));

  // .gitignore: add the entries that are missing, keep everything else as it is.
  const gitignore = join(dir, '.gitignore');
  const existing = existsSync(gitignore) ? readFileSync(gitignore, 'utf8') : '';
  const present = new Set(existing.split('\n').map((line) => line.trim().replace(/^\//, '')));
  const wanted = template('gitignore').split('\n').filter((line) => line.trim() !== '');
  const missing = wanted.filter((line) => !present.has(line) && !present.has(line.replace(/\/$/, '')));
  if (missing.length > 0) {
    const prefix = existing === '' || existing.endsWith('\n') ? '' : '\n';
    writeFileSync(gitignore, `${existing}${prefix}${existing === '' ? '' : '\n'}# ckbuild: run directories, this machine's settings, ckbuild's own state\n${missing.join('\n')}\n`);
    done.push(`${existing === '' ? green('created') : green('updated')} .gitignore (${missing.join(' ')})`);
  }

  out(`${bold('ckbuild init')} ${displayPath(dir)}`);
  for (const line of done) out(`  ${line}`);
  for (const path of kept) out(`  ${yellow('kept')} ${path} ${dim('(exists; init never overwrites)')}`);
  if (done.length === 0) out(`  nothing to do: already initialised`);
  const inDir = (path: string): string => (dir === process.cwd() ? path : join(displayPath(dir), path));
  info('');
  info('next:');
  const steps: Array<[string, string]> = [
    [`ckbuild check ${inDir(STARTER)}`, 'validate it'],
    [`ckbuild plan ${inDir(STARTER)}`, 'see its runs and keys'],
    [`ckbuild ${inDir(STARTER)}`, 'run it (locally, or on SLURM where sbatch exists)'],
    ['ckbuild doctor', 'check this machine: git, the scheduler, frameworks, GPUs'],
    [`cp ${inDir(LOCAL_EXAMPLE)} ${inDir('ckbuild.local.yaml')}`, "this machine's settings (cluster account, models folder)"],
  ];
  const pad = Math.max(...steps.map(([c]) => c.length)) + 3;
  for (const [command, what] of steps) info(`  ${command.padEnd(pad)}${dim(what)}`);
  return 0;
}
