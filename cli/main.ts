#!/usr/bin/env node
/**
 * ckbuild's command line. It parses arguments, hands work to core, renders what comes back,
 * and owns the exit codes: 0 ok, 1 runs failed, 2 invalid input, 3 locked by another ckbuild,
 * 4 over budget, 130 interrupted. Commands load lazily so `--help` and no-op builds stay fast.
 */
import { type ParsedArgs, parseArgs, UsageError } from './args.js';
import { err, green, out, red } from './output.js';

const SWITCHES = ['--json', '--explain', '--dry-run', '--force', '--keep-going', '--no-commit', '--wait', '--write', '--help', '--version'] as const;
const WITH_VALUE = ['--only', '--until', '--executor', '-j', '-o'] as const;

const HELP = `ckbuild — make for LLM experiments

usage:
  ckbuild <experiment.yaml> [options]        bring results up to date (alias: ckbuild build …)
  ckbuild plan <experiment.yaml> [--json] [--explain]
                                             the runs, their keys, and why each stale one is stale
  ckbuild explain <experiment.yaml> <run>    why one run is stale, ingredient by ingredient
  ckbuild check <experiment.yaml>… [--json]  validate files for CI (schema, DAG, rendered artifacts)
  ckbuild status [experiment.yaml…] [--json] runs, states, durations, metrics (refreshes from the executor)
  ckbuild cancel <experiment.yaml> [run…]    cancel queued or running jobs
  ckbuild import <experiment_summary.yaml> [-o experiments/name.yaml] [--force]
                                             convert an earlier-toolkit experiment to ckbuild's format
  ckbuild schema [--write]                   print (or write to schema/) the experiment JSON Schema

build options:
  --dry-run              generate every artifact, execute nothing, record nothing
  --only RUN             only these runs (id, id glob, step, name or key prefix; repeatable)
  --until STEP           only steps up to STEP (prepare, finetune, merge, optimize, evaluate, export)
  --force                rerun the selected runs even if up to date; also overrides the budget
  --keep-going           continue past failures (dependents of a failed run are skipped)
  -j N                   local executor: N runs at once
  --executor local|slurm default: the local config, else slurm where sbatch exists, else local
  --wait                 slurm: wait until the submitted runs finish
  --no-commit            do not commit the manifest

Runs are keyed by a hash of their resolved parameters, input file contents, rule version and
upstream keys; see README.md.`;

async function main(argv: string[]): Promise<number> {
  const args = parseArgs(argv, { withValue: WITH_VALUE, switches: SWITCHES, aliases: { '-h': '--help', '-V': '--version', '--output': '-o' } });
  if (args.flags.has('--version')) {
    const { CKBUILD_VERSION } = await import('../core/version.js');
    out(CKBUILD_VERSION);
    return 0;
  }
  const [command, ...rest] = args.positionals;
  if (args.flags.has('--help') || command === undefined || command === 'help') {
    out(HELP);
    return command === undefined && !args.flags.has('--help') ? 2 : 0;
  }
  const sub = { ...args, positionals: rest };
  switch (command) {
    case 'plan':
      return (await import('./commands/plan.js')).planCommand(sub);
    case 'explain':
      return (await import('./commands/explain.js')).explainCommand(sub);
    case 'check':
      return (await import('./commands/check.js')).checkCommand(sub);
    case 'status':
      return (await import('./commands/status.js')).statusCommand(sub);
    case 'cancel':
      return (await import('./commands/cancel.js')).cancelCommand(sub);
    case 'schema':
      return (await import('./commands/schema.js')).schemaCommand(sub);
    case 'import':
      return (await import('./commands/import.js')).importCommand(sub);
    case 'build':
      return build(sub);
    default:
      return build(args);
  }
}

/** A build first tries the no-op fast path, which loads none of the planning machinery. */
async function build(args: ParsedArgs): Promise<number> {
  const [file, ...rest] = args.positionals;
  const plain = !['--dry-run', '--only', '--until', '--force', '--help'].some((name) => args.flags.has(name));
  if (file && rest.length === 0 && plain) {
    const { checkUpToDateStamp } = await import('../core/upToDate.js');
    const runs = checkUpToDateStamp(file);
    if (runs !== undefined) {
      out(`${green('up to date')}: ${runs} runs, nothing to do`);
      return 0;
    }
  }
  return (await import('./commands/build.js')).buildCommand(args);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof UsageError) {
      err(`${red('error')}: ${error.message}`);
      process.exitCode = 2;
      return;
    }
    // A bug, not a user mistake: say so, with the stack, so it can be reported.
    err(`${red('internal error')} (please report it): ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exitCode = 70;
  },
);
