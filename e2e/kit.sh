#!/usr/bin/env bash
# The real-cluster kit: a kind cluster with Calico (or a cluster you name), Gthulhu from its Helm chart, the
# runbook run unattended from preflight to the end, its audit when it has one, and an independent attack pass:
# plain `kubectl run` probe pods that try the bypasses the hardening must close. Usage: e2e/kit.sh --help.
# Exit codes: 0 hardened and every bypass closed; 1 a stage failed or a bypass is open; 2 usage or a missing
# prerequisite (nothing changed); 130 interrupted.
set -euo pipefail

# ---- Pinned versions: set here only, printed at the start of every run. ----
readonly KIND_VERSION=v0.31.0
# kind v0.31.0's own default node image (Kubernetes 1.35, inside Istio 1.29's supported 1.31-1.35).
readonly KIND_NODE_IMAGE=kindest/node:v1.35.0@sha256:452d707d4862f52530247495d180205e029056831160e22870e37e3f6c1ac31f
readonly CALICO_VERSION=v3.31.3
readonly ISTIO_VERSION=1.29.1
readonly GATEWAY_API_VERSION=v1.4.0
# The chart lives in the Gthulhu repository itself (chart/gthulhu); the tag is checked against its commit.
readonly CHART_REPO=https://github.com/Gthulhu/Gthulhu.git
readonly CHART_TAG=v1.3.0
readonly CHART_COMMIT=0520224327d0ebaaae7fcf2849fac08ca6126f56
readonly CHART_PATH=chart/gthulhu
readonly CHART_VERSION=0.1.0
# The chart's values.yaml pulls the moving "develop" tag; the release's CI pushed these images as 1.3.0.
readonly GTHULHU_IMAGE_TAG=1.3.0
readonly CURL_IMAGE=curlimages/curl:8.11.1

readonly CALICO_MANIFEST=https://raw.githubusercontent.com/projectcalico/calico/$CALICO_VERSION/manifests/calico.yaml
KIT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly KIT_DIR
readonly ROOT=${KIT_DIR%/*}
readonly VALUES_FILE=$KIT_DIR/gthulhu-values-kind.yaml
readonly RUN_LABEL=e2e.gthulhu-runbook/run-id

usage() {
  cat <<EOF
Usage:
  e2e/kit.sh kind [--name NAME] [--keep] [--dry-run] [options] [-- RUNBOOK FLAGS]
  e2e/kit.sh byo --context NAME [--kubeconfig FILE] [--attack-only] [--keep] [--dry-run] [options] [-- RUNBOOK FLAGS]
  e2e/kit.sh --versions | --help

Modes:
  kind   create a kind cluster (default CNI off, Calico), install Gthulhu from its chart, harden, attack,
         then delete the cluster (--keep leaves it and the kit's work directory for you)
  byo    bring your own cluster: the same flow against an existing context; nothing is created or deleted,
         and the chart is installed only when Gthulhu is not found

Options:
  --name NAME             kind cluster name (default gthulhu-e2e; an existing cluster is never reused)
  --keep                  keep the work directory (runbook state, istioctl, chart) and, in kind mode, the cluster
  --context NAME          byo: the context to act on (required: the kit never guesses a cluster)
  --kubeconfig FILE       kubeconfig for kubectl, helm and the runbook (default: kubectl's)
  --namespace NS          Gthulhu's namespace (default default)
  --release NAME          Gthulhu's Helm release (default gthulhu)
  --attack-only           byo: skip install and runbook; run only the attack pass (re-check a hardened cluster)
  --probe-timeout SECONDS longest wait for the attack pods to finish (default 300)
  --dry-run               print every command the kit would run, with the pinned versions; change nothing
  --versions              print the pinned versions and exit
  -- RUNBOOK FLAGS        passed to every runbook call (e.g. --timeout 600, --gateway-service-type NodePort)

Exit codes: 0 every bypass closed and the runbook passed; 1 a stage failed or a bypass is open;
2 usage error or missing prerequisite (nothing changed); 130 interrupted.
EOF
}

print_versions() {
  cat <<EOF
Pinned versions:
  kind             $KIND_VERSION (node image $KIND_NODE_IMAGE)
  Calico           $CALICO_VERSION ($CALICO_MANIFEST)
  Istio            $ISTIO_VERSION
  Gateway API      $GATEWAY_API_VERSION
  Gthulhu chart    $CHART_REPO $CHART_TAG ($CHART_COMMIT) $CHART_PATH, chart version $CHART_VERSION
                   values: the chart's values.yaml + e2e/${VALUES_FILE##*/}, images tagged $GTHULHU_IMAGE_TAG
  probe images     $CURL_IMAGE; MongoDB probes use the MongoDB StatefulSet's own image (mongosh)
EOF
}

# ---- Output and errors ----
say() { printf '%s\n' "$*"; }
stage() { printf '\n==> %s\n' "$*"; }
# Usage errors and missing prerequisites: exit 2, nothing was changed.
usage_error() {
  printf 'e2e/kit.sh: %s\n' "$*" >&2
  exit 2
}
fail() {
  printf 'e2e/kit.sh: %s\n' "$*" >&2
  exit 1
}
# A command line as it can be pasted into a shell.
shown() {
  local out='' word
  for word in "$@"; do
    if [[ $word =~ ^[A-Za-z0-9_@%+=:,./-]+$ ]]; then out+=" $word"; else out+=" '${word//\'/\'\\\'\'}'"; fi
  done
  printf '%s' "${out# }"
}

# ---- Parsing ----
MODE=''
CLUSTER_NAME=gthulhu-e2e
KEEP=false
CONTEXT=''
KUBECONFIG_FILE=''
NAMESPACE=default
RELEASE=gthulhu
ATTACK_ONLY=false
PROBE_TIMEOUT=300
DRY_RUN=false
RUNBOOK_EXTRA=()

needs_value() { [[ $# -ge 2 && -n $2 && $2 != --* ]] || usage_error "$1 needs a value (see e2e/kit.sh --help)"; }
parse_args() {
  if [[ $# -eq 0 ]]; then usage >&2; usage_error 'name a mode: kind or byo'; fi
  case $1 in
    kind | byo) MODE=$1; shift ;;
    -h | --help) usage; exit 0 ;;
    --versions) print_versions; exit 0 ;;
    *) usage_error "unknown mode '$1': use kind (create a cluster) or byo (an existing context)" ;;
  esac
  while [[ $# -gt 0 ]]; do
    case $1 in
      --name) needs_value "$@"; CLUSTER_NAME=$2; shift 2 ;;
      --keep) KEEP=true; shift ;;
      --context) needs_value "$@"; CONTEXT=$2; shift 2 ;;
      --kubeconfig) needs_value "$@"; KUBECONFIG_FILE=$2; shift 2 ;;
      --namespace) needs_value "$@"; NAMESPACE=$2; shift 2 ;;
      --release) needs_value "$@"; RELEASE=$2; shift 2 ;;
      --attack-only) ATTACK_ONLY=true; shift ;;
      --probe-timeout) needs_value "$@"; PROBE_TIMEOUT=$2; shift 2 ;;
      --dry-run) DRY_RUN=true; shift ;;
      -h | --help) usage; exit 0 ;;
      --) shift; RUNBOOK_EXTRA=("$@"); break ;;
      *) usage_error "unknown option '$1' (see e2e/kit.sh --help; runbook flags go after --)" ;;
    esac
  done
  local dns='^[a-z0-9]([-a-z0-9]*[a-z0-9])?$'
  [[ $NAMESPACE =~ $dns ]] || usage_error "--namespace '$NAMESPACE' is not a valid Kubernetes name (lower-case letters, digits, '-')"
  [[ $RELEASE =~ $dns ]] || usage_error "--release '$RELEASE' is not a valid Helm release name (lower-case letters, digits, '-')"
  [[ $CLUSTER_NAME =~ $dns ]] || usage_error "--name '$CLUSTER_NAME' is not a valid kind cluster name (lower-case letters, digits, '-')"
  [[ $PROBE_TIMEOUT =~ ^[0-9]+$ && $PROBE_TIMEOUT -ge 5 && $PROBE_TIMEOUT -le 3600 ]] ||
    usage_error "--probe-timeout '$PROBE_TIMEOUT' is not a number of seconds between 5 and 3600"
  if [[ $MODE == byo ]]; then
    [[ -n $CONTEXT ]] || usage_error 'byo needs --context: name the cluster to harden and attack (the kit never uses the current context)'
  else
    [[ -z $CONTEXT ]] || usage_error "kind mode makes its own context (kind-$CLUSTER_NAME); --context is for byo"
    [[ $ATTACK_ONLY == false ]] || usage_error '--attack-only needs an existing cluster: use it with byo'
    CONTEXT=kind-$CLUSTER_NAME
  fi
  # kind writes its context into --kubeconfig; byo reads it.
  [[ $MODE == kind || -z $KUBECONFIG_FILE || -f $KUBECONFIG_FILE || $DRY_RUN == true ]] ||
    usage_error "--kubeconfig '$KUBECONFIG_FILE' does not exist"
}

# ---- Tools ----
# Each missing tool is named with what it is for and where to get it; all are reported at once.
tool_hint() {
  case $1 in
    docker) say 'runs the kind nodes: https://docs.docker.com/engine/install/' ;;
    kind) say "creates the cluster: https://kind.sigs.k8s.io/docs/user/quick-start/#installation ($KIND_VERSION)" ;;
    helm) say 'installs the Gthulhu chart: https://helm.sh/docs/intro/install/' ;;
    git) say "fetches the Gthulhu chart at $CHART_TAG" ;;
    kubectl) say 'talks to the cluster: https://kubernetes.io/docs/tasks/tools/' ;;
    node) say 'runs the runbook: Node.js 20 or later' ;;
    timeout) say 'bounds every command (GNU coreutils)' ;;
  esac
}
check_tools() {
  local missing=() tool
  for tool in "$@"; do command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
  done
  if [[ $DRY_RUN == true ]]; then
    say "+ check tools: $* ($(if [[ ${#missing[@]} -eq 0 ]]; then printf 'all found'; else printf 'missing here: %s' "${missing[*]}"; fi))"
    return 0
  fi
  if [[ ${#missing[@]} -gt 0 ]]; then
    for tool in "${missing[@]}"; do printf 'e2e/kit.sh: %s not found on PATH: it %s\n' "$tool" "$(tool_hint "$tool")" >&2; done
    usage_error "install ${missing[*]} and run the kit again (nothing was changed)"
  fi
  if [[ " $* " == *' node '* && ! -d $ROOT/node_modules/tsx ]]; then
    usage_error "the runbook's dependencies are not installed: run 'npm ci' in $ROOT first"
  fi
}

# ---- Running commands: each is shown, bounded by a timeout, and skipped in a dry run ----
KUBE_FLAGS=()
kube_flags() {
  KUBE_FLAGS=(--context "$CONTEXT" --request-timeout=60s)
  [[ -z $KUBECONFIG_FILE ]] || KUBE_FLAGS+=(--kubeconfig "$KUBECONFIG_FILE")
}
# act SECONDS COMMAND...: a command that changes something or waits; shown, then run (not in a dry run).
ACTIVE_PID=''
act() {
  local limit=$1 status=0
  shift
  say "+ $(shown "$@")"
  [[ $DRY_RUN == false ]] || return 0
  # Waited for in the background: a signal then reaches the kit at once, and cleanup stops the command by pid
  # (timeout runs it in its own process group, out of reach of the terminal's Ctrl-C).
  timeout --kill-after=10 "$limit" "$@" &
  ACTIVE_PID=$!
  wait "$ACTIVE_PID" || status=$?
  ACTIVE_PID=''
  return "$status"
}
# k ARGS...: a quiet kubectl read against the chosen context; prints its output.
k() { timeout --kill-after=5 90 kubectl "${KUBE_FLAGS[@]}" "$@"; }
# ka SECONDS ARGS...: a kubectl call that changes something or waits, shown like act.
ka() {
  local limit=$1
  shift
  act "$limit" kubectl "${KUBE_FLAGS[@]}" "$@"
}

# ---- Cleanup: only what this run made ----
WORK=''
RUN_ID=''
CLUSTER_CREATED=false
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  if [[ -n $ACTIVE_PID ]]; then
    say "stopping $(ps -o args= -p "$ACTIVE_PID" 2>/dev/null || printf 'pid %s' "$ACTIVE_PID")"
    kill -TERM "$ACTIVE_PID" 2>/dev/null || true
    wait "$ACTIVE_PID" 2>/dev/null || true
  fi
  if [[ -n $RUN_ID && $DRY_RUN == false ]]; then
    timeout 60 kubectl "${KUBE_FLAGS[@]}" -n "$NAMESPACE" delete pods -l "$RUN_LABEL=$RUN_ID" \
      --ignore-not-found --wait=false >/dev/null 2>&1 || say "could not delete the attack pods: kubectl -n $NAMESPACE delete pods -l $RUN_LABEL=$RUN_ID"
  fi
  if [[ $CLUSTER_CREATED == true && $KEEP == false ]]; then
    stage "Deleting kind cluster $CLUSTER_NAME (--keep keeps it)"
    act 300 kind delete cluster --name "$CLUSTER_NAME" || say "could not delete it: kind delete cluster --name $CLUSTER_NAME"
  elif [[ $CLUSTER_CREATED == true ]]; then
    say "kept: kind cluster $CLUSTER_NAME (context $CONTEXT); delete it with: kind delete cluster --name $CLUSTER_NAME"
  fi
  if [[ -n $WORK && $KEEP == false ]]; then rm -rf -- "$WORK"; elif [[ -n $WORK ]]; then say "kept: work directory $WORK"; fi
  exit "$status"
}

# ---- Stages ----
RUNBOOK=()
setup_runbook() {
  # The project's own launcher: it finds tsx from the clone whatever the working directory.
  RUNBOOK=(node "$ROOT/bin/gthulhu-runbook.mjs" --context "$CONTEXT" --namespace "$NAMESPACE" --release "$RELEASE"
    --istio-version "$ISTIO_VERSION" --gateway-api-version "$GATEWAY_API_VERSION"
    --install-dir "$WORK/bin" --state-file "$WORK/runbook-state.json")
  [[ -z $KUBECONFIG_FILE ]] || RUNBOOK+=(--kubeconfig "$KUBECONFIG_FILE")
  RUNBOOK+=(${RUNBOOK_EXTRA[@]+"${RUNBOOK_EXTRA[@]}"})
}

check_kind_prerequisites() {
  check_tools docker kind helm git kubectl node timeout
  [[ $DRY_RUN == false ]] || return 0
  timeout 30 docker info >/dev/null 2>&1 || usage_error 'docker is installed but its daemon does not answer (docker info failed): start Docker and run the kit again'
  local installed
  installed=$(timeout 30 kind version 2>/dev/null | awk '{print $2}')
  [[ $installed == "$KIND_VERSION" ]] || say "note: kind $installed is installed; the kit pins $KIND_VERSION, whose node image it uses"
  if timeout 30 kind get clusters 2>/dev/null | grep -qx -- "$CLUSTER_NAME"; then
    usage_error "a kind cluster named $CLUSTER_NAME already exists: the kit never reuses or deletes a cluster it did not create; pick another --name or delete it yourself"
  fi
}

create_kind_cluster() {
  stage "Creating kind cluster $CLUSTER_NAME: default CNI disabled, Calico $CALICO_VERSION"
  local config=$WORK/kind-config.yaml
  # Calico's manifest picks its pool from kubeadm's pod subnet; 192.168.0.0/16 is Calico's own default.
  cat >"$config" <<EOF
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
networking:
  disableDefaultCNI: true
  podSubnet: 192.168.0.0/16
nodes:
  - role: control-plane
  - role: worker
EOF
  say "kind config ($config):"
  sed 's/^/    /' "$config"
  CLUSTER_CREATED=true
  act 600 kind create cluster --name "$CLUSTER_NAME" --image "$KIND_NODE_IMAGE" --config "$config" \
    ${KUBECONFIG_FILE:+--kubeconfig "$KUBECONFIG_FILE"}
  # Server-side: Calico's CRDs are too large for the last-applied annotation of a client-side apply.
  ka 300 apply --server-side -f "$CALICO_MANIFEST"
  ka 600 -n kube-system rollout status daemonset/calico-node --timeout=540s
  ka 600 -n kube-system rollout status deployment/calico-kube-controllers --timeout=540s
  ka 600 wait --for=condition=Ready nodes --all --timeout=540s
}

check_context() {
  [[ $DRY_RUN == false ]] || return 0
  local contexts
  contexts=$(timeout 30 kubectl ${KUBECONFIG_FILE:+--kubeconfig "$KUBECONFIG_FILE"} config get-contexts -o name 2>/dev/null || true)
  grep -qxF -- "$CONTEXT" <<<"$contexts" ||
    usage_error "context '$CONTEXT' is not in the kubeconfig; contexts there: $(printf '%s' "${contexts:-none}" | tr '\n' ' ')"
}

GTHULHU_SELECTOR=''
gthulhu_found() {
  [[ $DRY_RUN == false ]] || return 1
  [[ -n $(k -n "$NAMESPACE" get deployments -l "$GTHULHU_SELECTOR,app.kubernetes.io/component=manager" -o name 2>/dev/null) ]]
}

install_gthulhu() {
  stage "Installing Gthulhu: chart $CHART_PATH $CHART_VERSION from $CHART_REPO at $CHART_TAG$(
    [[ $MODE == kind || $DRY_RUN == false ]] || printf ' (only when Gthulhu is not found)')"
  check_tools helm git
  local source=$WORK/gthulhu
  act 300 git clone --quiet --depth 1 --branch "$CHART_TAG" "$CHART_REPO" "$source"
  if [[ $DRY_RUN == false ]]; then
    local commit
    commit=$(git -C "$source" rev-parse HEAD)
    [[ $commit == "$CHART_COMMIT" ]] || fail "tag $CHART_TAG of $CHART_REPO is now commit $commit, not the pinned $CHART_COMMIT: check the change and update the pin"
    grep -qx "version: $CHART_VERSION" "$source/$CHART_PATH/Chart.yaml" || fail "$CHART_PATH/Chart.yaml at $CHART_TAG is not chart version $CHART_VERSION"
  fi
  local helm=(helm install "$RELEASE" "$source/$CHART_PATH" --kube-context "$CONTEXT" --namespace "$NAMESPACE" --create-namespace
    -f "$VALUES_FILE"
    --set "manager.image.tag=$GTHULHU_IMAGE_TAG" --set "scheduler.image.tag=$GTHULHU_IMAGE_TAG"
    --set "scheduler.sidecar.image.tag=$GTHULHU_IMAGE_TAG" --wait --timeout 15m)
  [[ -z $KUBECONFIG_FILE ]] || helm+=(--kubeconfig "$KUBECONFIG_FILE")
  # helm install (never upgrade): a release of that name that is not Gthulhu is left alone and reported.
  act 1000 "${helm[@]}"
}

wait_for_gthulhu() {
  stage "Waiting for Gthulhu (release $RELEASE in namespace $NAMESPACE)"
  local workloads workload
  if [[ $DRY_RUN == true ]]; then
    workloads="deployment/$RELEASE-manager daemonset/$RELEASE-scheduler statefulset/$RELEASE-mongodb"
  else
    workloads=$(k -n "$NAMESPACE" get deployments,daemonsets,statefulsets -l "$GTHULHU_SELECTOR" -o name)
  fi
  [[ -n $workloads ]] || fail "no workloads labelled $GTHULHU_SELECTOR in namespace $NAMESPACE"
  for workload in $workloads; do
    ka 660 -n "$NAMESPACE" rollout status "$workload" --timeout=600s || fail "$workload did not become ready"
  done
}

RUNBOOK_RESULT='not run'
VERIFY_RESULT='not run'
run_runbook() {
  stage "Running the runbook unattended (--yes), preflight to the end"
  if act 2700 "${RUNBOOK[@]}" --yes; then RUNBOOK_RESULT=passed; else RUNBOOK_RESULT="failed (exit $?)"; fi
  [[ $DRY_RUN == false ]] || RUNBOOK_RESULT='dry run'
  # The audit arrives in a later version of the runbook: use it when its --help lists it.
  if ! timeout 60 "${RUNBOOK[@]:0:2}" --help 2>/dev/null | grep -q -- '--verify'; then
    VERIFY_RESULT='not available in this runbook (its --help lists no --verify)'
    return 0
  fi
  stage "Auditing with the runbook (--verify)"
  if act 1200 "${RUNBOOK[@]}" --yes --verify; then VERIFY_RESULT=passed; else VERIFY_RESULT="failed (exit $?)"; fi
  [[ $DRY_RUN == false ]] || VERIFY_RESULT='dry run'
}

# ---- The attack pass ----
# Each probe: id, role (bypass: must be refused; control: must get through, or a refusal proves nothing),
# what it tries, the check that reads its log (http or mongo), and its pod name.
PROBE_IDS=()
PROBE_ROLES=()
PROBE_WHAT=()
PROBE_CHECKS=()
PROBE_PODS=()
PROBE_VERDICTS=()
PROBE_OBSERVED=()

# probe ID ROLE WHAT CHECK IMAGE SERVICEACCOUNT LABELS ARGV...: starts one probe pod (runs once, never restarted).
probe() {
  local id=$1 role=$2 what=$3 check=$4 image=$5 account=$6 labels=$7
  shift 7
  local pod="kit-$RUN_ID-${#PROBE_IDS[@]}"
  PROBE_IDS+=("$id")
  PROBE_ROLES+=("$role")
  PROBE_WHAT+=("$what")
  PROBE_CHECKS+=("$check")
  PROBE_PODS+=("$pod")
  # gthulhu-runbook/probe-run: the runbook's admission policy lets its own identity (the kit runs with the same
  # credentials) create pods wearing Gthulhu's identities only when they carry that label.
  ka 90 -n "$NAMESPACE" run "$pod" --restart=Never --image="$image" \
    --labels="$RUN_LABEL=$RUN_ID${labels:+,$labels},gthulhu-runbook/probe-run=kit-$RUN_ID" \
    --overrides="{\"apiVersion\":\"v1\",\"spec\":{\"serviceAccountName\":\"$account\",\"terminationGracePeriodSeconds\":1}}" \
    --command -- "$@"
}
# The probe command forms: they run the same in the simulated cluster and in the real images.
PROBE_ARGV=()
http_argv() { PROBE_ARGV=(curl -sS -o /dev/null -w '%{http_code}' --max-time 5 "http://$1/health"); }
mongo_argv() {
  PROBE_ARGV=(mongosh --quiet --norc --eval 'db.runCommand({hello:1}).ok'
    "mongodb://$1:27017/?directConnection=true&serverSelectionTimeoutMS=5000")
}

# What the attack needs to know about Gthulhu, read before any probe pod exists (they wear the manager's labels).
MANAGER_ACCOUNT='' MANAGER_LABELS='' MANAGER_SERVICE='' MANAGER_POD_IP='' DECIDER_POD_IP='' MONGO_HOST='' MONGO_IMAGE=''
discover_targets() {
  if [[ $DRY_RUN == true ]]; then
    MANAGER_ACCOUNT=$RELEASE-manager MANAGER_LABELS='<the manager pod labels>' MANAGER_SERVICE=$RELEASE-manager
    MANAGER_POD_IP='<manager pod IP>' DECIDER_POD_IP='<decision-maker pod IP>'
    MONGO_HOST=$RELEASE-mongodb-0.$RELEASE-mongodb.$NAMESPACE.svc MONGO_IMAGE='<the MongoDB StatefulSet image>'
    return 0
  fi
  local manager=$GTHULHU_SELECTOR,app.kubernetes.io/component=manager
  local mongo=$GTHULHU_SELECTOR,app.kubernetes.io/component=mongodb
  local running='{.items[?(@.status.phase=="Running")].status.podIP}'
  local statefulset service name
  MANAGER_ACCOUNT=$(k -n "$NAMESPACE" get deployments -l "$manager" -o jsonpath='{.items[0].spec.template.spec.serviceAccountName}')
  # shellcheck disable=SC2016 # a Go template, not shell
  MANAGER_LABELS=$(k -n "$NAMESPACE" get deployments -l "$manager" \
    -o go-template='{{range $k, $v := (index .items 0).spec.template.metadata.labels}}{{$k}}={{$v}},{{end}}')
  MANAGER_LABELS=${MANAGER_LABELS%,}
  MANAGER_SERVICE=$(k -n "$NAMESPACE" get services -l "$manager" -o jsonpath='{.items[0].metadata.name}')
  MANAGER_POD_IP=$(k -n "$NAMESPACE" get pods -l "$manager" -o jsonpath="$running")
  MANAGER_POD_IP=${MANAGER_POD_IP%% *}
  DECIDER_POD_IP=$(k -n "$NAMESPACE" get pods -l "$GTHULHU_SELECTOR,app.kubernetes.io/component=scheduler" -o jsonpath="$running")
  DECIDER_POD_IP=${DECIDER_POD_IP%% *}
  statefulset=$(k -n "$NAMESPACE" get statefulsets -l "$mongo" -o jsonpath='{.items[0].metadata.name}')
  service=$(k -n "$NAMESPACE" get statefulsets -l "$mongo" -o jsonpath='{.items[0].spec.serviceName}')
  MONGO_HOST=$statefulset-0.$service.$NAMESPACE.svc
  MONGO_IMAGE=$(k -n "$NAMESPACE" get statefulsets -l "$mongo" -o jsonpath='{.items[0].spec.template.spec.containers[0].image}')
  for name in MANAGER_ACCOUNT MANAGER_LABELS MANAGER_SERVICE MANAGER_POD_IP DECIDER_POD_IP statefulset service MONGO_IMAGE; do
    [[ -n ${!name} ]] || fail "could not find what the attack needs ($name) for release $RELEASE in namespace $NAMESPACE"
  done
  # "Another identity" is the namespace's default ServiceAccount: it must not be the manager's own.
  [[ $MANAGER_ACCOUNT != default ]] || fail 'the manager runs as ServiceAccount default: the identity probes need it to have its own'
}

start_probes() {
  # Bypasses: the hardened cluster must refuse each one.
  http_argv "$MANAGER_SERVICE:8080"
  probe outsider-to-manager bypass "pod outside the mesh -> Service $MANAGER_SERVICE:8080" \
    http "$CURL_IMAGE" default istio.io/dataplane-mode=none "${PROBE_ARGV[@]}"
  http_argv "$MANAGER_POD_IP:8080"
  probe other-identity-to-manager-pod bypass 'enrolled pod, ServiceAccount default -> manager pod IP :8080' \
    http "$CURL_IMAGE" default '' "${PROBE_ARGV[@]}"
  mongo_argv "$MONGO_HOST"
  probe manager-labels-to-mongodb bypass "manager's labels, ServiceAccount default -> MongoDB :27017" \
    mongo "$MONGO_IMAGE" default "$MANAGER_LABELS" "${PROBE_ARGV[@]}"
  probe manager-to-mongodb control "manager's labels and ServiceAccount -> MongoDB :27017" \
    mongo "$MONGO_IMAGE" "$MANAGER_ACCOUNT" "$MANAGER_LABELS" "${PROBE_ARGV[@]}"
  http_argv "$DECIDER_POD_IP:8080"
  probe manager-labels-to-decision-maker bypass "manager's labels, ServiceAccount default -> decision maker pod IP :8080" \
    http "$CURL_IMAGE" default "$MANAGER_LABELS" "${PROBE_ARGV[@]}"
  # Controls: the manager's own identity must still get through, or the refusals above prove nothing.
  probe manager-to-decision-maker control "manager's labels and ServiceAccount -> decision maker pod IP :8080" \
    http "$CURL_IMAGE" "$MANAGER_ACCOUNT" "$MANAGER_LABELS" "${PROBE_ARGV[@]}"
}

# Polls all probe pods at once (short interval) until each has finished or the deadline passes.
# Sets PHASES and EXIT_CODES, indexed like PROBE_PODS.
PHASES=()
EXIT_CODES=()
wait_for_probes() {
  local deadline=$((SECONDS + PROBE_TIMEOUT)) listing pending i name phase code p c
  while :; do
    listing=$(k -n "$NAMESPACE" get pods -l "$RUN_LABEL=$RUN_ID" \
      -o jsonpath='{range .items[*]}{.metadata.name} {.status.phase} {.status.containerStatuses[0].state.terminated.exitCode}{"\n"}{end}' || true)
    pending=0
    for i in "${!PROBE_PODS[@]}"; do
      phase=Missing code=''
      while read -r name p c; do
        if [[ $name == "${PROBE_PODS[$i]}" ]]; then phase=${p:-Pending} code=${c:-}; fi
      done <<<"$listing"
      PHASES[i]=$phase
      EXIT_CODES[i]=$code
      [[ ($phase == Succeeded || $phase == Failed) && -n $code ]] || pending=$((pending + 1))
    done
    [[ $pending -gt 0 && $SECONDS -lt $deadline ]] || break
    sleep 1
  done
}

# classify CHECK EXIT LOG: prints "reached|refused|unknown<TAB>what was observed".
classify() {
  local check=$1 code=$2 log=$3 last
  last=$(printf '%s\n' "$log" | sed '/^[[:space:]]*$/d' | tail -n 1)
  if [[ $check == http ]]; then
    local status
    status=$(printf '%s\n' "$log" | grep -oE '^[0-9]{3}' | tail -n 1 || true)
    case $code in
      0)
        case $status in
          200) printf 'reached\tHTTP 200' ;;
          403) printf 'refused\tHTTP 403 (denied by a proxy)' ;;
          *) printf 'unknown\tHTTP %s' "${status:-response unreadable}" ;;
        esac ;;
      # 56 reset, 52 empty reply (ztunnel closing an accepted connection), 28 dropped, 7 refused.
      7 | 28 | 52 | 56) printf 'refused\tcurl exit %s, no HTTP response' "$code" ;;
      *) printf 'unknown\tcurl exit %s: %s' "$code" "$last" ;;
    esac
    return 0
  fi
  if [[ $code == 0 && $last == 1 ]]; then
    printf 'reached\tMongoDB answered hello'
  elif [[ $code == 0 || $code == 126 || $code == 127 ]] || grep -qiE 'ENOTFOUND|getaddrinfo|not found' <<<"$log"; then
    printf 'unknown\tmongosh exit %s: %s' "$code" "$last"
  elif grep -qiE 'ECONNRESET|ECONNREFUSED|closed|timed out|timeout|MongoNetworkError|MongoServerSelectionError' <<<"$log"; then
    printf 'refused\tmongosh exit %s: %s' "$code" "$last"
  else
    printf 'unknown\tmongosh exit %s: %s' "$code" "$last"
  fi
}

OPEN=0
UNPROVEN=0
# What an insider who may create objects in the namespace would try, as another user (kubectl --as) with a server
# dry run: admission runs, nothing is created. Each must be refused by a ValidatingAdmissionPolicy.
ATTEMPT_USER=gthulhu-kit-insider
ATTEMPT_IDS=()
ATTEMPT_WHAT=()
ATTEMPT_OBSERVED=()
ATTEMPT_VERDICTS=()
ATTEMPT_OBJECTS=()
# attempt ID WHAT JSON: queues one admission attempt; run_attempts sends them all at once.
attempt() {
  ATTEMPT_IDS+=("$1")
  ATTEMPT_WHAT+=("$2")
  ATTEMPT_OBJECTS+=("$3")
}
run_attempts() {
  local dir i output
  dir=$(mktemp -d)
  for i in "${!ATTEMPT_IDS[@]}"; do
    (printf '%s' "${ATTEMPT_OBJECTS[i]}" | k -n "$NAMESPACE" create --dry-run=server --as="$ATTEMPT_USER" -f - \
      >"$dir/$i.out" 2>&1 && touch "$dir/$i.admitted") &
  done
  wait
  for i in "${!ATTEMPT_IDS[@]}"; do
    output=$(cat "$dir/$i.out" 2>/dev/null || true)
    if [[ -e $dir/$i.admitted ]]; then
      ATTEMPT_OBSERVED[i]='admitted (server dry run)'
      ATTEMPT_VERDICTS[i]=OPEN
      OPEN=$((OPEN + 1))
    elif [[ $output == *'ValidatingAdmissionPolicy'*'denied request'* ]]; then
      ATTEMPT_OBSERVED[i]='refused at admission'
      ATTEMPT_VERDICTS[i]=CLOSED
    else
      ATTEMPT_OBSERVED[i]="error: ${output:0:60}"
      ATTEMPT_VERDICTS[i]='NO RESULT'
      UNPROVEN=$((UNPROVEN + 1))
    fi
  done
  rm -rf "$dir"
}
try_admission() {
  local c='"containers":[{"name":"c","image":"'"$CURL_IMAGE"'","command":["sleep","60"]}]'
  local sa='"serviceAccountName":"'"$MANAGER_ACCOUNT"'"'
  local tpl='{"metadata":{"labels":{"app":"kit-insider"}},"spec":{'"$sa"','"$c"'}}'
  local labels
  labels=$(printf '%s' "$MANAGER_LABELS" | awk -F, '{for (i = 1; i <= NF; i++) {split($i, kv, "="); printf "%s\"%s\":\"%s\"", (i > 1 ? "," : ""), kv[1], kv[2]}}')
  attempt borrowed-identity-by-pod "a Pod naming ServiceAccount $MANAGER_ACCOUNT, as another user" \
    '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"kit-insider-pod"},"spec":{'"$sa"','"$c"'}}'
  attempt borrowed-identity-by-deployment "a Deployment naming ServiceAccount $MANAGER_ACCOUNT" \
    '{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"kit-insider"},"spec":{"selector":{"matchLabels":{"app":"kit-insider"}},"template":'"$tpl"'}}'
  attempt borrowed-identity-by-cronjob "a CronJob naming ServiceAccount $MANAGER_ACCOUNT" \
    '{"apiVersion":"batch/v1","kind":"CronJob","metadata":{"name":"kit-insider"},"spec":{"schedule":"* * * * *","jobTemplate":{"spec":{"template":{"metadata":{"labels":{"app":"kit-insider"}},"spec":{'"$sa"',"restartPolicy":"Never",'"$c"'}}}}}}'
  attempt copied-labels-by-pod "a Pod with the manager's labels, as another user" \
    '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"kit-insider-labels","labels":{'"$labels"'}},"spec":{'"$c"'}}'
  attempt service-selecting-manager "a Service selecting the manager's pods" \
    '{"apiVersion":"v1","kind":"Service","metadata":{"name":"kit-insider"},"spec":{"selector":{'"$labels"'},"ports":[{"port":8080}]}}'
  run_attempts
}

attack_pass() {
  stage "Attack pass: probe pods labelled $RUN_LABEL=$RUN_ID in namespace $NAMESPACE"
  discover_targets
  start_probes
  [[ $DRY_RUN == false ]] || return 0
  # Made while the probe pods run: they need no pod and take a few seconds of kubectl each.
  try_admission
  wait_for_probes
  local i outcome result observed log verdict
  for i in "${!PROBE_PODS[@]}"; do
    if [[ ${PHASES[i]} != Succeeded && ${PHASES[i]} != Failed ]] || [[ -z ${EXIT_CODES[i]} ]]; then
      outcome=$'unknown\tno result: pod '"${PHASES[i]} after ${PROBE_TIMEOUT}s"
    else
      log=$(k -n "$NAMESPACE" logs "${PROBE_PODS[i]}" 2>&1 || true)
      outcome=$(classify "${PROBE_CHECKS[i]}" "${EXIT_CODES[i]}" "$log")
    fi
    result=${outcome%%$'\t'*}
    observed=${outcome#*$'\t'}
    case ${PROBE_ROLES[i]}:$result in
      bypass:refused) verdict=CLOSED ;;
      bypass:reached) verdict=OPEN; OPEN=$((OPEN + 1)) ;;
      control:reached) verdict=REACHED ;;
      control:refused) verdict=BLOCKED; UNPROVEN=$((UNPROVEN + 1)) ;;
      *) verdict='NO RESULT'; UNPROVEN=$((UNPROVEN + 1)) ;;
    esac
    PROBE_VERDICTS[i]=$verdict
    PROBE_OBSERVED[i]=$observed
  done
  k -n "$NAMESPACE" delete pods -l "$RUN_LABEL=$RUN_ID" --ignore-not-found --wait=false >/dev/null 2>&1 || true
}

print_results() {
  stage 'Results'
  if [[ $DRY_RUN == false && ${#PROBE_VERDICTS[@]} -gt 0 ]]; then
    local row='%-34s %-8s %-72s %-46s %s\n' i
    # shellcheck disable=SC2059 # the row format is a constant
    printf "$row" PROBE ROLE PATH OBSERVED VERDICT
    for i in "${!PROBE_IDS[@]}"; do
      # shellcheck disable=SC2059
      printf "$row" "${PROBE_IDS[i]}" "${PROBE_ROLES[i]}" "${PROBE_WHAT[i]}" "${PROBE_OBSERVED[i]}" "${PROBE_VERDICTS[i]}"
    done
    for i in "${!ATTEMPT_IDS[@]}"; do
      # shellcheck disable=SC2059
      printf "$row" "${ATTEMPT_IDS[i]}" bypass "${ATTEMPT_WHAT[i]}" "${ATTEMPT_OBSERVED[i]}" "${ATTEMPT_VERDICTS[i]}"
    done
    say ''
  fi
  say "runbook --yes:     $RUNBOOK_RESULT"
  say "runbook --verify:  $VERIFY_RESULT"
  if [[ $DRY_RUN == true ]]; then
    say 'attack pass:       dry run'
    say 'RESULT: DRY RUN (nothing was changed)'
    return 0
  fi
  say "attack pass:       $OPEN bypass(es) open, $UNPROVEN probe(s) without a usable answer"
  local problems=()
  [[ $OPEN -eq 0 ]] || problems+=("$OPEN bypass(es) open")
  [[ $UNPROVEN -eq 0 ]] || problems+=("$UNPROVEN probe(s) blocked or without a result")
  [[ $RUNBOOK_RESULT == passed || $RUNBOOK_RESULT == 'not run' ]] || problems+=("runbook $RUNBOOK_RESULT")
  [[ $VERIFY_RESULT != failed* ]] || problems+=("audit $VERIFY_RESULT")
  if [[ ${#problems[@]} -eq 0 ]]; then
    say 'RESULT: PASS - hardened, and every bypass the kit tried was refused'
    return 0
  fi
  local joined
  joined=$(printf '%s; ' "${problems[@]}")
  say "RESULT: FAIL - ${joined%; }"
  return 1
}

main() {
  parse_args "$@"
  kube_flags
  GTHULHU_SELECTOR=app.kubernetes.io/instance=$RELEASE
  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  print_versions
  say "mode: $MODE, context: $CONTEXT, namespace: $NAMESPACE, release: $RELEASE"
  [[ $DRY_RUN == false ]] || say 'dry run: every command is printed, nothing is run or changed'
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/gthulhu-e2e.XXXXXX")
  RUN_ID=$(date +%H%M%S)$((RANDOM % 100))
  setup_runbook
  if [[ $MODE == kind ]]; then
    check_kind_prerequisites
    create_kind_cluster
  else
    check_tools kubectl node timeout
    check_context
  fi
  if [[ $ATTACK_ONLY == false ]]; then
    if gthulhu_found; then
      say "Gthulhu found (release $RELEASE in namespace $NAMESPACE): the kit installs nothing"
    else
      install_gthulhu
    fi
    wait_for_gthulhu
    run_runbook
  fi
  attack_pass
  print_results
}

# Sourced (by the tests, to read probe logs through classify), it only defines its functions.
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then main "$@"; fi
