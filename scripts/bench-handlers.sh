#!/usr/bin/env bash
# Usage: scripts/bench-handlers.sh [DISTINCT]
#
# The handler benchmark: trivial handlers of each kind, run by idem end to end on the local
# RabbitMQ and PostgreSQL (started here if they are not running, and stopped at the end).
# For each kind, DISTINCT (default 50,000) messages plus a copy of every fourth (20 %
# duplicates) wait in a durable queue; a worker in lease mode (claim, handle, mark done)
# consumes them. Prints messages/s from process start to the last row done, per kind:
#   swift    a Swift handler registered by an embedding program (idem-bench-worker), doing
#            the example plugins' work (look for a reject and a retry marker in the body)
#   plugin   the C example plugin (libIdemExamplePluginC.so), the same work, and the Swift
#            example plugin (libIdemExamplePluginSwift.so)
#   exec     the Python example handler (Examples/exec/handler.py), 2 processes, 64
#            requests in flight each
# and the plugin's throughput as a share of the Swift handler's. Each kind runs ROUNDS
# times (default 2, in turn with the others); the best round counts.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SCRIPT_DIR/.." && pwd)
cd "$REPO"
case "${1:-}" in
    -h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
esac
DISTINCT=${1:-50000}
ROUNDS=${ROUNDS:-2}
WORK=$(mktemp -d)
# shellcheck source=scripts/bench-common.sh
. "$SCRIPT_DIR/bench-common.sh"

# shellcheck disable=SC2317 # reached through the EXIT trap
cleanup() {
    local rc=$?
    bench_cleanup
    exit "$rc"
}
trap cleanup EXIT
bench_services postgres rabbitmq

swift build -c release </dev/null >/dev/null
BIN_DIR=$(swift build -c release --show-bin-path)

psql_q() { bash "$SCRIPT_DIR/services.sh" psql -qtA "$@"; }
psql_q -c "DROP TABLE IF EXISTS hbench_pm" -c "DELETE FROM idem_schema_versions WHERE table_name = 'hbench_pm'" \
    >/dev/null 2>&1 || true
python3 - "$DISTINCT" >"$WORK/messages.jsonl" <<'PY'
import json, sys
for n in range(int(sys.argv[1])):
    body = json.dumps({"order": n, "amount": n % 1000})
    print(json.dumps({"message_id": f"m-{n}", "body": body, "copies": 2 if n % 4 == 0 else 1}))
PY
TOTAL=$((DISTINCT + (DISTINCT + 3) / 4))

# run NAME BINARY HANDLER: one consumer named NAME with HANDLER (YAML flow) on its own queue.
declare -A RATES
run() {
    local name=$1 binary=$2 handler=$3
    bench_free_port
    cat >"$WORK/$name.yaml" <<YAML
postgres: {url: "$PG", table: hbench_pm, pool_size: 4}
logging: {level: warning}
metrics: {listen: "127.0.0.1:$BENCH_METRICS_PORT"}
consumers:
  - name: $name
    source: {amqp: {url: "$IDEM_TEST_AMQP_URL", queue: hbench_$name, prefetch: 2000, declare: true}}
    id: [message_id]
    handler: $handler
    dedup: {mode: lease}
    batch: {size: 500, max_wait: 20ms}
YAML
    bash "$SCRIPT_DIR/services.sh" rabbitmqctl purge_queue "hbench_$name" >/dev/null 2>&1 || true
    "$binary" migrate --config "$WORK/$name.yaml" >/dev/null
    "$binary" publish --config "$WORK/$name.yaml" "$WORK/messages.jsonl" >/dev/null
    local start end pid
    start=$(date +%s.%N)
    "$binary" run --config "$WORK/$name.yaml" 2>"$WORK/$name.log" &
    pid=$!
    bench_wait_processed "$BENCH_METRICS_PORT" "$pid" "$DISTINCT" "$WORK/$name.log"
    end=$(date +%s.%N)
    kill -TERM "$pid"
    wait "$pid"
    local rate
    rate=$(python3 -c "print(round($TOTAL / ($end - $start)))")
    echo "  $name: $rate messages/s"
    if ((rate > ${RATES[$name]:-0})); then RATES[$name]=$rate; fi
    psql_q -c "DELETE FROM hbench_pm WHERE consumer = '$name'" >/dev/null
}

echo "machine: $(nproc) cores; $TOTAL messages ($DISTINCT distinct) per run, lease mode, batches of 500"
for round in $(seq "$ROUNDS"); do
    echo "round $round:"
    run swift "$BIN_DIR/idem-bench-worker" "{swift: markers}"
    run plugin_c "$BIN_DIR/idem" "{plugin: \"$BIN_DIR/libIdemExamplePluginC.so\", concurrency: 4}"
    run plugin_swift "$BIN_DIR/idem" "{plugin: \"$BIN_DIR/libIdemExamplePluginSwift.so\", concurrency: 4}"
    run exec_python "$BIN_DIR/idem" \
        "{exec: [python3, \"$REPO/Examples/exec/handler.py\"], processes: 2, in_flight: 64}"
done
echo "best of $ROUNDS: swift ${RATES[swift]}, plugin (C) ${RATES[plugin_c]}, plugin (Swift) ${RATES[plugin_swift]}, exec (Python) ${RATES[exec_python]} messages/s"
echo "the C plugin does $(python3 -c "print(round(100 * ${RATES[plugin_c]} / ${RATES[swift]}))") % of the Swift handler's throughput"
psql_q -c "DROP TABLE IF EXISTS hbench_pm" -c "DELETE FROM idem_schema_versions WHERE table_name = 'hbench_pm'" >/dev/null
