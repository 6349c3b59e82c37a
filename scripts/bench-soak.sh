#!/usr/bin/env bash
# Usage: scripts/bench-soak.sh [RECORDS]
#
# The long-run memory check, on a librdkafka mock cluster (idem-kafka-mock, started here
# and stopped at the end) and the local PostgreSQL: idem, with the default settings of
# worker.yaml.example (only the source, the ID and a one-row sql handler set), consumes
# RECORDS records (default 5,000,000; 20 % of them duplicates) over 8 partitions while
# `idem-bench kafka-fill` produces them at SOAK_RATE records/s (default 50,000). The
# resident memory of the idem process is sampled every second.
#
# Prints the samples' minimum, median and maximum once the first SOAK_WARMUP % (default 10)
# of the records are done, and whether every such sample lies within ±10 % of their
# median ("flat"); checks that each effect happened once. SOAK_SAMPLES=FILE keeps the
# samples (seconds, RSS in MB, records processed), one line each.
# Stops the services it started.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SCRIPT_DIR/.." && pwd)
cd "$REPO"
case "${1:-}" in
    -h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
esac
RECORDS=${1:-5000000}
SOAK_RATE=${SOAK_RATE:-50000}
SOAK_WARMUP=${SOAK_WARMUP:-10}
WORK=$(mktemp -d)
# shellcheck source=scripts/bench-common.sh
. "$SCRIPT_DIR/bench-common.sh"

mock_pid= idem_pid= fill_pid=
# shellcheck disable=SC2317 # reached through the EXIT trap
cleanup() {
    local rc=$?
    local pid
    for pid in "$fill_pid" "$idem_pid" "$mock_pid"; do
        [[ -n "$pid" ]] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    done
    bench_cleanup
    exit "$rc"
}
trap cleanup EXIT

bench_services postgres

bench_build idem idem-bench idem-kafka-mock
bench_kafka_mock soak:8

psql_q() { bash "$SCRIPT_DIR/services.sh" psql -qtA "$@"; }
drop_tables() {
    psql_q -c "DROP TABLE IF EXISTS soak_effects, soak_pm, soak_pm_offsets, soak_pm_stats, soak_pm_replays" \
        -c "DELETE FROM idem_schema_versions WHERE table_name = 'soak_pm'" >/dev/null 2>&1 || true
}
drop_tables
psql_q -c "CREATE TABLE soak_effects (id text NOT NULL, amount numeric)" >/dev/null

DISTINCT=$((RECORDS * 4 / 5))
bench_free_port
cat >"$WORK/soak.yaml" <<YAML
postgres: {url: "$PG", table: soak_pm}
metrics: {listen: "127.0.0.1:$BENCH_METRICS_PORT"}
consumers:
  - name: soak
    source: {kafka: {brokers: "$BROKERS", topics: [soak], group: soak}}
    id: [{header: event-id}]
    handler:
      sql: "INSERT INTO soak_effects(id, amount) VALUES (\$1, \$2::numeric)"
      params: [id, "json:/amount"]
YAML
"$BIN_DIR/idem" migrate --config "$WORK/soak.yaml" >/dev/null
"$BIN_DIR/idem" run --config "$WORK/soak.yaml" 2>"$WORK/soak.log" &
idem_pid=$!
until grep -q 'partitions assigned' "$WORK/soak.log" 2>/dev/null; do
    kill -0 "$idem_pid" 2>/dev/null || { cat "$WORK/soak.log"; exit 1; }
    sleep 0.1
done

"$BIN_DIR/idem-bench" kafka-fill --brokers "$BROKERS" --topic soak --records "$RECORDS" --partitions 8 \
    --rate "$SOAK_RATE" --compression lz4 >"$WORK/fill.json" 2>/dev/null &
fill_pid=$!
echo "machine: $(nproc) cores; $RECORDS records ($DISTINCT distinct) over 8 partitions at $SOAK_RATE records/s, default settings"

# One sample a second: seconds since the start, RSS in MB, records processed; until every
# record, duplicates included, has been received and every distinct one processed.
samples=${SOAK_SAMPLES:-$WORK/samples}
: >"$samples"
start=$SECONDS
while :; do
    kill -0 "$idem_pid" 2>/dev/null || { tail -30 "$WORK/soak.log"; echo "idem exited during the soak" >&2; exit 1; }
    rss=$(awk '/VmRSS/ {print int($2 / 1024)}' "/proc/$idem_pid/status")
    bench_metric "$BENCH_METRICS_PORT" idem_messages_received_total 2>/dev/null || metric_value=0
    received=$metric_value
    bench_metric "$BENCH_METRICS_PORT" idem_messages_processed_total 2>/dev/null || metric_value=0
    echo "$((SECONDS - start)) $rss $metric_value" >>"$samples"
    ((received >= RECORDS && metric_value >= DISTINCT)) && break
    sleep 1
done
wait "$fill_pid"
fill_pid=
kill -TERM "$idem_pid"
wait "$idem_pid"
idem_pid=
effect_rows=$(psql_q -c "SELECT count(*) FROM soak_effects")
effect_ids=$(psql_q -c "SELECT count(DISTINCT id) FROM soak_effects")
echo "producer: $(cat "$WORK/fill.json")"

# The summary as JSON (first line), then said in words (second line).
{ read -r summary; read -r words; } < <(python3 - "$samples" "$DISTINCT" "$SOAK_WARMUP" <<'PY'
import json, statistics, sys
rows = [tuple(map(int, line.split())) for line in open(sys.argv[1]) if line.strip()]
distinct, warmup = int(sys.argv[2]), int(sys.argv[3])
steady = [rss for _, rss, done in rows if done >= distinct * warmup / 100]
if not steady:
    steady = [rows[-1][1]]
median = statistics.median(steady)
flat = all(abs(rss - median) <= median * 0.10 for rss in steady)
print(json.dumps({
    "seconds": rows[-1][0], "samples": len(steady), "rss_min_mb": min(steady), "rss_median_mb": median,
    "rss_max_mb": max(steady), "rss_first_mb": steady[0], "rss_last_mb": steady[-1], "flat": flat,
}))
print(f"min {min(steady)} MB, median {median} MB, max {max(steady)} MB over {rows[-1][0]} s: "
      + ("flat (every sample within ±10 % of the median)" if flat else "NOT flat (a sample more than 10 % from the median)"))
PY
)
echo "idem RSS after the first $SOAK_WARMUP % of the records: $words"
echo "effects: $effect_rows rows, $effect_ids distinct (of $DISTINCT)"
drop_tables
bench_result broker=kafka records="$RECORDS" distinct="$DISTINCT" rate="$SOAK_RATE" soak="$summary" \
    effect_rows="$effect_rows" effect_ids="$effect_ids"
[[ "$effect_rows" == "$DISTINCT" && "$effect_ids" == "$DISTINCT" ]] || { echo "effects do not match" >&2; exit 1; }
