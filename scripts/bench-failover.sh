#!/usr/bin/env bash
# Usage: scripts/bench-failover.sh
#
# How long a Kafka consumer group takes to consume every partition again after one of its
# two workers is killed with SIGKILL and restarted at once (as a supervisor or Kubernetes
# would restart it), with dynamic membership and with static membership
# (group_instance_id), on the librdkafka mock cluster (idem-kafka-mock, Debian's
# librdkafka) and on Tansu (a Kafka-protocol broker, on the librdkafka 2.16 that
# scripts/services.sh fetches).
#
# Each run: a topic of 8 partitions, two `idem run` workers in one group (session_timeout
# 10 s, the default), a marker record on every partition to see both consume; then
# `kill -9` of the first worker and its restart, and at once a new marker on every
# partition (`idem replay` with fixed partitions). The figure is the seconds from the kill
# to the effect of the last of those 8 markers. Prints one `FAILOVER {json}` line per run
# (scripts/benchmarks.sh puts them in BENCHMARKS.md) and a summary.
# FAILOVER_BROKERS ("mock tansu") and FAILOVER_MODES ("dynamic static") choose the runs;
# FAILOVER_KEEP_LOGS=DIR keeps the workers' logs there.
# Stops the services it started.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SCRIPT_DIR/.." && pwd)
cd "$REPO"
case "${1:-}" in
    -h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
esac
# Each run in a process of its own, with fresh tables: a run that fails is reported as not
# recovered and the others still run.
if [[ -z "${FAILOVER_ONE:-}" ]]; then
    for broker in ${FAILOVER_BROKERS:-mock tansu}; do
        for mode in ${FAILOVER_MODES:-dynamic static}; do
            FAILOVER_ONE=1 FAILOVER_BROKERS=$broker FAILOVER_MODES=$mode bash "$0" ||
                echo "FAILOVER {\"broker\": \"$broker\", \"membership\": \"$mode\", \"seconds\": 0, \"recovered\": false, \"library\": \"?\"}"
        done
    done
    exit 0
fi
WORK=$(mktemp -d)
# shellcheck source=scripts/bench-common.sh
. "$SCRIPT_DIR/bench-common.sh"

pids=()
# shellcheck disable=SC2317 # reached through the EXIT trap
cleanup() {
    local rc=$? pid
    for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
    [[ -n "${FAILOVER_KEEP_LOGS:-}" ]] && mkdir -p "$FAILOVER_KEEP_LOGS" && cp "$WORK"/*.log "$FAILOVER_KEEP_LOGS"/
    bench_cleanup
    exit "$rc"
}
trap cleanup EXIT

bench_services postgres tansu
bench_build idem idem-kafka-mock
psql_q() { bash "$SCRIPT_DIR/services.sh" psql -qtA "$@"; }

# markers TOPIC ROUND: a corpus of one record per partition, IDs ROUND-0 … ROUND-7.
markers() {
    local p
    for p in 0 1 2 3 4 5 6 7; do
        printf '{"body": "marker", "headers": {"id": "%s-%s"}, "partition": %s}\n' "$2" "$p" "$p"
    done >"$WORK/$2.jsonl"
}

# wait_markers ROUND SECONDS: waits until the 8 markers of ROUND took effect; false if not.
wait_markers() {
    local deadline=$((SECONDS + $2))
    until [[ $(psql_q -c "SELECT count(DISTINCT id) FROM fo_effects WHERE id LIKE '$1-%'") -ge 8 ]]; do
        ((SECONDS < deadline)) || return 1
        sleep 0.05
    done
}

# start_worker NAME CONFIG ENV...: an `idem run` in the background; its pid in pids[NAME].
declare -A worker_pid
start_worker() {
    local name=$1 config=$2
    shift 2
    env "$@" "$BIN_DIR/idem" run --config "$config" 2>>"$WORK/$name.log" &
    worker_pid[$name]=$!
    pids+=($!)
}

run_one() {
    local broker=$1 mode=$2 brokers libenv=() mock=
    local tag="fo_${broker}_${mode}_$RANDOM"
    if [[ "$broker" == mock ]]; then
        "$BIN_DIR/idem-kafka-mock" --topic "$tag:8" --log-level warning --bootstrap-file "$WORK/$tag.brokers" \
            >/dev/null 2>"$WORK/$tag.mock.log" &
        mock=$!
        pids+=("$mock")
        until [[ -s "$WORK/$tag.brokers" ]]; do sleep 0.1; done
        brokers=$(cat "$WORK/$tag.brokers")
    else
        brokers=$IDEM_TEST_TANSU_BROKERS
        libenv=("LD_LIBRARY_PATH=$IDEM_TEST_RDKAFKA_LIBDIR")
        bench_peer_venv
        "$VENV/bin/python" - "$brokers" "$tag" <<'PY'
import sys
from confluent_kafka.admin import AdminClient, NewTopic
admin = AdminClient({"bootstrap.servers": sys.argv[1]})
futures = admin.create_topics([NewTopic(sys.argv[2], 8, 1)])
for future in futures.values():
    future.result(30)
PY
    fi
    local member=
    local w
    for w in w1 w2; do
        [[ "$mode" == static ]] && member="group_instance_id: $tag-$w, "
        cat >"$WORK/$tag-$w.yaml" <<YAML
postgres: {url: "$PG", table: fo_pm}
metrics: {listen: "127.0.0.1:0"}
logging: {level: info}
consumers:
  - name: $tag
    source: {kafka: {brokers: "$brokers", topics: [$tag], group: $tag, ${member}session_timeout: 10s}}
    id: [{header: id}]
    handler:
      sql: "INSERT INTO fo_effects(id) VALUES (\$1)"
      params: [id]
YAML
    done
    "$BIN_DIR/idem" migrate --config "$WORK/$tag-w1.yaml" >/dev/null
    start_worker "$tag-w1" "$WORK/$tag-w1.yaml" "${libenv[@]}"
    start_worker "$tag-w2" "$WORK/$tag-w2.yaml" "${libenv[@]}"
    markers "$tag" "$tag-warm"
    env "${libenv[@]}" "$BIN_DIR/idem" replay "$WORK/$tag-warm.jsonl" --to "kafka://$brokers/$tag" >/dev/null
    wait_markers "$tag-warm" 120 || { tail -20 "$WORK/$tag-w1.log" "$WORK/$tag-w2.log"; echo "warm-up markers not consumed" >&2; exit 1; }
    # Both members hold partitions (a settled group) before the kill.
    local settle=$((SECONDS + 60))
    until [[ $(grep -c 'partitions assigned' "$WORK/$tag-w2.log" || true) -ge 1 ]]; do
        ((SECONDS < settle)) || break
        sleep 0.2
    done
    sleep 3
    markers "$tag" "$tag-after"
    local t0 t1
    local w
    for w in w1 w2; do
        kill -0 "${worker_pid[$tag-$w]}" 2>/dev/null && continue
        echo "$broker, $mode membership: worker $w exited before the kill; its log:" >&2
        tail -30 "$WORK/$tag-$w.log" >&2
        exit 1
    done
    t0=$(date +%s.%N)
    kill -KILL "${worker_pid[$tag-w1]}"
    wait "${worker_pid[$tag-w1]}" 2>/dev/null || true
    start_worker "$tag-w1" "$WORK/$tag-w1.yaml" "${libenv[@]}"
    env "${libenv[@]}" "$BIN_DIR/idem" replay "$WORK/$tag-after.jsonl" --to "kafka://$brokers/$tag" >/dev/null
    local ok=true
    wait_markers "$tag-after" 180 || ok=false
    t1=$(date +%s.%N)
    local seconds
    seconds=$(python3 -c "print(round($t1 - $t0, 1))")
    kill -TERM "${worker_pid[$tag-w1]}" "${worker_pid[$tag-w2]}" 2>/dev/null || true
    wait "${worker_pid[$tag-w1]}" "${worker_pid[$tag-w2]}" 2>/dev/null || true
    if [[ "$ok" != true ]]; then
        echo "$broker, $mode membership: the markers were not all consumed; the restarted worker's log:" >&2
        tail -20 "$WORK/$tag-w1.log" >&2
    fi
    [[ -n "$mock" ]] && { kill -TERM "$mock" 2>/dev/null || true; wait "$mock" 2>/dev/null || true; }
    local library
    library=$(env "${libenv[@]}" "$BIN_DIR/idem" check-config --offline "$WORK/$tag-w1.yaml" 2>/dev/null |
        sed -n 's/^  client libraries: //p' || true)
    echo "FAILOVER {\"broker\": \"$broker\", \"membership\": \"$mode\", \"seconds\": $seconds, \"recovered\": $ok, \"library\": \"$library\"}"
    echo "$broker, $mode membership: every partition consumed again $seconds s after the kill ($library)" >&2
}

psql_q -c "DROP TABLE IF EXISTS fo_effects, fo_pm, fo_pm_offsets, fo_pm_stats, fo_pm_replays" \
    -c "CREATE TABLE fo_effects (id text NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp())" \
    -c "DELETE FROM idem_schema_versions WHERE table_name = 'fo_pm'" >/dev/null 2>&1 || true
for broker in ${FAILOVER_BROKERS:-mock tansu}; do
    for mode in ${FAILOVER_MODES:-dynamic static}; do
        run_one "$broker" "$mode"
    done
done
