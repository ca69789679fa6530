// A kubectl failure while reading the record or taking the lock, said in the operator's terms: the namespace does
// not exist, these credentials may not, or the API server cannot be reached.
import { CommandError, StepFailure, UsageError } from '../config/errors.ts'
import { UNREACHABLE } from '../kube/unreachable.ts'

export function clusterAccessError(
  error: unknown,
  namespace: string,
  context: string | undefined,
  what: string,
): Error {
  if (!(error instanceof CommandError)) return error as Error
  const said = (error.stderr.trim() || error.stdout.trim()).split('\n').pop() ?? ''
  if (/\(NotFound\).*namespaces? "/.test(error.stderr))
    return new UsageError(
      `cannot ${what}: namespace ${namespace} does not exist${context ? ` in context ${context}` : ''}; pass the namespace Gthulhu is installed in with -n (${said})`,
    )
  if (/\(Forbidden\)/.test(error.stderr))
    return new UsageError(
      `cannot ${what}: the runbook keeps its lock (a Lease) and its record (Secrets) in namespace ${namespace}, and these credentials may not: ${said}; ` +
        `grant get, list, create, update and delete on leases.coordination.k8s.io and secrets there`,
    )
  if (UNREACHABLE.test(error.stderr)) return new StepFailure(`cannot ${what}: the API server is unreachable: ${said}`)
  return new StepFailure(`cannot ${what}: ${said}`)
}
