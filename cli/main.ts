#!/usr/bin/env node
/**
 * ckbuild's command line. It parses arguments, hands work to core, renders what comes back,
 * and owns the exit codes: 0 ok, 1 runs failed, 2 invalid input, 3 locked by another ckbuild,
 * 4 over budget, 130 interrupted. Commands load lazily so `--help` and no-op builds stay fast.
 */
import { type ParsedArgs, parseCommandLine, UsageError } from './args.js';
import { configureOutput, debug, err, green, out, red } from './output.js';
import { COMMANDS, commandHelp, overviewHelp } from './spec.js';
import type { Preread } from '../core/experiment/preread.js';

async function main(argv: string[]): Promise<number> {
  const { command, args } = parseCommandLine(argv);
  configureOutput({
    colour: args.flags.has('--no-color') ? false : undefined,
    verbosity: args.flags.has('--quiet') ? 'quiet' : args.flags.has('--verbose') ? 'verbose' : 'normal',
  });
  if (args.flags.has('--quiet') && args.flags.has('--verbose')) throw new UsageError('--quiet and --verbose contradict each other; give one');
  watchParent();
  if (args.flags.has('--version')) {
    const { CKBUILD_VERSION } = await import('../core/version.js');
    out(CKBUILD_VERSION);
    return 0;
  }
  if (command === undefined || (command === 'help' && args.positionals.length === 0)) {
    out(overviewHelp());
    return command === undefined && !args.flags.has('--help') ? 2 : 0;
  }
  if (command === 'help') {
    const topic = args.positionals[0]!;
    if (!COMMANDS[topic]) throw new UsageError(`no help for ${topic}: it is not a command (see \`ckbuild --help\`)`);
    out(commandHelp(topic));
    return 0;
  }
  if (args.flags.has('--help')) {
    out(commandHelp(command));
    return 0;
  }
  debug(`command ${command}, node ${process.version}, cwd ${process.cwd()}`);
  switch (command) {
    case 'plan':
      return (await import('./commands/plan.js')).planCommand(args);
    case 'explain':
      return (await import('./commands/explain.js')).explainCommand(args);
    case 'check':
      return (await import('./commands/check.js')).checkCommand(args);
    case 'watch':
      return (await import('./commands/watch.js')).watchCommand(args);
    case 'status':
      return (await import('./commands/status.js')).statusCommand(args);
    case 'cancel':
      return (await import('./commands/cancel.js')).cancelCommand(args);
    case 'schema':
      return (await import('./commands/schema.js')).schemaCommand(args);
    case 'import':
      return (await import('./commands/import.js')).importCommand(args);
    case 'init':
      return (await import('./commands/init.js')).initCommand(args);
    case 'doctor':
      return (await import('./commands/doctor.js')).doctorCommand(args);
    case 'show':
      return (await import('./commands/show.js')).showCommand(args);
    case 'log':
      return (await import('./commands/log.js')).logCommand(args);
    case 'diff':
      return (await import('./commands/diff.js')).diffCommand(args);
    case 'reproduce':
      return (await import('./commands/reproduce.js')).reproduceCommand(args);
    case 'gc':
      return (await import('./commands/gc.js')).gcCommand(args);
    case 'report':
      return (await import('./commands/report.js')).reportCommand(args);
    case 'completion':
      return (await import('./commands/completion.js')).completionCommand(args);
    default:
      return build(args);
  }
}

/**
 * ckbuild dies with its parent: when the process that started it goes away (`timeout 60 npx
 * ckbuild …` kills npx, a closed terminal), ckbuild is re-parented and would go on holding the
 * lock. Polling the parent's pid notices within half a second; then it stops as on Ctrl-C (a build
 * cancels its jobs, records them and releases the lock), or at once when only printing.
 */
function watchParent(): void {
  const parent = process.ppid;
  if (parent <= 1) return;
  const timer = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(timer);
    debug(`parent process ${parent} is gone: stopping`);
    if (process.listenerCount('SIGTERM') > 0) process.kill(process.pid, 'SIGTERM');
    else process.exit(143);
  }, 500);
  timer.unref();
}

/**
 * Ends the process as soon as its command has returned, instead of when the event loop has
 * drained: nothing a command leaves is still needed by then (its writes are synchronous, its
 * children awaited or detached on purpose), and the drain costs a 20,000-run plan 10–20 ms of
 * garbage collection that V8 schedules for idle time and of tearing its heap down. Output still
 * buffered (a pipe on macOS is written asynchronously) is left to drain as before.
 */
function exitNow(): void {
  if (process.stdout.writableLength === 0 && process.stderr.writableLength === 0) process.exit();
}

/** A build first tries the no-op fast path, which loads none of the planning machinery. */
async function build(args: ParsedArgs): Promise<number> {
  const [file, ...rest] = args.positionals;
  const plain = !['--dry-run', '--only', '--until', '--force'].some((name) => args.flags.has(name));
  // What the check reads of an edited experiment, the planner does not read again.
  let preread: Preread | undefined;
  if (file && rest.length === 0 && plain) {
    const { checkUpToDateStamp } = await import('../core/upToDate.js');
    const runs = await checkUpToDateStamp(file, async (path) => {
      const { prereadExperiment } = await import('../core/experiment/preread.js');
      preread = prereadExperiment(path);
      return preread.loaded;
    });
    if (runs !== undefined) {
      // Only comments changed: the saved plan's reading moves to this text, as the stamp did.
      if (preread) (await import('../core/experiment/preread.js')).keepPrereading(preread);
      out(`${green('up to date')}: ${runs} runs, nothing to do`);
      return 0;
    }
  }
  return (await import('./commands/build.js')).buildCommand(args, preread);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    exitNow();
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
