// What the runbook says to the operator besides the steps' titles and explanations: the menus and questions, the
// words of the run (plans, checks, the summary), the fixed parts of its errors, and the names of its checks. English
// here; lib/cli/zh-TW.ts holds the Traditional Chinese table typed as `Text`, so tsc fails on a missing entry, and
// `useText` swaps it in once, before anything is said (a run has one language). Values inside the sentences
// (names, flags, commands, what kubectl printed) stay as they are.

import type { PathProblem } from './local-dir.ts'

/** What a probe can observe (lib/types.ts Observation['kind']; config sits below types, so it is spelled out). */
type ObservationKind = 'answered' | 'status' | 'blocked' | 'refused' | 'unresolved' | 'error' | 'skipped'

/** What a key does under a prompt (the actions inquirer's help line names). */
type KeyAction = 'navigate' | 'select' | 'all' | 'invert' | 'submit'

/** A step's status as the summary shows it; JSON events and the record keep the identifiers. */
type Status = 'pending' | 'running' | 'done' | 'failed' | 'skipped' | 'interrupted' | 'accepted' | 'undone' | 'drifted'

const EN_TEXT = {
  menu: {
    runStep: (id: string) => `Run ${id}?`,
    run: 'Run this step',
    plan: 'Show the full plan (every command and manifest)',
    skip: 'Skip this step',
    all: 'Run this and all remaining steps without asking',
    quit: 'Quit (state is saved; resume later)',
    afterFailure: (id: string) => `${id} did not verify. What now?`,
    retryVerify: 'Retry the verification (the cluster may need more time)',
    rerun: 'Run the step again',
    rollback: 'Roll the step back',
    accept: 'Accept and continue (recorded as accepted)',
    undoStep: (id: string) => `Undo ${id}?`,
    undo: 'Undo this step as shown',
    quitUndo: 'Quit (nothing more is undone; run the same command again later)',
    context: 'Which kube context should the runbook harden?',
    contextChoice: (name: string, current: boolean, cluster: string, server?: string) =>
      `${name}${current ? ' (current)' : ''} → cluster ${cluster}${server ? ` at ${server}` : ''}`,
    yesNo: '(y/N)',
  },
  questions: {
    browsers:
      'Which browsers may open the Web UI through the gateway? (a User-Agent is chosen by the client: this filters, it does not authenticate)',
    chromeMac: "Chrome on macOS (the guide's choice)",
    chromeWindows: 'Chrome on Windows',
    chromeLinux: 'Chrome on Linux',
    anotherPattern: 'Another pattern (typed next)',
    pickOne: 'pick at least one',
    customAgents: 'User-Agent patterns, separated by "|" (exact, prefix "x*", suffix "*x" or "*"):',
    principals:
      "Which identities may call the manager on 8080? (comma-separated; the scheduler's is the guide's choice)",
    ingress: "Should browser traffic from the gateway pass through the manager's waypoint?",
    ingressNo:
      'No (the guide): the gateway policy filters browsers; the manager policy applies to in-mesh callers only',
    ingressYes: (gatewayName: string) =>
      `Yes: label the Service istio.io/ingress-use-waypoint=true and allow the gateway identity (…/sa/${gatewayName}-istio) in the manager policy`,
    noPrincipal: 'name at least one identity, or the manager would refuse everyone',
    badPrincipal: (value: string) =>
      `"${value}" is not an identity like cluster.local/ns/<namespace>/sa/<serviceaccount>`,
    noUserAgent: 'give at least one User-Agent pattern',
    kept: (flag: string, value: string) => `  ${flag} ${value} (kept for resumed runs)`,
    untestedKubernetes: (version: string, istio: string, tested: string) =>
      `${version} is outside the versions Istio ${istio} is tested with (${tested}); istioctl accepts it. Go on anyway?`,
    replaceNewerCrds: (installed: string, wanted: string) =>
      `Gateway API CRDs at ${installed} are installed, newer than ${wanted}. Replacing them may break whatever installed them. Replace them?`,
    untestedKubernetesWhen: "the cluster's Kubernetes is outside the versions Istio tested",
    replaceNewerCrdsWhen: 'newer Gateway API CRDs are installed',
    /** The keys under a prompt (inquirer's help line): what each key does. */
    keys: { navigate: 'navigate', select: 'select', all: 'all', invert: 'invert', submit: 'submit' } satisfies Record<
      KeyAction,
      string
    >,
  },
  run: {
    itWill: 'It will:',
    fullPlan: (id: string) => `Full plan of ${id}:`,
    nothingMore: (id: string) =>
      `The preview above is the whole plan of ${id}: it applies no manifest, and every command is listed.`,
    skippedByOperator: 'skipped by the operator',
    skipWarning: (id: string, dependents: string[]) =>
      `⚠ skipping ${id}: ${dependents.join(', ')} ${dependents.length > 1 ? 'need' : 'needs'} it; their checks that depend on it will read "skipped: needs ${id}"`,
    runAll: 'Running the remaining steps without asking.',
    runAllAnswers: 'Their questions take these answers (a flag changes them; a resumed run asks again):',
    runAllConfirms: 'Questions that may arise mid-step are answered no:',
    fromFlag: 'given',
    fromRecord: 'answered earlier',
    byDefault: 'default',
    stoppedBefore: (id: string) => `stopped before ${id} at the operator's request`,
    interruptedDuring: (id: string) => `interrupted during ${id}`,
    interruptedNote: 'interrupted before it finished (Ctrl-C, SIGTERM, or its terminal or output went away)',
    failed: (id: string, message: string) => `✖ ${id} failed: ${message}`,
    stepFailed: (id: string, message: string) => `step ${id} failed: ${message}`,
    acceptedDespite: (message: string) => `accepted by the operator despite: ${message}`,
    rolledBackAfter: (id: string, message: string) => `step ${id} was rolled back after: ${message}`,
    checksFailed: (count: number, names: string) => `${count} check(s) failed: ${names}`,
    checksSkipped: (count: number, steps: string) => `${count} check(s) skipped: needs ${steps}`,
    skippedNeeds: (id: string) => `skipped: needs ${id}`,
    applyTask: 'apply',
    undoTask: 'undo',
    verifyTask: 'verify against the cluster',
    verified: (passed: number, total: number) => `verified: ${passed}/${total} checks passed`,
    nothingToChange: (why: string) => `nothing to change: ${why}`,
    stepLine: (title: string, passed: number, total: number, seconds: string, skipped: number) =>
      `${title}: ${passed}/${total} checks passed${skipped ? `, ${skipped} skipped` : ''} (${seconds})`,
    undoWill: 'Undo will:',
    stoppedBeforeUndo: (id: string) => `stopped before undoing ${id} at the operator's request`,
    undoing: (id: string) => `↩ undoing ${id}`,
    undone: 'undone',
    undoFailedNote: (interrupted: boolean): string => (interrupted ? 'undo interrupted' : 'undo failed'),
    interruptedUndoing: (id: string) => `interrupted while undoing ${id}`,
    undoFailed: (id: string, message: string) => `undoing ${id} failed: ${message}`,
    interruptedVerifying: (id: string) => `interrupted while verifying ${id}`,
    verificationCompletes: (id: string) => `${id}: verification completes`,
    everyCheckEvaluated: 'every check evaluated',
    drifts: (count: number) => `${count} drift(s)`,
    holds: 'holds',
    cleanupFailed: (message: string) => `⚠ cleanup failed: ${message}`,
    quitAtPrompt: 'quit at a prompt',
  },
  /** What a step says when it finds nothing to change (shown in the summary). */
  notes: {
    readOnly: 'read-only step',
    istioctlInstalled: (version: string, path: string) => `istioctl ${version} is already installed at ${path}`,
    crdsInstalled: (count: number, channel: string, version: string) =>
      `all ${count} CRDs of the ${channel} bundle are installed at ${version}`,
    istioInstalled: (version: string) => `Istio ${version} is already installed with the ambient profile`,
    gatewayAsConfigured: (gateway: string, route: string) =>
      `Gateway ${gateway} and HTTPRoute ${route} are already as configured`,
    networkPoliciesApplied: 'the NetworkPolicies are already applied as planned',
    waypointInPlace: (namespace: string, name: string, scope: string) =>
      `namespace ${namespace} is enrolled and uses the programmed waypoint ${name} (${scope})`,
    waypointScopeNamespace: 'every Service of the namespace',
    waypointScopeService: (service: string) => `Service ${service} only`,
    restarted: (times: string) => `restarted by this runbook at ${times}; every pod is enrolled`,
    identityLeftOut: 'left out with --no-identity-policies',
    identityApplied: 'the three identity policies are already applied as planned',
    l7Applied: 'the three AuthorizationPolicies and the Service label are already as planned',
    istioctlRecorded: (version: string, target: string, sha256: string) =>
      `istioctl ${version} is already installed at ${target} (sha256 ${sha256}…, as recorded)`,
    istioctlAdopted: (target: string, version: string, sha256: string) =>
      `adopted the istioctl at ${target}: byte for byte the ${version} release's (sha256 ${sha256}…)`,
    admissionLeftOut: 'left out with --no-admission-policy',
    admissionApplied: (policy: string) => `policy ${policy} and its binding are already applied`,
  },
  checks: {
    expected: 'expected',
    observed: 'observed',
    /** The lines under a check: what was expected, what the cluster showed. */
    expectedLine: (value: string) => `expected: ${value}`,
    observedLine: (value: string) => `observed: ${value}`,
    /** The heading of a drifted object's diff. */
    diffLine: 'diff (- the cluster, + the plan):',
    /** A drift of an audit, on one line. */
    drift: (step: string, name: string, expected: string, observed: string) =>
      `${step}: ${name} — expected ${expected}, observed ${observed}`,
    kubectlOnPath: 'kubectl on PATH',
    contextAnswers: (context: string) => `context ${context} answers`,
    kubernetesSupported: (istio: string) => `Kubernetes version supported by Istio ${istio}`,
    workloadFound: (role: string, kind: string) => `Gthulhu ${role} (${kind})`,
    cniEnforces: 'a CNI that enforces NetworkPolicy',
    istioctlUndone: (path: string, kept: boolean) =>
      `istioctl at ${path} ${kept ? 'left in place (there before the runbook)' : 'removed'}`,
    istioctlExecutable: (path: string) => `istioctl at ${path} is executable`,
    istioctlVersion: 'istioctl version --remote=false',
    crdsDeleted: 'Gateway API CRDs the runbook installed are deleted',
    crdsLeft: 'Gateway API CRDs that were there before are left',
    crdEstablished: (name: string) => `CRD ${name} Established`,
    istiodUndone: (namespace: string, kept: boolean) =>
      `istiod in ${namespace} ${kept ? 'left in place (installed before the runbook)' : 'removed'}`,
    componentReady: (kind: string, ref: string) => `${kind} ${ref} ready`,
    /** A Gateway API condition on an object: "Gateway default/gthulhu-gw Programmed". */
    condition: (ref: string, condition: string) => `${ref} ${condition}`,
    routeAccepted: (ref: string, gateway: string) => `${ref} Accepted by ${gateway}`,
    nodePort: (service: string, port: number) => `Service ${service} NodePort of listener port ${port}`,
    gatewayEnvoyReady: (deployment: string) => `Deployment ${deployment} (the Gateway's Envoy) ready`,
    nodeAddress: 'node address for the NodePort',
    healthThrough: (url: string, via: string) => `GET ${url} from this machine, through the ${via}`,
    health: (url: string) => `GET ${url} from this machine`,
    namespaceLabel: (namespace: string, label: string) => `namespace ${namespace} has ${label}`,
    waypointProgrammed: (ref: string) => `waypoint Gateway ${ref} is Programmed`,
    waypointStatus: (namespace: string, name: string) =>
      `istioctl waypoint status -n ${namespace} reports ${name} healthy`,
    rolloutComplete: (ref: string) => `rollout of ${ref} complete`,
    podsReady: (ref: string) => `pods of ${ref} Ready`,
    podsEnrolled: (ref: string) => `pods of ${ref} enrolled (HBONE in istioctl ztunnel-config workloads)`,
    podsOutOfAmbient: (ref: string, stillAmbient: boolean) =>
      `pods of ${ref} ${stillAmbient ? 'enrolled (the namespace is still ambient)' : 'out of ambient'}`,
    l4AfterRestart: 'L4 reachability after the restart',
    policyApplied: (kind: string, ref: string) => `${kind} ${ref} applied as planned`,
    ztunnelTakenUp: (name: string) => `${name} translated for ztunnel by istiod`,
    waypointAccepted: (name: string) => `${name} accepted by the waypoint`,
    ztunnelWarning: (name: string) => `${name}: istiod's ZtunnelAccepted warning`,
    selectsGatewayPods: (name: string) => `${name} selects the gateway's pods`,
    ingressPath: (label: string, service: string, namespace: string) =>
      `ingress path to the manager (${label} on Service ${service}, else on namespace ${namespace})`,
    waypointAttached: (name: string, waypoint: string) => `${name} attached to the waypoint ${waypoint}`,
    admitsManager: (policy: string, port: number, hbone: number) =>
      `${policy} admits the manager on ${port} and on ${hbone} (HBONE)`,
    admitsKubelet: (policy: string, source: string, port: number) =>
      `${policy} admits ambient's kubelet probes (${source}) on ${port}`,
    objectRestored: (ref: string) => `${ref} back as it was before the runbook (spec, labels, annotations)`,
    objectUndone: (ref: string, kept: boolean) => `${ref} ${kept ? "left in place (not the runbook's)" : 'deleted'}`,
    labelRestored: (key: string, ref: string) => `label ${key} on ${ref} back to its value before the runbook`,
    apiServerEndpoints: "the API server's endpoints (Endpoints default/kubernetes)",
    istioctlVerified: (path: string) => `istioctl at ${path} is the binary the runbook verified`,
    trustDomain: (configMap: string) => `the mesh's trust domain (meshConfig.trustDomain in ${configMap})`,
    egressAdmitsApiServer: (policy: string) => `${policy} admits the API server's current endpoints`,
    noWiderNetworkPolicy: (target: string, policy: string) =>
      `no other NetworkPolicy admits more to ${target} than ${policy}`,
    /** What a foreign AuthorizationPolicy must not widen: a workload's pods, the manager Service, the gateway. */
    podsOf: (workload: string) => `${workload}'s pods`,
    managerServiceThroughWaypoint: (service: string) => `the manager Service ${service} (through the waypoint)`,
    ingressGateway: (gateway: string) => `the ingress gateway ${gateway}`,
    noWiderAllow: (what: string) => `no other ALLOW AuthorizationPolicy admits more to ${what}`,
    otherPoliciesApply: (what: string) => `other AuthorizationPolicies that apply to ${what}`,
    noPlaintext: (what: string) => `no PeerAuthentication lets plaintext reach ${what}`,
    serviceLabel: (ref: string, label: string) => `Service ${ref} has ${label}`,
    namespaceNotBinding: (namespace: string, waypoint: string) =>
      `namespace ${namespace} does not bind every Service to ${waypoint}`,
    hostNetworkPods: (nodes: string[]) =>
      `hostNetwork pods on the nodes of the manager, MongoDB and the decision makers (${nodes.join(', ') || 'none found'}): these can reach them directly`,
    /** A chart's or istiod's workload whose next pod is sent through admission as its controller. */
    controllerStillCreates: (kind: string, name: string, owner: 'the chart' | 'istiod') =>
      `${kind} ${name} (${owner}'s) can still make its pods`,
    /** A check's hint for a path expected open: why (`because`, by the path's id), and the step that would close it. */
    pathOpen: (because: string, _path: string, until?: { step: string; layer: string }) =>
      `this path is open: ${because}${until ? `; the ${until.step} step closes it (${until.layer})` : ''}`,
    /** A path open by design or by the operator's choice, seen open: why, and what would close it. */
    pathOpenForGood: (because: string, _path: string, wouldClose: string) =>
      `this path is open: ${because}; what would close it: ${wouldClose}`,
    /**
     * A probed path that only admission closes (`applied`) or will close once admission-policy runs: the runbook's
     * probe is exempt there and met only the layers behind it.
     */
    behindAdmission: (hint: string, applied: boolean) =>
      `${hint}. ${applied ? 'Admission still refuses' : 'Once admission-policy runs, admission refuses'} an insider's own object for this path; the runbook's probe is exempt there, so it tried only the layers behind admission`,
    /** A path this runbook leaves open that something else refused: no protection is claimed for it. */
    pathRefusedAnyway: (because: string, _path: string) =>
      `this runbook leaves this path open (${because}), yet it was refused: by something the runbook does not set up, so no protection is claimed for it`,
    /** A probe pod's path; `path` is the threat model's id, when the probe tries one. */
    probe: (source: string, destination: string, expectation: string, _path?: string) =>
      `${source} → ${destination}: ${expectation}`,
    /** A path of the threat model by its source, target and way (an attempt at admission, a path not tried). */
    pathName: (from: string, target: string, via: string, _path: string) => `${from} → ${target} via ${via}`,
    /** A request from this machine through the gateway as a path's client. */
    gatewayRequest: (url: string, who: string, userAgent: string, status: number, _path?: string) =>
      `gateway ${url} with ${who} (${userAgent}): HTTP ${status}`,
    /** What a probe expects, in a check's name: answers, refused, HTTP 200. */
    expectation: (kind: 'answered' | 'blocked' | 'status', status?: number): string =>
      kind === 'answered' ? 'answers' : kind === 'blocked' ? 'refused' : `HTTP ${status}`,
    /** What a probe saw, under its check: the kind, with the detail (what the tool printed) kept as it is. */
    observation: (kind: ObservationKind, detail?: string, status?: number): string =>
      kind === 'answered'
        ? 'answers'
        : kind === 'status'
          ? `HTTP ${status}`
          : `${kind === 'blocked' ? 'refused' : kind === 'skipped' ? 'not probed' : kind} (${detail})`,
    /** A probe's observation and the pod that made it. */
    observedBy: (observation: string, pod: string) => `${observation} [pod ${pod}]`,
    nothingListens: 'connection refused: nothing listens there',
    nothingReachedListener: 'nothing reached the listener',
    imageCannot: (tool: 'mongosh' | 'curl' | 'nc', output: string) =>
      `the probe image cannot ${tool === 'nc' ? 'listen with nc' : `run ${tool}`}: ${output}`,
  },
  /** What a step says while it works (shown with -v, when it fails, and in the report); its warnings always show. */
  progress: {
    probesRetry: (count: number, seconds: number, attempt: number, attempts: number) =>
      `${count} probe(s) not as expected yet; trying again in ${seconds}s (attempt ${attempt} of ${attempts}), as policies take a moment to be enforced`,
    probesStarted: (count: number, namespaces: string, names: string) =>
      `started ${count} probe pod(s) in ${namespaces}: ${names}`,
    probesNotDeleted: (selector: string, error: string) => `deleting the probe pods (${selector}) failed: ${error}`,
    labelRemoved: (key: string, ref: string) => `removed label ${key} from ${ref}`,
    labelPutBack: (key: string, value: string, ref: string) => `put label ${key}=${value} back on ${ref}`,
    leftNotOurs: (ref: string) => `left ${ref}: it existed before the runbook and is not the runbook's`,
    leftAsBefore: (ref: string) => `left ${ref}: it is as it was before the runbook`,
    putBack: (ref: string) => `put ${ref} back as it was before the runbook took it over`,
    deleted: (ref: string) => `deleted ${ref}`,
    stillAmbient: (namespace: string, label: string) =>
      `namespace ${namespace} is still labelled ${label}=ambient, so its pods stay enrolled; undoing the waypoint step takes them out`,
    restartedOutOfAmbient: (refs: string) => `restarted ${refs} out of ambient; waiting for the rollouts`,
    differsFromPlan: (ref: string, fields: string) =>
      `${ref} differs from the plan (${fields}); applying the planned version`,
    applied: (refs: string[]) => `applied ${refs.join(', ')}`,
    /** What a step did, item by item (labels set or removed, objects applied). */
    appliedChanges: (changes: string[]) => `applied: ${changes.join('; ')}`,
    /** A line a tool printed (istioctl's own words), shown as it is. */
    toolSaid: (tool: string, line: string) => `${tool}: ${line}`,
    downloading: (url: string) => `downloading ${url}`,
    checksumVerified: (sha256: string, bytes: number) => `checksum verified (sha256 ${sha256}…, ${bytes} bytes)`,
    istioctlInstalled: (target: string, sha256: string) => `installed ${target} (sha256 ${sha256}…)`,
    istioctlLeft: (target: string) => `left ${target}: it was there before the runbook`,
    istioctlGone: (target: string) => `${target} is already gone`,
    istioctlRemoved: (target: string) => `removed ${target}`,
    applyingBundle: (channel: string, version: string, reason: string) =>
      `applying the ${channel} bundle ${version} (${reason})`,
    /** Why the bundle is applied: how many of its CRDs are missing, at another version, or from the standard channel. */
    bundleDiffers: (count: number, missing: number, other: number, versions: string, standard: number) =>
      `of ${count} CRDs: ${[
        missing ? `${missing} missing` : '',
        other ? `${other} at another version (${versions})` : '',
        standard ? `${standard} from the standard channel` : '',
      ]
        .filter(Boolean)
        .join(', ')}`,
    replacingAsConfirmed: 'replacing newer CRDs, as confirmed',
    crdsKept: (count: number, bundle: string | undefined) =>
      `left ${count} Gateway API CRD(s) that were there before the runbook (bundle ${bundle ?? 'unknown'})`,
    crdsDeleted: (count: number, names: string) => `deleted ${count} Gateway API CRD(s): ${names}`,
    /** Why Istio is installed, then the precheck. */
    istioPrecheck: (reason: string) => `${reason}; running istioctl x precheck`,
    noIstiod: (namespace: string) => `no istiod in ${namespace}`,
    ambientIncomplete: (version: string, absent: string[]) =>
      `Istio ${version} ambient is incomplete: ${absent.join(', ')} missing`,
    componentsRun: (components: { name: string; version?: string }[]) =>
      components.map((c) => `${c.name} runs ${c.version ?? 'an unknown version'}`).join(', '),
    installingIstio: (version: string) => `installing Istio ${version} with the ambient profile`,
    istioLeft: (namespace: string) => `left Istio in ${namespace}: it was installed before the runbook`,
    istioUninstalled: 'uninstalled Istio (istioctl uninstall --purge)',
    namespaceDeleted: (namespace: string) => `deleted namespace ${namespace}`,
    healthRequest: (url: string, via: string, userAgent: string) =>
      `GET ${url} (through the ${via}) with User-Agent "${userAgent}"`,
    /** How the gateway is reached: 'load balancer' or 'NodePort'. */
    via: (via: string) => via,
    namespaceLabelled: (namespace: string, label: string) => `labelled namespace ${namespace} ${label}`,
    serviceLabelled: (ref: string, label: string) => `labelled Service ${ref} ${label}`,
    waypointApplied: (ref: string) => `applied waypoint ${ref}`,
    namespaceBindingRemoved: (label: string, namespace: string) =>
      `removed ${label} from namespace ${namespace}: only the manager Service uses the waypoint now (undo puts the label back)`,
    restarting: (refs: string, timeout: number) =>
      `restarted ${refs}; waiting for the rollouts (up to ${timeout}s each)`,
    rolloutsComplete: (refs: string) => `rollouts complete: ${refs}`,
    insiderRbac: (applied: string[], user: string) =>
      `applied ${applied.join(', ')}: what ${user} may create, so its attempts reach admission`,
    admissionApplied: (objects: string[], user: string) =>
      `applied ${objects.join(', ')}; exempt for its own probes: ${user}`,
    /** Where browser traffic goes after the l7 step (logged, and the plan's reason for the Service label). */
    ingressMode: (viaWaypoint: boolean, label: string, gatewayName: string) =>
      viaWaypoint
        ? `ingress passes the manager's waypoint (Service labelled ${label}=true): the manager policy applies to browser traffic too, and admits the gateway's identity (${gatewayName}-istio)`
        : `ingress skips the manager's waypoint: browser traffic is filtered by the gateway's User-Agent policy only; the manager policy governs in-mesh callers`,
    serviceLabelSet: (label: string, service: string, namespaceSaysTrue?: string) =>
      `label ${label} on Service ${service}${namespaceSaysTrue ? ` (namespace ${namespaceSaysTrue} says true)` : ''}`,
    serviceLabelRemoved: (label: string, service: string) => `removed label ${label} from Service ${service}`,
  },
  /** A step's warnings while it works (always shown). */
  warnings: {
    waypointRebound: (namespace: string, bound: string, name: string) =>
      `namespace ${namespace} named waypoint ${bound}; it will use ${name} instead`,
    namespaceWideDefault:
      "namespace default is bound to the waypoint as a whole, kubernetes.default.svc included: enrolled pods' API-server traffic now passes the waypoint (istio/istio#50325), so the manager depends on it being up",
    otherServicesBound: (namespace: string, bound: string) =>
      `namespace ${namespace} binds its other Services to waypoint ${bound}; left as it is (the manager Service's own label takes precedence)`,
    replacingCrds: (versions: string, wanted: string) => `replacing Gateway API CRDs at ${versions} with ${wanted}`,
    replacingIstioctl: (installed: string | undefined, target: string, version: string) =>
      `replacing istioctl ${installed ?? '(no version)'} at ${target}, which the runbook installed, with ${version}`,
    istioctlChanged: (target: string, sha256: string) =>
      `left ${target}: it is no longer the binary the runbook installed (sha256 ${sha256}…)`,
    restartNotEnrolled: (namespace: string, label: string) =>
      `namespace ${namespace} is not enrolled in ambient (${label} is not "ambient"): restarting will not enrol the pods; run the waypoint step first`,
  },
  /** The reachability matrix a path step prints with -v or when it fails: sources as rows, destinations as columns. */
  matrix: {
    heading: (enrolled?: boolean) =>
      `Who reaches what${enrolled === undefined ? '' : ` (namespace ${enrolled ? 'enrolled' : 'not yet enrolled'} in ambient)`}, each cell expected / observed:`,
    corner: 'source ↓  destination →',
    legend: '(each cell: expected / observed)',
    legendDisclosed:
      '(each cell: expected / observed; ⚠ an attack path this runbook leaves open, seen open: see its check)',
    /** What a probe saw, in one word or two (the detail is in its check). */
    observation: (kind: ObservationKind, status?: number): string =>
      kind === 'answered' ? 'answers' : kind === 'status' ? `HTTP ${status}` : kind === 'blocked' ? 'refused' : kind,
    /** A cell: the mark (✔ ✖ ⚠), what the probe expected and what it saw. */
    cell: (mark: string, expected: string, observed: string) => `${mark} ${expected} / ${observed}`,
    /** A probe's source or destination as a row or column heading (the threat model names them in English). */
    place: (name: string) => name,
  },
  ledger: {
    title: 'What stays open (docs/threat-model.md has the whole model):',
    open: '○ open  ',
    partly: '◐ partly',
    path: (id: string, from: string, target: string) => `${id}: ${from} → ${target}`,
    /** Why a path (by its id) is open. */
    why: (why: string, _id: string) => `why: ${why}`,
    wouldClose: (what: string, _id: string) => `would close: ${what}`,
    nothing: '  nothing the threat model lists',
    closed: (ids: string) => `Closed and tried: ${ids || 'none yet'}`,
    /** Why a path is open when the step that closes it has not been applied, and what closes it. */
    notApplied: (step: string) => `${step} has not been applied`,
    stepCloses: (step: string, layer: string) => `the ${step} step (${layer})`,
  },
  summary: {
    title: 'Summary:',
    checks: (passed: number, total: number) => `${passed}/${total} checks`,
    note: (note: string) => `(${note})`,
    notRun: 'not run',
    status: {
      pending: 'pending',
      running: 'running',
      done: 'done',
      failed: 'failed',
      skipped: 'skipped',
      interrupted: 'interrupted',
      accepted: 'accepted',
      undone: 'undone',
      drifted: 'drifted',
    } satisfies Record<Status, string>,
    notInOnly: 'not in --only',
    beforeFrom: (from: string) => `before --from ${from}`,
    namedInSkip: 'named in --skip',
    earlierRun: (status: string) => `${status} in an earlier run`,
  },
  /** A plan's reasons and notes (the preview before a step, --dry-run); commands, manifests and values stay as they are. */
  plan: {
    readOnly: 'read-only: nothing in the cluster changes',
    clientVersion: 'only when the next command prints no client version',
    serverVersion: "kubectl's version; the context answers, and its version is in Istio's support range",
    findWorkload: (role: string, selector: string) => `find the ${role} by pod labels ${selector}`,
    whichCni: 'which CNI runs',
    apiServerAddresses: "the API server's addresses, which the manager's egress policy must admit",
    istioctlDownload:
      "skipped when the binary the runbook recorded there is still in place; a binary it did not install is used only if it is identical to the release's",
    mustReport: (version: string) => `must report ${version}`,
    /** formatPlan's words for a download. */
    verifyAgainst: (checksumUrl: string) => `verify against ${checksumUrl}`,
    inMemory: 'memory (piped to kubectl, never written to disk)',
    bundleDownload: 'skipped when every CRD of the bundle is installed at this version',
    compareAnnotation: (annotation: string, version: string) =>
      `compare their ${annotation} annotation with ${version}`,
    bundleOnStdin: (channel: string, version: string) => `the ${channel} bundle ${version} on stdin`,
    waitEstablished: 'then wait until every CRD of the bundle is Established',
    skipOrStopIstio: (version: string) =>
      `skip when Istio ${version} ambient is already installed; stop when another Istio is`,
    stopOnInjection: 'stop when the namespace is labelled for sidecar injection',
    waitReady: (refs: string, namespace: string) => `then wait until ${refs} in ${namespace} are fully ready`,
    gatewayServiceType: (nodePort: boolean): string =>
      nodePort ? 'Istio makes its Service a NodePort' : 'Istio makes its Service a LoadBalancer; its NodePort is used',
    removedFields: (annotation: string) =>
      `a field the plan does not set (an earlier run's ${annotation}, someone's edit) is removed from both objects with a JSON patch that first tests its value`,
    gatewayConditions: (port: number) =>
      `Gateway Accepted and Programmed (or AddressNotAssigned with NodePorts); route Accepted and ResolvedRefs; the NodePort of listener port ${port}; the Gateway's Envoy Deployment ready`,
    nodeAddress: "a Ready node's ExternalIP, else its InternalIP",
    healthMustAnswer: (path: string, userAgent: string) =>
      `GET http://<node>:<nodePort>${path} from this machine with User-Agent "${userAgent}" must answer 200`,
    onlyManagerToMongo: 'only the manager reaches MongoDB',
    managerEgress:
      "the manager connects only to MongoDB, its namespace's decision makers, cluster DNS and the API server",
    onlyManagerToDecisionMaker: 'only the manager reaches the decision maker',
    kubeletNotAdmitted:
      'kubelet probe source 169.254.7.127 NOT admitted (--no-allow-kubelet-probes): MongoDB and the decision maker may turn unready after ambient enrolment',
    egressAwaitsEndpoints: (policy: string) =>
      `${policy} (the manager may connect only to MongoDB, its namespace's decision makers, cluster DNS and the API server) is planned once preflight has read the API server's endpoints (Endpoints default/kubernetes): without them it would cut the manager off from the API server`,
    egressNotLimited:
      'manager egress NOT limited (--no-manager-egress-policy): the manager keeps sending intents to any pod labelled app=decisionmaker in any namespace',
    verifyL4: (namespace: string, mongoImage: string, healthPath: string, httpImage: string) =>
      `verify: probe pods in ${namespace}, deleted afterwards — the manager's stand-in gets MongoDB's hello answered (${mongoImage}, mongosh) and HTTP 200 from the scheduler sidecar's ${healthPath} (${httpImage}, curl); a pod without its labels, outside the mesh, is refused by both; a listener labelled app=decisionmaker in a namespace of its own (deleted afterwards) receives nothing from the manager`,
    namespaceBinding:
      "every Service of the namespace uses this waypoint (the guide's form): a Service someone else creates there passes it too",
    serviceBinding: 'only the manager Service uses this waypoint',
    namespaceLabelRemoved: (namespace: string, label: string) =>
      `when namespace ${namespace} carries ${label} (the guide's namespace-wide binding), that label is removed: it would put every Service of the namespace on the waypoint`,
    ztunnelTakesOver: 'ztunnel takes over the pods of this namespace',
    waypointFor: (overwriteIn?: string) =>
      `a waypoint (GatewayClass istio-waypoint) for L7 policies; waits until it is programmed${overwriteIn ? ` (with --overwrite when namespace ${overwriteIn} already names a waypoint)` : ''}`,
    verifyWaypoint: (namespace: string, bound: string, waypoint: string) =>
      `verify: namespace ${namespace} enrolled, ${bound} bound to ${waypoint}, Gateway ${waypoint} Programmed, istioctl waypoint status`,
    boundNamespace: (namespace: string) => `namespace ${namespace}`,
    boundService: (service: string) => `Service ${service}`,
    concurrently: 'the three run concurrently',
    everyPodHbone: (namespace: string) => `every pod of ${namespace} shows protocol HBONE`,
    verifyRestart:
      'verify: the L4 policies (incl. 15008 for HBONE) and the reachability matrix again, with probe pods that are deleted afterwards',
    identityLeftOut:
      'left out (--no-identity-policies): pod-IP, out-of-mesh and copied-label callers stay able to reach the manager, MongoDB and the decision maker; verify reports those paths',
    ztunnelAdmitsOnly: (principals: string) => `ztunnel admits only ${principals}`,
    verifyIdentity: (namespace: string) =>
      `verify: probe pods in ${namespace} try the bypasses (outside the mesh → manager Service; enrolled, ServiceAccount default → manager pod IP and a Service the probe creates for the manager's pods; manager's labels, ServiceAccount default → MongoDB and the decision maker; hostNetwork on another node → manager pod IP), each must get no answer; a hostNetwork pod on the manager's node shows what stays open; the manager's identity must still reach both backends, an allowed caller the manager through the waypoint, and a browser the manager through the gateway; the hostNetwork pods on the protected pods' nodes are listed`,
    insiderRole: (user: string, namespace: string) =>
      `what ${user} (no credentials: verification acts as it with kubectl --as) may create in ${namespace}, so its attempts reach admission`,
    insiderBinding: (user: string) => `grants it to ${user}`,
    admissionLeftOut:
      "left out (--no-admission-policy): anyone who may create pods, Deployments, Jobs or CronJobs in the namespace can still wear the manager's, the scheduler's, the waypoint's or the gateway's identity; verify reports those paths as open",
    exemptUserLater: (placeholder: string) =>
      `the exempt user is read with kubectl auth whoami when the step runs (shown here as ${placeholder})`,
    onlyOwners: (owners: string) => `only ${owners} (and their controllers' pods) may wear these identities`,
    bindingDenies: (namespace: string) => `applies the policy in namespace ${namespace} and denies`,
    verifyAdmission: (serviceAccount: string) =>
      `verify: as user gthulhu-runbook-attacker, kubectl create --dry-run=server of a Pod, a Deployment and a CronJob naming ${serviceAccount}, pods naming the scheduler's and the waypoint's ServiceAccounts, a pod with the manager's labels and a Service selecting the manager's pods must each be refused; a copy of each workload's pod sent as its own controller must be admitted; the runbook's impostor probes still run`,
    mayCallManager: (principals: string) => `only ${principals} may call the manager`,
    waypointPolicy: (waypoint: string, principals: string) =>
      `whatever Service someone binds to waypoint ${waypoint}, only ${principals} pass it`,
    admitsAgents: (agents: string) => `admits ${agents}`,
    namespaceDecides: (label: string, namespace: string) =>
      ` (${label}=false instead when namespace ${namespace} carries ${label}=true: the namespace decides for a Service without the label)`,
    verifyL7: (httpImage: string) =>
      `verify: curl probe pods (${httpImage}) as the allowed ServiceAccount (expect 200) and as "default" (expect 403), also through a Service the probe creates for the manager's pods and binds to the waypoint (expect 403; deleted afterwards); the NodePort with an allowed and with curl's default User-Agent`,
    /** A User-Agent pattern, as the plan and the checks describe it. */
    userAgent: (kind: 'presence' | 'exact' | 'prefix' | 'suffix' | 'unusable', value: string): string =>
      kind === 'presence'
        ? 'any request that sends a User-Agent header'
        : kind === 'exact'
          ? `exactly ${value}`
          : kind === 'prefix'
            ? `User-Agents starting ${value}`
            : kind === 'suffix'
              ? `User-Agents ending ${value}`
              : value,
    unusable: (pattern: string, why: string) => `${pattern} (unusable: ${why})`,
    undoLeave: (ref: string) => `leave ${ref}: it existed before the runbook and is not the runbook's`,
    undoPutBack: (ref: string) => `put ${ref} back exactly as it was before the runbook took it over (kubectl replace)`,
    nothingToUndo: 'nothing to undo: this step only reads the cluster',
  },
  /** What to do about a failed check of the paths and the NetworkPolicies (shown under it); values stay as they are. */
  hints: {
    policyChanged: 'someone changed or deleted it; run the l4-policies step again to restore it',
    egressChanged:
      'someone changed or deleted it; run the l4-policies step again. Without it the manager sends intents to any pod labelled app=decisionmaker in any namespace',
    apiServerChanged:
      "the API server's addresses changed (or could not be read): the manager can no longer list decision makers. Run preflight and l4-policies again so the policy names the current ones",
    policiesAddUp: (names: string, namespace: string) =>
      `NetworkPolicies add up: a pod selected by several is reachable from anything any of them admits. Remove or narrow ${names || 'it'} (kubectl describe networkpolicy -n ${namespace}), or keep it and accept that only the identity policy refuses these callers`,
    hbone: (policy: string, title: string, enrolled: boolean, port: number) =>
      `${enrolled ? 'the namespace is enrolled in ambient, so' : 'once the namespace is enrolled in ambient,'} the manager's traffic reaches the ${title} inside ztunnel's HBONE tunnel on port ${port}, not on the app port; ` +
      `NetworkPolicy ${policy} must admit ${port} from the manager, or the tunnel is dropped and the manager's connections are reset right after its own ztunnel accepted them. Run l4-policies again to apply the guide's policy with ${port}.`,
    kubeletTrap: (title: string, policy: string, sources: string) =>
      `ambient rewrites kubelet health probes of enrolled pods to come from ${sources}; if NetworkPolicy ${policy} does not admit that source, ` +
      `the ${title}'s readiness probe fails after enrolment and the pod turns unready (the kubelet-probe trap). Keep --allow-kubelet-probes (the default) unless your CNI exempts kubelet traffic.`,
    otherPathsProven: 'only the other paths are proven',
    notTried: (reason: string) => `not tried: ${reason}`,
    noGatewayAddress: 'no gateway address recorded: run the gateway step first',
    gatewayAddressGone: (missing: string) => `the gateway has no address now: ${missing}`,
    /** What an attack path is expected to meet: answers, refused, open. */
    verdict: (verdict: 'answered' | 'refused' | 'open'): string => (verdict === 'answered' ? 'answers' : verdict),
    admitted: (detail: string) => `admitted: ${detail}`,
    refusedAtAdmission: (kind: string, user: string) =>
      `refused at admission (kubectl create ${kind} --dry-run=server --as=${user})`,
    admittedOpen: 'admitted (the path is open)',
    attemptFailed: (detail: string) => `the attempt could not be made: ${detail}`,
    apiServerAdmitted:
      'the API server admitted it: check that the ValidatingAdmissionPolicy and its binding exist (kubectl get validatingadmissionpolicies,validatingadmissionpolicybindings -l app.kubernetes.io/managed-by=gthulhu-runbook) and that the API server serves admissionregistration.k8s.io/v1 (Kubernetes 1.30 or later)',
    expectedAdmitted: (detail: string) =>
      `expected the API server to admit this while the path is open; it answered: ${detail}`,
    probeFailed: (detail: string) => `the probe itself failed: ${detail}`,
    allowRejected: (principal: string, namespace: string) =>
      `the manager's ALLOW policy rejected ${principal}: an ALLOW policy denies every request none of its rules match. Compare with: kubectl get authorizationpolicy -n ${namespace} -o yaml (principals, ports), then run l7-policies again`,
    waypointIdentity: (principal: string) =>
      `the manager's identity policy must admit the waypoint's identity ${principal}; if you named another waypoint, run identity-policies with the same --waypoint-name. If the mesh's trust domain changed (meshConfig.trustDomain), run identity-policies again so its principals use the new one`,
    noAnswerFromManager: (kind: string, waypoint: string, namespace: string) =>
      `the request did not get an answer from the manager (${kind}); check the waypoint ${waypoint} pods and the manager pods in ${namespace}`,
    unlistedIdentityAnswered: (binding: string) =>
      `the manager answered an identity the policy does not list: a policy that targets a Service is enforced only by a bound waypoint — check that ${binding} (waypoint step) and that the manager policy reports WaypointAccepted=True`,
    managerServiceHas: (label: string) => `the manager Service has ${label}`,
    namespaceHas: (namespace: string, label: string) => `namespace ${namespace} has ${label}`,
    expectedWaypoint403: (kind: string) =>
      `expected the waypoint's 403 (RBAC: access denied); a different failure (${kind}) proves nothing about the policy`,
    noAnswerAtAll: (title: string, detail: string, namespace: string, selector: string, trap: string) =>
      `the ${title} did not answer at all (${detail}), so this probe proves nothing about the policy: check that its pods are Running and Ready (kubectl get pods -n ${namespace} -l ${selector}). If they turned unready after ambient enrolment, that is the kubelet-probe trap: ${trap}`,
    servesTls: (title: string, port: number) =>
      `the ${title} answered HTTP 400 to plain HTTP: it most likely serves (mutual) TLS on ${port} (Gthulhu with mtls.enabled), which preflight did not notice. The connection got through, so the NetworkPolicy holds; run preflight again so the probes expect TLS`,
    answeredStatus: (title: string, status: number, expectation: string, logs: string) =>
      `the ${title} answered HTTP ${status}, not ${expectation}: the connection got through, so the NetworkPolicy is not the cause; check the pod's health (${logs})`,
    enrolledReset: (title: string, serviceAccount: string) =>
      ` Enrolled, a reset right after connecting means the manager's ztunnel accepted the connection but its tunnel to the ${title} was dropped or denied (a NetworkPolicy, or an AuthorizationPolicy ztunnel enforces there: its identity policy must admit the manager's ServiceAccount ${serviceAccount}).`,
    shouldAdmitManager: (policy: string, selector: string, ports: string, namespace: string, more: string) =>
      `NetworkPolicy ${policy} should admit pods labelled ${selector} on ${ports}; compare it with the pods' labels (kubectl describe networkpolicy ${policy} -n ${namespace}).${more}`,
    portAnd: (port: number, hbone?: number) => `${port}${hbone ? ` and ${hbone}` : ''}`,
    noKnownCni: 'no known CNI',
    cniNotEnforcing: (cni: string, title: string, others: string) =>
      `a pod without the manager's labels connected: most likely the cluster's CNI does not enforce NetworkPolicy (preflight found: ${cni}), so the policies are stored but ignored. ` +
      `Install or enable a CNI that enforces them (Calico, Cilium, kindnet in kind ≥ 0.24).${others ? ` Also check the other NetworkPolicies that select the ${title}: ${others}.` : ''}`,
    impostorCalled:
      'the manager sent its request to a pod labelled app=decisionmaker in another namespace: it calls every such pod it finds (Gthulhu/api lists them in all namespaces)',
    impostorReached: (namespace: string) => `the manager reached a pod labelled app=decisionmaker outside ${namespace}`,
    egressIgnored: (reached: string, cni: string, policy: string) =>
      `${reached}: most likely the cluster's CNI does not enforce NetworkPolicy (preflight found: ${cni}), so its egress NetworkPolicy ${policy} is stored but ignored. Install or enable a CNI that enforces egress policies (Calico, Cilium, kindnet in kind ≥ 0.24).`,
    egressShouldAdmit: (reached: string, policy: string, namespace: string, selector: string, cni: string) =>
      `${reached}: its egress NetworkPolicy ${policy} should admit only MongoDB, this namespace's decision makers, DNS and the API server. Check that it exists and selects the manager's pods (kubectl describe networkpolicy ${policy} -n ${namespace}; pods labelled ${selector}), and that the CNI enforces egress policies (preflight found: ${cni})`,
    waypointForwarded: (principal: string, policy: string, waypoint: string, namespace: string) =>
      `the waypoint forwarded a Service that is not the manager's with its own identity ${principal}, which the manager's identity policy admits: the policy attached to the waypoint itself (${policy}, targetRefs kind Gateway ${waypoint}) must refuse every identity the manager policy does not list. Check that it exists and reports WaypointAccepted=True (kubectl get authorizationpolicies -n ${namespace}), then run l7-policies again`,
    unboundReached: (label: string) =>
      `a Service without a waypoint label reached the manager's pods: ztunnel's identity policy on the manager should have refused the caller's own identity. Check that the namespace does not carry ${label} (it would put every Service on the waypoint) and that the identity policies exist (identity-policies step)`,
    deputyOtherFailure: (expectation: string, failure: string) =>
      `expected ${expectation} for a Service someone else created; a different failure (${failure}) proves nothing about the policies`,
    identityNotRefused: (namespace: string, destination: string) =>
      `the path got an answer, so no identity policy refused it: check that the policies exist and select the pods (kubectl get authorizationpolicies -n ${namespace} -l app.kubernetes.io/managed-by=gthulhu-runbook), that the destination pods are enrolled (istioctl ztunnel-config workloads shows HBONE), and that ${destination} is covered by one`,
    gatewayViaWaypoint: (principal: string) =>
      `ingress passes the manager's waypoint, so the manager policy must admit the gateway's identity ${principal} (it is added with --ingress-via-waypoint; run l7-policies again)`,
    gatewayControl: (principal: string) =>
      `the gateway's User-Agent policy should admit this User-Agent, and the manager's identity policy the gateway's identity ${principal}; if you named another gateway, run the policy steps with the same --gateway-name`,
    gatewayAdmittedAgent: (gatewayName: string) =>
      `the gateway admitted a User-Agent its policy does not list: check that the gateway policy selects the gateway pods (gateway.networking.k8s.io/gateway-name=${gatewayName})`,
  },
  /** The fixed parts of a step's failures (exit 1) and of an undo that stops before any change. */
  failures: {
    noIstioctlPlatform: (platform: string) =>
      `Istio publishes no istioctl for ${platform}; supported: linux (amd64, arm64, armv7), osx (amd64, arm64)`,
    checksumMismatch: (url: string, actual: string, checksumUrl: string, expected: string) =>
      `checksum mismatch for ${url}: the archive hashes to ${actual}, ${checksumUrl} says ${expected}; nothing was installed`,
    noBinaryInArchive: (url: string, found: string[]) =>
      `${url} does not contain an istioctl binary (found: ${found.join(', ') || 'nothing'})`,
    downloadedVersion: (version: string | undefined, problem: string | undefined, expected: string) =>
      `the downloaded istioctl reports ${version ?? `no version (${problem})`}, expected ${expected}; nothing was installed`,
    notTheRelease: (target: string, version: string, present: string, release: string, recorded: boolean) =>
      `${target} is not the istioctl of the ${version} release (it hashes to ${present}, the release's binary to ${release})` +
      `${recorded ? ' and not the one the runbook installed there' : ''}: the runbook neither runs nor replaces a binary it cannot vouch for. ` +
      'Move it away (the runbook then installs the release) or choose another --install-dir',
    newerCrds: (versions: string, wanted: string, names: string[], newest: string) =>
      `Gateway API CRDs at ${versions} are installed, newer than --gateway-api-version ${wanted} ` +
      `(${names.join(', ')}). Replacing them may break whatever installed them. Either choose ` +
      `--gateway-api-version ${newest}, or rerun with --replace-newer-gateway-api to replace them on purpose.`,
    crdsInUse: (objects: string) =>
      `Gateway API objects still exist, and deleting the CRDs would delete them too: ${objects}. Remove them (or undo the steps that made them) first; Istio's GatewayClasses go with Istio.`,
    sidecarInjection: (namespace: string, labels: string, removeArgs: string) =>
      `namespace ${namespace} is labelled for sidecar injection (${labels}); ambient mode and sidecars ` +
      `on the same workloads conflict. Remove the label (kubectl label namespace ${namespace} ${removeArgs}) and restart the pods, then rerun.`,
    otherIstio: (version: string, namespace: string, wanted: string) =>
      `Istio ${version} is already installed in ${namespace}, not ${wanted}. The runbook does not upgrade or downgrade a running ` +
      `control plane: rerun with --istio-version ${version} to use it, or upgrade it yourself (istio.io/latest/docs/ambient/upgrade) and rerun.`,
    notAmbient: (version: string, namespace: string) =>
      `Istio ${version} is installed in ${namespace} without the ambient profile (istiod lacks PILOT_ENABLE_AMBIENT=true). Switching its profile ` +
      `changes how every meshed workload is served; do it deliberately (istioctl install --set profile=ambient) and rerun.`,
    unknownVersion: 'an unknown version',
    precheckFailed: (exitCode: number | null, findings: string, command: string) =>
      `istioctl x precheck exited ${exitCode}; nothing was installed:\n${findings || 'no output'}\n` +
      `Fix what it reports (details: ${command}), then rerun this step.`,
    stillEnrolled: (namespaces: string, label: string) =>
      `namespaces are still enrolled in ambient, and uninstalling Istio would take them out of the mesh: ${namespaces}. Remove their ${label} label (or undo the waypoint step) first.`,
    noManagerService: (ref: string, namespace: string) =>
      `the manager (${ref}) has no Service on port 8080 in ${namespace}; the HTTPRoute needs one as its backend`,
    noApiServerEndpoints:
      "cannot read the API server's endpoints (kubectl get endpoints kubernetes -n default), and the manager's egress policy without them would cut the manager off from the API server. Check that the runbook may read them, or pass --no-manager-egress-policy; nothing was applied",
    noNamespace: (namespace: string) => `namespace ${namespace} does not exist; check --namespace`,
    foreignWaypoint: (ref: string, gatewayClass: string | undefined, name: string, namespace: string) =>
      `Gateway ${ref} already exists with gatewayClassName ${gatewayClass ?? '(none)'}, so it is not a waypoint this runbook may manage. ` +
      `Choose another name with --waypoint-name, or remove that Gateway yourself (kubectl get gateway ${name} -n ${namespace} -o yaml), then rerun.`,
    noManagerServiceForWaypoint: (ref: string) =>
      `Service ${ref} (the manager's) does not exist; run preflight again, or check --release`,
    workloadsMissing: (refs: string[], namespace: string) =>
      `${refs.join(', ')} not found in ${namespace}; run preflight again (kubectl get ${refs.join(' ')} -n ${namespace})`,
    rolloutIncomplete: (timeout: number, reasons: string[]) =>
      `rollout did not complete within ${timeout}s:\n  ${reasons.join('\n  ')}`,
    rolloutDidNotComplete: 'rollout did not complete',
    noWhoami:
      "kubectl auth whoami named no user, so the admission policy could not exempt the runbook's own probes; check that the cluster serves authentication.k8s.io/v1 SelfSubjectReview (Kubernetes 1.28 or later)",
    undoBlocked: (id: string, reason: string) => `${id} was not undone: ${reason}`,
    downloadTimedOut: (url: string) => `download of ${url} timed out`,
    cannotDownload: (url: string, why: string) => `cannot download ${url}: ${why}`,
    downloadCutShort: (url: string, why: string) => `download of ${url} was cut short: ${why}`,
    receivedOf: (bytes: number, expected: number) => `received ${bytes} of ${expected} bytes`,
    cutShortAfter: (url: string, bytes: number, expected: number | undefined, why: string) =>
      `download of ${url} was cut short after ${bytes} bytes${expected !== undefined ? ` of ${expected}` : ''}: ${why}`,
    cannotWriteDownload: (url: string, destination: string, code: string, why: string) =>
      `cannot write the download of ${url} to ${destination}: ${code} (${why})`,
    noDigest: (url: string, got: string) => `${url} does not hold a SHA-256 digest (got ${got})`,
    unverifiedIstioctl: (binary: string) =>
      `refusing to run ${binary}: it is not an istioctl this runbook verified; run the istioctl step (--only istioctl) to install a checksum-verified one`,
    verifiedIstioctlMissing: (binary: string, code: string | undefined) =>
      `the istioctl this runbook verified is not at ${binary} (${code}) on this machine; run --only istioctl to install it here`,
    istioctlChanged: (binary: string, actual: string, expected: string) =>
      `refusing to run ${binary}: it changed since the runbook verified it (sha256 ${actual}, recorded ${expected}); find out who changed it, then move it away and run --only istioctl to install the verified release again`,
    noVerifiedIstioctl:
      'the record names no istioctl verified by its SHA-256 (an older record, or the istioctl step has not run): run --only istioctl first',
    rolloutsIncomplete: (timeout: number, refs: string, command: string) =>
      `rollout did not complete within ${timeout}s: ${refs} (${command})`,
    probesStuck: (seconds: number, stuck: string[], namespace: string, images: string) =>
      `probe pods did not finish within ${seconds}s, so the policies could not be verified:\n  ${stuck.join('\n  ')}\n` +
      `check that pods can be scheduled in ${namespace} and that the images ${images} can be pulled (--probe-image, --http-probe-image, --timeout)`,
    podDisappeared: 'disappeared',
  },
  /** What --render says (the manifests written for review or GitOps). */
  render: {
    written: (count: number, dir: string, files: string[]) =>
      `Rendered ${count} manifest(s) and kustomization.yaml into ${dir}:\n${files.map((f) => `  ${f}`).join('\n')}`,
    commandsToo:
      'Steps also run commands (istioctl install, waypoint apply, rollout restart); see --dry-run for the full plan.',
  },
  /** The fixed parts of the usage errors a run can meet after its language is known (exit 2). */
  errors: {
    yesNeedsContext: (contexts: string) =>
      `--yes needs --context: name the cluster to change; contexts in the kubeconfig: ${contexts || 'none'}`,
    noContexts: 'the kubeconfig has no contexts; pass --kubeconfig',
    contextNamespace: (context: string, problem: string) =>
      `the namespace of kube context ${context}: ${problem}; pass --namespace`,
    verifyNeedsContext: '--verify without a terminal needs --context: name the cluster to audit',
    noTerminal:
      'no terminal to ask questions on (stdin/stdout is not a TTY, or CI is set): pass --yes and --context to run unattended',
    jsonNeedsYes: '--output json is for unattended runs: add --yes and --context',
    serverDryRunNeedsContext:
      '--dry-run=server needs a cluster: pass --context (the kubeconfig has no current context)',
    nothingToResume: 'nothing to resume: every selected step is already done (use --from <step> to run steps again)',
    noStepSelected: 'the flags select no step to run',
    onlyNamesNoStep: (valid: string[]) => `--only: no step named; valid: ${valid.join(', ')}`,
    needsStep: (id: string, needed: string) =>
      `step ${id} needs step ${needed} (done in this context, or selected to run first); add ${needed} to --only, or start with --from ${needed}`,
    nothingToRollBack: (id: string, status: string, context: string, undoable: string) =>
      `--rollback ${id}: that step is ${status} in context ${context}, so there is nothing of it to undo; steps that can be rolled back here: ${undoable || 'none'}`,
    nothingToUninstall: (context: string) =>
      `--uninstall: no step of this runbook has changed anything in context ${context} (per its state file); nothing to undo`,
    noFleetRecord: (where: string, contexts: string) =>
      `--all-contexts: no context of the kubeconfig has a record of this runbook (in Gthulhu's namespace, or a local copy in ${where}) (contexts: ${contexts || 'none'}); run the runbook first`,
    nothingToAudit: (context: string) =>
      `--verify: no step is done in context ${context} (per the runbook's record in Gthulhu's namespace, or its local copy when there is none), so there is nothing to audit; run the runbook first, or pass the --namespace and --release it ran with`,
    /** What is in the way of a path the runbook writes on this machine (lib/config/local-dir.ts). */
    localPath: ({ at, kind, code }: PathProblem) =>
      kind === 'not-a-directory'
        ? `${at} is not a directory`
        : kind === 'a-directory'
          ? `${at} is a directory`
          : kind === 'cannot-create'
            ? `${at} cannot be created (${code})`
            : `${at} is not writable (${code})`,
    installDirFromRecord: (problem: string) => `--install-dir (from the record): ${problem}`,
    stateDir: (path: string, problem: string) =>
      `the record's local copy ${path} cannot be written: ${problem}; move that aside or pass --state-file with a path in a writable directory`,
    reportDir: (dir: string, problem: string) =>
      `--report ${dir}: ${problem}; name a directory where report.md and report.html can be written`,
    renderDir: (dir: string, problem: string) => `--render ${dir}: ${problem}; choose an empty or new directory`,
  },
  /** What an audit (--verify) concludes, for one context and for a fleet. */
  audit: {
    didNotFinish: (error: string) => `✖ the audit did not finish: ${error}`,
    weakerTitle: 'Attack paths this leaves weaker:',
    /** A path of the threat model in an audit's lines; `target` is the model's title, translated by id. */
    path: (id: string, from: string, target: string, via: string) => `${id} (${from} → ${target} via ${via})`,
    weakened: (path: string, holding: string[], voided: string[]) =>
      `${path}: now refused only by ${holding.join(' and ')}, not by ${voided.join(' or ')}`,
    reopened: (path: string, voided: string[]) =>
      `${path}: reopened — no layer the runbook vouches for refuses it: ${voided.join(', ')} not as planned`,
    seenOpen: (path: string) =>
      `${path}: seen open — an attempt on this path got through (a probe answered, or admission let it in)`,
    counts: (closed: number, total: number, open: number, openAnyway: number) =>
      `Attack paths: ${closed} of ${total} closed, ${open} open (${openAnyway} open by design, by choice or until their step runs: docs/threat-model.md)`,
    probed: 'reachability was tried with probe pods',
    notProbed:
      'reachability was NOT tried (--no-probes): no probe pod ran, so nothing here proves who can reach what — the objects and the foreign policies were checked',
    holds: (reach: string) =>
      `✔ everything the runbook set up still holds: every object is as planned, no foreign object widens access, and ${reach}`,
    holdsUnprobed: (reach: string) =>
      `✔ every object the runbook set up is as planned and no foreign object widens access; ${reach}`,
    fleetStart: (count: number, contexts: string) => `Fleet audit of ${count} context(s), concurrently: ${contexts}`,
    fleetNoRecord: (contexts: string) => `(no record of this runbook, not audited: ${contexts})`,
    fleetUnreadable: (why: string) => `cannot read the runbook's record in this cluster, so it is not audited: ${why}`,
    fleetMember: (context: string, statePath: string, ids: string) =>
      `Context ${context}; state in ${statePath}; auditing ${ids}`,
    fleetTitle: 'Fleet audit:',
    fleetColumns: ['context', 'steps holding', 'drifts', 'paths open', 'verdict'] as [
      string,
      string,
      string,
      string,
      string,
    ],
    fleetFailed: 'failed',
    fleetDrifted: '✖ drifted',
    fleetHolds: '✔ holds',
    fleetAllHold: '✔ every context holds',
    fleetSomeDrifted: (contexts: string) => `✖ ${contexts} drifted or could not be audited`,
  },
  /** The record in the cluster and the run's lock (a Lease). */
  record: {
    offline: (why: string, path: string) =>
      `⚠ cannot read the runbook's record in the cluster (${why}); showing the local copy ${path}`,
    otherCluster: (path: string, theirs: string, ours: string, aside: string) =>
      `⚠ the local copy ${path} is of another cluster (kube-system uid ${theirs}; this one's is ${ours}), and this cluster holds no record: nothing is done here yet. That copy is kept as ${aside} when this run first writes the record.`,
    where: (secret: string) => `the runbook's record (Secret ${secret})`,
    withLocalCopy: (record: string, path: string) => `${record} (local copy ${path})`,
    noData: (where: string, key: string) => `${where} has no data.${key}; it was left untouched`,
    notGzip: (where: string, key: string, error: string) =>
      `${where}: data.${key} is not gzip-compressed JSON (${error}); it was left untouched`,
    notJson: (where: string, key: string, error: string) =>
      `${where}: data.${key} is not valid JSON (${error}); it was left untouched`,
    writtenElsewhere: (secret: string, namespace: string, selector: string) =>
      `the runbook's record (Secret ${secret}) was written by someone else since this run read it; ` +
      `this run stops rather than overwrite it (kubectl get secrets -n ${namespace} -l ${selector})`,
    lockHeld: (namespace: string, lease: string, holder: string, expires?: string) =>
      `another run holds the lock on namespace ${namespace} (Lease ${lease}): ${holder}. ` +
      `Wait for it to finish${expires ? `; if that run is gone, its lease expires at ${expires} and the next run takes it over` : ''} ` +
      `(kubectl get lease ${lease.split('/')[1]} -n ${namespace} -o yaml)`,
    /** Who holds a lease: its identity, what it runs and where, and since / until when. */
    holder: (
      identity: string,
      operation: string | undefined,
      where: { host?: string; pid?: number; dir?: string },
      when: { acquired?: string; renewed?: string; expires?: string },
    ) => {
      const at = [where.host && `on ${where.host}`, where.pid && `pid ${where.pid}`, where.dir && `in ${where.dir}`]
        .filter(Boolean)
        .join(', ')
      const times = [
        when.acquired && `since ${when.acquired}`,
        when.renewed && `renewed ${when.renewed}`,
        when.expires && `expires ${when.expires} unless renewed`,
      ]
        .filter(Boolean)
        .join(', ')
      return `${identity}${operation ? ` (${operation}${at ? `, ${at}` : ''})` : at ? ` (${at})` : ''}${times ? `; ${times}` : ''}`
    },
    tookOver: (holder: string, processGone: boolean) =>
      `${holder}${processGone ? ' — that process is gone' : ' — the lease had expired'}`,
    lockTaken: (holder?: string) => `the run's lock was taken by another run${holder ? ` (${holder})` : ''}`,
    lockNotRenewed: (error: string) => `the run's lock could not be renewed before it expired (${error})`,
    lockLost: (message: string) => `✖ ${message}: stopping before the next change`,
    leftoverProbes: (count: number, names: string) =>
      `⚠ removed ${count} probe pod(s) an interrupted run left behind: ${names}`,
    leftoverProbeServices: (count: number, names: string) =>
      `⚠ removed ${count} probe Service(s) an interrupted run left behind: ${names}`,
    leftoverProbeNamespaces: (count: number, names: string) =>
      `⚠ removed ${count} probe namespace(s) an interrupted run left behind, with what they held: ${names}`,
    /** Objects with the runbook's names that it did not make: a step stops unless --take-over. */
    foreign: (refs: string[], getCommand: string) => {
      const one = refs.length === 1
      const it = one ? 'it' : 'them'
      return (
        `${refs.join(', ')} already exist${one ? 's' : ''} and ${one ? 'is' : 'are'} not the runbook's ` +
        `(no managed-by label, no gthulhu-runbook field manager): someone else's rules may depend on ${it}, so nothing was changed. ` +
        `Look at ${it} (${getCommand}); to let the runbook replace ${it}, run again with --take-over ` +
        `(undo then puts ${it} back exactly as ${one ? 'it is' : 'they are'} now)`
      )
    },
  },
  cli: {
    /** A done step this run leaves out ran with other values of the settings it reads. */
    settingsDrift: (id: string, status: 'done' | 'accepted', drift: string[]) =>
      `${id} was ${status} with other settings (${drift.join('; ')}); run it again with --from ${id} or --only ${id} if that matters`,
    rollbackDependents: (dependents: string[], step: string) => {
      const many = dependents.length > 1
      return `⚠ ${dependents.join(', ')} rel${many ? 'y' : 'ies'} on ${step} and stay${many ? '' : 's'} in place; --verify will report ${many ? 'them' : 'it'} until --resume applies ${step} again`
    },
    serverDryRunRejected: (count: number) =>
      `✖ the API server rejected ${count} object(s); fix the settings named above before running`,
    serverDryRunUnreachable: (said: string) =>
      `cannot run the server dry run: the API server is unreachable: ${said}; no object was judged`,
    reportNotWritten: (problem: string) =>
      `the report could not be written: ${problem}; what the run did is in its output above and in its record`,
    contextLine: (context: string, namespace: string, source: string, statePath: string) =>
      `Context ${context}, namespace ${namespace} (${source}); record in ${statePath}`,
    namespaceGiven: 'as given',
    namespaceDefault: 'the default: the kube context names none',
    namespaceFromContext: (context: string) => `from kube context ${context}`,
    webUi: (url: string) => `Open the Web UI at ${url}`,
    resumeWith: 'Resume with:',
    report: (md: string, html: string) => `Report: ${md} and ${html}`,
    interrupted: '⚠ interrupted: stopping the running command and cleaning up (Ctrl-C again to leave at once)',
    tookOverLock: (holder: string) => `⚠ took over the run's lock from ${holder}`,
    settingsFromRecord: (taken: string) => `Settings from the record (not given this time): ${taken}`,
    drifts: (count: number) => `✖ ${count} drift(s):`,
    auditing: (context: string, statePath: string, ids: string) =>
      `Context ${context}; record in ${statePath}; auditing ${ids}`,
    undoingSteps: (context: string, statePath: string, ids: string) =>
      `Context ${context}; record in ${statePath}; undoing ${ids}`,
    uninstalled: "The runbook's changes are undone; what was there before it is left as it was.",
    rolledBack: (id: string) => `${id} is undone; run again with --resume to re-apply it.`,
    runAgain: 'Run the same command again to continue: steps already undone are not undone twice.',
    dryRunDone: 'Dry run: nothing was changed.',
    errorPrefix: 'gthulhu-runbook: ',
    unexpected: 'unexpected error (a bug; please report it):',
  },
}

export type Text = typeof EN_TEXT

/** The English table, for tests and for translations to be checked against. */
export const ENGLISH: Text = EN_TEXT

/** The words of this run: English until useText swaps in a translation. */
export const text: Text = { ...EN_TEXT }

/** Puts a translation in place for the whole run (called once, before anything is said). */
export function useText(translation: Text): void {
  Object.assign(text, translation)
}

/** A prompt's theme: its help line names the keys' actions in the run's language. */
export const promptTheme = () => ({
  style: {
    keysHelpTip: (keys: [string, string][]) =>
      keys.map(([key, action]) => `${key} ${text.questions.keys[action as KeyAction] ?? action}`).join(' • '),
  },
})

// CJK and full-width characters take two terminal columns.
const WIDE = /[\u1100-\u115f\u2e80-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6]/u

/** A text's width in terminal columns, for tables that hold either language. */
export const terminalColumns = (value: string) => [...value].reduce((n, c) => n + (WIDE.test(c) ? 2 : 1), 0)

/** Pads to a width in terminal columns. */
export const padColumns = (value: string, width: number) =>
  value + ' '.repeat(Math.max(0, width - terminalColumns(value)))
