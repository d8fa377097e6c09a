/**
 * Every command and option of the CLI, described once: the parser (cli/args.ts) rejects what a
 * command does not take and suggests the nearest name, `--help` and `<command> --help` are printed
 * from here, and so are the bash and zsh completions. A new option is one entry below.
 */

export interface OptionSpec {
  name: string;
  /** Other spellings (`-h`, `--output`). */
  aliases?: readonly string[];
  /** The value's placeholder (`N`, `RUN`); absent for a switch. */
  value?: string;
  /** Allowed values, checked when parsed. */
  choices?: readonly string[];
  /** `int`: a whole number ≥ 1, checked when parsed (so `-j abc` fails even when nothing is to do). */
  type?: 'int';
  repeatable?: boolean;
  help: string;
  default: string;
  example: string;
}

export interface CommandSpec {
  name: string;
  usage: string;
  summary: string;
  options: readonly string[];
  examples: readonly string[];
  /** What completion offers for positionals: experiment files, a fixed list, or nothing. */
  complete?: 'experiments' | readonly string[];
}

export const STEPS = ['prepare', 'finetune', 'merge', 'optimize', 'evaluate', 'export'] as const;

export const OPTIONS: Record<string, OptionSpec> = {
  '--help': { name: '--help', aliases: ['-h'], help: "print this command's help and exit", default: 'off', example: 'ckbuild plan --help' },
  '--version': { name: '--version', aliases: ['-V'], help: "print ckbuild's version and exit", default: 'off', example: 'ckbuild --version' },
  '--quiet': { name: '--quiet', aliases: ['-q'], help: 'print only errors, warnings and the final summary (no per-run progress)', default: 'off', example: 'ckbuild experiments/cap.yaml --quiet' },
  '--verbose': { name: '--verbose', aliases: ['-v'], help: 'also print what ckbuild decided and why (version, executor, files) on stderr', default: 'off', example: 'ckbuild experiments/cap.yaml --verbose' },
  '--no-color': { name: '--no-color', help: 'never colour the output (colours are used only on a terminal, and never with NO_COLOR set)', default: 'colour on a terminal', example: 'ckbuild status --no-color' },
  '--json': { name: '--json', help: 'print machine-readable JSON on stdout instead of a table', default: 'off (a table)', example: 'ckbuild plan experiments/cap.yaml --json' },
  '--explain': { name: '--explain', help: 'list, under the table, why each stale run is stale', default: 'off', example: 'ckbuild plan experiments/cap.yaml --explain' },
  '--dry-run': { name: '--dry-run', help: 'generate every artifact of the selected runs, execute nothing, record nothing', default: 'off', example: 'ckbuild experiments/cap.yaml --dry-run' },
  '--only': { name: '--only', value: 'RUN', repeatable: true, help: 'only these runs (id, id glob, step, readable name or key prefix), and the stale runs they need; repeatable', default: 'every run', example: "ckbuild experiments/cap.yaml --only 'finetune/lora_rank=8*'" },
  '--until': { name: '--until', value: 'STEP', choices: STEPS, help: `only steps up to STEP (${STEPS.join(', ')})`, default: 'every step', example: 'ckbuild experiments/cap.yaml --until finetune' },
  '--force': { name: '--force', help: 'rerun the selected runs even if up to date; also overrides the budget', default: 'off', example: 'ckbuild experiments/cap.yaml --force --only evaluate' },
  '--keep-going': { name: '--keep-going', help: 'continue past failures (dependents of a failed run are skipped)', default: 'off (stop at the first failure)', example: 'ckbuild experiments/cap.yaml --keep-going' },
  '-j': { name: '-j', aliases: ['--jobs'], value: 'N', type: 'int', help: 'local executor: N runs at once', default: 'jobs in the local config, else the CPU count', example: 'ckbuild experiments/cap.yaml -j 2' },
  '--executor': { name: '--executor', value: 'NAME', choices: ['local', 'slurm'], help: 'where runs execute', default: '$CKBUILD_EXECUTOR, else executor in the local config, else slurm where sbatch exists, else local', example: 'ckbuild experiments/cap.yaml --executor local' },
  '--wait': { name: '--wait', help: 'slurm: wait until the submitted runs finish', default: 'off (submit and return)', example: 'ckbuild experiments/cap.yaml --executor slurm --wait' },
  '--no-commit': { name: '--no-commit', help: 'write the manifest but do not commit it', default: 'off (commit the manifest)', example: 'ckbuild experiments/cap.yaml --no-commit' },
  '-o': { name: '-o', aliases: ['--output'], value: 'FILE', help: 'where to write the converted experiment', default: 'experiments/<experiment_name>.yaml', example: 'ckbuild import old/experiment_summary.yaml -o experiments/old.yaml' },
  '--overwrite': { name: '--force', help: 'overwrite the output file if it exists', default: 'off (refuse)', example: 'ckbuild import old/experiment_summary.yaml --force' },
  '--build': { name: '--build', help: 'watch: after each valid change, bring the results up to date with `ckbuild build` (otherwise only artifacts are regenerated, nothing runs)', default: 'off (never executes)', example: 'ckbuild watch experiments/cap.yaml --build' },
  '--strict': { name: '--strict', help: 'check: also fail on warnings and on a committed manifest out of date with its experiment (a run would be stale)', default: 'off', example: 'ckbuild check --strict experiments/*.yaml' },
  '--format': { name: '--format', value: 'FORMAT', choices: ['human', 'json', 'github'], help: 'check: output as text (human), JSON (json, like --json) or GitHub workflow annotations (github)', default: 'human', example: 'ckbuild check --format github' },
  '--follow': { name: '--follow', aliases: ['-f'], help: 'log: keep printing as the job writes, until it ends', default: 'off (print the log and exit)', example: 'ckbuild log brave-otter -f' },
  '--tolerance': { name: '--tolerance', value: 'METRIC=ABS', repeatable: true, help: 'reproduce: the absolute difference allowed for a metric that is not bit-reproducible (`*=ABS` for every metric); repeatable', default: 'exact (0)', example: 'ckbuild reproduce 3f9a1c --tolerance loss=0.01' },
  '--migrate': { name: '--migrate', help: 'import: print, as a unified diff, the edits that bring a cruijff_kit 0.3.3-or-earlier file to 0.3.4’s names (with -o, write the result instead)', default: 'off (convert to ckbuild’s format)', example: 'ckbuild import --migrate old/experiment_summary.yaml' },
  '--report-dir': { name: '--report-dir', value: 'DIR', help: 'report: the folder to write results.csv, summary.md and report.html into', default: 'report.dir in the experiment, else <experiment>.report next to the manifest', example: 'ckbuild report experiments/cap.yaml --report-dir reports/cap' },
  '--delete': { name: '--delete', help: 'gc: remove the directories listed (without it, gc only shows what it would remove)', default: 'off (a dry run)', example: 'ckbuild gc --delete' },
  '--commits': { name: '--commits', value: 'N', type: 'int', help: 'gc: keep runs recorded in the manifests of the last N commits, too', default: '10', example: 'ckbuild gc --commits 50' },
  '--write': { name: '--write', help: "write the schemas into ckbuild's schema/ folder instead of printing", default: 'off (print)', example: 'ckbuild schema --write' },
};

/** Options every command takes. */
export const GLOBAL_OPTIONS = ['--help', '--quiet', '--verbose', '--no-color'] as const;

const BUILD_OPTIONS = ['--dry-run', '--only', '--until', '--force', '--keep-going', '-j', '--executor', '--wait', '--no-commit'];

export const COMMANDS: Record<string, CommandSpec> = {
  build: {
    name: 'build',
    usage: 'ckbuild [build] <experiment.yaml> [options]',
    summary: 'bring results up to date: plan, generate and run the stale runs, record and commit the manifest',
    options: BUILD_OPTIONS,
    examples: ['ckbuild experiments/tutorial.yaml', 'ckbuild experiments/cap.yaml --dry-run', 'ckbuild experiments/cap.yaml --only finetune --executor slurm'],
    complete: 'experiments',
  },
  plan: {
    name: 'plan',
    usage: 'ckbuild plan <experiment.yaml> [options]',
    summary: 'the runs, their keys and dependencies, and why each stale one is stale (nothing is written)',
    options: ['--json', '--explain'],
    examples: ['ckbuild plan experiments/cap.yaml', 'ckbuild plan experiments/cap.yaml --explain'],
    complete: 'experiments',
  },
  explain: {
    name: 'explain',
    usage: 'ckbuild explain <experiment.yaml> <run> [options]',
    summary: 'why one run is stale, ingredient by ingredient',
    options: ['--json'],
    examples: ['ckbuild explain experiments/cap.yaml finetune/lora_rank=8'],
    complete: 'experiments',
  },
  check: {
    name: 'check',
    usage: 'ckbuild check [experiment.yaml…] [options]',
    summary: 'for CI: validate schema, references, the DAG, the rendered artifacts and budgets, writing nothing (default: every experiment under experiments/); exit 0 clean, 1 problems, 2 usage error',
    options: ['--json', '--strict', '--format'],
    examples: ['ckbuild check', 'ckbuild check --strict experiments/*.yaml', 'ckbuild check --format github'],
    complete: 'experiments',
  },
  watch: {
    name: 'watch',
    usage: 'ckbuild watch <experiment.yaml>… [options]',
    summary: 'regenerate the artifacts of the runs an edit changes (experiment, inputs, templates, local config) as you edit; runs nothing unless --build',
    options: ['--build', '--executor', '-j', '--no-commit'],
    examples: ['ckbuild watch experiments/cap.yaml', 'ckbuild watch experiments/tutorial.yaml --build'],
    complete: 'experiments',
  },
  status: {
    name: 'status',
    usage: 'ckbuild status [experiment.yaml…] [options]',
    summary: 'runs, states, durations and metrics, refreshed from the executor (default: every experiment under experiments/)',
    options: ['--json', '--executor', '--no-commit'],
    examples: ['ckbuild status', 'ckbuild status experiments/cap.yaml --json'],
    complete: 'experiments',
  },
  cancel: {
    name: 'cancel',
    usage: 'ckbuild cancel <experiment.yaml> [run…] [options]',
    summary: 'cancel queued or running jobs (scancel on SLURM)',
    options: ['--executor', '--no-commit'],
    examples: ['ckbuild cancel experiments/cap.yaml', 'ckbuild cancel experiments/cap.yaml finetune'],
    complete: 'experiments',
  },
  import: {
    name: 'import',
    usage: 'ckbuild import <experiment_summary.yaml> [options]',
    summary: "convert an earlier-toolkit (cruijff_kit) experiment to ckbuild's format; --migrate brings a file of its releases up to 0.3.3 to 0.3.4's names, as a diff",
    options: ['-o', '--overwrite', '--migrate'],
    examples: ['ckbuild import old/experiment_summary.yaml', 'ckbuild import old/experiment_summary.yaml -o experiments/old.yaml', 'ckbuild import --migrate old/experiment_summary.yaml', 'ckbuild import --migrate old/experiment_summary.yaml -o old/experiment_summary.yaml --force'],
    complete: 'experiments',
  },
  show: {
    name: 'show',
    usage: 'ckbuild show <run> [options]',
    summary: "a run's record: experiment, commit, parameters, inputs, upstream runs, status, job, timing, metrics, its files (a run: id, readable name or key prefix, also from git history)",
    options: ['--json'],
    examples: ['ckbuild show prepare/report', 'ckbuild show brave-otter', 'ckbuild show 3f9a1c --json'],
    complete: [],
  },
  log: {
    name: 'log',
    usage: 'ckbuild log <run> [options]',
    summary: "print (or follow, -f) a run's job log",
    options: ['--follow'],
    examples: ['ckbuild log brave-otter', 'ckbuild log finetune/lora_rank=8 -f'],
    complete: [],
  },
  diff: {
    name: 'diff',
    usage: 'ckbuild diff <runA> <runB> [options]',
    summary: 'the parameters, inputs, upstream runs and metrics that differ between two runs',
    options: ['--json'],
    examples: ['ckbuild diff 3f9a1c 8e2d07', 'ckbuild diff brave-otter calm-heron --json'],
    complete: [],
  },
  reproduce: {
    name: 'reproduce',
    usage: 'ckbuild reproduce <run> [options]',
    summary: 'regenerate a run from its record into a fresh run directory, compare artifacts byte for byte, verify (restore) inputs, rerun it, compare outputs and metrics, record the reproduction',
    options: ['--dry-run', '--tolerance', '--executor', '-j', '--no-commit'],
    examples: ['ckbuild reproduce 3f9a1c', 'ckbuild reproduce brave-otter --dry-run', 'ckbuild reproduce 3f9a1c --tolerance loss=1e-4'],
    complete: [],
  },
  report: {
    name: 'report',
    usage: 'ckbuild report <experiment.yaml> [options]',
    summary: 'write the results: results.csv (one row per run, task and epoch), summary.md (tables, the best configuration, compute) and report.html (charts) into <experiment>.report/',
    options: ['--report-dir', '--json'],
    examples: ['ckbuild report experiments/cap.yaml', 'ckbuild report experiments/cap.yaml --report-dir reports/cap', 'ckbuild report experiments/cap.yaml --json'],
    complete: 'experiments',
  },
  gc: {
    name: 'gc',
    usage: 'ckbuild gc [options]',
    summary: 'list (and with --delete remove) run directories no manifest record references (working tree, last N commits), never a queued or running run or one a current plan needs',
    options: ['--delete', '--commits', '--json'],
    examples: ['ckbuild gc', 'ckbuild gc --delete', 'ckbuild gc --commits 50'],
    complete: [],
  },
  schema: {
    name: 'schema',
    usage: 'ckbuild schema [options]',
    summary: 'print (or write to schema/) the experiment JSON Schema',
    options: ['--write'],
    examples: ['ckbuild schema > experiment.schema.json'],
    complete: [],
  },
  init: {
    name: 'init',
    usage: 'ckbuild init [folder]',
    summary: 'scaffold an experiments repository (or add to an existing one): a starter experiment, the local-config template, .gitignore entries; never overwrites',
    options: [],
    examples: ['ckbuild init', 'ckbuild init my-study'],
    complete: [],
  },
  doctor: {
    name: 'doctor',
    usage: 'ckbuild doctor [experiment.yaml…] [options]',
    summary: 'check Node, git, the repository, the local config, the scheduler, the frameworks and GPUs; exit 1 if a check fails',
    options: ['--json'],
    examples: ['ckbuild doctor', 'ckbuild doctor experiments/cap.yaml --json'],
    complete: 'experiments',
  },
  completion: {
    name: 'completion',
    usage: 'ckbuild completion bash|zsh',
    summary: 'print a shell completion script',
    options: [],
    examples: ['source <(ckbuild completion bash)       # in ~/.bashrc', 'ckbuild completion zsh > "${fpath[1]}/_ckbuild"'],
    complete: ['bash', 'zsh'],
  },
  help: {
    name: 'help',
    usage: 'ckbuild help [command]',
    summary: "print the overview, or a command's help",
    options: [],
    examples: ['ckbuild help status'],
    complete: [],
  },
};

/** The options a command takes, its own and the global ones, as specs keyed by the name it is parsed to. */
export function optionsOf(command: string): OptionSpec[] {
  const names = [...(COMMANDS[command]?.options ?? []), ...GLOBAL_OPTIONS];
  return names.map((name) => OPTIONS[name]!);
}

/** Every spelling of an option: its name and aliases. */
export function spellings(option: OptionSpec): string[] {
  return [option.name, ...(option.aliases ?? [])];
}

function optionLine(option: OptionSpec): string[] {
  const head = `  ${spellings(option).join(', ')}${option.value ? ` ${option.choices ? option.choices.join('|') : option.value}` : ''}`;
  return [`${head.padEnd(28)}${head.length >= 28 ? '\n' + ' '.repeat(28) : ''}${option.help}`, `${' '.repeat(28)}default: ${option.default}`, `${' '.repeat(28)}e.g. ${option.example}`];
}

export function commandHelp(command: string): string {
  const spec = COMMANDS[command]!;
  const lines = [`usage: ${spec.usage}`, '', `  ${spec.summary}`, ''];
  const own = spec.options.map((name) => OPTIONS[name]!);
  if (own.length > 0) {
    lines.push('options:');
    for (const option of own) lines.push(...optionLine(option));
    lines.push('');
  }
  lines.push('global options:');
  for (const name of GLOBAL_OPTIONS) lines.push(...optionLine(OPTIONS[name]!));
  lines.push('', 'examples:', ...spec.examples.map((e) => `  ${e}`));
  return lines.join('\n');
}

export function overviewHelp(): string {
  const lines = ['ckbuild — make for LLM experiments', '', 'usage: ckbuild <command> [options]   (ckbuild <experiment.yaml> is ckbuild build <experiment.yaml>)', '', 'commands:'];
  for (const spec of Object.values(COMMANDS)) lines.push(`  ${spec.name.padEnd(12)}${spec.summary}`);
  lines.push('', 'build options (ckbuild build --help for all, with defaults and examples):');
  for (const name of BUILD_OPTIONS) {
    const option = OPTIONS[name]!;
    lines.push(`  ${`${option.name}${option.value ? ` ${option.value}` : ''}`.padEnd(20)}${option.help} (default: ${option.default})`);
  }
  lines.push('', 'global options:');
  for (const name of [...GLOBAL_OPTIONS, '--version']) {
    const option = OPTIONS[name]!;
    lines.push(`  ${spellings(option).join(', ').padEnd(20)}${option.help}`);
  }
  lines.push(
    '',
    'Run `ckbuild <command> --help` for a command\'s options, each with its default and an example.',
    'New here? `ckbuild init` scaffolds a project, `ckbuild doctor` checks this machine; see README.md.',
    'Exit codes: 0 ok, 1 runs failed, 2 invalid input, 3 locked by another ckbuild, 4 over budget, 130 interrupted.',
  );
  return lines.join('\n');
}
