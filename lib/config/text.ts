// What the runbook says to the operator besides the steps' titles and explanations: the menus and questions, the
// words of the run (plans, checks, the summary), the fixed parts of its errors, and the names of its checks. English
// here; lib/cli/zh-TW.ts holds the Traditional Chinese table typed as `Text`, so tsc fails on a missing entry, and
// `useText` swaps it in once, before anything is said (a run has one language). Values inside the sentences
// (names, flags, commands, what kubectl printed) stay as they are.

/** What a probe can observe (lib/types.ts Observation['kind']; config sits below types, so it is spelled out). */
type ObservationKind = 'answered' | 'status' | 'blocked' | 'refused' | 'unresolved' | 'error' | 'skipped'

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
    interruptedNote: 'interrupted by Ctrl-C',
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
    needsStep: (id: string, needed: string) =>
      `step ${id} needs step ${needed} (done in this context, or selected to run first); add ${needed} to --only, or start with --from ${needed}`,
    nothingToRollBack: (id: string, status: string, context: string, undoable: string) =>
      `--rollback ${id}: that step is ${status} in context ${context}, so there is nothing of it to undo; steps that can be rolled back here: ${undoable || 'none'}`,
    nothingToUninstall: (context: string) =>
      `--uninstall: no step of this runbook has changed anything in context ${context} (per its state file); nothing to undo`,
    noFleetRecord: (where: string, contexts: string) =>
      `--all-contexts: no context of the kubeconfig has a record of this runbook in ${where} (contexts: ${contexts || 'none'}); run the runbook first`,
    nothingToAudit: (context: string) =>
      `--verify: no step is done in context ${context} (per the runbook's record in Gthulhu's namespace, or its local copy when there is none), so there is nothing to audit; run the runbook first, or pass the --namespace and --release it ran with`,
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
    seenOpen: (path: string) => `${path}: seen open — a probe on this path got an answer`,
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

// CJK and full-width characters take two terminal columns.
const WIDE = /[\u1100-\u115f\u2e80-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6]/u

/** A text's width in terminal columns, for tables that hold either language. */
export const terminalColumns = (value: string) => [...value].reduce((n, c) => n + (WIDE.test(c) ? 2 : 1), 0)

/** Pads to a width in terminal columns. */
export const padColumns = (value: string, width: number) =>
  value + ' '.repeat(Math.max(0, width - terminalColumns(value)))
