/**
 * `ckbuild completion bash|zsh`: a completion script generated from cli/spec.ts, so it offers
 * exactly the commands and, per command, the options the parser accepts (and the values of
 * options with choices); positionals complete to experiment files.
 */
import { type ParsedArgs, UsageError } from '../args.js';
import { out } from '../output.js';
import { COMMANDS, type CommandSpec, optionsOf, spellings } from '../spec.js';

const commandNames = (): string[] => Object.keys(COMMANDS);

function optionWords(command: string): string[] {
  return optionsOf(command).flatMap((option) => spellings(option).filter((s) => s.startsWith('--') || s === '-j' || s === '-o'));
}

function choicesByOption(): Array<[string, string]> {
  const pairs = new Map<string, string>();
  for (const command of commandNames()) {
    for (const option of optionsOf(command)) {
      if (option.choices) for (const s of spellings(option)) pairs.set(s, option.choices.join(' '));
      else if (option.value) for (const s of spellings(option)) if (!pairs.has(s)) pairs.set(s, '');
    }
  }
  return [...pairs.entries()];
}

const positional = (spec: CommandSpec): string => (spec.complete === 'experiments' ? 'FILES' : (spec.complete ?? []).join(' '));

export function bashCompletion(): string {
  const cases = commandNames()
    .map((name) => `    ${name}) opts="${optionWords(name).join(' ')}"; words="${positional(COMMANDS[name]!)}" ;;`)
    .join('\n');
  const values = choicesByOption()
    .map(([option, choices]) => `    ${option}) COMPREPLY=($(compgen -W "${choices}" -- "$cur")); [ -z "${choices}" ] && COMPREPLY=($(compgen -f -- "$cur")); return ;;`)
    .join('\n');
  return `# bash completion for ckbuild: source <(ckbuild completion bash)
_ckbuild() {
  local cur prev cmd opts words i
  cur="\${COMP_WORDS[COMP_CWORD]}"
  prev="\${COMP_WORDS[COMP_CWORD-1]}"
  case "$prev" in
${values}
  esac
  cmd=""
  for ((i = 1; i < COMP_CWORD; i++)); do
    case "\${COMP_WORDS[i]}" in -*) ;; *) cmd="\${COMP_WORDS[i]}"; break ;; esac
  done
  if [ -z "$cmd" ]; then
    if [[ "$cur" == -* ]]; then
      COMPREPLY=($(compgen -W "${optionWords('build').join(' ')} --version" -- "$cur"))
    else
      COMPREPLY=($(compgen -W "${commandNames().join(' ')}" -- "$cur") $(compgen -f -X '!*.y*ml' -- "$cur") $(compgen -d -- "$cur"))
    fi
    return
  fi
  case "$cmd" in
${cases}
    *) opts="${optionWords('build').join(' ')}"; words="FILES" ;;
  esac
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$opts" -- "$cur"))
  elif [ "$words" = "FILES" ]; then
    COMPREPLY=($(compgen -f -X '!*.y*ml' -- "$cur") $(compgen -d -- "$cur"))
  else
    COMPREPLY=($(compgen -W "$words" -- "$cur"))
  fi
}
complete -o filenames -F _ckbuild ckbuild
`;
}

export function zshCompletion(): string {
  const escape = (text: string): string => text.replace(/'/g, "'\\''").replace(/[[\]:]/g, '\\$&');
  const commands = commandNames()
    .map((name) => `    '${name}:${escape(COMMANDS[name]!.summary)}'`)
    .join('\n');
  const optionSpecs = (command: string): string =>
    optionsOf(command)
      .flatMap((option) =>
        spellings(option).map((s) => {
          const action = option.value ? `:${option.value}:${option.choices ? `(${option.choices.join(' ')})` : '_files'}` : '';
          return `'${s}[${escape(option.help)}]${action}'`;
        }),
      )
      .join(' ');
  const cases = commandNames()
    .map((name) => {
      const spec = COMMANDS[name]!;
      const rest = spec.complete === 'experiments' ? `'*:experiment:_files -g "*.y(|a)ml"'` : spec.complete && spec.complete.length > 0 ? `'1:value:(${spec.complete.join(' ')})'` : '';
      return `    ${name}) _arguments ${optionSpecs(name)} ${rest} ;;`;
    })
    .join('\n');
  return `#compdef ckbuild
# zsh completion for ckbuild: ckbuild completion zsh > "\${fpath[1]}/_ckbuild" (then restart zsh)
_ckbuild() {
  local -a commands
  commands=(
${commands}
  )
  if (( CURRENT == 2 )); then
    _describe -t commands 'ckbuild command' commands
    _files -g '*.y(|a)ml'
    return
  fi
  local cmd=\${words[2]}
  (( CURRENT-- ))
  shift words
  case $cmd in
${cases}
    *) _arguments ${optionSpecs('build')} '*:experiment:_files -g "*.y(|a)ml"' ;;
  esac
}
_ckbuild "$@"
`;
}

export async function completionCommand(args: ParsedArgs): Promise<number> {
  const [shell, ...rest] = args.positionals;
  if (rest.length > 0 || (shell !== 'bash' && shell !== 'zsh')) throw new UsageError('usage: ckbuild completion bash|zsh');
  out((shell === 'bash' ? bashCompletion() : zshCompletion()).trimEnd());
  return 0;
}
