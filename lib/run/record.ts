// The record in the cluster: what the runbook did, kept in Gthulhu's namespace the way Helm keeps its
// releases (helm/helm pkg/storage/driver/secrets.go): one Secret per revision, named
// gthulhu-runbook.<release>.v<N>, labelled owner=gthulhu-runbook, name=<release>, version=<N>,
// status=running|done|failed|interrupted|superseded, of type gthulhu-runbook/record.v1, holding the record as
// gzip-compressed JSON under data.record. Every run that may change the cluster (a run, --rollback,
// --uninstall) starts a new revision from the latest one, and the latest HISTORY revisions are kept. Unlike
// Helm, every write carries the resourceVersion this run last saw, so a write based on a stale copy is
// refused by the API server (409) instead of overwriting someone else's.
import { gunzipSync, gzipSync } from 'node:zlib'
import { CommandError, StepFailure, UsageError } from '../config/errors.ts'
import { text } from '../config/text.ts'
import type { Cluster } from '../kube/cluster.ts'
import { kubectlAccess } from '../kube/access.ts'
import type { ApiAccess, KubeObject } from '../types.ts'

export const RECORD_TYPE = 'gthulhu-runbook/record.v1'
export const RECORD_KEY = 'record'
/** Revisions kept (as Helm's --history-max default). */
export const RECORD_HISTORY = 10
export const recordSecretName = (release: string, version: number) => `gthulhu-runbook.${release}.v${version}`
export const recordSelector = (release: string) => `owner=gthulhu-runbook,name=${release}`
export type RevisionStatus = 'running' | 'done' | 'failed' | 'interrupted' | 'superseded'

export interface Revision {
  name: string
  version: number
  status: string
  resourceVersion: string
}

const revisionOf = (secret: KubeObject): Revision => ({
  name: secret.metadata.name,
  version: Number(secret.metadata.labels?.version),
  status: secret.metadata.labels?.status ?? '',
  resourceVersion: String(secret.metadata.resourceVersion ?? ''),
})

export const encodeRecord = (text: string) => gzipSync(Buffer.from(text, 'utf8')).toString('base64')
export const decodeRecord = (data: string) => gunzipSync(Buffer.from(data, 'base64')).toString('utf8')

/** The record's revisions in the namespace, and the latest one's decoded content. */
export async function readRecord(
  cluster: Cluster,
  namespace: string,
  release: string,
): Promise<{ revisions: Revision[]; latest?: { revision: Revision; data: unknown } }> {
  const secrets = await cluster.list('secrets', { namespace, selector: recordSelector(release) })
  const revisions = secrets
    .filter((s) => (s as { type?: string }).type === RECORD_TYPE && /^\d+$/.test(s.metadata.labels?.version ?? ''))
    .map(revisionOf)
    .sort((a, b) => a.version - b.version)
  const newest = revisions.at(-1)
  if (!newest) return { revisions }
  const secret = secrets.find((s) => s.metadata.name === newest.name)!
  const where = text.record.where(`${namespace}/${newest.name}`)
  const encoded = (secret as { data?: Record<string, string> }).data?.[RECORD_KEY]
  if (!encoded) throw new UsageError(text.record.noData(where, RECORD_KEY))
  let json: string
  try {
    json = decodeRecord(encoded)
  } catch (error) {
    throw new UsageError(text.record.notGzip(where, RECORD_KEY, (error as Error).message))
  }
  try {
    return { revisions, latest: { revision: newest, data: JSON.parse(json) } }
  } catch (error) {
    throw new UsageError(text.record.notJson(where, RECORD_KEY, (error as Error).message))
  }
}

/**
 * What the record asks of the API server: an audit only reads it; a run starts a revision, rewrites it as it goes,
 * marks the previous one superseded and removes the oldest. The revisions' names (…v1, …v2) are not known
 * beforehand, and RBAC cannot select Secrets by label: these rules cover every Secret of the namespace.
 */
export function recordAccess(namespace: string, writes: boolean): ApiAccess[] {
  const why = "the runbook's record (Secrets gthulhu-runbook.<release>.v<N>)"
  const ns = { namespace }
  return [
    ...kubectlAccess.list('secrets', ns, `${why}: read`),
    ...kubectlAccess.get(
      'namespaces',
      { names: ['kube-system'] },
      `${why}: which cluster it is of (kube-system's uid)`,
    ),
    ...(writes
      ? [
          ...kubectlAccess.create('secrets', ns, `${why}: a new revision`),
          ...kubectlAccess.replace('secrets', ns, `${why}: written as the run goes`),
          ...kubectlAccess.patch(
            'secrets',
            { ...ns, when: 'when there is a previous revision' },
            `${why}: the previous revision marked superseded`,
          ),
          ...kubectlAccess.delete(
            'secrets',
            { ...ns, when: `beyond ${RECORD_HISTORY} revisions` },
            `${why}: the oldest revisions removed`,
          ),
        ]
      : []),
  ]
}

/** Someone else wrote the record since this run last did: the run stops rather than overwrite it. */
export class RecordConflict extends StepFailure {}

export class ClusterRecord {
  /** The revision this run writes, once begun. */
  current?: Revision

  constructor(
    readonly cluster: Cluster,
    readonly namespace: string,
    readonly release: string,
    /** The revisions found when the record was read. */
    readonly revisions: Revision[],
  ) {}

  get latest(): Revision | undefined {
    return this.current ?? this.revisions.at(-1)
  }

  /** Where the record is, for the operator. */
  describe(): string {
    const latest = this.latest
    return latest
      ? `Secret ${this.namespace}/${latest.name}`
      : `Secrets ${this.namespace}/${recordSecretName(this.release, 1)}…`
  }

  private secret(
    version: number,
    text: string,
    status: RevisionStatus,
    notes: Record<string, string>,
    resourceVersion?: string,
  ): KubeObject {
    return {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: {
        name: recordSecretName(this.release, version),
        namespace: this.namespace,
        ...(resourceVersion ? { resourceVersion } : {}),
        labels: {
          owner: 'gthulhu-runbook',
          name: this.release,
          version: String(version),
          status,
          'app.kubernetes.io/managed-by': 'gthulhu-runbook',
        },
        annotations: { 'gthulhu-runbook/updated-at': new Date().toISOString(), ...notes },
      },
      type: RECORD_TYPE,
      data: { [RECORD_KEY]: encodeRecord(text) },
    }
  }

  private notes: Record<string, string> = {}

  /**
   * Starts a new revision holding `text` (the latest record, carried over); retire() then marks the previous one
   * superseded and removes revisions beyond the history limit. Refused (409) when another run created it first.
   */
  async begin(text: string, notes: { operation: string; context: string; holder: string }): Promise<void> {
    this.notes = {
      'gthulhu-runbook/operation': notes.operation,
      'gthulhu-runbook/context': notes.context,
      'gthulhu-runbook/holder': notes.holder,
    }
    const previous = this.revisions.at(-1)
    const version = (previous?.version ?? 0) + 1
    const created = await this.send('create', this.secret(version, text, 'running', this.notes))
    this.current = revisionOf(created)
  }

  /** After begin(): marks the previous revision superseded and removes revisions beyond the history limit. */
  async retire(): Promise<void> {
    const version = this.current?.version
    if (!version) return
    const previous = this.revisions.at(-1)
    if (previous)
      await this.cluster.kubectl([
        'label',
        'secret',
        previous.name,
        '-n',
        this.namespace,
        'status=superseded',
        '--overwrite',
      ])
    const expired = this.revisions.filter((r) => r.version <= version - RECORD_HISTORY).map((r) => r.name)
    if (expired.length)
      await this.cluster.kubectl(['delete', 'secret', ...expired, '-n', this.namespace, '--ignore-not-found'])
  }

  /** Replaces the current revision's content, conditional on the resourceVersion this run last wrote. */
  async write(text: string, status: RevisionStatus = 'running'): Promise<void> {
    const current = this.current
    if (!current) throw new Error('the record revision was not begun')
    const written = await this.send(
      'replace',
      this.secret(current.version, text, status, this.notes, current.resourceVersion),
    )
    this.current = revisionOf(written)
  }

  /** The same, synchronously, for a second Ctrl-C that leaves at once; best effort. */
  writeSync(text: string, status: RevisionStatus): void {
    const current = this.current
    if (!current) return
    const replace = (resourceVersion: string) =>
      this.cluster.kubectlSync(['replace', '-f', '-', '-o', 'name'], {
        input: JSON.stringify(this.secret(current.version, text, status, this.notes, resourceVersion)),
      })
    const first = replace(current.resourceVersion)
    if (first.exitCode === 0 || !/\(Conflict\)/.test(first.stderr)) return
    // This run's own save, still in flight at the second Ctrl-C, landed first: the exit's status goes over it.
    const latest = this.cluster.kubectlSync([
      'get',
      'secret',
      recordSecretName(this.release, current.version),
      '-n',
      this.namespace,
      '-o',
      'jsonpath={.metadata.resourceVersion}',
    ])
    if (latest.exitCode === 0 && latest.stdout.trim()) replace(latest.stdout.trim())
  }

  private async send(verb: 'create' | 'replace', secret: KubeObject): Promise<KubeObject> {
    try {
      const { stdout } = await this.cluster.kubectl([verb, '-f', '-', '-o', 'json'], {
        input: JSON.stringify(secret),
        timeoutMs: 30_000,
      })
      return JSON.parse(stdout) as KubeObject
    } catch (error) {
      if (error instanceof CommandError && /\((Conflict|AlreadyExists)\)/.test(error.stderr))
        throw new RecordConflict(
          text.record.writtenElsewhere(
            `${this.namespace}/${secret.metadata.name}`,
            this.namespace,
            recordSelector(this.release),
          ),
        )
      throw error
    }
  }
}
