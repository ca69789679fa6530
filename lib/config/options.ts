// Every flag the runbook takes, as data: parsing, the config file, validation, --help and docs/flags.md all
// come from this one table. Precedence: flags > --config file > environment > defaults.
import { readFileSync, statSync } from 'node:fs'
import { homedir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { yaml } from './lazy-yaml.ts'
import { UsageError } from './errors.ts'
import { STEP_IDS, type StepId } from './step-ids.ts'
import { userAgentProblems } from './user-agents.ts'

export const GUIDE_USER_AGENT =
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/*'

export interface Config {
  help: boolean
  version: boolean
  list: boolean
  yes: boolean
  from?: StepId
  resume: boolean
  only: StepId[]
  skip: StepId[]
  /** false, or how far a dry run goes: `client` prints the plan, `server` also asks the API server. */
  dryRun: false | 'client' | 'server'
  verbose: boolean
  render?: string
  /** Print the RBAC objects a run (or, with --verify, an audit) needs, bound to this subject, and exit. */
  printRbac?: string
  output: 'text' | 'json'
  lang: 'en' | 'zh-TW'
  config?: string
  context?: string
  /** Every --context given (a fleet audit names several); the first is `context`. */
  contexts: string[]
  allContexts: boolean
  kubeconfig?: string
  namespace: string
  release: string
  istioVersion: string
  gatewayApiVersion: string
  gatewayApiChannel: 'experimental' | 'standard'
  istioMirror: string
  gatewayApiMirror: string
  installDir: string
  stateFile?: string
  gatewayName: string
  routeName: string
  gatewayServiceType: 'LoadBalancer' | 'NodePort'
  replaceNewerGatewayApi: boolean
  allowKubeletProbes: boolean
  waypointName: string
  waypointBinding: 'service' | 'namespace'
  managerEgressPolicy: boolean
  managerPrincipals: string[]
  allowedUserAgents: string[]
  ingressViaWaypoint: boolean
  probeImage?: string
  identityPolicies: boolean
  admissionPolicy: boolean
  decisionMakerGuard: boolean
  /** Users besides the runbook's own whose probes the admission policy lets wear Gthulhu's identities (an audit's). */
  probeUsers: string[]
  allowUntestedKubernetes: boolean
  httpProbeImage: string
  timeout: number
  rollback?: StepId
  uninstall: boolean
  takeOver: boolean
  verify: boolean
  probes: boolean
  report?: string
  /** Keys set by a flag, the --config file or the environment (not defaults): an explicit answer is never asked again. */
  explicit: (keyof Config)[]
}

type Kind = 'boolean' | 'string' | 'list' | 'number' | 'duration'
export type OptionGroup = 'Run' | 'Cluster' | 'Versions and downloads' | 'Hardening choices' | 'Output'

export interface OptionSpec {
  key: keyof Config
  flag: string
  /** One-letter alias, as kubectl has (-n, -o, -h …). */
  short?: string
  /** The value a string flag takes when given bare (`--dry-run` means `--dry-run=client`). */
  bareValue?: string
  kind: Kind
  group: OptionGroup
  describe: string
  value?: string // placeholder in --help
  choices?: readonly string[]
  default?: unknown
  /** How --help and the reference describe a default that is not a fixed value. */
  defaultText?: string
  env?: string
  /** Not accepted in a --config file (it would make no sense there). */
  flagOnly?: boolean
  /** Returns an error message when the value is invalid. */
  validate?: (value: any) => string | undefined
  /** A string flag that may be given more than once: every value also goes to this list (the first stays in `key`). */
  repeatable?: keyof Config
}

// DNS-1123 label: what Kubernetes accepts for namespaces and Service names.
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/
const dnsLabel = (value: string) =>
  value.length <= 63 && DNS_LABEL.test(value)
    ? undefined
    : `"${value}" is not a valid Kubernetes name: use at most 63 lower-case letters, digits and '-', starting and ending with a letter or digit`
const semver = (prefix: string) => (value: string) =>
  new RegExp(`^${prefix}\\d+\\.\\d+\\.\\d+$`).test(value)
    ? undefined
    : `"${value}" is not a release version like ${prefix}1.2.3`
const httpUrl = (value: string) => {
  try {
    const url = new URL(value)
    if (url.protocol === 'http:' || url.protocol === 'https:') return undefined
  } catch {}
  return `"${value}" is not an http(s) URL`
}
const SPIFFE_PRINCIPAL = /^[^/\s*]+\/ns\/[^/\s*]+\/sa\/[^/\s*]+$/
/**
 * Why a value cannot be an Istio principal, or undefined. istiod matches principals exactly, as a suffix after a
 * leading "*", or as a prefix before a trailing "*" (istio pilot/pkg/serviceregistry/kube/controller/ambient/
 * authorization.go stringToMatch): any other "*" is a literal character and matches no identity.
 */
export function principalProblem(value: string): string | undefined {
  const example = 'cluster.local/ns/<namespace>/sa/<serviceaccount>'
  if (value === '*')
    return `"*" admits every identity in the mesh, which is no restriction at all; name the identities that may call the manager, like ${example}`
  if (/\s/.test(value)) return `"${value}" contains white space, which no identity does`
  const fixed = value.replace(/^\*|\*$/, '')
  if (fixed.includes('*'))
    return `"${value}": Istio treats a "*" that is not the first or last character as a literal, so it would match no identity; name each identity (${example}), or use one leading or trailing "*" (e.g. cluster.local/ns/gthulhu/sa/*)`
  if (fixed === value && !SPIFFE_PRINCIPAL.test(value)) return `"${value}" is not an Istio principal like ${example}`
  return undefined
}
const principal = (values: string[]) => values.map(principalProblem).find(Boolean)

// distribution/reference regexp.go: [domain[:port]/]path-component(/path-component)*[:tag][@algorithm:hex].
const IMAGE_REFERENCE = new RegExp(
  '^(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*(?::[0-9]+)?/)?' +
    '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*' +
    '(?::[\\w][\\w.-]{0,127})?(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$',
)
const imageReference = (value: string) =>
  IMAGE_REFERENCE.test(value) && value.split(/[:@]/)[0].length <= 255
    ? undefined
    : `"${value}" is not a container image reference like registry.example.com/team/curl:8.11.1 (lower-case name, optional :tag and @sha256:digest, no spaces)`

export const OPTIONS: OptionSpec[] = [
  {
    key: 'help',
    flag: 'help',
    short: 'h',
    kind: 'boolean',
    group: 'Run',
    describe: 'Show this help and exit.',
    flagOnly: true,
  },
  {
    key: 'version',
    flag: 'version',
    kind: 'boolean',
    group: 'Run',
    describe: "Print the runbook's version and exit.",
    flagOnly: true,
  },
  {
    key: 'list',
    flag: 'list',
    kind: 'boolean',
    group: 'Run',
    describe: 'List the steps with their ids and their state in this context, then exit.',
    flagOnly: true,
  },
  {
    key: 'yes',
    flag: 'yes',
    short: 'y',
    kind: 'boolean',
    group: 'Run',
    describe: 'Automation mode: never prompt; every answer comes from flags or --config. Requires --context.',
  },
  {
    key: 'from',
    flag: 'from',
    kind: 'string',
    group: 'Run',
    value: 'step',
    choices: STEP_IDS,
    describe: 'Start at this step and run every later one (done steps included).',
  },
  {
    key: 'resume',
    flag: 'resume',
    kind: 'boolean',
    group: 'Run',
    describe: 'Continue at the first step that is not done in the state file.',
  },
  {
    key: 'only',
    flag: 'only',
    kind: 'list',
    group: 'Run',
    value: 'steps',
    choices: STEP_IDS,
    describe: 'Run just these steps (comma-separated), in runbook order.',
  },
  {
    key: 'skip',
    flag: 'skip',
    kind: 'list',
    group: 'Run',
    value: 'steps',
    choices: STEP_IDS,
    describe: 'Leave these steps out (comma-separated).',
  },
  {
    key: 'dryRun',
    flag: 'dry-run',
    kind: 'string',
    group: 'Run',
    choices: ['client', 'server'],
    bareValue: 'client',
    default: false,
    describe:
      "Print each selected step's plan; change nothing. =server: the API server judges every manifest too (exit 2 on a rejection).",
  },
  {
    key: 'render',
    flag: 'render',
    kind: 'string',
    group: 'Run',
    value: 'dir',
    describe:
      'Write every manifest the runbook would apply, plus a kustomization.yaml, into this directory; touch no cluster.',
  },
  {
    key: 'printRbac',
    flag: 'print-rbac',
    kind: 'string',
    group: 'Run',
    value: 'subject',
    flagOnly: true,
    describe:
      'Print the least RBAC permissions the selected steps need (a ClusterRole, a Role per namespace, bindings to this subject: user:NAME, group:NAME or serviceaccount:NAMESPACE:NAME) and exit; with --verify, those of an audit. Touches no cluster.',
    validate: (value: string) =>
      parseRbacSubject(value)
        ? undefined
        : `"${value}" is not a subject: use user:NAME, group:NAME or serviceaccount:NAMESPACE:NAME (as kubectl create rolebinding --user, --group, --serviceaccount)`,
  },
  {
    key: 'config',
    flag: 'config',
    kind: 'string',
    group: 'Run',
    value: 'file',
    flagOnly: true,
    describe: 'YAML file of settings; keys are the flag names without "--" (flags win).',
  },
  {
    key: 'stateFile',
    flag: 'state-file',
    kind: 'string',
    group: 'Run',
    value: 'file',
    describe:
      "Local copy of the runbook's record (default .gthulhu-runbook/<context>.json in the working directory); the record itself is kept in the cluster.",
  },
  {
    key: 'timeout',
    flag: 'timeout',
    kind: 'duration',
    group: 'Run',
    value: 'duration',
    default: 300,
    defaultText: '5m',
    describe:
      'Longest wait for one rollout, condition or probe: 90s, 5m, 1h, 1m30s or plain seconds. An audit (--verify) waits only for its probes and its own requests.',
    validate: (v: number) => (v >= 5 && v <= 3600 ? undefined : `${v}s is outside 5s..1h`),
  },

  {
    key: 'context',
    flag: 'context',
    kind: 'string',
    group: 'Cluster',
    value: 'name',
    repeatable: 'contexts',
    describe:
      'Kube context to act on (required with --yes; asked for in guided mode). With --verify it may be given more than once: a fleet audit of each.',
  },
  {
    key: 'allContexts',
    flag: 'all-contexts',
    kind: 'boolean',
    group: 'Cluster',
    flagOnly: true,
    describe:
      'With --verify: audit every context of the kubeconfig that has a record of this runbook, concurrently, in one table.',
  },
  {
    key: 'kubeconfig',
    flag: 'kubeconfig',
    kind: 'string',
    group: 'Cluster',
    value: 'file',
    describe: 'Kubeconfig file (default: KUBECONFIG or ~/.kube/config, as kubectl does).',
  },
  {
    key: 'namespace',
    flag: 'namespace',
    short: 'n',
    kind: 'string',
    group: 'Cluster',
    value: 'ns',
    default: 'default',
    defaultText: "the kube context's namespace, else default",
    describe: 'Namespace Gthulhu is installed in.',
    validate: dnsLabel,
  },
  {
    key: 'release',
    flag: 'release',
    kind: 'string',
    group: 'Cluster',
    value: 'name',
    default: 'gthulhu',
    describe: 'Helm release name of Gthulhu (the app.kubernetes.io/instance label).',
    validate: dnsLabel,
  },

  {
    key: 'istioVersion',
    flag: 'istio-version',
    kind: 'string',
    group: 'Versions and downloads',
    value: 'x.y.z',
    default: '1.29.1',
    describe: 'Istio release to install.',
    validate: semver(''),
  },
  {
    key: 'gatewayApiVersion',
    flag: 'gateway-api-version',
    kind: 'string',
    group: 'Versions and downloads',
    value: 'vX.Y.Z',
    default: 'v1.4.0',
    describe: 'Gateway API release whose CRDs are installed.',
    validate: semver('v'),
  },
  {
    key: 'gatewayApiChannel',
    flag: 'gateway-api-channel',
    kind: 'string',
    group: 'Versions and downloads',
    choices: ['experimental', 'standard'],
    default: 'experimental',
    describe: 'Gateway API bundle: experimental (as in the guide) or standard.',
  },
  {
    key: 'istioMirror',
    flag: 'istio-mirror',
    kind: 'string',
    group: 'Versions and downloads',
    value: 'url',
    default: 'https://github.com/istio/istio/releases/download',
    env: 'GTHULHU_RUNBOOK_ISTIO_MIRROR',
    describe: "Base URL laid out like Istio's GitHub releases (<url>/<version>/istioctl-…tar.gz).",
    validate: httpUrl,
  },
  {
    key: 'gatewayApiMirror',
    flag: 'gateway-api-mirror',
    kind: 'string',
    group: 'Versions and downloads',
    value: 'url',
    default: 'https://github.com/kubernetes-sigs/gateway-api/releases/download',
    env: 'GTHULHU_RUNBOOK_GATEWAY_API_MIRROR',
    describe: "Base URL laid out like Gateway API's GitHub releases (<url>/<version>/<channel>-install.yaml).",
    validate: httpUrl,
  },
  {
    key: 'installDir',
    flag: 'install-dir',
    kind: 'string',
    group: 'Versions and downloads',
    value: 'dir',
    default: join(homedir(), '.local', 'bin'),
    env: 'GTHULHU_RUNBOOK_INSTALL_DIR',
    describe:
      'Where istioctl is installed (user-writable; the runbook never uses sudo). Later runs use the binary recorded there, checked by its SHA-256.',
    // Only the text here: a recorded setting is checked by this too, and may name a path of another machine.
    validate: (dir: string) => (dir.trim() ? undefined : `"${dir}" names no directory: give a path, e.g. ~/.local/bin`),
  },
  {
    key: 'allowUntestedKubernetes',
    flag: 'allow-untested-kubernetes',
    kind: 'boolean',
    group: 'Versions and downloads',
    default: false,
    describe:
      "Go on when the cluster's Kubernetes version is outside Istio's tested range but istioctl accepts it (guided mode asks instead).",
  },
  {
    key: 'replaceNewerGatewayApi',
    flag: 'replace-newer-gateway-api',
    kind: 'boolean',
    group: 'Versions and downloads',
    default: false,
    describe: 'Allow replacing Gateway API CRDs that are newer than --gateway-api-version.',
  },

  {
    key: 'gatewayName',
    flag: 'gateway-name',
    kind: 'string',
    group: 'Hardening choices',
    value: 'name',
    default: 'gthulhu-gw',
    describe: 'Name of the Gateway that exposes the manager.',
    validate: dnsLabel,
  },
  {
    key: 'routeName',
    flag: 'route-name',
    kind: 'string',
    group: 'Hardening choices',
    value: 'name',
    default: 'gthulhu-manager-route',
    describe: 'Name of the HTTPRoute to the manager.',
    validate: dnsLabel,
  },
  {
    key: 'gatewayServiceType',
    flag: 'gateway-service-type',
    kind: 'string',
    group: 'Hardening choices',
    choices: ['LoadBalancer', 'NodePort'],
    default: 'LoadBalancer',
    describe: "Type of the Gateway's Service: LoadBalancer (the guide; its NodePort is used) or NodePort.",
  },
  {
    key: 'allowKubeletProbes',
    flag: 'allow-kubelet-probes',
    kind: 'boolean',
    group: 'Hardening choices',
    default: true,
    describe:
      "Also allow ambient's kubelet probe source 169.254.7.127 (and its IPv6 twin) in the L4 policies (--no-allow-kubelet-probes to leave it out).",
  },
  {
    key: 'waypointName',
    flag: 'waypoint-name',
    kind: 'string',
    group: 'Hardening choices',
    value: 'name',
    default: 'waypoint',
    describe: 'Name of the waypoint proxy for the namespace.',
    validate: dnsLabel,
  },
  {
    key: 'waypointBinding',
    flag: 'waypoint-binding',
    kind: 'string',
    group: 'Hardening choices',
    choices: ['service', 'namespace'],
    default: 'service',
    describe:
      'What uses the waypoint: the manager Service only (istio.io/use-waypoint on the Service), or every Service of the namespace (on the namespace, as in the guide: Services someone else creates there pass the waypoint too).',
  },
  {
    key: 'managerEgressPolicy',
    flag: 'manager-egress-policy',
    kind: 'boolean',
    group: 'Hardening choices',
    default: true,
    describe:
      "Limit where the manager may connect (MongoDB, its namespace's decision makers, DNS, the API server) with an egress NetworkPolicy; --no-manager-egress-policy lets it send intents to any pod labelled app=decisionmaker.",
  },
  {
    key: 'managerPrincipals',
    flag: 'manager-principals',
    kind: 'list',
    group: 'Hardening choices',
    value: 'ids',
    describe:
      "Identities allowed to call the manager (default: the scheduler's ServiceAccount, <trust domain>/ns/<ns>/sa/<sa>, in the mesh's meshConfig.trustDomain).",
    validate: principal,
  },
  {
    key: 'allowedUserAgents',
    flag: 'allowed-user-agents',
    kind: 'list',
    group: 'Hardening choices',
    value: 'patterns',
    default: [GUIDE_USER_AGENT],
    describe:
      'User-Agent values the gateway admits: exact, prefix "x*", suffix "*x" or "*" (default: the guide\'s Chrome on macOS). Separate several with "|".',
    validate: (v: string[]) => userAgentProblems(v)[0],
  },
  {
    key: 'ingressViaWaypoint',
    flag: 'ingress-via-waypoint',
    kind: 'boolean',
    group: 'Hardening choices',
    default: false,
    describe:
      "Send gateway traffic through the manager's waypoint (labels the Service istio.io/ingress-use-waypoint=true and allows the gateway's identity).",
  },
  {
    key: 'identityPolicies',
    flag: 'identity-policies',
    kind: 'boolean',
    group: 'Hardening choices',
    default: true,
    describe:
      "Apply the identity policies ztunnel enforces (only the waypoint and the gateway reach the manager's pods, only the manager reaches MongoDB and the decision maker); --no-identity-policies leaves the waypoint bypass open.",
  },
  {
    key: 'admissionPolicy',
    flag: 'admission-policy',
    kind: 'boolean',
    group: 'Hardening choices',
    default: true,
    describe:
      "Apply the ValidatingAdmissionPolicy that lets only the chart's and istiod's own workloads wear Gthulhu's ServiceAccounts and labels in its namespace; --no-admission-policy leaves the borrowed-identity paths open.",
  },
  {
    key: 'decisionMakerGuard',
    flag: 'decision-maker-guard',
    kind: 'boolean',
    group: 'Hardening choices',
    default: false,
    describe:
      'Also refuse, in every other namespace, pods and workloads labelled app=decisionmaker (the manager sends intents and tokens to every such pod in the cluster); off by default because it binds cluster-wide.',
  },
  {
    key: 'probeUsers',
    flag: 'probe-users',
    kind: 'list',
    group: 'Hardening choices',
    value: 'users',
    describe:
      "Users besides the one running the admission-policy step whose probe pods and Services the admission policy lets wear Gthulhu's identities: the identity a scheduled audit runs as (system:serviceaccount:<ns>:<name>), since its probes copy the manager's labels and ServiceAccount.",
    validate: (users: string[]) =>
      users.find((u) => !u.trim() || u !== u.trim())
        ? `"${users.find((u) => !u.trim() || u !== u.trim())}" is not a user name: give the name as the API server sees it (kubectl auth whoami), e.g. system:serviceaccount:gthulhu-audit:gthulhu-audit`
        : undefined,
  },
  {
    key: 'probeImage',
    flag: 'probe-image',
    kind: 'string',
    group: 'Hardening choices',
    value: 'image',
    describe:
      "Image of the MongoDB probe pods (needs mongosh; default: the image of Gthulhu's MongoDB, already on its nodes).",
    validate: imageReference,
  },
  {
    key: 'httpProbeImage',
    flag: 'http-probe-image',
    kind: 'string',
    group: 'Hardening choices',
    value: 'image',
    default: 'curlimages/curl:8.11.1',
    describe: 'Image of the HTTP probe pods (needs curl).',
    validate: imageReference,
  },

  {
    key: 'output',
    flag: 'output',
    short: 'o',
    kind: 'string',
    group: 'Output',
    choices: ['text', 'json'],
    default: 'text',
    describe: 'json: one JSON event per line on stdout, human text on stderr.',
  },
  {
    key: 'verbose',
    flag: 'verbose',
    short: 'v',
    kind: 'boolean',
    group: 'Output',
    describe:
      'Print every kubectl/istioctl command line as it runs, with its duration and exit code (JSON: "command" events).',
  },
  {
    key: 'rollback',
    flag: 'rollback',
    kind: 'string',
    group: 'Run',
    value: 'step',
    choices: STEP_IDS,
    flagOnly: true,
    describe:
      'Undo this one step: delete what it created, put back labels and objects as they were before it ran, and verify that.',
  },
  {
    key: 'uninstall',
    flag: 'uninstall',
    kind: 'boolean',
    group: 'Run',
    flagOnly: true,
    describe:
      'Undo every step this runbook did in this context, latest first; what was there before the runbook stays.',
  },
  {
    key: 'takeOver',
    flag: 'take-over',
    kind: 'boolean',
    group: 'Run',
    flagOnly: true,
    describe:
      "Let a step replace an object that has the runbook's name but was not made by it (another team's policy); undo then puts that object back exactly as it was. Without it such a step stops and names the object.",
  },
  {
    key: 'verify',
    flag: 'verify',
    kind: 'boolean',
    group: 'Run',
    flagOnly: true,
    describe:
      "Audit: run every done step's verification against the cluster and change nothing; exit 1 and name each drift (an object not as planned, a foreign object that widens access).",
  },
  {
    key: 'probes',
    flag: 'probes',
    kind: 'boolean',
    group: 'Run',
    default: true,
    describe: 'Prove reachability with short-lived probe pods (--no-probes: check the objects only, creating nothing).',
  },
  {
    key: 'report',
    flag: 'report',
    kind: 'string',
    group: 'Output',
    value: 'dir',
    describe:
      'Also write report.md and a self-contained report.html (versions, steps, changes, the reachability grid, what stays open, every check) into this directory.',
  },
  {
    key: 'lang',
    flag: 'lang',
    kind: 'string',
    group: 'Output',
    choices: ['en', 'zh-TW'],
    default: 'en',
    env: 'GTHULHU_RUNBOOK_LANG',
    describe:
      "Language the runbook speaks in: the steps' titles and explanations, its questions, check names, summary and messages: en, or zh-TW for Traditional Chinese.",
  },
]

const byFlag = new Map(OPTIONS.map((o) => [o.flag, o]))

/** The option's environment variable, if set: an empty one counts as unset, as in most tools. */
const fromEnvironment = (option: OptionSpec, env: NodeJS.ProcessEnv) => (option.env && env[option.env]) || undefined

export function defaults(env: NodeJS.ProcessEnv = process.env): Config {
  const config: Record<string, unknown> = {}
  for (const option of OPTIONS) {
    const fromEnv = fromEnvironment(option, env)
    config[option.key] =
      fromEnv ?? option.default ?? (option.kind === 'boolean' ? false : option.kind === 'list' ? [] : undefined)
  }
  return config as unknown as Config
}

/** Lists split on commas, except User-Agent patterns, which contain commas and are split on "|". */
const listSeparator = (option: OptionSpec) => (option.key === 'allowedUserAgents' ? '|' : ',')

const DURATION_UNITS: Record<string, number> = { h: 3600, m: 60, s: 1 }

/** Seconds in a duration written like kubectl's (`90s`, `5m`, `1h`, `1m30s`) or as plain seconds; NaN when malformed. */
export function parseDuration(text: string): number {
  const trimmed = text.trim()
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Number(trimmed)
  if (!/^(\d+(\.\d+)?[hms])+$/.test(trimmed)) return NaN
  let seconds = 0
  for (const [, amount, unit] of trimmed.matchAll(/(\d+(?:\.\d+)?)([hms])/g))
    seconds += Number(amount) * DURATION_UNITS[unit]
  return seconds
}

function coerce(option: OptionSpec, raw: unknown, source: string): unknown {
  const bad = (what: string) => new UsageError(`${source}: ${what}`)
  // A config file may say `dry-run: true` for the bare form.
  if (option.bareValue && typeof raw === 'boolean') return raw ? option.bareValue : false
  switch (option.kind) {
    case 'boolean':
      if (typeof raw === 'boolean') return raw
      if (raw === 'true' || raw === 'yes') return true
      if (raw === 'false' || raw === 'no') return false
      // kubectl users type -v=6: any level above 0 turns the flag on.
      if (typeof raw === 'string' && /^\d+$/.test(raw)) return Number(raw) > 0
      throw bad(`expects true or false, got "${raw}"`)
    case 'number': {
      const n = typeof raw === 'number' ? raw : Number(raw)
      if (raw === '' || !Number.isFinite(n)) throw bad(`expects a number, got "${raw}"`)
      return n
    }
    case 'duration': {
      const seconds = typeof raw === 'number' ? raw : typeof raw === 'string' ? parseDuration(raw) : NaN
      if (!Number.isFinite(seconds))
        throw bad(`"${raw}" is not a duration; use e.g. 90s, 5m, 1h, 1m30s or plain seconds`)
      return seconds
    }
    case 'list': {
      const items = Array.isArray(raw)
        ? raw.map(String)
        : typeof raw === 'string'
          ? raw.split(listSeparator(option))
          : undefined
      if (!items) throw bad(`expects a list, got ${JSON.stringify(raw)}`)
      const list = items.map((s) => s.trim()).filter(Boolean)
      // Empty is refused where it would not mean "none": --only (every step), and lists whose default is not empty
      // (--manager-principals: the scheduler's; --allowed-user-agents: the guide's). `skip: []` is plainly none.
      if (!list.length && option.key !== 'skip' && option.key !== 'probeUsers')
        throw bad(
          option.choices
            ? `no step named; valid: ${option.choices.join(', ')}`
            : `names nothing; give at least one value (separate several with "${listSeparator(option)}")`,
        )
      return list
    }
    case 'string':
      if (typeof raw !== 'string') throw bad(`expects a string, got ${JSON.stringify(raw)}`)
      if (raw === '') throw bad('expects a value')
      return raw
  }
}

function closest(word: string, candidates: string[]): string | undefined {
  const distance = (a: string, b: string) => {
    const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array(b.length).fill(0)])
    for (let j = 1; j <= b.length; j++) d[0][j] = j
    for (let i = 1; i <= a.length; i++)
      for (let j = 1; j <= b.length; j++)
        d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1))
    return d[a.length][b.length]
  }
  const best = candidates.map((c) => ({ c, d: distance(word, c) })).sort((x, y) => x.d - y.d)[0]
  return best && best.d <= Math.max(2, Math.floor(word.length / 3)) ? best.c : undefined
}

const byShort = new Map(OPTIONS.filter((o) => o.short).map((o) => [o.short!, o]))
const shortFlags = () => [...byShort.keys()].map((c) => `-${c}`).join(', ')

/**
 * Parses argv into the options it sets (only those), throwing UsageError on anything unknown or malformed.
 * Accepts what kubectl accepts: `--flag value`, `--flag=value`, `-n value`, `-n=value`, `-nvalue`, and
 * one-letter booleans run together (`-yv`, `-yvn gthulhu`).
 */
export function parseFlags(argv: string[]): Partial<Config> {
  const set: Record<string, unknown> = {}
  const assign = (option: OptionSpec, raw: unknown, source: string) => {
    const value = coerce(option, raw, source)
    if (option.repeatable) {
      set[option.repeatable] = [...((set[option.repeatable] as unknown[] | undefined) ?? []), value]
      set[option.key] ??= value
      return
    }
    // Repeating a list flag adds to it.
    set[option.key] =
      option.kind === 'list' && Array.isArray(set[option.key])
        ? [...(set[option.key] as unknown[]), ...(value as unknown[])]
        : value
  }
  let i = 0
  const nextValue = (option: OptionSpec, source: string): string => {
    const value = argv[i + 1]
    if (value === undefined || (value.startsWith('-') && value.length > 1)) {
      throw new UsageError(
        `${source} needs a value${option.value ? ` (${option.value})` : option.choices ? ` (${option.choices.join('|')})` : ''}`,
      )
    }
    i++
    return value
  }
  for (; i < argv.length; i++) {
    const arg = argv[i]
    if (/^-[^-]/.test(arg)) {
      const letters = arg.slice(1)
      for (let j = 0; j < letters.length; j++) {
        const option = byShort.get(letters[j])
        if (!option)
          throw new UsageError(
            `unknown flag -${letters[j]}${letters.length > 1 ? ` (in ${arg})` : ''}; one-letter flags: ${shortFlags()} (see --help)`,
          )
        const source = `-${option.short}/--${option.flag}`
        const rest = letters.slice(j + 1).replace(/^=/, '')
        if (option.kind === 'boolean') {
          // `-y=false` as pflag allows, and `-v6` as kubectl users type; otherwise more letters may follow.
          if (letters[j + 1] === '=' || /^\d+$/.test(rest)) {
            assign(option, rest, source)
            break
          }
          assign(option, true, source)
          continue
        }
        assign(option, rest !== '' ? rest : (option.bareValue ?? nextValue(option, source)), source)
        break
      }
      continue
    }
    if (!arg.startsWith('--') || arg === '--') {
      throw new UsageError(
        `unexpected argument "${arg}": the runbook takes only flags, and the command \`completion bash|zsh|fish\` (see --help)`,
      )
    }
    const [name, inline] = arg.slice(2).split(/=(.*)/s, 2) as [string, string | undefined]
    const negated = name.startsWith('no-') && byFlag.get(name.slice(3))?.kind === 'boolean'
    const option = byFlag.get(negated ? name.slice(3) : name)
    if (!option) {
      const guess = closest(name, [...byFlag.keys()])
      throw new UsageError(
        `unknown flag --${name}${guess ? `; did you mean --${guess}?` : ''} (see --help for every flag)`,
      )
    }
    const source = `--${option.flag}`
    // `--no-probes=false` would otherwise turn probes off: a negated flag is a value in itself.
    if (negated && inline !== undefined)
      throw new UsageError(`--${name} takes no value; write --${name}, or --${option.flag}=true|false`)
    if (option.kind === 'boolean') assign(option, negated ? false : (inline ?? true), source)
    else assign(option, inline ?? option.bareValue ?? nextValue(option, source), source)
  }
  return set as Partial<Config>
}

/** Reads a --config YAML file: a map whose keys are flag names. */
export function readConfigFile(path: string): Partial<Config> {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (error) {
    throw new UsageError(
      `cannot read --config ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
    )
  }
  let data: unknown
  try {
    data = yaml().parse(text)
  } catch (error) {
    throw new UsageError(`--config ${path} is not valid YAML: ${(error as Error).message.split('\n')[0]}`)
  }
  if (data === null || data === undefined) return {}
  if (typeof data !== 'object' || Array.isArray(data))
    throw new UsageError(`--config ${path} must be a YAML map of flag names to values`)
  const set: Record<string, unknown> = {}
  const allowed = OPTIONS.filter((o) => !o.flagOnly)
  for (const [name, raw] of Object.entries(data as Record<string, unknown>)) {
    const option = allowed.find((o) => o.flag === name)
    if (!option) {
      const guess = closest(
        name,
        allowed.map((o) => o.flag),
      )
      throw new UsageError(
        `--config ${path}: unknown key "${name}"${guess ? `; did you mean "${guess}"?` : ''}; valid keys: ${allowed.map((o) => o.flag).join(', ')}`,
      )
    }
    const source = `--config ${path}: ${name}`
    // YAML reads 007 as the number 7 and 1e3 as 1000: text that is not quoted would silently become another name.
    const values = Array.isArray(raw) ? raw : [raw]
    // `dry-run: true` is the bare form of --dry-run, not text.
    const wantsText =
      (option.kind === 'string' && !(option.bareValue && typeof raw === 'boolean')) || option.kind === 'list'
    const index = wantsText ? values.findIndex((v) => typeof v === 'number' || typeof v === 'boolean') : -1
    if (index >= 0) {
      // The failsafe schema reads every scalar as the text written.
      const written = (yaml().parse(text, { schema: 'failsafe' }) as Record<string, unknown>)[name]
      const item = String(Array.isArray(written) ? written[index] : written)
      throw new UsageError(
        `${source}: YAML reads ${item} as the ${typeof values[index]} ${values[index]}, not as text; quote it: ${Array.isArray(raw) ? `"${item}"` : `${name}: "${item}"`}`,
      )
    }
    set[option.key] = coerce(option, raw, source)
  }
  return set as Partial<Config>
}

/**
 * Why istioctl cannot be installed in `dir` on this machine, or undefined: the nearest part of the path that exists
 * must be a directory (mkdir -p fails on a file anywhere in it).
 */
export function installDirProblem(dir: string): string | undefined {
  for (let path = resolve(dir); ; path = dirname(path)) {
    let isDirectory: boolean | undefined
    try {
      isDirectory = statSync(path).isDirectory()
    } catch {} // missing (or unreadable): the part above decides
    if (isDirectory === false)
      return `${path === resolve(dir) ? `"${dir}" exists` : `"${dir}" cannot be created: ${path} exists`} and is not a directory; name a directory, or one to create`
    if (isDirectory || dirname(path) === path) return undefined
  }
}

/**
 * Why `value` is not a valid setting for `key` (the type its flag takes, its choices, its own rule), or undefined.
 * The one check for flags, the --config file, the environment and answers kept in the record.
 */
export function validateOptionValue(key: keyof Config, value: unknown): string | undefined {
  const option = OPTIONS.find((o) => o.key === key)
  if (!option) return `no such setting`
  // false is the "off" value of a flag whose value is optional (--dry-run).
  if (value === false && option.bareValue) return undefined
  const typeProblem = {
    boolean: typeof value !== 'boolean' && 'expected true or false',
    string: typeof value !== 'string' && 'expected a string',
    list: (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) && 'expected a list of strings',
    number: (typeof value !== 'number' || !Number.isFinite(value)) && 'expected a number',
    duration: (typeof value !== 'number' || !Number.isFinite(value)) && 'expected a number of seconds',
  }[option.kind]
  if (typeProblem) return `${typeProblem}, found ${JSON.stringify(value)}`
  for (const v of Array.isArray(value) ? value : [value])
    if (option.choices && !option.choices.includes(v as string))
      return `unknown value "${v}"; valid: ${option.choices.join(', ')}`
  return option.validate?.(value)
}

/** Builds the effective configuration from argv (and the --config file it names) and validates it. */
export function loadConfig(argv: string[], env: NodeJS.ProcessEnv = process.env): Config {
  const flags = parseFlags(argv)
  const fromFile = flags.config ? readConfigFile(flags.config) : {}
  const config = { ...defaults(env), ...fromFile, ...flags } as Config
  // Given by the operator this time (flag, config file or environment): never replaced by a recorded setting.
  const fromEnv = OPTIONS.filter((o) => fromEnvironment(o, env) !== undefined).map((o) => o.key)
  config.explicit = [...new Set([...fromEnv, ...Object.keys({ ...fromFile, ...flags })])].filter(
    (k) => k !== 'contexts',
  ) as (keyof Config)[]
  config.contexts = [...new Set(flags.contexts ?? (config.context ? [config.context] : []))]
  // Where a value came from, so an error names what the operator wrote.
  const sourceOf = (option: OptionSpec) =>
    option.key in flags
      ? `--${option.flag}`
      : option.key in fromFile
        ? `--config ${flags.config}: ${option.flag}`
        : fromEnvironment(option, env)
          ? option.env!
          : `--${option.flag}`
  for (const option of OPTIONS) {
    const value = config[option.key]
    // false is the "off" value of a flag whose value is optional (--dry-run).
    if (value === undefined || (value === false && option.bareValue)) continue
    const problem = validateOptionValue(option.key, value)
    if (problem) throw new UsageError(`${sourceOf(option)}: ${problem}`)
  }
  // Checked against the disk here, not in its validate (which also checks recorded settings of other machines); not
  // for what installs nothing.
  const installs = !config.help && !config.version && !config.printRbac && !config.list
  const dirProblem = installs && installDirProblem(config.installDir)
  if (dirProblem) throw new UsageError(`${sourceOf(byFlag.get('install-dir')!)}: ${dirProblem}`)
  if (config.from && config.only.length)
    throw new UsageError(
      '--from and --only cannot be combined: --from runs a step and every later one, --only runs just the steps named',
    )
  const skippedAndOnly = config.only.filter((id) => config.skip.includes(id))
  if (skippedAndOnly.length) throw new UsageError(`--only and --skip both name ${skippedAndOnly.join(', ')}`)
  const printing = (['rollback', 'uninstall', 'render', 'dryRun', 'list', 'report'] as const).find((k) => config[k])
  if (config.printRbac && printing)
    throw new UsageError(
      `--print-rbac cannot be combined with --${OPTIONS.find((o) => o.key === printing)!.flag}: it prints the permissions of a run, or with --verify of an audit, and exits`,
    )
  // --list lists the steps and exits: an action given with it would be dropped without a word.
  const listAlso = (['rollback', 'uninstall', 'verify', 'render', 'dryRun'] as const).find((k) => config[k])
  if (config.list && listAlso)
    throw new UsageError(
      `--list cannot be combined with --${OPTIONS.find((o) => o.key === listAlso)!.flag}: it lists the steps and their state, and exits; drop one of them`,
    )
  const modes = (['rollback', 'uninstall', 'verify', 'render'] as const).filter((k) => config[k]).map((k) => `--${k}`)
  if (modes.length > 1) throw new UsageError(`${modes.join(' and ')} cannot be combined: each is its own kind of run`)
  const selecting = (['from', 'only', 'skip', 'resume'] as const)
    .filter((k) => (Array.isArray(config[k]) ? (config[k] as unknown[]).length : config[k]))
    .map((k) => `--${k}`)
  if (modes.length && modes[0] !== '--render' && selecting.length) {
    throw new UsageError(`${modes[0]} picks its own steps from the state file; drop ${selecting.join(', ')}`)
  }
  if ((config.contexts.length > 1 || config.allContexts) && !config.verify)
    throw new UsageError(
      `${config.allContexts ? '--all-contexts' : `--context given ${config.contexts.length} times (${config.contexts.join(', ')})`} goes with --verify only (a fleet audit); any other run acts on one context: name one`,
    )
  if (config.allContexts && config.contexts.length)
    throw new UsageError('--all-contexts and --context cannot be combined: name the contexts, or take them all')
  if (config.stateFile && (config.contexts.length > 1 || config.allContexts))
    throw new UsageError(
      "--state-file holds one context; a fleet audit reads each context's own (.gthulhu-runbook/<context>.json): drop --state-file",
    )
  const printOnly = (['list', 'dryRun', 'render'] as const).find((k) => config[k])
  if (config.report && printOnly)
    throw new UsageError(
      `--report goes with a run, --verify, --rollback or --uninstall, not with --${OPTIONS.find((o) => o.key === printOnly)!.flag}`,
    )
  if (config.report) config.report = resolve(config.report)
  if (config.stateFile) config.stateFile = resolve(config.stateFile)
  if (config.kubeconfig) config.kubeconfig = resolve(config.kubeconfig)
  config.installDir = resolve(config.installDir)
  return config
}

/** Who RBAC objects are bound to, written as kubectl create rolebinding names them (user:, group:, serviceaccount:NS:). */
export interface RbacSubject {
  kind: 'User' | 'Group' | 'ServiceAccount'
  name: string
  namespace?: string
}

/** --print-rbac's subject, or undefined when the value is none of user:NAME, group:NAME, serviceaccount:NAMESPACE:NAME. */
export function parseRbacSubject(value: string): RbacSubject | undefined {
  const at = value.indexOf(':')
  const kind = value.slice(0, at)
  const rest = value.slice(at + 1)
  if (at < 0 || rest.trim() === '' || rest !== rest.trim()) return undefined
  if (kind === 'user') return { kind: 'User', name: rest }
  if (kind === 'group') return { kind: 'Group', name: rest }
  const [namespace, name, ...extra] = rest.split(':')
  if (kind === 'serviceaccount' && name && !extra.length && !dnsLabel(namespace) && !dnsLabel(name))
    return { kind: 'ServiceAccount', namespace, name }
  return undefined
}

/** The principals the manager admits: the flag's list, or the guide's scheduler identity in the mesh's trust domain. */
export function managerPrincipals(config: Config, schedulerServiceAccount: string, trustDomain: string): string[] {
  return config.managerPrincipals.length
    ? config.managerPrincipals
    : [`${trustDomain}/ns/${config.namespace}/sa/${schedulerServiceAccount}`]
}

/** Config keys that change what lands in the cluster: a resumed run warns when they differ from the run that did a step. */
export const OUTCOME_KEYS: (keyof Config)[] = OPTIONS.filter((o) =>
  ['Cluster', 'Versions and downloads', 'Hardening choices'].includes(o.group),
)
  .map((o) => o.key)
  .filter((k) => !['kubeconfig', 'istioMirror', 'gatewayApiMirror', 'probeImage', 'httpProbeImage'].includes(k))
