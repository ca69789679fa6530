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

/** A Kubernetes LabelSelector (matchLabels AND matchExpressions); `{}` selects everything. */
export interface LabelSelector {
  matchLabels?: Record<string, string>
  matchExpressions?: { key: string; operator: string; values?: string[] }[]
}

/**
 * Whether a LabelSelector selects an object with these labels, as apimachinery's LabelSelectorAsSelector reads it:
 * every matchLabels pair and every expression must hold; NotIn and DoesNotExist hold for an absent key. An operator
 * it does not know selects nothing (the API server would have refused the object).
 */
export function selectorMatches(selector: LabelSelector | undefined, labels: Record<string, string> = {}): boolean {
  if (!selector) return false
  const pairs = Object.entries(selector.matchLabels ?? {}).every(([k, v]) => labels[k] === v)
  return (
    pairs &&
    (selector.matchExpressions ?? []).every(({ key, operator, values = [] }) => {
      const has = Object.hasOwn(labels, key)
      switch (operator) {
        case 'In':
          return has && values.includes(labels[key])
        case 'NotIn':
          return !has || !values.includes(labels[key])
        case 'Exists':
          return has
        case 'DoesNotExist':
          return !has
        default:
          return false
      }
    })
  )
}
