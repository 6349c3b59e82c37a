#!/usr/bin/env bash
# Usage: scripts/bench.sh [IDEM_BENCH_CLAIMS_ARGS...]
#
# The dedup store's benchmark: starts the local PostgreSQL (synchronous_commit=on), builds
# idem-bench in release mode and measures transactional claims per second with a one-row
# sql handler:
#   1. batched: 200,000 messages, 500 per transaction, 2 workers;
#   2. the same with 20 % duplicates;
#   3. one claim per transaction: 10,000 messages, 4 workers.
# Extra arguments replace that list with one run of `idem-bench claims ARGS`. Stops
# PostgreSQL on exit if it started it.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$SCRIPT_DIR/.."
SERVICES_DIR=${IDEM_SERVICES_DIR:-/tmp/idem-services}
export IDEM_SERVICES_DIR=$SERVICES_DIR

case "${1:-}" in
    -h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
esac

started=0
# shellcheck disable=SC2317 # reached through the EXIT trap
cleanup() {
    local rc=$?
    ((started)) && bash "$SCRIPT_DIR/services.sh" stop postgres >/dev/null 2>&1
    exit "$rc"
}
trap cleanup EXIT

[[ "${IDEM_SKIP_DEPS:-0}" == 1 ]] || bash "$SCRIPT_DIR/install-deps.sh"
if ! bash "$SCRIPT_DIR/services.sh" status postgres >/dev/null 2>&1; then
    started=1
fi
bash "$SCRIPT_DIR/services.sh" start postgres </dev/null >/dev/null
set -a
# shellcheck source=/dev/null
. "$SERVICES_DIR/services.env"
set +a

swift build -c release --product idem-bench </dev/null
BIN=$(swift build -c release --show-bin-path)/idem-bench
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -srm)"
if (($# > 0)); then
    "$BIN" claims "$@"
else
    "$BIN" claims --messages 200000 --batch 500 --workers 2
    "$BIN" claims --messages 200000 --batch 500 --workers 2 --duplicates 0.2
    "$BIN" claims --messages 10000 --batch 1 --workers 4
fi
