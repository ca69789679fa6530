// A Kubernetes object as kubectl prints it with -o json, and the references the runbook keeps to objects and labels.

export interface KubeObject {
  apiVersion: string
  kind: string
  metadata: {
    name: string
    namespace?: string
    labels?: Record<string, string>
    annotations?: Record<string, string>
    [key: string]: unknown
  }
  [key: string]: any
}

/** A namespaced or cluster-scoped object, as kubectl names it. */
export interface ObjectRef {
  resource: string
  namespace?: string
  name: string
}

/** One label of one object. */
export interface LabelRef extends ObjectRef {
  key: string
}

/** Labels as a kubectl -l selector. */
export const selectorText = (labels: Record<string, string>) =>
  Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',')
