#!/usr/bin/env bash
# The real-cluster kit: a kind cluster with Calico (or a cluster you name), Gthulhu from its Helm chart, the
# runbook run unattended from preflight to the end, its audit when it has one, and an independent attack pass:
# plain `kubectl run`/`kubectl create` probes that try the paths the hardening must close, with controls that must
# still get through. Usage: e2e/kit.sh --help.
# Exit codes: 0 hardened and every bypass closed; 1 a stage failed, a bypass is open, a control is blocked or a
# probe gave no usable answer; 2 usage, a missing prerequisite or no Gthulhu where it was named (nothing
# changed); 130 interrupted, 143 terminated.
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
# The impostor and decoy decision makers: Python's http.server answers at once and logs every request line.
readonly LISTENER_IMAGE=python:3.13-alpine

readonly CALICO_MANIFEST=https://raw.githubusercontent.com/projectcalico/calico/$CALICO_VERSION/manifests/calico.yaml
KIT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly KIT_DIR
readonly ROOT=${KIT_DIR%/*}
readonly VALUES_FILE=$KIT_DIR/gthulhu-values-kind.yaml
readonly RUN_LABEL=e2e.gthulhu-runbook/run-id
# A readiness gate no controller ever satisfies: a probe wearing a workload's labels is never Ready, so it never
# becomes an endpoint of that workload's Service and no request to the Service can land on it.
readonly NEVER_READY=e2e.gthulhu-runbook/probe-never-serves
readonly COMPONENT=app.kubernetes.io/component
# The label the runbook's admission policy looks for on its own probes: it exempts them only when the identity
# the runbook ran as creates them (docs/steps/admission-policy.md). The kit's own probes carry it, so they are
# admitted when the kit runs as that identity; the attacker's carry it too, and must be refused all the same.
readonly RUNBOOK_PROBE_LABEL=gthulhu-runbook/probe-run

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
  --name NAME               kind cluster name (default gthulhu-e2e; an existing cluster is never reused)
  --keep                    keep the work directory (runbook state, istioctl, chart) and, in kind mode, the cluster
  --context NAME            byo: the context to act on (required: the kit never guesses a cluster)
  --kubeconfig FILE         kubeconfig for kubectl, helm and the runbook (default: kubectl's)
  --namespace NS            Gthulhu's namespace (default default)
  --release NAME            Gthulhu's Helm release (default gthulhu)
  --attack-only             byo: skip install and runbook; run only the attack pass (re-check a hardened cluster)
  --manager-caller SA       the ServiceAccount the manager control calls as (default: the scheduler's, which the
                            guide's manager policy admits; name another when the runbook ran with other
                            --manager-principals)
  --probe-timeout SECONDS   longest wait for the attack pods to finish (default 300)
  --listen-timeout SECONDS  longest wait for the manager to call the decoy decision maker (default 120; the
                            manager calls every decision maker every 30 s)
  --dry-run                 print every command the kit would run, with the pinned versions; change nothing
  --versions                print the pinned versions and exit
  -- RUNBOOK FLAGS          passed to every runbook call (e.g. --timeout 600, --gateway-service-type NodePort);
                            --no-identity-policies and --no-admission-policy there also tell the attack pass
                            which paths the operator chose to leave open

Exit codes: 0 every bypass closed, every control through and the runbook passed; 1 a stage failed, a bypass
is open, a control is blocked or a probe gave no usable answer; 2 usage error, missing prerequisite or no
Gthulhu where it was named (nothing changed); 130 interrupted, 143 terminated.
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
  probe images     $CURL_IMAGE; $LISTENER_IMAGE (listeners); MongoDB probes use the MongoDB StatefulSet's own image (mongosh)
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
# The last non-empty line of a text.
last_line() { printf '%s\n' "$1" | sed '/^[[:space:]]*$/d' | tail -n 1; }

# ---- Parsing ----
MODE=''
CLUSTER_NAME=gthulhu-e2e
KEEP=false
CONTEXT=''
KUBECONFIG_FILE=''
NAMESPACE=default
RELEASE=gthulhu
ATTACK_ONLY=false
MANAGER_CALLER=''
PROBE_TIMEOUT=300
LISTEN_TIMEOUT=120
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
      --manager-caller) needs_value "$@"; MANAGER_CALLER=$2; shift 2 ;;
      --probe-timeout) needs_value "$@"; PROBE_TIMEOUT=$2; shift 2 ;;
      --listen-timeout) needs_value "$@"; LISTEN_TIMEOUT=$2; shift 2 ;;
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
  [[ -z $MANAGER_CALLER || $MANAGER_CALLER =~ $dns ]] ||
    usage_error "--manager-caller '$MANAGER_CALLER' is not a valid ServiceAccount name (lower-case letters, digits, '-')"
  [[ $PROBE_TIMEOUT =~ ^[0-9]+$ && $PROBE_TIMEOUT -ge 5 && $PROBE_TIMEOUT -le 3600 ]] ||
    usage_error "--probe-timeout '$PROBE_TIMEOUT' is not a number of seconds between 5 and 3600"
  [[ $LISTEN_TIMEOUT =~ ^[0-9]+$ && $LISTEN_TIMEOUT -ge 5 && $LISTEN_TIMEOUT -le 3600 ]] ||
    usage_error "--listen-timeout '$LISTEN_TIMEOUT' is not a number of seconds between 5 and 3600"
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

# Whether the operator passed FLAG to the runbook (after --).
runbook_flag() {
  local word
  for word in ${RUNBOOK_EXTRA[@]+"${RUNBOOK_EXTRA[@]}"}; do [[ $word != "$1" ]] || return 0; done
  return 1
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

# ---- Running commands: each bounded by a timeout, waited for in the background ----
# Every command runs as a background job the kit waits for: a signal then reaches the kit at once (a foreground
# child would hold it until it ends), and cleanup stops the command by pid (timeout runs it in its own process
# group, out of reach of the terminal's Ctrl-C).
ACTIVE_PID=''
# bounded SECONDS OUT ERR COMMAND...: runs COMMAND with its output in the files OUT and ERR.
bounded() {
  local limit=$1 out=$2 err=$3 status=0
  shift 3
  timeout --kill-after=5 "$limit" "$@" >"$out" 2>"$err" </dev/null &
  ACTIVE_PID=$!
  wait "$ACTIVE_PID" || status=$?
  ACTIVE_PID=''
  return "$status"
}
KUBE_FLAGS=()
kube_flags() {
  KUBE_FLAGS=(--context "$CONTEXT" --request-timeout=60s)
  [[ -z $KUBECONFIG_FILE ]] || KUBE_FLAGS+=(--kubeconfig "$KUBECONFIG_FILE")
}
# kread ARGS...: a quiet kubectl read; its output in KREAD, its error output in KREAD_ERR.
KREAD=''
KREAD_ERR=''
kread() {
  local status=0
  bounded 65 "$WORK/read.out" "$WORK/read.err" kubectl "${KUBE_FLAGS[@]}" "$@" || status=$?
  KREAD=$(<"$WORK/read.out")
  KREAD_ERR=$(<"$WORK/read.err")
  return "$status"
}
# act SECONDS COMMAND...: a command that changes something or waits; shown, then run (not in a dry run) with
# its output going to the terminal.
act() {
  local limit=$1 status=0
  shift
  say "+ $(shown "$@")"
  [[ $DRY_RUN == false ]] || return 0
  timeout --kill-after=10 "$limit" "$@" &
  ACTIVE_PID=$!
  wait "$ACTIVE_PID" || status=$?
  ACTIVE_PID=''
  return "$status"
}
# act_captured SECONDS COMMAND...: like act, and its output is also kept in ACT_OUTPUT (status in ACT_STATUS).
ACT_OUTPUT=''
ACT_STATUS=0
act_captured() {
  local limit=$1
  shift
  ACT_OUTPUT='' ACT_STATUS=0
  say "+ $(shown "$@")"
  [[ $DRY_RUN == false ]] || return 0
  bounded "$limit" "$WORK/act.out" "$WORK/act.err" "$@" || ACT_STATUS=$?
  ACT_OUTPUT=$(cat "$WORK/act.out" "$WORK/act.err")
  [[ -z $ACT_OUTPUT ]] || say "$ACT_OUTPUT"
  return "$ACT_STATUS"
}
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
# The kinds of object the attack pass created in Gthulhu's namespace (all labelled with this run's id).
CREATED_KINDS=()
IMPOSTOR_NS=''
IMPOSTOR_NS_CREATED=false
remove_attack_objects() {
  [[ $DRY_RUN == false ]] || return 0
  if [[ ${#CREATED_KINDS[@]} -gt 0 ]]; then
    local kinds
    kinds=$(printf '%s\n' "${CREATED_KINDS[@]}" | sort -u | paste -sd, -)
    bounded 30 /dev/null "$WORK/cleanup.err" kubectl "${KUBE_FLAGS[@]}" -n "$NAMESPACE" delete "$kinds" \
      -l "$RUN_LABEL=$RUN_ID" --ignore-not-found --wait=false ||
      say "could not delete the attack objects: kubectl -n $NAMESPACE delete $kinds -l $RUN_LABEL=$RUN_ID"
    CREATED_KINDS=()
  fi
  if [[ $IMPOSTOR_NS_CREATED == true ]]; then
    # By label, not by name: a namespace the kit did not create is never deleted.
    bounded 30 /dev/null "$WORK/cleanup.err" kubectl "${KUBE_FLAGS[@]}" delete namespaces -l "$RUN_LABEL=$RUN_ID" \
      --ignore-not-found --wait=false || say "could not delete the impostor's namespace: kubectl delete namespace $IMPOSTOR_NS"
    IMPOSTOR_NS_CREATED=false
  fi
}
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  if [[ -n $ACTIVE_PID ]]; then
    say "stopping $(ps -o args= -p "$ACTIVE_PID" 2>/dev/null || printf 'pid %s' "$ACTIVE_PID")"
    kill -TERM "$ACTIVE_PID" 2>/dev/null || true
    wait "$ACTIVE_PID" 2>/dev/null || true
    ACTIVE_PID=''
  fi
  [[ -z $WORK ]] || remove_attack_objects
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
  bounded 30 /dev/null /dev/null docker info || usage_error 'docker is installed but its daemon does not answer (docker info failed): start Docker and run the kit again'
  local installed
  bounded 30 "$WORK/kind.out" /dev/null kind version || true
  installed=$(awk '{print $2}' "$WORK/kind.out")
  [[ $installed == "$KIND_VERSION" ]] || say "note: kind $installed is installed; the kit pins $KIND_VERSION, whose node image it uses"
  bounded 30 "$WORK/kind.out" /dev/null kind get clusters || true
  if grep -qx -- "$CLUSTER_NAME" "$WORK/kind.out"; then
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
  bounded 30 "$WORK/contexts" /dev/null kubectl ${KUBECONFIG_FILE:+--kubeconfig "$KUBECONFIG_FILE"} config get-contexts -o name || true
  contexts=$(<"$WORK/contexts")
  grep -qxF -- "$CONTEXT" <<<"$contexts" ||
    usage_error "context '$CONTEXT' is not in the kubeconfig; contexts there: $(printf '%s' "${contexts:-none}" | tr '\n' ' ')"
}

GTHULHU_SELECTOR=''
gthulhu_found() {
  [[ $DRY_RUN == false ]] || return 1
  kread -n "$NAMESPACE" get deployments -l "$GTHULHU_SELECTOR,$COMPONENT=manager" -o name || return 1
  [[ -n $KREAD ]]
}

# The chart's fullname rule (templates/_helpers.tpl): <release>-<chart> unless the release name contains the
# chart's name. Only dry runs use it; a real run reads every name from the cluster by label.
chart_fullname() {
  local release=$1 chart=$2 name
  if [[ $release == *"$chart"* ]]; then name=$release; else name=$release-$chart; fi
  name=${name:0:63}
  printf '%s' "${name%-}"
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
    local fullname
    fullname=$(chart_fullname "$RELEASE" gthulhu)
    workloads="deployment/$fullname-manager daemonset/$fullname-scheduler statefulset/$(chart_fullname "$RELEASE" mongodb)"
  else
    kread -n "$NAMESPACE" get deployments,daemonsets,statefulsets -l "$GTHULHU_SELECTOR" -o name ||
      fail "could not list Gthulhu's workloads in namespace $NAMESPACE: $(last_line "$KREAD_ERR")"
    workloads=$KREAD
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
  bounded 60 "$WORK/help.out" /dev/null "${RUNBOOK[@]:0:2}" --help || true
  if ! grep -q -- '--verify' "$WORK/help.out"; then
    VERIFY_RESULT='not available in this runbook (its --help lists no --verify)'
    return 0
  fi
  stage "Auditing with the runbook (--verify)"
  if act 1200 "${RUNBOOK[@]}" --yes --verify; then VERIFY_RESULT=passed; else VERIFY_RESULT="failed (exit $?)"; fi
  [[ $DRY_RUN == false ]] || VERIFY_RESULT='dry run'
}

# ---- What the attack needs to know about Gthulhu, read by label before any probe exists ----
MANAGER_DEPLOYMENT='' MANAGER_ACCOUNT='' MANAGER_LABELS=''
SCHEDULER_DAEMONSET='' SCHEDULER_ACCOUNT='' SCHEDULER_LABELS=''
MONGO_STATEFULSET='' MONGO_IMAGE='' MONGO_PORT=27017
MANAGER_SERVICE='' MANAGER_SERVICE_PORT='' MANAGER_SERVICE_SELECTOR='' WAYPOINT=''
MANAGER_POD_IP='' MANAGER_POD_NODE='' MANAGER_POD_PORT=''
DECIDER_POD_IP='' DECIDER_POD_NODE='' DECIDER_POD_PORT=''
MONGO_POD_IP='' MONGO_POD_NODE=''
MANAGER_POD_IPS=''

# Go templates, one line per object, fields separated by "|" (a tab would be IFS whitespace: empty fields would
# collapse); a missing field prints "<no value>".
# shellcheck disable=SC2016 # Go templates, not shell
readonly WORKLOAD_TEMPLATE='{{range .items}}{{.kind}}|{{.metadata.name}}|{{index .metadata.labels "app.kubernetes.io/component"}}|{{.spec.template.spec.serviceAccountName}}|{{range $k, $v := .spec.template.metadata.labels}}{{$k}}={{$v}},{{end}}|{{range .spec.template.spec.containers}}{{.image}}={{range .ports}}{{.containerPort}}:{{.name}}/{{end}};{{end}}{{"\n"}}{{end}}'
# shellcheck disable=SC2016
readonly SERVICE_TEMPLATE='{{range .items}}{{.metadata.name}}|{{index .metadata.labels "app.kubernetes.io/component"}}|{{range .spec.ports}}{{.port}},{{end}}|{{range $k, $v := .spec.selector}}{{$k}}={{$v}},{{end}}|{{range $k, $v := .metadata.labels}}{{if eq $k "istio.io/use-waypoint"}}{{$v}}{{end}}{{end}}{{"\n"}}{{end}}'
# shellcheck disable=SC2016
readonly POD_TEMPLATE='{{range .items}}{{index .metadata.labels "e2e.gthulhu-runbook/run-id"}}|{{.metadata.name}}|{{index .metadata.labels "app.kubernetes.io/component"}}|{{.status.podIP}}|{{.spec.nodeName}}|{{.status.phase}}|{{range .status.conditions}}{{if eq .type "Ready"}}{{.status}}{{end}}{{end}}|{{if .metadata.ownerReferences}}owned{{else}}orphan{{end}}|{{if .metadata.deletionTimestamp}}deleting{{else}}live{{end}}|{{range .spec.containers}}{{range .ports}}{{.containerPort}}:{{.name}}/{{end}}{{end}}{{"\n"}}{{end}}'
# shellcheck disable=SC2016
readonly NAMESPACE_TEMPLATE='{{range $k, $v := .metadata.labels}}{{if eq $k "istio.io/use-waypoint"}}{{$v}}{{end}}{{end}}'

# A field as the templates print it: "<no value>" is empty.
field() { [[ $1 == '<no value>' ]] || printf '%s' "$1"; }
# port_named PORTS NAME: from "8080:http/9090:metrics/", the port called NAME, else the first one.
port_named() {
  local entry first=''
  local IFS=/
  for entry in $1; do
    [[ -n $entry ]] || continue
    [[ -n $first ]] || first=${entry%%:*}
    if [[ ${entry#*:} == "$2" ]]; then printf '%s' "${entry%%:*}"; return 0; fi
  done
  printf '%s' "$first"
}

# mongo_image "image=27017:mongo/;...": the image of the container serving MongoDB's port, which ships mongosh
# (the chart's StatefulSet also has a busybox init container, and maybe sidecars).
mongo_image() {
  local entry first=''
  local IFS=';'
  for entry in $1; do
    [[ -n $entry ]] || continue
    [[ -n $first ]] || first=${entry%%=*}
    if [[ ${entry#*=} == *27017:* ]]; then printf '%s' "${entry%%=*}"; return 0; fi
  done
  printf '%s' "$first"
}

# No Gthulhu where the operator pointed: the kit's own message, naming the releases it did find (exit 2).
not_found() {
  local what=$1 releases=''
  if kread -n "$NAMESPACE" get deployments -l "$COMPONENT=manager" \
    -o go-template='{{range .items}}{{index .metadata.labels "app.kubernetes.io/instance"}} {{end}}'; then
    releases=$(tr -s ' ' <<<"$KREAD" | sed 's/ $//')
  fi
  usage_error "no $what labelled $GTHULHU_SELECTOR in namespace $NAMESPACE, so there is nothing to attack; Gthulhu releases found there: ${releases:-none} (check --release and --namespace)"
}

discover_targets() {
  if [[ $DRY_RUN == true ]]; then
    local fullname
    fullname=$(chart_fullname "$RELEASE" gthulhu)
    # What the chart's templates give the pods (a real run reads them from the cluster).
    local selector="app.kubernetes.io/name=gthulhu,$GTHULHU_SELECTOR"
    MANAGER_DEPLOYMENT=$fullname-manager MANAGER_ACCOUNT=$fullname-manager MANAGER_LABELS="$selector,$COMPONENT=manager"
    SCHEDULER_DAEMONSET=$fullname-scheduler SCHEDULER_ACCOUNT=$fullname SCHEDULER_LABELS="$selector,$COMPONENT=scheduler,app=decisionmaker"
    MONGO_STATEFULSET=$(chart_fullname "$RELEASE" mongodb) MONGO_IMAGE='<the MongoDB StatefulSet image>'
    MANAGER_SERVICE=$fullname-manager MANAGER_SERVICE_PORT=8080 MANAGER_SERVICE_SELECTOR=$MANAGER_LABELS
    WAYPOINT='<the waypoint the manager Service uses>'
    MANAGER_POD_IP='<manager pod IP>' MANAGER_POD_NODE='<manager node>' MANAGER_POD_PORT=8080
    DECIDER_POD_IP='<decision-maker pod IP>' DECIDER_POD_NODE='<decision-maker node>' DECIDER_POD_PORT=8080
    MONGO_POD_IP='<MongoDB pod IP>' MONGO_POD_NODE='<MongoDB node>'
    MANAGER_CALLER=${MANAGER_CALLER:-$SCHEDULER_ACCOUNT}
    return 0
  fi
  local kind name component account labels containers
  kread -n "$NAMESPACE" get deployments,daemonsets,statefulsets -l "$GTHULHU_SELECTOR" -o go-template="$WORKLOAD_TEMPLATE" ||
    fail "could not read Gthulhu's workloads in namespace $NAMESPACE: $(last_line "$KREAD_ERR")"
  while IFS='|' read -r kind name component account labels containers; do
    account=$(field "$account")
    case $kind:$(field "$component") in
      Deployment:manager)
        [[ -n $MANAGER_DEPLOYMENT ]] || { MANAGER_DEPLOYMENT=$name MANAGER_ACCOUNT=${account:-default} MANAGER_LABELS=${labels%,}; } ;;
      DaemonSet:scheduler)
        [[ -n $SCHEDULER_DAEMONSET ]] || { SCHEDULER_DAEMONSET=$name SCHEDULER_ACCOUNT=${account:-default} SCHEDULER_LABELS=${labels%,}; } ;;
      StatefulSet:mongodb)
        [[ -n $MONGO_STATEFULSET ]] || { MONGO_STATEFULSET=$name MONGO_IMAGE=$(mongo_image "$containers"); } ;;
    esac
  done <<<"$KREAD"
  [[ -n $MANAGER_DEPLOYMENT ]] || not_found "manager Deployment ($COMPONENT=manager)"
  [[ -n $SCHEDULER_DAEMONSET ]] || not_found "scheduler DaemonSet ($COMPONENT=scheduler)"
  [[ -n $MONGO_STATEFULSET ]] || not_found "MongoDB StatefulSet ($COMPONENT=mongodb)"
  # "Another identity" is the namespace's default ServiceAccount: it must not be the manager's own.
  [[ $MANAGER_ACCOUNT != default ]] || fail 'the manager runs as ServiceAccount default: the identity probes need it to have its own'
  MANAGER_CALLER=${MANAGER_CALLER:-$SCHEDULER_ACCOUNT}

  local ports selector waypoint
  kread -n "$NAMESPACE" get services -l "$GTHULHU_SELECTOR,$COMPONENT=manager" -o go-template="$SERVICE_TEMPLATE" ||
    fail "could not read Gthulhu's Services in namespace $NAMESPACE: $(last_line "$KREAD_ERR")"
  while IFS='|' read -r name component ports selector waypoint; do
    [[ -z $MANAGER_SERVICE && -n $name ]] || continue
    MANAGER_SERVICE=$name MANAGER_SERVICE_PORT=${ports%%,*} MANAGER_SERVICE_SELECTOR=${selector%,} WAYPOINT=$waypoint
  done <<<"$KREAD"
  [[ -n $MANAGER_SERVICE ]] || not_found "manager Service ($COMPONENT=manager)"
  if [[ -z $WAYPOINT ]]; then
    kread get namespace "$NAMESPACE" -o go-template="$NAMESPACE_TEMPLATE" || true
    WAYPOINT=$KREAD
  fi

  # Targets are Ready pods their own controller made: never a probe wearing their labels, never one on its way out.
  local ip node phase ready owner state
  kread -n "$NAMESPACE" get pods -l "$GTHULHU_SELECTOR" -o go-template="$POD_TEMPLATE" ||
    fail "could not read Gthulhu's pods in namespace $NAMESPACE: $(last_line "$KREAD_ERR")"
  local probe_of_a_run
  while IFS='|' read -r probe_of_a_run name component ip node phase ready owner state ports; do
    # A probe of this kit (an earlier run's, if it was killed) wears Gthulhu's labels but is never a target.
    [[ $(field "$probe_of_a_run") == '' ]] || continue
    ip=$(field "$ip")
    [[ $(field "$component") != manager || -z $ip ]] || MANAGER_POD_IPS+="$ip "
    [[ $phase == Running && $ready == True && $owner == owned && $state == live && -n $ip ]] || continue
    case $(field "$component") in
      manager) [[ -n $MANAGER_POD_IP ]] || { MANAGER_POD_IP=$ip MANAGER_POD_NODE=$node MANAGER_POD_PORT=$(port_named "$ports" http); } ;;
      scheduler) [[ -n $DECIDER_POD_IP ]] || { DECIDER_POD_IP=$ip DECIDER_POD_NODE=$node DECIDER_POD_PORT=$(port_named "$ports" http); } ;;
      mongodb) [[ -n $MONGO_POD_IP ]] || { MONGO_POD_IP=$ip MONGO_POD_NODE=$node MONGO_PORT=$(port_named "$ports" mongo); } ;;
    esac
  done <<<"$KREAD"
  MONGO_PORT=${MONGO_PORT:-27017}
  say "targets: manager ${MANAGER_DEPLOYMENT} (ServiceAccount $MANAGER_ACCOUNT, pod ${MANAGER_POD_IP:-none Ready}), Service $MANAGER_SERVICE:$MANAGER_SERVICE_PORT${WAYPOINT:+ (waypoint $WAYPOINT)}"
  say "         decision maker ${DECIDER_POD_IP:-none Ready} of $SCHEDULER_DAEMONSET (ServiceAccount $SCHEDULER_ACCOUNT), MongoDB ${MONGO_POD_IP:-none Ready} of $MONGO_STATEFULSET"
}

# ---- The attack pass ----
# Each row: id, role (bypass: must be refused; control: must get through, or the refusals prove nothing), the
# path it tries, how its result is read (http, mongo, admission, listen), the host it names (a DNS name or an
# IP), and why it stays open when the kit knows it cannot be closed or the operator chose to leave it open.
P_ID=() P_ROLE=() P_WHAT=() P_CHECK=() P_HOST=() P_POD=() P_NS=() P_NOTE=() P_OUTCOME=()
P_VERDICT=() P_OBSERVED=()
ROW=0
# row ID ROLE WHAT CHECK HOST: adds a row; its index is in ROW.
row() {
  ROW=${#P_ID[@]}
  P_ID+=("$1") P_ROLE+=("$2") P_WHAT+=("$3") P_CHECK+=("$4") P_HOST+=("${5:-}")
  P_POD+=('') P_NS+=("$NAMESPACE") P_NOTE+=('') P_OUTCOME+=('') P_VERDICT+=('') P_OBSERVED+=('')
}
# settle INDEX RESULT OBSERVED: a row's outcome is known without (or before) a pod: reached, refused, denied
# (refused at admission) or unknown.
settle() { [[ $DRY_RUN == true ]] || P_OUTCOME[$1]=$2$'\t'$3; }

# Paths the kit knows stay open whatever the runbook does, and paths the operator chose to leave open.
readonly HOST_NETWORK_NOTE="a hostNetwork pod on the target's node passes istio-cni's in-pod rule for the node's probe address (169.254.7.127, every port) and Calico does not police host-to-local-pod traffic, so neither ztunnel nor the CNI sees it; nothing in Gthulhu's namespace closes it: refusing hostNetwork pods (admission, Pod Security) on these nodes would"
note_identity() { ! runbook_flag --no-identity-policies || P_NOTE[ROW]='the runbook ran with --no-identity-policies, which leaves the paths around the waypoint and the labels open'; }
note_admission() { ! runbook_flag --no-admission-policy || P_NOTE[ROW]='the runbook ran with --no-admission-policy, which leaves borrowed identities and foreign Services open'; }

# creation_refused INDEX STATUS OUTPUT: the API server did not create a probe's object; an admission refusal is
# a result (the path is closed at admission), anything else is not.
creation_refused() {
  local i=$1 status=$2 output=$3 line
  line=$(grep -m1 -oE "(ValidatingAdmissionPolicy '|admission webhook \"|violates PodSecurity).*" <<<"$output" || true)
  if [[ $status -eq 124 || $status -eq 137 ]]; then
    settle "$i" unknown 'kubectl timed out creating it'
  elif [[ -n $line ]]; then
    settle "$i" denied "refused at admission: $line"
  else
    settle "$i" unknown "could not be created: $(last_line "$output")"
  fi
}

ATTACKER_AS=()
# json_string VAR TEXT: sets VAR to TEXT as a JSON string (no subshell: the kit builds many of them).
json_string() {
  local text=$2
  text=${text//\\/\\\\}
  text=${text//\"/\\\"}
  text=${text//$'\n'/\\n}
  text=${text//$'\t'/\\t}
  printf -v "$1" '"%s"' "$text"
}
# json_labels VAR "k=v,k2=v2": sets VAR to the labels as the members of a JSON object.
json_labels() {
  local entry key value out=''
  local IFS=,
  for entry in $2; do
    [[ $entry == *=* ]] || continue
    json_string key "${entry%%=*}"
    json_string value "${entry#*=}"
    out+=${out:+,}$key:$value
  done
  printf -v "$1" '%s' "$out"
}
# probe_pod INDEX IDENTITY IMAGE SERVICEACCOUNT LABELS SPEC META ARGV...: adds one probe pod (it runs once) to the
# batch IDENTITY creates. IDENTITY is kit (the kit's own credentials) or attacker (a ServiceAccount that may only
# create pods and workloads in the namespace); SPEC and META are more pod spec and metadata fields as JSON
# (',"hostNetwork":true'), or ''. A listener row's container declares its port: the manager calls a decision
# maker on its first container port.
P_IDENTITY=()
probe_pod() {
  local i=$1 identity=$2 image=$3 account=$4 labels=$5 spec=$6 meta=$7
  shift 7
  local pod="kit-$RUN_ID-$i" word quoted argv='' ports='' labels_json image_json
  P_POD[i]=$pod
  P_IDENTITY[i]=$identity
  for word in "$@"; do
    json_string quoted "$word"
    argv+=${argv:+,}$quoted
  done
  json_labels labels_json "$RUN_LABEL=$RUN_ID,$RUNBOOK_PROBE_LABEL=kit-$RUN_ID${labels:+,$labels}"
  json_string image_json "$image"
  [[ ${P_CHECK[i]} != listen ]] || ports=',"ports":[{"containerPort":8080,"name":"http"}]'
  printf '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"%s","namespace":"%s","labels":{%s}%s},"spec":{"restartPolicy":"Never","serviceAccountName":"%s","automountServiceAccountToken":false,"enableServiceLinks":false,"terminationGracePeriodSeconds":1,"readinessGates":[{"conditionType":"%s"}],"containers":[{"name":"probe","image":%s,"command":[%s]%s}]%s}}\n---\n' \
    "$pod" "${P_NS[i]}" "$labels_json" "$meta" "$account" "$NEVER_READY" "$image_json" "$argv" "$ports" "$spec" \
    >>"$WORK/probe-pods-$identity.yaml"
}
# Creates each identity's probe pods with one call; a pod the API server refused gets its row settled.
create_probe_pods() {
  local identity file as i line
  for identity in kit attacker; do
    file=$WORK/probe-pods-$identity.yaml
    [[ -s $file ]] || continue
    say "${file##*/} (one pod per line, created as $([[ $identity == kit ]] && printf 'the kit' || printf 'the attacker')):"
    grep -v '^---$' "$file" | sed 's/^/    /'
    as=()
    [[ $identity == kit ]] || as=("${ATTACKER_AS[@]}")
    CREATED_KINDS+=(pods)
    act_captured 120 kubectl "${KUBE_FLAGS[@]}" ${as[@]+"${as[@]}"} create -f "$file" || true
    [[ $DRY_RUN == false ]] || continue
    for i in "${!P_ID[@]}"; do
      [[ ${P_IDENTITY[i]:-} == "$identity" && -z ${P_OUTCOME[i]} ]] || continue
      ! grep -qF "pod/${P_POD[i]} created" <<<"$ACT_OUTPUT" || continue
      line=$(grep -F "\"${P_POD[i]}\"" <<<"$ACT_OUTPUT" | head -n 1 || true)
      creation_refused "$i" "$ACT_STATUS" "${line:-$ACT_OUTPUT}"
    done
  done
}
# The probe command forms: they run the same in the simulated cluster and in the real images.
PROBE_ARGV=()
http_argv() { PROBE_ARGV=(curl -sS -o /dev/null -w '%{http_code}' --max-time 5 "http://$1/health"); }
mongo_argv() {
  PROBE_ARGV=(mongosh --quiet --norc --eval 'db.runCommand({hello:1}).ok'
    "mongodb://$1:$MONGO_PORT/?directConnection=true&serverSelectionTimeoutMS=5000")
}

# manifest NAME: shows a manifest the kit wrote to $WORK/NAME (read from stdin).
manifest() {
  cat >"$WORK/$1"
  say "$1:"
  sed 's/^/    /' "$WORK/$1"
}

# The attacker is a ServiceAccount allowed what many users are: create pods, workloads and Services in
# Gthulhu's namespace (and pods in the impostor's). The kit acts as it by impersonation (kubectl --as), so an
# admission rule that exempts the runbook's own identity does not exempt it.
ATTACKER=''
OWNER_UID=''
prepare_attack_objects() {
  ATTACKER=kit-$RUN_ID-attacker
  IMPOSTOR_NS=kit-$RUN_ID-impostor
  DEPUTY=kit-$RUN_ID-deputy
  ATTACKER_AS=(--as "system:serviceaccount:$NAMESPACE:$ATTACKER")
  local rule
  rule=$(
    cat <<'EOF'
rules:
  - apiGroups: [""]
    resources: [pods, services]
    verbs: [create, get, list, watch, delete]
  - apiGroups: [apps]
    resources: [deployments]
    verbs: [create]
  - apiGroups: [batch]
    resources: [cronjobs]
    verbs: [create]
EOF
  )
  manifest attack-objects.yaml <<EOF
# What the attack pass needs besides its probe pods, all labelled $RUN_LABEL=$RUN_ID and deleted at the end:
# the attacker's ServiceAccount and its rights, the impostor's namespace, an owner for the decoy decision maker
# (so the scheduler DaemonSet never adopts it), and a second Service selecting the manager's pods (the kit's own,
# so the waypoint is tried even where admission refuses the attacker's).
apiVersion: v1
kind: ServiceAccount
metadata: {name: $ATTACKER, namespace: $NAMESPACE, labels: {$RUN_LABEL: "$RUN_ID"}}
automountServiceAccountToken: false
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: $ATTACKER, namespace: $NAMESPACE, labels: {$RUN_LABEL: "$RUN_ID"}}
$rule
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: $ATTACKER, namespace: $NAMESPACE, labels: {$RUN_LABEL: "$RUN_ID"}}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: $ATTACKER}
subjects: [{kind: ServiceAccount, name: $ATTACKER, namespace: $NAMESPACE}]
---
apiVersion: v1
kind: Namespace
metadata: {name: $IMPOSTOR_NS, labels: {$RUN_LABEL: "$RUN_ID"}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: $ATTACKER, namespace: $IMPOSTOR_NS, labels: {$RUN_LABEL: "$RUN_ID"}}
$rule
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: $ATTACKER, namespace: $IMPOSTOR_NS, labels: {$RUN_LABEL: "$RUN_ID"}}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: $ATTACKER}
subjects: [{kind: ServiceAccount, name: $ATTACKER, namespace: $NAMESPACE}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: kit-$RUN_ID, namespace: $NAMESPACE, labels: {$RUN_LABEL: "$RUN_ID"}}
data: {purpose: owner of the decoy decision maker}
---
$(deputy_service)
EOF
  CREATED_KINDS+=(serviceaccounts roles.rbac.authorization.k8s.io rolebindings.rbac.authorization.k8s.io configmaps services)
  IMPOSTOR_NS_CREATED=true
  act_captured 90 kubectl "${KUBE_FLAGS[@]}" create -f "$WORK/attack-objects.yaml" || true
  if [[ $DRY_RUN == true ]]; then
    OWNER_UID="<uid of ConfigMap kit-$RUN_ID>"
    return 0
  fi
  local object
  for object in "serviceaccount/$ATTACKER" "rolebinding.rbac.authorization.k8s.io/$ATTACKER" "configmap/kit-$RUN_ID" "namespace/$IMPOSTOR_NS"; do
    grep -qF "$object created" <<<"$ACT_OUTPUT" ||
      ATTACK_SETUP_ERROR="the kit could not create $object: $(last_line "$ACT_OUTPUT")"
  done
  grep -qF "service/$DEPUTY created" <<<"$ACT_OUTPUT" || DEPUTY_REFUSED=$(grep -F "\"$DEPUTY\"" <<<"$ACT_OUTPUT" || printf '%s' "$ACT_OUTPUT")
  kread -n "$NAMESPACE" get configmap "kit-$RUN_ID" -o go-template='{{.metadata.uid}}' || true
  OWNER_UID=$KREAD
}
ATTACK_SETUP_ERROR=''
DEPUTY=''
DEPUTY_REFUSED=''
# The second Service: the manager Service's selector and port, bound to the waypoint the manager Service uses.
deputy_service() {
  local waypoint_label=''
  [[ -z $WAYPOINT ]] || waypoint_label=", istio.io/use-waypoint: \"$WAYPOINT\""
  cat <<EOF
apiVersion: v1
kind: Service
metadata: {name: $DEPUTY, namespace: $NAMESPACE, labels: {$RUN_LABEL: "$RUN_ID", $RUNBOOK_PROBE_LABEL: kit-$RUN_ID$waypoint_label}}
spec:
  ports: [{name: http, port: $MANAGER_SERVICE_PORT, targetPort: ${MANAGER_POD_PORT:-8080}}]
  selector:
$(yaml_labels "$MANAGER_SERVICE_SELECTOR" 4)
EOF
}

# Rows whose target the cluster has no Ready pod for are reported without a result, never aimed at a guess.
needs() { # needs INDEX VALUE WHAT: false (and the row settled) when VALUE is empty
  [[ -z $2 ]] || return 0
  settle "$1" unknown "not tried: $3"
  return 1
}
attacker_ready() {
  [[ -n $ATTACK_SETUP_ERROR ]] || return 0
  settle "$1" unknown "not tried: $ATTACK_SETUP_ERROR"
  return 1
}

start_listeners() {
  # The manager lists every pod labelled app=decisionmaker in all namespaces and, every 30 s, sends each one a
  # token request and intents on its first container port (Gthulhu/api v1.3.0). A decoy wearing the decision
  # makers' labels in Gthulhu's namespace shows that it is calling them now; the impostor in another namespace
  # must hear nothing.
  local listen=(python3 -u -m http.server 8080 --bind 0.0.0.0 --directory /tmp)
  row manager-to-decoy-decision-maker control "the manager -> a decoy with the decision makers' labels in $NAMESPACE (pod IP :8080)" listen
  local decoy=$ROW
  if attacker_ready "$decoy"; then
    probe_pod "$decoy" kit "$LISTENER_IMAGE" default "$SCHEDULER_LABELS" '' \
      ",\"ownerReferences\":[{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"name\":\"kit-$RUN_ID\",\"uid\":\"$OWNER_UID\",\"controller\":true}]" \
      "${listen[@]}"
  fi
  row impostor-decision-maker bypass "the manager -> a pod labelled app=decisionmaker in namespace $IMPOSTOR_NS (pod IP :8080)" listen
  P_NS[ROW]=$IMPOSTOR_NS
  if attacker_ready "$ROW"; then
    probe_pod "$ROW" attacker "$LISTENER_IMAGE" default app=decisionmaker '' '' "${listen[@]}"
  fi
}

start_probes() {
  local service_host=$MANAGER_SERVICE.$NAMESPACE.svc
  # Around the waypoint and the labels: the identity policies close these.
  row outsider-to-manager bypass "pod outside the mesh -> Service $MANAGER_SERVICE:$MANAGER_SERVICE_PORT" http "$service_host"
  note_identity
  http_argv "$service_host:$MANAGER_SERVICE_PORT"
  probe_pod "$ROW" kit "$CURL_IMAGE" default istio.io/dataplane-mode=none '' '' "${PROBE_ARGV[@]}"

  row other-identity-to-manager-pod bypass "enrolled pod, ServiceAccount default -> manager pod IP :${MANAGER_POD_PORT:-8080} (no waypoint)" http "$MANAGER_POD_IP"
  note_identity
  if needs "$ROW" "$MANAGER_POD_IP" 'no Ready manager pod to aim at'; then
    http_argv "$MANAGER_POD_IP:$MANAGER_POD_PORT"
    probe_pod "$ROW" kit "$CURL_IMAGE" default '' '' '' "${PROBE_ARGV[@]}"
  fi

  row manager-labels-to-mongodb bypass "manager's labels, ServiceAccount default -> MongoDB pod IP :$MONGO_PORT" mongo "$MONGO_POD_IP"
  note_identity
  if needs "$ROW" "$MONGO_POD_IP" 'no Ready MongoDB pod to aim at'; then
    mongo_argv "$MONGO_POD_IP"
    probe_pod "$ROW" kit "$MONGO_IMAGE" default "$MANAGER_LABELS" '' '' "${PROBE_ARGV[@]}"
  fi

  row manager-labels-to-decision-maker bypass "manager's labels, ServiceAccount default -> decision maker pod IP :${DECIDER_POD_PORT:-8080}" http "$DECIDER_POD_IP"
  note_identity
  if needs "$ROW" "$DECIDER_POD_IP" 'no Ready decision maker pod to aim at'; then
    http_argv "$DECIDER_POD_IP:$DECIDER_POD_PORT"
    probe_pod "$ROW" kit "$CURL_IMAGE" default "$MANAGER_LABELS" '' '' "${PROBE_ARGV[@]}"
  fi

  # Controls: an identity each target admits must still get through, or the refusals above prove nothing.
  row allowed-identity-to-manager control "ServiceAccount $MANAGER_CALLER (admitted by the manager policy) -> Service $MANAGER_SERVICE:$MANAGER_SERVICE_PORT" http "$service_host"
  http_argv "$service_host:$MANAGER_SERVICE_PORT"
  probe_pod "$ROW" kit "$CURL_IMAGE" "$MANAGER_CALLER" '' '' '' "${PROBE_ARGV[@]}"

  row manager-to-mongodb control "manager's labels and ServiceAccount -> MongoDB pod IP :$MONGO_PORT" mongo "$MONGO_POD_IP"
  if needs "$ROW" "$MONGO_POD_IP" 'no Ready MongoDB pod to aim at'; then
    mongo_argv "$MONGO_POD_IP"
    probe_pod "$ROW" kit "$MONGO_IMAGE" "$MANAGER_ACCOUNT" "$MANAGER_LABELS" '' '' "${PROBE_ARGV[@]}"
  fi

  row manager-to-decision-maker control "manager's labels and ServiceAccount -> decision maker pod IP :${DECIDER_POD_PORT:-8080}" http "$DECIDER_POD_IP"
  if needs "$ROW" "$DECIDER_POD_IP" 'no Ready decision maker pod to aim at'; then
    http_argv "$DECIDER_POD_IP:$DECIDER_POD_PORT"
    probe_pod "$ROW" kit "$CURL_IMAGE" "$MANAGER_ACCOUNT" "$MANAGER_LABELS" '' '' "${PROBE_ARGV[@]}"
  fi

  start_borrowed_identity
  start_deputy
  start_host_network
}

# A borrowed identity: anyone who may create pods or workloads in the namespace can name the manager's
# ServiceAccount; only admission refuses that (istiod issues the certificate for whatever the spec names).
start_borrowed_identity() {
  row borrowed-identity-by-pod bypass "attacker's Pod naming ServiceAccount $MANAGER_ACCOUNT, manager's and the runbook's probe labels -> MongoDB pod IP :$MONGO_PORT" mongo "$MONGO_POD_IP"
  note_admission
  if attacker_ready "$ROW" && needs "$ROW" "$MONGO_POD_IP" 'no Ready MongoDB pod to aim at'; then
    mongo_argv "$MONGO_POD_IP"
    probe_pod "$ROW" attacker "$MONGO_IMAGE" "$MANAGER_ACCOUNT" "$MANAGER_LABELS" '' '' "${PROBE_ARGV[@]}"
  fi
  # Labels alone: the NetworkPolicies trust them, so only admission (or the identity policies) refuses this one.
  row copied-labels-by-pod bypass "attacker's Pod with the manager's labels, ServiceAccount default -> MongoDB pod IP :$MONGO_PORT" mongo "$MONGO_POD_IP"
  note_admission
  if attacker_ready "$ROW" && needs "$ROW" "$MONGO_POD_IP" 'no Ready MongoDB pod to aim at'; then
    mongo_argv "$MONGO_POD_IP"
    probe_pod "$ROW" attacker "$MONGO_IMAGE" default "$MANAGER_LABELS" '' '' "${PROBE_ARGV[@]}"
  fi
  local name=kit-$RUN_ID-borrowed
  row borrowed-identity-by-deployment bypass "attacker's Deployment whose pods name ServiceAccount $MANAGER_ACCOUNT (server-side dry run)" admission
  note_admission
  attacker_ready "$ROW" && admission_probe "$ROW" deployment.apps deployments.apps "$name" <<EOF
apiVersion: apps/v1
kind: Deployment
metadata: {name: $name, namespace: $NAMESPACE, labels: {$RUN_LABEL: "$RUN_ID", $RUNBOOK_PROBE_LABEL: kit-$RUN_ID}}
spec:
  replicas: 1
  selector: {matchLabels: {$RUN_LABEL: "$RUN_ID"}}
  template:
    metadata:
      labels:
        $RUN_LABEL: "$RUN_ID"
        $RUNBOOK_PROBE_LABEL: kit-$RUN_ID
$(yaml_labels "$MANAGER_LABELS" 8)
    spec:
      serviceAccountName: $MANAGER_ACCOUNT
      containers: [{name: borrowed, image: "$MONGO_IMAGE", command: [sleep, "3600"]}]
EOF
  row borrowed-identity-by-cronjob bypass "attacker's CronJob whose pods name ServiceAccount $MANAGER_ACCOUNT (server-side dry run)" admission
  note_admission
  attacker_ready "$ROW" && admission_probe "$ROW" cronjob.batch cronjobs.batch "$name" <<EOF
apiVersion: batch/v1
kind: CronJob
metadata: {name: $name, namespace: $NAMESPACE, labels: {$RUN_LABEL: "$RUN_ID", $RUNBOOK_PROBE_LABEL: kit-$RUN_ID}}
spec:
  schedule: "*/5 * * * *"
  jobTemplate:
    spec:
      template:
        metadata:
          labels:
            $RUN_LABEL: "$RUN_ID"
            $RUNBOOK_PROBE_LABEL: kit-$RUN_ID
$(yaml_labels "$MANAGER_LABELS" 12)
        spec:
          serviceAccountName: $MANAGER_ACCOUNT
          restartPolicy: Never
          containers: [{name: borrowed, image: "$MONGO_IMAGE", command: [sleep, "3600"]}]
EOF
  return 0
}
# yaml_labels "k=v,k2=v2" INDENT: the labels as YAML map entries, indented by INDENT spaces.
yaml_labels() {
  local entry
  local IFS=,
  for entry in $1; do
    [[ -n $entry && $entry == *=* ]] || continue
    printf '%*s%s: "%s"\n' "$2" '' "${entry%%=*}" "${entry#*=}"
  done
}
# admission_probe INDEX RESOURCE PLURAL NAME < MANIFEST: queues an object for the attacker to create with a
# server-side dry run (admission runs, nothing is created); kubectl names it RESOURCE/NAME when it is admitted
# and PLURAL "NAME" when it is refused.
P_ADMITTED=() P_REFUSED=()
admission_probe() {
  P_ADMITTED[$1]="$2/$4 created"
  P_REFUSED[$1]="$3 \"$4\""
  cat >>"$WORK/admission-probes.yaml"
  printf -- '---\n' >>"$WORK/admission-probes.yaml"
}
run_admission_probes() {
  local file=$WORK/admission-probes.yaml i line
  [[ -s $file ]] || return 0
  say "${file##*/} (created by the attacker, server-side dry run):"
  sed 's/^/    /' "$file"
  act_captured 60 kubectl "${KUBE_FLAGS[@]}" "${ATTACKER_AS[@]}" create --dry-run=server -f "$file" || true
  [[ $DRY_RUN == false ]] || return 0
  for i in "${!P_ID[@]}"; do
    [[ -n ${P_ADMITTED[i]:-} && -z ${P_OUTCOME[i]} ]] || continue
    if grep -qF "${P_ADMITTED[i]}" <<<"$ACT_OUTPUT"; then
      settle "$i" reached 'admitted by the API server (server-side dry run; nothing was created)'
    else
      line=$(grep -F "${P_REFUSED[i]}" <<<"$ACT_OUTPUT" | head -n 1 || true)
      creation_refused "$i" "$ACT_STATUS" "${line:-$ACT_OUTPUT}"
    fi
  done
}

# The waypoint as a confused deputy: a second Service selecting the manager's pods, bound to the waypoint, has no
# manager policy of its own; the waypoint forwards it with its own identity, which the manager admits.
start_deputy() {
  row service-selecting-manager bypass "attacker creates a Service selecting the manager's pods (server-side dry run)" admission
  note_admission
  # The attacker's copy is named apart from the kit's, which already exists.
  attacker_ready "$ROW" && admission_probe "$ROW" service services "$DEPUTY-2" < <(deputy_service | sed "s/name: $DEPUTY,/name: $DEPUTY-2,/")
  row deputy-service-to-manager bypass "enrolled pod, ServiceAccount default -> Service $DEPUTY (the manager's pods${WAYPOINT:+, bound to waypoint $WAYPOINT})" http "$DEPUTY.$NAMESPACE.svc"
  if [[ -n $DEPUTY_REFUSED ]]; then
    creation_refused "$ROW" 1 "$DEPUTY_REFUSED"
  else
    http_argv "$DEPUTY.$NAMESPACE.svc:$MANAGER_SERVICE_PORT"
    probe_pod "$ROW" kit "$CURL_IMAGE" default '' '' '' "${PROBE_ARGV[@]}"
  fi
}

# hostNetwork on the target's own node: disclosed as staying open unless something refuses the pod.
start_host_network() {
  row host-network-to-manager bypass "attacker's hostNetwork pod on the manager's node -> manager pod IP :${MANAGER_POD_PORT:-8080}" http "$MANAGER_POD_IP"
  P_NOTE[ROW]=$HOST_NETWORK_NOTE
  if attacker_ready "$ROW" && needs "$ROW" "$MANAGER_POD_IP" 'no Ready manager pod to aim at'; then
    http_argv "$MANAGER_POD_IP:$MANAGER_POD_PORT"
    probe_pod "$ROW" attacker "$CURL_IMAGE" default '' "$(host_network_spec "$MANAGER_POD_NODE")" '' "${PROBE_ARGV[@]}"
  fi
  row host-network-to-mongodb bypass "attacker's hostNetwork pod on MongoDB's node -> MongoDB pod IP :$MONGO_PORT" mongo "$MONGO_POD_IP"
  P_NOTE[ROW]=$HOST_NETWORK_NOTE
  if attacker_ready "$ROW" && needs "$ROW" "$MONGO_POD_IP" 'no Ready MongoDB pod to aim at'; then
    mongo_argv "$MONGO_POD_IP"
    probe_pod "$ROW" attacker "$MONGO_IMAGE" default '' "$(host_network_spec "$MONGO_POD_NODE")" '' "${PROBE_ARGV[@]}"
  fi
  row host-network-to-decision-maker bypass "attacker's hostNetwork pod on the decision maker's node -> its pod IP :${DECIDER_POD_PORT:-8080}" http "$DECIDER_POD_IP"
  P_NOTE[ROW]=$HOST_NETWORK_NOTE
  if attacker_ready "$ROW" && needs "$ROW" "$DECIDER_POD_IP" 'no Ready decision maker pod to aim at'; then
    http_argv "$DECIDER_POD_IP:$DECIDER_POD_PORT"
    probe_pod "$ROW" attacker "$CURL_IMAGE" default '' "$(host_network_spec "$DECIDER_POD_NODE")" '' "${PROBE_ARGV[@]}"
  fi
}
host_network_spec() { printf ',"hostNetwork":true,"dnsPolicy":"ClusterFirstWithHostNet","nodeName":"%s"' "$1"; }

# Polls the run's probe pods in Gthulhu's namespace until each one-shot probe has finished or the deadline
# passes; sets PHASES and EXIT_CODES, indexed like the rows.
PHASES=()
EXIT_CODES=()
wait_for_probes() {
  local deadline=$((SECONDS + PROBE_TIMEOUT)) pending i name phase code
  local -A phase_of=() code_of=()
  while :; do
    phase_of=() code_of=()
    if kread -n "$NAMESPACE" get pods -l "$RUN_LABEL=$RUN_ID" \
      -o go-template='{{range .items}}{{.metadata.name}} {{with .status.phase}}{{.}}{{else}}Pending{{end}} {{range .status.containerStatuses}}{{if .state.terminated}}{{.state.terminated.exitCode}}{{end}}{{end}}{{"\n"}}{{end}}'; then
      while read -r name phase code; do
        [[ -n $name ]] || continue
        phase_of[$name]=${phase:-Pending}
        code_of[$name]=${code:-}
      done <<<"$KREAD"
    fi
    pending=0
    for i in "${!P_ID[@]}"; do
      [[ -n ${P_POD[i]} && -z ${P_OUTCOME[i]} && ${P_CHECK[i]} != listen ]] || continue
      PHASES[i]=${phase_of[${P_POD[i]}]:-Missing}
      EXIT_CODES[i]=${code_of[${P_POD[i]}]:-}
      [[ (${PHASES[i]} == Succeeded || ${PHASES[i]} == Failed) && -n ${EXIT_CODES[i]} ]] || pending=$((pending + 1))
    done
    [[ $pending -gt 0 && $SECONDS -lt $deadline ]] || break
    sleep 1
  done
}

# classify CHECK EXIT LOG HOST: prints "reached|refused|unknown<TAB>what was observed". HOST is the name or IP
# the probe used: a DNS failure is never a refusal, so a timeout that a failed lookup could explain is no result.
classify() {
  local check=$1 code=$2 log=$3 host=${4:-} last
  last=$(last_line "$log")
  if [[ $check == http ]]; then
    local status error
    status=$(printf '%s\n' "$log" | grep -oE '^[0-9]{3}' | tail -n 1 || true)
    error=$(printf '%s\n' "$log" | grep -oE 'curl: \([0-9]+\)[^"]*' | tail -n 1 || true)
    case $code in
      0)
        case $status in
          200) printf 'reached\tHTTP 200' ;;
          403) printf 'refused\tHTTP 403 (denied by a proxy)' ;;
          *) printf 'unknown\tHTTP %s' "${status:-response unreadable}" ;;
        esac ;;
      6) printf 'unknown\tDNS: %s (a name that does not resolve proves nothing)' "${error:-curl exit 6}" ;;
      28)
        if [[ $error == *'Resolving timed out'* ]]; then
          printf 'unknown\tDNS: %s (a lookup that times out proves nothing)' "$error"
        elif [[ $error == *'Connection timed out'* || $error == *'Operation timed out'*' 0 bytes received'* ]]; then
          printf 'refused\tcurl exit 28, no HTTP response (%s)' "$error"
        else
          printf 'unknown\tcurl exit 28: %s' "${error:-$last}"
        fi ;;
      # 56 reset, 52 empty reply (ztunnel closing an accepted connection), 7 refused.
      7 | 52 | 56) printf 'refused\tcurl exit %s, no HTTP response' "$code" ;;
      *) printf 'unknown\tcurl exit %s: %s' "$code" "$last" ;;
    esac
    return 0
  fi
  if [[ $code == 0 && $last == 1 ]]; then
    printf 'reached\tMongoDB answered hello'
  elif [[ $code == 0 || $code == 126 || $code == 127 ]]; then
    printf 'unknown\tmongosh exit %s: %s' "$code" "$last"
  elif grep -qiE 'ENOTFOUND|EAI_AGAIN|getaddrinfo' <<<"$log"; then
    printf 'unknown\tDNS: mongosh exit %s: %s (a name that does not resolve proves nothing)' "$code" "$last"
  elif grep -qiE 'timed out|timeout' <<<"$log" && ! [[ $host =~ ^[0-9.]+$|: ]]; then
    # The driver's server selection gives up before a slow or failed lookup of a name does: the same message.
    printf 'unknown\tmongosh exit %s: %s (%s is a name: a DNS failure ends the same way)' "$code" "$last" "$host"
  elif grep -qiE 'ECONNRESET|ECONNREFUSED|closed|timed out|timeout|MongoNetworkError|MongoServerSelectionError' <<<"$log"; then
    printf 'refused\tmongosh exit %s: %s' "$code" "$last"
  else
    printf 'unknown\tmongosh exit %s: %s' "$code" "$last"
  fi
}

# requests_from LOG IPS: the request lines of an http.server log that came from one of IPS (space-separated),
# each as "SECONDS REQUEST from IP", SECONDS counted from the start of the month by the log's own clock.
requests_from() {
  local log=$1 ips=" $2 " line re='^([0-9a-fA-F.:]+) - - \[([0-9]+)/[A-Za-z]+/[0-9]+ ([0-9]+):([0-9]+):([0-9]+)\] "([A-Z]+ [^ "]+)'
  while IFS= read -r line; do
    [[ $line =~ $re ]] || continue
    [[ $ips == *" ${BASH_REMATCH[1]} "* ]] || continue
    printf '%s %s from %s\n' "$(((10#${BASH_REMATCH[2]} * 24 + 10#${BASH_REMATCH[3]}) * 3600 + 10#${BASH_REMATCH[4]} * 60 + 10#${BASH_REMATCH[5]}))" \
      "${BASH_REMATCH[6]}" "${BASH_REMATCH[1]}"
  done <<<"$log"
}
# rounds_heard REQUESTS: 2 when REQUESTS (from requests_from) span two of the manager's rounds, else 1 or 0. One
# round's requests to a decision maker arrive within a second or two; rounds are 30 s apart.
rounds_heard() {
  [[ -n $1 ]] || { printf 0; return 0; }
  local first last
  first=$(head -n 1 <<<"$1") last=$(tail -n 1 <<<"$1")
  if ((${last%% *} - ${first%% *} >= 5)); then printf 2; else printf 1; fi
}

# Waits until the impostor hears from the manager (the path is open) or the decoy has heard two of the manager's
# rounds (each round calls every decision maker, so the impostor was called in between), or until
# --listen-timeout; then settles both rows.
wait_for_listeners() {
  local decoy='' impostor='' i
  for i in "${!P_ID[@]}"; do
    case ${P_ID[i]} in
      manager-to-decoy-decision-maker) decoy=$i ;;
      impostor-decision-maker) impostor=$i ;;
    esac
  done
  [[ -n $decoy && -n $impostor ]] || return 0
  local deadline=$((SECONDS + LISTEN_TIMEOUT)) started=$SECONDS rounds=0 decoy_heard='' impostor_heard=''
  while :; do
    listener_states "$decoy" "$impostor"
    decoy_heard=$(requests_from "${LISTENER_LOG[decoy]:-}" "$MANAGER_POD_IPS")
    impostor_heard=$(requests_from "${LISTENER_LOG[impostor]:-}" "$MANAGER_POD_IPS")
    [[ -z $impostor_heard ]] || break
    rounds=$(rounds_heard "$decoy_heard")
    [[ $rounds -lt 2 ]] || break
    [[ ${LISTENER_PHASE[decoy]:-} == @(Pending|Running) || ${LISTENER_PHASE[impostor]:-} == @(Pending|Running) ]] || break
    [[ $SECONDS -lt $deadline ]] || break
    sleep 1
  done
  local waited=$((SECONDS - started))
  if [[ -z ${P_OUTCOME[decoy]} ]]; then
    if [[ -n $decoy_heard ]]; then
      settle "$decoy" reached "received $(head -n 1 <<<"$decoy_heard" | cut -d' ' -f2-)"
    elif [[ ${LISTENER_PHASE[decoy]:-} != Running ]]; then
      settle "$decoy" unknown "the decoy is not running (phase ${LISTENER_PHASE[decoy]:-}): $(last_line "${LISTENER_LOG[decoy]:-}")"
    else
      settle "$decoy" refused "received nothing from the manager (${MANAGER_POD_IPS% }) in ${waited}s"
    fi
  fi
  if [[ -z ${P_OUTCOME[impostor]} ]]; then
    if [[ -n $impostor_heard ]]; then
      settle "$impostor" reached "received $(head -n 1 <<<"$impostor_heard" | cut -d' ' -f2-)"
    elif [[ ${LISTENER_PHASE[impostor]:-} != Running ]]; then
      settle "$impostor" unknown "the impostor is not running (phase ${LISTENER_PHASE[impostor]:-}): $(last_line "${LISTENER_LOG[impostor]:-}")"
    elif [[ $rounds -ge 2 ]]; then
      settle "$impostor" refused "received nothing in ${waited}s while the decoy heard two of the manager's rounds"
    else
      settle "$impostor" unknown "received nothing in ${waited}s, but the decoy did not hear two of the manager's rounds either, so the silence proves nothing"
    fi
  fi
}
LISTENER_PHASE=()
LISTENER_LOG=()
# listener_states INDEX...: each listener pod's phase (Missing when it is gone) and, once it runs, its log so far.
listener_states() {
  local i name phase
  local -A phase_of=()
  if kread get pods --all-namespaces -l "$RUN_LABEL=$RUN_ID,app=decisionmaker" \
    -o go-template='{{range .items}}{{.metadata.namespace}}/{{.metadata.name}} {{with .status.phase}}{{.}}{{else}}Pending{{end}}{{"\n"}}{{end}}'; then
    while read -r name phase; do [[ -z $name ]] || phase_of[$name]=$phase; done <<<"$KREAD"
  fi
  for i in "$@"; do
    [[ -z ${P_OUTCOME[i]} ]] || continue
    LISTENER_PHASE[i]=${phase_of[${P_NS[i]}/${P_POD[i]}]:-Missing}
    [[ ${LISTENER_PHASE[i]} != @(Pending|Missing) ]] || continue
    if kread -n "${P_NS[i]}" logs "${P_POD[i]}"; then LISTENER_LOG[i]=$KREAD; fi
  done
}

# The logs of every probe pod in Gthulhu's namespace with one call, by pod name.
declare -A LOG_OF=()
read_probe_logs() {
  kread -n "$NAMESPACE" logs -l "$RUN_LABEL=$RUN_ID" --prefix --tail=-1 --max-log-requests=50 --ignore-errors || true
  # A log that does not end with a newline (curl's status code) runs into the next pod's first line.
  local line marker="[pod/kit-$RUN_ID-"
  while IFS= read -r line; do
    [[ $line =~ ^\[pod/([^/]+)/[^]]*\]\ ?(.*)$ ]] || continue
    LOG_OF[${BASH_REMATCH[1]}]+=${BASH_REMATCH[2]}$'\n'
  done <<<"${KREAD//"$marker"/$'\n'$marker}"
}

OPEN_IDS=() STAYS_OPEN_IDS=() BLOCKED_IDS=() NO_RESULT_IDS=()
attack_pass() {
  stage "Attack pass: probes labelled $RUN_LABEL=$RUN_ID in namespace $NAMESPACE"
  discover_targets
  prepare_attack_objects
  start_probes
  start_listeners
  create_probe_pods
  run_admission_probes
  [[ $DRY_RUN == false ]] || return 0
  wait_for_probes
  wait_for_listeners
  read_probe_logs
  local i outcome result
  for i in "${!P_ID[@]}"; do
    outcome=${P_OUTCOME[i]}
    if [[ -z $outcome && ${P_CHECK[i]} != listen ]]; then
      if [[ ${PHASES[i]:-} != Succeeded && ${PHASES[i]:-} != Failed ]] || [[ -z ${EXIT_CODES[i]:-} ]]; then
        outcome=$'unknown\tno result: pod '"${PHASES[i]:-Missing} after ${PROBE_TIMEOUT}s"
      else
        outcome=$(classify "${P_CHECK[i]}" "${EXIT_CODES[i]}" "${LOG_OF[${P_POD[i]}]:-}" "${P_HOST[i]}")
      fi
    fi
    [[ -n $outcome ]] || outcome=$'unknown\tno result'
    result=${outcome%%$'\t'*}
    P_OBSERVED[i]=${outcome#*$'\t'}
    case ${P_ROLE[i]}:$result in
      bypass:refused | bypass:denied) P_VERDICT[i]=CLOSED ;;
      bypass:reached)
        if [[ -n ${P_NOTE[i]} ]]; then P_VERDICT[i]='STAYS OPEN' STAYS_OPEN_IDS+=("${P_ID[i]}"); else P_VERDICT[i]=OPEN OPEN_IDS+=("${P_ID[i]}"); fi ;;
      control:reached) P_VERDICT[i]=REACHED ;;
      control:refused) P_VERDICT[i]=BLOCKED BLOCKED_IDS+=("${P_ID[i]}") ;;
      *) P_VERDICT[i]='NO RESULT' NO_RESULT_IDS+=("${P_ID[i]}") ;;
    esac
  done
  remove_attack_objects
}

joined() { local IFS=','; printf '%s' "$*" | sed 's/,/, /g'; }

print_results() {
  stage 'Results'
  if [[ $DRY_RUN == false && ${#P_VERDICT[@]} -gt 0 ]]; then
    local row='%-36s %-8s %-11s %s\n' pad i noted=''
    pad=$(printf '%58s' '')
    # shellcheck disable=SC2059 # the row format is a constant
    printf "$row" PROBE ROLE VERDICT PATH
    for i in "${!P_ID[@]}"; do
      # shellcheck disable=SC2059
      printf "$row" "${P_ID[i]}" "${P_ROLE[i]}" "${P_VERDICT[i]}" "${P_WHAT[i]}"
      say "${pad}observed: ${P_OBSERVED[i]}"
      [[ ${P_VERDICT[i]} == 'STAYS OPEN' ]] || continue
      if [[ $noted == *"|${P_NOTE[i]}|"* ]]; then
        say "${pad}stays open: as above"
      else
        say "${pad}stays open: ${P_NOTE[i]}"
        noted+="|${P_NOTE[i]}|"
      fi
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
  say "attack pass:       ${#OPEN_IDS[@]} bypass(es) open, ${#STAYS_OPEN_IDS[@]} staying open as disclosed, ${#BLOCKED_IDS[@]} control(s) blocked, ${#NO_RESULT_IDS[@]} probe(s) without a result"
  local problems=()
  [[ ${#OPEN_IDS[@]} -eq 0 ]] || problems+=("${#OPEN_IDS[@]} bypass(es) open: $(joined "${OPEN_IDS[@]}")")
  [[ ${#BLOCKED_IDS[@]} -eq 0 ]] || problems+=("${#BLOCKED_IDS[@]} control(s) blocked, so the refusals prove nothing: $(joined "${BLOCKED_IDS[@]}")")
  [[ ${#NO_RESULT_IDS[@]} -eq 0 ]] || problems+=("${#NO_RESULT_IDS[@]} probe(s) without a result: $(joined "${NO_RESULT_IDS[@]}")")
  [[ $RUNBOOK_RESULT == passed || $RUNBOOK_RESULT == 'not run' ]] || problems+=("runbook $RUNBOOK_RESULT")
  [[ $VERIFY_RESULT != failed* ]] || problems+=("audit $VERIFY_RESULT")
  local disclosed=''
  [[ ${#STAYS_OPEN_IDS[@]} -eq 0 ]] || disclosed="; staying open as disclosed above: $(joined "${STAYS_OPEN_IDS[@]}")"
  if [[ ${#problems[@]} -eq 0 ]]; then
    say "RESULT: PASS - hardened: every bypass the kit tried was refused and every control got through$disclosed"
    return 0
  fi
  local text
  text=$(printf '%s; ' "${problems[@]}")
  say "RESULT: FAIL - ${text%; }$disclosed"
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
