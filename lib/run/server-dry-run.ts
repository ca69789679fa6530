// --dry-run=server: every manifest of the selected steps goes through the API server with
// `kubectl apply --dry-run=server`, so schema validation and admission webhooks (Istio's included) judge it
// without anything being stored. Each object gets its own verdict.
import { StepFailure } from '../config/errors.ts'
import { text } from '../config/text.ts'
import type { Cluster } from '../kube/cluster.ts'
import { apiServerUnreachable } from '../kube/unreachable.ts'
import type { KubeObject, PlanItem, StepId } from '../types.ts'
import { mapConcurrent } from '../kube/wait.ts'

export interface ServerVerdict {
  step: StepId
  object: KubeObject
  result: 'accepted' | 'rejected' | 'unchecked'
  message?: string
}

// kubectl's words when the API server does not serve a kind yet (its CRDs come from a later-installed bundle).
const UNKNOWN_KIND =
  /no matches for kind|ensure CRDs are installed first|the server doesn't have a resource type|could not find the requested resource/i
// Several kubectl processes at once, but not so many that a small machine or API server is swamped.
const CONCURRENCY = 4

export const objectName = (o: KubeObject) =>
  `${o.kind} ${o.metadata.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata.name}`

/** Sends each manifest of the plans to the API server as a server-side dry run and collects the verdicts. */
export async function serverDryRun(
  cluster: Cluster,
  plans: { step: StepId; items: PlanItem[] }[],
): Promise<ServerVerdict[]> {
  const manifests = plans.flatMap(({ step, items }) =>
    items.flatMap((item) =>
      item.kind === 'manifest' ? [{ step, object: item.object, serverSide: item.apply === 'server-side' }] : [],
    ),
  )
  let unreachable: string | undefined
  const verdicts = await mapConcurrent(
    manifests,
    CONCURRENCY,
    async ({ step, object, serverSide }): Promise<ServerVerdict | undefined> => {
      // Once the API server is found unreachable, each object left would only say so again.
      if (unreachable) return undefined
      const [verb, ...rest] = cluster.applyArgs(serverSide)
      const result = await cluster.exec(cluster.kubectlArgv([verb, '--dry-run=server', ...rest]), {
        objects: [object],
      })
      if (result.exitCode === 0) return { step, object, result: 'accepted' }
      const message = (result.stderr.trim() || result.stdout.trim() || `kubectl exited ${result.exitCode}`).replace(
        /^error: /i,
        '',
      )
      if (apiServerUnreachable(message)) {
        unreachable ??= message.split('\n').pop()
        return undefined
      }
      if (UNKNOWN_KIND.test(message)) {
        return {
          step,
          object,
          result: 'unchecked',
          message: `the API server does not serve ${object.apiVersion} ${object.kind} yet (an earlier step installs it)`,
        }
      }
      return { step, object, result: 'rejected', message }
    },
  )
  // Exit 1 like every other unreachable cluster (lib/run/cluster-access.ts), not 2: no setting was judged wrong.
  if (unreachable) throw new StepFailure(text.cli.serverDryRunUnreachable(unreachable))
  return verdicts.filter((v) => v !== undefined)
}

const MARK = { accepted: '✔', rejected: '✖', unchecked: '•' } as const

export function formatVerdicts(verdicts: ServerVerdict[]): string {
  return verdicts
    .map(
      (v) =>
        `  ${MARK[v.result]} ${v.step}: ${objectName(v.object)} ${v.result}${v.message ? `: ${v.message.split('\n').join('\n      ')}` : ''}`,
    )
    .join('\n')
}
