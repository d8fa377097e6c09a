/** A small argument parser: flags with values, boolean flags, repeated flags, positionals. */

export interface ParsedArgs {
  positionals: string[];
  flags: Map<string, string[]>;
}

export interface FlagSpec {
  /** Flags that take a value (`--only X`, `-j 4`). */
  withValue: readonly string[];
  /** Flags that are switches (`--json`). */
  switches: readonly string[];
  aliases?: Record<string, string>;
}

export class UsageError extends Error {}

export function parseArgs(argv: readonly string[], spec: FlagSpec): ParsedArgs {
  const flags = new Map<string, string[]>();
  const positionals: string[] = [];
  const push = (name: string, value: string): void => {
    const list = flags.get(name) ?? [];
    list.push(value);
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
    let [name, inline] = arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    name = spec.aliases?.[name] ?? name;
    if (spec.withValue.includes(name)) {
      const value = inline ?? argv[++index];
      if (value === undefined) throw new UsageError(`${name} needs a value`);
      push(name, value);
    } else if (spec.switches.includes(name)) {
      if (inline !== undefined) throw new UsageError(`${name} takes no value`);
      push(name, 'true');
    } else {
      const known = [...spec.withValue, ...spec.switches];
      throw new UsageError(`unknown option ${name}${known.length ? ` (options: ${known.join(' ')})` : ''}`);
    }
  }
  return { positionals, flags };
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
