#!/usr/bin/env bash
# Usage: scripts/install-deps.sh [--check] [-h|--help]
#
# Installs the Debian 12 packages idem needs to build and to run its test services
# (PostgreSQL 15, RabbitMQ 3.10, the librdkafka mock cluster) and checks that `swift`
# is on PATH.
#
# Idempotent and fast: packages are checked with dpkg-query first; `apt-get update` and
# `apt-get install` run only when something is missing. Needs root (or passwordless sudo)
# only when something has to be installed. Works without a terminal (CI=true, no stdin).
#
#   --check   only report what is missing; exit 1 if anything is, install nothing.
#
# Environment:
#   IDEM_EXTRA_PACKAGES="a b"  more Debian packages to ensure (e.g. kcat for a demo).
#   IDEM_SKIP_SWIFT_CHECK=1    do not fail when `swift` is not on PATH.
set -euo pipefail

PACKAGES=(
    # C libraries the Swift package links against (.systemLibrary targets).
    librabbitmq-dev
    librdkafka-dev
    libpq-dev
    # SwiftPM resolves .systemLibrary targets through pkg-config.
    pkg-config
    # Real services started by scripts/services.sh.
    postgresql
    rabbitmq-server
    # Used by scripts/services.sh: ps/kill (procps), runuser/flock (util-linux).
    procps
    util-linux
    # The AMQP TLS tests run a throwaway CA and a TLS proxy in front of RabbitMQ.
    openssl
    socat
)
# shellcheck disable=SC2206 # word splitting of the extra list is intended
PACKAGES+=(${IDEM_EXTRA_PACKAGES:-})
readonly PACKAGES

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; }
say() { printf '[install-deps] %s\n' "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }

check_only=0
while (($# > 0)); do
    case "$1" in
        --check) check_only=1 ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; die "unknown argument: $1" ;;
    esac
    shift
done

command -v dpkg-query >/dev/null 2>&1 ||
    die "dpkg-query not found: this script supports Debian/Ubuntu (apt) only"

# A package counts as present only when dpkg says "install ok installed".
missing=()
for pkg in "${PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    if [[ "$status" != "install ok installed" ]]; then
        missing+=("$pkg")
    fi
done

if ((${#missing[@]} == 0)); then
    say "all ${#PACKAGES[@]} packages already installed"
elif ((check_only)); then
    die "missing packages: ${missing[*]} (run scripts/install-deps.sh without --check)"
else
    say "missing packages: ${missing[*]}"
    if [[ $EUID -eq 0 ]]; then
        sudo=()
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        sudo=(sudo -n)
    else
        die "installing packages needs root (or passwordless sudo); run as root: apt-get install -y ${missing[*]}"
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt_opts=(-y -q -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
    start=$SECONDS
    say "apt-get update"
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q </dev/null ||
        die "apt-get update failed"
    say "apt-get install ${missing[*]}"
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install "${apt_opts[@]}" --no-install-recommends "${missing[@]}" </dev/null ||
        die "apt-get install failed for: ${missing[*]}"
    say "installed ${#missing[@]} package(s) in $((SECONDS - start)) s"
fi

# Binaries scripts/services.sh relies on, in case the packages are laid out differently.
for bin in /usr/lib/postgresql/15/bin/pg_ctl /usr/lib/postgresql/15/bin/initdb; do
    [[ -x "$bin" ]] || die "$bin not found: PostgreSQL 15 (Debian 12's postgresql) is required"
done
[[ -x /usr/lib/rabbitmq/bin/rabbitmq-server ]] ||
    die "/usr/lib/rabbitmq/bin/rabbitmq-server not found: is rabbitmq-server installed?"

if command -v swift >/dev/null 2>&1; then
    say "swift: $(command -v swift) ($(swift --version 2>/dev/null | head -n 1))"
elif [[ "${IDEM_SKIP_SWIFT_CHECK:-0}" == 1 ]]; then
    say "WARNING: swift is not on PATH (ignored because IDEM_SKIP_SWIFT_CHECK=1)"
else
    die "swift is not on PATH. Install a Swift 6.1+ toolchain (https://www.swift.org/install/linux/) and add its usr/bin to PATH (e.g. export PATH=/opt/swift/usr/bin:\$PATH); set IDEM_SKIP_SWIFT_CHECK=1 to only install the packages."
fi
