// `gthulhu-runbook completion bash|zsh|fish`: shell completion scripts generated from the option table, so a
// new flag (or step id, or choice) completes without anyone editing a script.
import { UsageError } from '../config/errors.ts'
import { OPTIONS, type OptionSpec } from '../config/options.ts'

export const SHELLS = ['bash', 'zsh', 'fish'] as const
const COMMAND = 'gthulhu-runbook'
const FUNCTION = '_gthulhu_runbook'

/** What completes a flag's value: its choices, a file, a directory, or nothing known. */
function valueKind(o: OptionSpec): 'choices' | 'file' | 'dir' | 'contexts' | 'free' | 'none' {
  if (o.kind === 'boolean') return 'none'
  if (o.key === 'context') return 'contexts'
  if (o.choices) return 'choices'
  if (o.value === 'file') return 'file'
  if (o.value === 'dir') return 'dir'
  return 'free'
}

/** The first sentence of a flag's description, short enough for a completion menu. */
const summary = (o: OptionSpec) => {
  const sentence = o.describe.split(/(?<=\.)\s/)[0].replace(/\.$/, '')
  return sentence.length > 70 ? `${sentence.slice(0, 67)}...` : sentence
}
// kubectl lists the contexts of the kubeconfig it would use (KUBECONFIG or ~/.kube/config), as its own completion does.
const LIST_CONTEXTS = 'kubectl config get-contexts -o name 2>/dev/null'
const singleQuoted = (text: string) => `'${text.replace(/'/g, `'\\''`)}'`
// A flag that takes several values (step ids) takes them comma-separated, like --only preflight,istioctl.
const separator = (o: OptionSpec) => (o.kind === 'list' ? ',' : '')

function bashScript(): string {
  const flags = OPTIONS.flatMap((o) => [
    `--${o.flag}`,
    ...(o.short ? [`-${o.short}`] : []),
    ...(o.kind === 'boolean' ? [`--no-${o.flag}`] : []),
  ])
  const cases = OPTIONS.filter((o) => valueKind(o) !== 'none' && !o.bareValue).map((o) => {
    const names = [`--${o.flag}`, ...(o.short ? [`-${o.short}`] : [])].join('|')
    switch (valueKind(o)) {
      case 'choices':
        return `    ${names}) __gthulhu_runbook_values ${singleQuoted(separator(o))} ${o.choices!.join(' ')}; return ;;`
      case 'contexts':
        return `    ${names}) COMPREPLY=($(compgen -W "$(${LIST_CONTEXTS})" -- "$cur")); return ;;`
      case 'file':
        return `    ${names}) COMPREPLY=($(compgen -f -- "$cur")); return ;;`
      case 'dir':
        return `    ${names}) COMPREPLY=($(compgen -d -- "$cur")); return ;;`
      default:
        return `    ${names}) return ;;`
    }
  })
  const inline = OPTIONS.filter((o) => o.choices).map(
    (o) =>
      `    --${o.flag}=*) cur=\${cur#--${o.flag}=}; __gthulhu_runbook_values ${singleQuoted(separator(o))} ${o.choices!.join(' ')}; return ;;`,
  )
  return `# bash completion for ${COMMAND}; load with: source <(${COMMAND} completion bash)
__gthulhu_runbook_values() {
  local sep=$1 prefix=""; shift
  # A comma-separated list completes its last item and keeps the ones before it.
  if [[ -n $sep && $cur == *"$sep"* ]]; then prefix=\${cur%"$sep"*}$sep; cur=\${cur##*"$sep"}; fi
  COMPREPLY=($(compgen -P "$prefix" -W "$*" -- "$cur"))
}
${FUNCTION}() {
  local cur=\${COMP_WORDS[COMP_CWORD]} prev=\${COMP_WORDS[COMP_CWORD-1]}
  COMPREPLY=()
  # bash splits --only=preflight at "=" (COMP_WORDBREAKS): the flag is then two words back.
  if [[ $prev == = ]]; then prev=\${COMP_WORDS[COMP_CWORD-2]}; fi
  if [[ $COMP_CWORD -eq 1 && $cur != -* ]]; then COMPREPLY=($(compgen -W "completion" -- "$cur")); return; fi
  if [[ \${COMP_WORDS[1]} == completion ]]; then COMPREPLY=($(compgen -W "${SHELLS.join(' ')}" -- "$cur")); return; fi
  case $prev in
${cases.join('\n')}
  esac
  case $cur in
${inline.join('\n')}
  esac
  COMPREPLY=($(compgen -W "${flags.join(' ')}" -- "$cur"))
}
complete -o default -F ${FUNCTION} ${COMMAND}
`
}

/** zsh's _arguments wants [], : and \ escaped inside a description. */
const zshDescription = (o: OptionSpec) => summary(o).replace(/[[\]:\\]/g, '\\$&')

function zshScript(): string {
  const specs = OPTIONS.flatMap((o) => {
    const action = (() => {
      switch (valueKind(o)) {
        case 'none':
          return ''
        case 'choices':
          return o.kind === 'list'
            ? `:${o.value ?? 'value'}:_sequence compadd - ${o.choices!.join(' ')}`
            : `:${o.value ?? 'value'}:(${o.choices!.join(' ')})`
        case 'contexts':
          return `:${o.value}:{compadd -- \${(f)"$(${LIST_CONTEXTS})"}}`
        case 'file':
          return `:${o.value}:_files`
        case 'dir':
          return `:${o.value}:_files -/`
        default:
          return `:${o.value ?? 'value'}: `
      }
    })()
    // Inside single quotes, a quote is written '\''.
    const description = `[${zshDescription(o)}]`.replace(/'/g, `'\\''`)
    const long = o.bareValue ? `--${o.flag}=-` : o.kind === 'boolean' ? `--${o.flag}` : `--${o.flag}=`
    const specsFor = [
      o.short
        ? `'(-${o.short} --${o.flag})'{-${o.short},${long}}'${description}${action}'`
        : `'${long}${description}${action}'`,
    ]
    if (o.kind === 'boolean') specsFor.push(`'--no-${o.flag}[turn --${o.flag} off]'`)
    return specsFor
  })
  return `#compdef ${COMMAND}
# zsh completion for ${COMMAND}; load with: source <(${COMMAND} completion zsh) (after compinit)
${FUNCTION}() {
  if (( CURRENT == 2 )) && [[ $words[2] != -* ]]; then compadd completion; return; fi
  if [[ $words[2] == completion ]]; then compadd ${SHELLS.join(' ')}; return; fi
  _arguments -s -S \\
    ${specs.join(' \\\n    ')}
}
compdef ${FUNCTION} ${COMMAND}
`
}

function fishScript(): string {
  const lines = OPTIONS.flatMap((o) => {
    const base = `complete -c ${COMMAND} -n 'not __fish_seen_subcommand_from completion'${o.short ? ` -s ${o.short}` : ''} -l ${o.flag}`
    const describe = ` -d ${singleQuoted(summary(o))}`
    switch (valueKind(o)) {
      case 'none':
        return [
          `${base}${describe}`,
          `complete -c ${COMMAND} -l no-${o.flag} -d ${singleQuoted(`turn --${o.flag} off`)}`,
        ]
      case 'choices': {
        const values =
          o.kind === 'list'
            ? `"(__fish_complete_list , 'string split \\" \\" ${o.choices!.join(' ')}')"`
            : singleQuoted(o.choices!.join(' '))
        return [`${base} -x${o.bareValue ? '' : ' -r'} -a ${values}${describe}`]
      }
      case 'contexts':
        return [`${base} -x -a ${singleQuoted(`(${LIST_CONTEXTS})`)}${describe}`]
      case 'file':
        return [`${base} -r -F${describe}`]
      case 'dir':
        return [`${base} -x -a '(__fish_complete_directories)'${describe}`]
      default:
        return [`${base} -x${describe}`]
    }
  })
  return `# fish completion for ${COMMAND}; load with: ${COMMAND} completion fish | source
complete -c ${COMMAND} -f
complete -c ${COMMAND} -n __fish_use_subcommand -a completion -d 'print a shell completion script'
complete -c ${COMMAND} -n '__fish_seen_subcommand_from completion' -a '${SHELLS.join(' ')}'
${lines.join('\n')}
`
}

/** The completion script for a shell; a usage error naming the valid shells otherwise. */
export function completionScript(shell: string | undefined, extra?: string[]): string {
  if (extra)
    throw new UsageError(
      `completion takes one shell name, got ${[shell, ...extra].join(' ')}; valid: ${SHELLS.join(', ')}`,
    )
  switch (shell) {
    case 'bash':
      return bashScript()
    case 'zsh':
      return zshScript()
    case 'fish':
      return fishScript()
    default:
      throw new UsageError(
        `completion ${shell === undefined ? 'needs a shell' : `does not know the shell "${shell}"`}; valid: ${SHELLS.join(', ')}`,
      )
  }
}
