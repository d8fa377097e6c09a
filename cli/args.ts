/**
 * The argument parser. Which options exist, per command, is declared once in cli/spec.ts; this
 * parses a command line against one command's options, checks values when parsed (`-j abc`, an
 * unknown `--executor`), and turns every mistake into a UsageError that suggests the nearest name.
 */
import { existsSync } from 'node:fs';
import { nearest } from '../core/diagnostics.js';
import { COMMANDS, OPTIONS, type OptionSpec, optionsOf, spellings } from './spec.js';

export interface ParsedArgs {
  positionals: string[];
  flags: Map<string, string[]>;
}

export class UsageError extends Error {}

/** Every spelling of every option that takes a value: they are skipped when looking for the command. */
const VALUE_SPELLINGS = new Set(Object.values(OPTIONS).flatMap((option) => (option.value ? spellings(option) : [])));

export function parseArgs(argv: readonly string[], options: readonly OptionSpec[], command: string): ParsedArgs {
  const bySpelling = new Map<string, OptionSpec>();
  for (const option of options) for (const spelling of spellings(option)) bySpelling.set(spelling, option);
  const flags = new Map<string, string[]>();
  const positionals: string[] = [];
  const push = (name: string, text: string): void => {
    const list = flags.get(name) ?? [];
    list.push(text);
    flags.set(name, list);
  };
  for (let index = 0; index < argv.length; index++) {
    const arg = argv[index]!;
    if (arg === '--') {
      positionals.push(...argv.slice(index + 1));
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      positionals.push(arg);
      continue;
    }
    const equals = arg.indexOf('=');
    const [spelling, inline] = arg.startsWith('--') && equals > 0 ? [arg.slice(0, equals), arg.slice(equals + 1)] : [arg, undefined];
    const option = bySpelling.get(spelling);
    if (!option) throw new UsageError(unknownOption(spelling, command, bySpelling));
    if (option.value) {
      const text = inline ?? argv[++index];
      if (text === undefined) throw new UsageError(`${spelling} needs a value: ${option.value}${option.choices ? ` (${option.choices.join(', ')})` : ''}, e.g. ${option.example}`);
      checkValue(option, spelling, text);
      push(option.name, text);
    } else {
      if (inline !== undefined) throw new UsageError(`${spelling} takes no value`);
      push(option.name, 'true');
    }
  }
  return { positionals, flags };
}

function checkValue(option: OptionSpec, spelling: string, text: string): void {
  if (option.type === 'int') {
    const number = Number(text);
    if (text.trim() === '' || !Number.isInteger(number) || number < 1) throw new UsageError(`${spelling} takes a whole number ≥ 1, got ${JSON.stringify(text)}`);
  }
  if (option.choices && !option.choices.includes(text)) {
    const close = nearest(text, option.choices);
    throw new UsageError(`${spelling} takes one of ${option.choices.join(', ')}, got ${JSON.stringify(text)}${close ? `; did you mean ${close}?` : ''}`);
  }
}

/** `unknown option --dryrun; did you mean --dry-run?`, or which command does take an option this one does not. */
function unknownOption(spelling: string, command: string, own: ReadonlyMap<string, OptionSpec>): string {
  const close = nearest(spelling, own.keys());
  if (close) return `unknown option ${spelling}; did you mean ${close}?`;
  const takers = Object.values(COMMANDS)
    .filter((spec) => spec.options.some((name) => spellings(OPTIONS[name]!).includes(spelling)))
    .map((spec) => spec.name);
  const label = command === 'build' ? 'a build' : `\`ckbuild ${command}\``;
  if (takers.length > 0) return `${label} does not take ${spelling} (${takers.map((t) => (t === 'build' ? 'ckbuild <experiment>' : `ckbuild ${t}`)).join(', ')} does); see \`ckbuild ${command} --help\``;
  return `unknown option ${spelling}; ${label} takes: ${[...own.keys()].filter((s) => s.startsWith('--')).join(' ')} (see \`ckbuild ${command} --help\`)`;
}

export interface CommandLine {
  /** A command of cli/spec.ts, or undefined for a bare `ckbuild` (or only global options). */
  command: string | undefined;
  args: ParsedArgs;
}

/**
 * Finds the command (the first word that is not an option or an option's value), then parses the
 * rest against that command's options. A first word that is not a command is an experiment file
 * for `build` when it looks like one (it exists, has a `/` or ends in .yaml); otherwise it is a
 * mistyped command: `unknown command stauts; did you mean status?`.
 */
export function parseCommandLine(argv: readonly string[]): CommandLine {
  let at = -1;
  for (let index = 0; index < argv.length; index++) {
    const arg = argv[index]!;
    if (arg === '--') {
      if (index + 1 < argv.length) at = index + 1;
      break;
    }
    if (arg.startsWith('-') && arg !== '-') {
      if (VALUE_SPELLINGS.has(arg)) index++;
      continue;
    }
    at = index;
    break;
  }
  if (at < 0) {
    // Only options: `ckbuild --help`, `ckbuild --version`, or a mistake.
    const top = [...optionsOf('help'), OPTIONS['--version']!];
    return { command: undefined, args: parseArgs(argv, top, 'help') };
  }
  const word = argv[at]!;
  if (COMMANDS[word]) {
    const rest = [...argv.slice(0, at), ...argv.slice(at + 1)];
    return { command: word, args: parseArgs(rest, optionsOf(word), word) };
  }
  if (!looksLikeFile(word)) {
    const close = nearest(word, Object.keys(COMMANDS));
    throw new UsageError(`unknown command ${word}${close ? `; did you mean ${close}?` : ''} (an experiment file must exist or end in .yaml; see \`ckbuild --help\`)`);
  }
  return { command: 'build', args: parseArgs(argv, optionsOf('build'), 'build') };
}

function looksLikeFile(word: string): boolean {
  return existsSync(word) || word.includes('/') || /\.ya?ml$/i.test(word);
}

export const flag = (args: ParsedArgs, name: string): boolean => args.flags.has(name);
export const value = (args: ParsedArgs, name: string): string | undefined => args.flags.get(name)?.at(-1);
export const values = (args: ParsedArgs, name: string): string[] => args.flags.get(name) ?? [];

export function intValue(args: ParsedArgs, name: string): number | undefined {
  const text = value(args, name);
  if (text === undefined) return undefined;
  const number = Number(text);
  if (!Number.isInteger(number) || number < 1) throw new UsageError(`${name} takes a whole number ≥ 1, got ${text}`);
  return number;
}
