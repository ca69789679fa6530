// Install the Gateway API CRDs Istio's gateways and waypoints need: the release bundle from the mirror,
// applied server-side, skipped when that bundle version is already there, never silently downgraded.
import { fetchText } from '../lib/domain/download.ts'
import { StepFailure } from '../lib/config/errors.ts'
import { text } from '../lib/config/text.ts'
import type { Cluster } from '../lib/kube/cluster.ts'
import type { Config } from '../lib/config/options.ts'
import {
  BUNDLE_VERSION_ANNOTATION,
  bundleUrl,
  decideBundle,
  describeInstalledCrd,
  parseBundle,
  type BundleCrd,
  type InstalledCrd,
} from '../lib/domain/gateway-api.ts'
import { nameSome } from '../lib/run/undo.ts'
import { untilChanged } from '../lib/kube/wait.ts'
import { kubectlAccess } from '../lib/kube/access.ts'
import type { Check, Facts, KubeObject, Step, StepContext } from '../lib/types.ts'

/** What this step learnt, kept in state so a resumed verify need not download the bundle again. */
export interface GatewayApiFacts {
  version: string
  channel: string
  crds: string[]
}

// Server-side apply (client-side apply of the experimental bundle fails on its annotation size); conflicts
// are forced because the version check already decided that this bundle replaces whatever owns them.
export const CRD_APPLY_ARGS = [
  'apply',
  '--server-side',
  '--force-conflicts',
  '--field-manager=gthulhu-runbook',
  '-f',
  '-',
]

const gatewayApiFacts = (facts: Facts) => facts.gatewayApi as GatewayApiFacts | undefined

async function downloadBundle(ctx: StepContext): Promise<{ bundle: string; crds: BundleCrd[] }> {
  const url = bundleUrl(ctx.config)
  const bundle = await fetchText(url, ctx.signal)
  try {
    return { bundle, crds: parseBundle(bundle, url) }
  } catch (error) {
    throw new StepFailure((error as Error).message)
  }
}

async function installedCrds(cluster: Cluster, names: string[]): Promise<InstalledCrd[]> {
  const found = await cluster.findJson<KubeObject & { items?: KubeObject[] }>([
    'get',
    'customresourcedefinitions',
    ...names,
  ])
  const objects = !found ? [] : (found.items ?? [found])
  return objects.map(describeInstalledCrd)
}

/** The bundle's CRD names when state recorded this very bundle (version and channel). */
function recordedNames(config: Config, facts: Facts): string[] | undefined {
  const known = gatewayApiFacts(facts)
  return known && known.version === config.gatewayApiVersion && known.channel === config.gatewayApiChannel
    ? known.crds
    : undefined
}

/** For plans, which never download: the recorded names, or a placeholder saying where they come from. */
const knownNames = (config: Config, facts: Facts) => recordedNames(config, facts) ?? ['<every CRD name in the bundle>']

/** The CRD names of the configured bundle: from state when it recorded this very bundle, else downloaded. */
async function bundleNames(ctx: StepContext): Promise<string[]> {
  return recordedNames(ctx.config, ctx.facts) ?? (await downloadBundle(ctx)).crds.map((c) => c.name)
}

function refuseNewer(newer: InstalledCrd[], config: Config): never {
  const versions = [...new Set(newer.map((c) => c.version))].join(', ')
  throw new StepFailure(
    text.failures.newerCrds(
      versions,
      config.gatewayApiVersion,
      newer.map((c) => c.name),
      newer[0].version ?? '',
    ),
  )
}

const GATEWAY_API_GROUPS = ['gateway.networking.k8s.io', 'gateway.networking.x-k8s.io']

/** Every Gateway API CRD in the cluster (any bundle, any channel). */
async function gatewayApiCrdsPresent(cluster: Cluster): Promise<KubeObject[]> {
  return (await cluster.list('customresourcedefinitions')).filter((crd) => GATEWAY_API_GROUPS.includes(crd.spec?.group))
}

/** The CRDs undo deletes: those present now that were not there before the runbook. */
async function crdsToRemove(ctx: StepContext): Promise<string[]> {
  const before = (ctx.before?.found?.crds as string[] | undefined) ?? []
  return (await gatewayApiCrdsPresent(ctx.cluster))
    .map((crd) => crd.metadata.name)
    .filter((name) => !before.includes(name))
}

export const gatewayApiCrdsStep: Step = {
  id: 'gateway-api-crds',
  title: 'Install the Gateway API CRDs',
  why:
    'Istio builds its ingress gateway and its waypoint proxies from Gateway API objects, so the cluster needs the Gateway API ' +
    'CustomResourceDefinitions first. The bundle is the release file for the chosen version and channel (the guide uses the experimental ' +
    'channel), applied server-side because a client-side apply of the experimental bundle fails on its size. A bundle that is already ' +
    'installed at that version is left alone, and a newer one is never replaced unless you say so.',
  requires: ['preflight'],
  settings: ['gatewayApiVersion', 'gatewayApiChannel', 'replaceNewerGatewayApi'],
  // The CRDs' names come from the bundle, downloaded when the step runs: RBAC cannot name them beforehand.
  access: () => {
    const crds = 'customresourcedefinitions.apiextensions.k8s.io'
    const who = 'gateway-api-crds'
    const read = kubectlAccess.get(crds, {}, `${who}: the bundle's CRDs as installed (version, Established)`)
    return {
      run: [
        ...kubectlAccess.list(crds, {}, `${who}: the Gateway API CRDs there before the runbook`),
        ...read,
        ...kubectlAccess.apply(crds, {}, `${who}: server-side apply of the bundle`),
      ],
      verify: [...read, ...kubectlAccess.watch(crds, {}, `${who}: until every CRD is Established`)],
    }
  },
  plan: ({ config, facts }) => [
    {
      kind: 'download',
      url: bundleUrl(config),
      destination: text.plan.inMemory,
      why: text.plan.bundleDownload,
    },
    {
      kind: 'command',
      argv: [
        'kubectl',
        'get',
        'customresourcedefinitions',
        ...knownNames(config, facts),
        '-o',
        'json',
        '--ignore-not-found',
      ],
      why: text.plan.compareAnnotation(BUNDLE_VERSION_ANNOTATION, config.gatewayApiVersion),
    },
    {
      kind: 'command',
      argv: ['kubectl', ...CRD_APPLY_ARGS],
      why: text.plan.bundleOnStdin(config.gatewayApiChannel, config.gatewayApiVersion),
    },
    { kind: 'note', text: text.plan.waitEstablished },
  ],
  async run(ctx, io) {
    const { bundle, crds } = await downloadBundle(ctx)
    ctx.facts.gatewayApi = {
      version: ctx.config.gatewayApiVersion,
      channel: ctx.config.gatewayApiChannel,
      crds: crds.map((c) => c.name),
    } satisfies GatewayApiFacts
    const installed = await installedCrds(
      ctx.cluster,
      crds.map((c) => c.name),
    )
    const decision = decideBundle(crds, installed, ctx.config)
    if (decision.action === 'refuse-newer') {
      const versions = [...new Set(decision.newer.map((c) => c.version))].join(', ')
      const replace = await io.confirm(text.questions.replaceNewerCrds(versions, ctx.config.gatewayApiVersion))
      if (!replace) refuseNewer(decision.newer, ctx.config)
    }
    if (decision.action === 'skip') return { unchanged: decision.reason }
    const newer = installed.filter((c) => c.version && c.version !== ctx.config.gatewayApiVersion)
    if (newer.length)
      io.warn(
        text.warnings.replacingCrds([...new Set(newer.map((c) => c.version))].join(', '), ctx.config.gatewayApiVersion),
      )
    const reason = decision.action === 'apply' ? decision.reason : text.progress.replacingAsConfirmed
    io.log(text.progress.applyingBundle(ctx.config.gatewayApiChannel, ctx.config.gatewayApiVersion, reason))
    await ctx.cluster.kubectl(CRD_APPLY_ARGS, { input: bundle })
  },
  undo: {
    found: async (ctx) => {
      const crds = await gatewayApiCrdsPresent(ctx.cluster)
      return {
        crds: crds.map((c) => c.metadata.name),
        bundleVersion: crds.map((c) => describeInstalledCrd(c).version).find(Boolean) ?? null,
      }
    },
    // Deleting a CRD deletes every object of its kind: refuse while any Gateway API object exists.
    async blockedBy(ctx) {
      const remove = await crdsToRemove(ctx)
      if (remove.length === 0) return undefined
      const objects = (await ctx.cluster.list(remove.join(','), { allNamespaces: true })).map(
        (o) => `${o.kind} ${o.metadata.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata.name}`,
      )
      if (objects.length === 0) return undefined
      return text.failures.crdsInUse(nameSome(objects))
    },
    describe: ({ before }) => [
      before?.found?.crds && (before.found.crds as string[]).length
        ? `leave the ${(before.found.crds as string[]).length} Gateway API CRD(s) that were there before the runbook (bundle ${before.found.bundleVersion ?? 'unknown'}); delete any others`
        : 'delete the Gateway API CRDs, unless any Gateway API object still exists (then stop and name them)',
    ],
  },
  async rollback(ctx, io) {
    const kept = (ctx.before?.found?.crds as string[] | undefined) ?? []
    if (kept.length) io.log(text.progress.crdsKept(kept.length, ctx.before?.found?.bundleVersion as string | undefined))
    const remove = await crdsToRemove(ctx)
    if (remove.length === 0) return
    await ctx.cluster.kubectl(['delete', 'customresourcedefinitions', ...remove, '--ignore-not-found'], {
      timeoutMs: ctx.config.timeout * 1000,
    })
    io.log(text.progress.crdsDeleted(remove.length, nameSome(remove)))
  },
  async verifyRollback(ctx) {
    const kept = (ctx.before?.found?.crds as string[] | undefined) ?? []
    const present = (await gatewayApiCrdsPresent(ctx.cluster)).map((c) => c.metadata.name)
    const extra = present.filter((name) => !kept.includes(name))
    const lost = kept.filter((name) => !present.includes(name))
    return [
      {
        name: text.checks.crdsDeleted,
        expected: 'none left',
        observed: extra.length ? nameSome(extra) : 'none left',
        ok: extra.length === 0,
      },
      ...(kept.length
        ? [
            {
              name: text.checks.crdsLeft,
              expected: `${kept.length} present`,
              observed: lost.length ? `missing: ${nameSome(lost)}` : `${kept.length} present`,
              ok: lost.length === 0,
            },
          ]
        : []),
    ]
  },
  async verify(ctx) {
    const names = await bundleNames(ctx)
    const wanted = ctx.config.gatewayApiVersion
    const settled = (crds: InstalledCrd[]) =>
      crds.length === names.length && crds.every((c) => c.established && c.version === wanted)
    let last: InstalledCrd[] = []
    // The API server marks a CRD Established once it serves it; a change to any CRD is a reason to look again.
    await untilChanged(
      ctx.cluster,
      [{ resource: 'customresourcedefinitions' }],
      async () => {
        last = await installedCrds(ctx.cluster, names)
        return settled(last) ? last : undefined
      },
      { timeoutMs: ctx.settleMs, signal: ctx.signal },
    )
    const byName = new Map(last.map((c) => [c.name, c]))
    return names.map((name): Check => {
      const crd = byName.get(name)
      const ok = !!crd && crd.established && crd.version === wanted
      return {
        name: text.checks.crdEstablished(name),
        expected: `Established, bundle ${wanted}`,
        observed: crd
          ? `${crd.established ? 'Established' : 'not Established'}, bundle ${crd.version ?? '(no bundle-version annotation)'}`
          : 'not installed',
        ok,
        hint: ok ? undefined : `kubectl get crd ${name} -o yaml`,
      }
    })
  },
}
