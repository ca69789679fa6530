// Running the runbook as a user who holds only what --print-rbac grants: the user and its kubeconfig, the roles
// applied by the cluster admin, every RBAC decision on the user's requests, and which granted permissions those
// requests used. Shared by the run and the audit tests.
import * as assert from 'uvu/assert'
import { loadConfig } from '../lib/config/options.ts'
import { asListReads, namedRead } from '../lib/kube/read-batch.ts'
import { type RbacOperation, rolesFor, type RoleSet } from '../lib/run/rbac.ts'
import { STEPS } from '../steps/index.ts'
import type { RunbookWorld } from './harness.ts'
import { kubectl } from './kit.ts'
import type { Decision } from './sim/index.ts'

export interface RestrictedUser {
  username: string
  /** The runbook's flags with this user's kubeconfig in place of the admin's. */
  flags: string[]
  env: Record<string, string>
  decisions: Decision[]
  stop(): void
}

/** A user the simulator knows (a bearer token) with no permissions yet, whose decisions are recorded. */
export function restrictedUser(world: RunbookWorld, username: string, groups: string[] = []): RestrictedUser {
  const kubeconfig = world.sim.addUser({ token: `${username.replace(/\W+/g, '-')}-token`, username, groups })
  const decisions: Decision[] = []
  const stop = world.sim.onAuthorization((d) => {
    if (d.attributes.user.username === username) decisions.push(d)
  })
  return {
    username,
    flags: world.flags.map((f) => (f === world.sim.kubeconfig ? kubeconfig : f)),
    env: { KUBECONFIG: kubeconfig },
    decisions,
    stop,
  }
}

/** `--print-rbac SUBJECT [args]` through the CLI: the YAML to apply, and the same roles as data. */
export async function printedRoles(
  world: RunbookWorld,
  subject: string,
  operation: RbacOperation,
): Promise<{ yaml: string; set: RoleSet }> {
  const args = ['--print-rbac', subject, '-n', 'default', ...(operation === 'verify' ? ['--verify'] : [])]
  const printed = await world.run(args)
  assert.is(printed.code, 0, printed.stderr)
  const config = loadConfig(['-n', 'default'], {})
  return {
    yaml: printed.stdout,
    set: rolesFor(
      STEPS,
      STEPS.map((s) => s.id),
      config,
      operation,
    ),
  }
}

/** Applies RBAC objects as the cluster admin. */
export async function grant(world: RunbookWorld, yaml: string): Promise<void> {
  const applied = await kubectl(world.sim.env, ['apply', '-f', '-'], { input: yaml })
  assert.is(applied.code, 0, `granting the roles failed: ${applied.stderr}`)
}

// Reads of small kinds are batched (lib/kube/read-batch.ts): a named read may be answered by its kind's list when a
// list of that kind is allowed, and then its `get` is not asked.
const listable = (group: string, resource: string) =>
  [resource, `${resource}.${group}`].some((q) => {
    const read = namedRead(['get', q, 'name'])
    return !!read && !!asListReads(read)
  })

/**
 * The granted permissions (rule and verb) that no request of the run used, leaving out those the steps declare as
 * made only sometimes: what a role holds beyond what the run asked for.
 */
export function unusedGrants(set: RoleSet, decisions: Decision[]): string[] {
  const used = new Set<string>()
  const listed: { group: string; resource: string; namespace?: string }[] = []
  for (const d of decisions) {
    if (!d.allowed || !d.by || d.by.role.name !== set.name) continue
    used.add(JSON.stringify([d.by.namespace ?? '', d.by.index, d.attributes.verb]))
    if (d.attributes.verb === 'list')
      listed.push({
        group: d.attributes.group ?? '',
        resource: d.attributes.resource ?? '',
        namespace: d.attributes.namespace,
      })
  }
  const scopes: [string, RoleSet['cluster']][] = [
    ['', set.cluster],
    ...set.namespaced.map((n) => [n.namespace, n.rules] as [string, RoleSet['cluster']]),
  ]
  const unused: string[] = []
  for (const [scope, rules] of scopes)
    rules.forEach((rule, index) => {
      for (const verb of rule.verbs) {
        if (used.has(JSON.stringify([scope, index, verb]))) continue
        if (rule.because.filter((a) => a.verbs.includes(verb)).every((a) => a.when)) continue
        const batched =
          verb === 'get' &&
          (rule.resources ?? []).every(
            (resource) =>
              listable(rule.apiGroups?.[0] ?? '', resource) &&
              listed.some(
                (l) =>
                  l.group === rule.apiGroups?.[0] &&
                  l.resource === resource &&
                  (!scope || l.namespace === scope || !l.namespace),
              ),
          )
        if (batched) continue
        unused.push(
          `${scope || 'cluster-wide'}: ${verb} ${(rule.resources ?? rule.nonResourceURLs ?? []).join(',')}${rule.resourceNames ? ` ${rule.resourceNames.join(',')}` : ''}`,
        )
      }
    })
  return unused
}

/** The requests RBAC refused, one line each. */
export const refusals = (decisions: Decision[]) =>
  [
    ...new Set(
      decisions
        .filter((d) => !d.allowed)
        .map((d) => {
          const a = d.attributes
          return `${a.verb} ${a.resource ?? a.path}${a.subresource ? `/${a.subresource}` : ''}${a.name ? ` ${a.name}` : ''}${a.namespace ? ` in ${a.namespace}` : ''}`
        }),
    ),
  ].sort()
