#!/usr/bin/env bash
# Usage: scripts/bench-kafka.sh [RECORDS]
#
# The Kafka consumer benchmark, on a librdkafka mock cluster (idem-kafka-mock, started
# here and stopped at the end) and the local PostgreSQL:
# 1. Throughput: RECORDS records (default 1,000,000) over 8 partitions, 20 % of them
#    duplicates (the same event-id header on another partition), a one-row INSERT per
#    distinct record, transactional mode. `idem-bench kafka-fill` produces every record
#    first, in lz4-compressed batches (the mock keeps about 5 MB of batches per partition
#    and drops older ones, as retention would; compressed, a million records fit), then
#    idem reads the whole topic twice, each time in a group of its own on fresh tables:
#    with the default settings (only the source, the ID and the handler set) and tuned
#    (batches of BENCH_BATCH, default 1,000). Prints records/s from the assignment to the
#    last effect, the peak resident memory, and checks each effect happened once.
#    CONCURRENT=1 produces while the first run consumes instead (at FILL_RATE, default
#    60,000/s at most): the producer then shares the two cores with idem.
# 2. On the same topic: the batched peer (scripts/peers/batched_kafka_peer.py, one
#    transaction per batch of 500 and a synchronous commit), a bare consumer that does
#    nothing (`idem-bench kafka-drain`: the broker's limit), and PostgreSQL alone
#    (pgbench: its limit for this table shape).
# 3. Latency: a steady LAT_RATE records/s (default half the default settings' throughput)
#    for LAT_SECONDS (20) from `idem-bench kafka-paced`, with the default settings; each
#    effect records clock_timestamp() beside the send time in the value. Prints p50/p99/max
#    produce-to-effect latency. The producer sends one record per partition and awaits
#    their delivery before its clock starts (a new producer's first records wait about a
#    second for its connections); those 8 are left out. The consumer sets
#    fetch.wait.max.ms=10 (LAT_PROPERTIES): the mock holds a fetch that finds no data
#    for the whole fetch.wait.max.ms, even when records arrive meanwhile (a real broker
#    answers as soon as they do), so librdkafka's 500 ms default would add up to 500 ms.
#    LAT_SETTINGS adds consumer settings (YAML lines). Beside it, the broker's own latency
#    at that rate: a bare consumer (`idem-bench kafka-drain --latency`, the same
#    fetch.wait.max.ms) of the same load on a topic of its own.
# 4. The naive peer (../shared/peers/kafka_peer.py, confluent-kafka in a virtualenv) on
#    PEER_RECORDS (default 20,000) records of the same generator on their own topic.
# BENCH_BATCH, BENCH_CONCURRENCY and BENCH_LOG_LEVEL tune the tuned run. TRACING=1 adds a
# run with the tuned settings and span export on (a span per record, TRACING_RATIO of the
# traces sampled, default 1; protobuf to scripts/otlp-sink.py, a collector that discards
# them): the cost of spans.
# THROUGHPUT_ONLY=1 stops after the idem runs.
# Stops the services it started.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SCRIPT_DIR/.." && pwd)
cd "$REPO"
case "${1:-}" in
    -h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
esac
RECORDS=${1:-1000000}
LAT_SECONDS=${LAT_SECONDS:-20}
WORK=$(mktemp -d)
# shellcheck source=scripts/bench-common.sh
. "$SCRIPT_DIR/bench-common.sh"

mock_pid=
# shellcheck disable=SC2317 # reached through the EXIT trap
cleanup() {
    local rc=$?
    [[ -n "$mock_pid" ]] && kill -TERM "$mock_pid" 2>/dev/null && wait "$mock_pid" 2>/dev/null
    bench_cleanup
    exit "$rc"
}
trap cleanup EXIT

bench_services postgres

bench_build idem idem-bench idem-kafka-mock
bench_kafka_mock bench:8 lat:8 latbare:8 kpeer:8

psql_q() { bash "$SCRIPT_DIR/services.sh" psql -qtA "$@"; }
psql_q -c "DROP TABLE IF EXISTS kbench_effects, kbench_lat, kbench_pm, kbench_pm_offsets, kbench_pm_stats" \
    -c "DROP TABLE IF EXISTS kbench_pm_replays, peer_processed, peer_effects, batched_processed, batched_effects" \
    -c "CREATE TABLE kbench_effects (id text NOT NULL, amount numeric)" \
    -c "CREATE TABLE kbench_lat (id text NOT NULL, sent_us bigint NOT NULL, done_at timestamptz NOT NULL)" \
    -c "DELETE FROM idem_schema_versions WHERE table_name = 'kbench_pm'" 2>/dev/null || true

DISTINCT=$((RECORDS * 4 / 5))
fill() {
    "$BIN_DIR/idem-bench" kafka-fill --brokers "$BROKERS" --topic bench --records "$RECORDS" --partitions 8 \
        --rate "${FILL_RATE:-60000}" --compression lz4 >"$WORK/fill.json"
}
fill_pid=
if [[ -z "${CONCURRENT:-}" ]]; then
    FILL_RATE=0 fill
fi

# throughput NAME SETTINGS: idem with the consumer settings SETTINGS (YAML lines, indented
# for the consumer) over the whole topic, in a group of its own, on fresh tables; sets
# rate, steady, peak_rss, effect_rows and effect_ids. The end is polled on idem's metrics
# (bench_wait_processed), which costs the machine little, and the effects are counted after.
throughput() {
    local name=$1 settings=$2 pool=${3:-} top=${4:-}
    bench_free_port
    psql_q -c "DROP TABLE IF EXISTS kbench_pm, kbench_pm_offsets, kbench_pm_stats, kbench_pm_replays" \
        -c "DELETE FROM idem_schema_versions WHERE table_name = 'kbench_pm'" -c "TRUNCATE kbench_effects" >/dev/null
    cat >"$WORK/$name.yaml" <<YAML
postgres: {url: "$PG", table: kbench_pm$pool}
logging: {level: ${BENCH_LOG_LEVEL:-info}}
metrics: {listen: "127.0.0.1:$BENCH_METRICS_PORT"}
$top
consumers:
  - name: kbench
    source: {kafka: {brokers: "$BROKERS", topics: [bench], group: kbench-$name}}
    id: [{header: event-id}]
    handler:
      sql: "INSERT INTO kbench_effects(id, amount) VALUES (\$1, \$2::numeric)"
      params: [id, "json:/amount"]
$settings
YAML
    "$BIN_DIR/idem" migrate --config "$WORK/$name.yaml" >/dev/null
    "$BIN_DIR/idem" run --config "$WORK/$name.yaml" 2>"$WORK/$name.log" &
    local pid=$!
    until grep -q 'partitions assigned' "$WORK/$name.log" 2>/dev/null; do
        kill -0 "$pid" 2>/dev/null || { cat "$WORK/$name.log"; exit 1; }
        sleep 0.1
    done
    local start first end
    start=$(date +%s.%N)
    if [[ -n "${CONCURRENT:-}" && -z "$fill_pid" ]]; then
        fill &
        fill_pid=$!
    fi
    bench_wait_processed "$BENCH_METRICS_PORT" "$pid" 1 "$WORK/$name.log"
    first=$(date +%s.%N)
    bench_wait_processed "$BENCH_METRICS_PORT" "$pid" "$DISTINCT" "$WORK/$name.log"
    end=$(date +%s.%N)
    if [[ -n "$fill_pid" ]]; then wait "$fill_pid"; fi
    peak_rss=$(awk '/VmHWM/ {print int($2 / 1024) " MB"}' "/proc/$pid/status")
    bench_batch_shape "$BENCH_METRICS_PORT"
    kill -TERM "$pid"
    wait "$pid"
    effect_rows=$(psql_q -c "SELECT count(*) FROM kbench_effects")
    effect_ids=$(psql_q -c "SELECT count(DISTINCT id) FROM kbench_effects")
    rate=$(python3 -c "print(round($RECORDS / ($end - $start)))")
    steady=$(python3 -c "print(round($RECORDS / ($end - $first)))")
    local from="the assignment"
    [[ -n "${CONCURRENT:-}" ]] && from="the first record produced"
    echo "idem, $name settings: $rate records/s from $from to the last effect ($steady from the first effect); peak RSS $peak_rss; $batch_shape; effects: $effect_rows rows, $effect_ids distinct"
}

echo "machine: $(nproc) cores; $RECORDS records ($DISTINCT distinct) over 8 partitions, header IDs, one-row effect"
# The defaults of worker.yaml.example: nothing set but the source, the ID and the handler.
throughput default ""
default_rate=$rate default_rss=$peak_rss default_rows=$effect_rows default_ids=$effect_ids
# Tuned: larger batches.
throughput tuned "    batch: {size: ${BENCH_BATCH:-1000}, max_wait: 20ms}
    concurrency: ${BENCH_CONCURRENCY:-4}" ", pool_size: ${BENCH_CONCURRENCY:-4}"
tuned_rate=$rate tuned_rss=$peak_rss tuned_rows=$effect_rows tuned_ids=$effect_ids
if [[ -n "${TRACING:-}" ]]; then
    bench_free_port
    sink_port=$BENCH_METRICS_PORT
    python3 "$SCRIPT_DIR/otlp-sink.py" "$sink_port" >"$WORK/sink.json" &
    sink_pid=$!
    throughput traced "    batch: {size: ${BENCH_BATCH:-1000}, max_wait: 20ms}
    concurrency: ${BENCH_CONCURRENCY:-4}" ", pool_size: ${BENCH_CONCURRENCY:-4}" \
        "tracing: {enabled: true, endpoint: \"http://127.0.0.1:$sink_port/v1/traces\", sample_ratio: ${TRACING_RATIO:-1}}"
    kill -TERM "$sink_pid"
    wait "$sink_pid"
    echo "span export: $(cat "$WORK/sink.json") at the sink; $(grep -c 'were dropped' "$WORK/traced.log" || true) warnings of dropped spans"
fi
echo "producer: $(cat "$WORK/fill.json")"
[[ -n "${THROUGHPUT_ONLY:-}" ]] && exit 0

# The batched peer, on the same topic (every record, in a group of its own).
bench_peer_venv
batched=$("$VENV/bin/python" "$SCRIPT_DIR/peers/batched_kafka_peer.py" --brokers "$BROKERS" --topic bench \
    --group "kbatched-$$" --pg "$PG" --count "$RECORDS" --id-header event-id)
batched_rows=$(psql_q -c "SELECT count(*) FROM batched_effects")
batched_ids=$(psql_q -c "SELECT count(DISTINCT message_id) FROM batched_effects")
echo "batched peer (the same $RECORDS records): $batched; effects: $batched_rows rows, $batched_ids distinct"
# The broker's limit: a bare consumer of the same topic that does nothing with the records.
drain=$("$BIN_DIR/idem-bench" kafka-drain --brokers "$BROKERS" --topic bench --records "$RECORDS" 2>/dev/null)
echo "bare consumer (the broker's limit): $drain"
# PostgreSQL's limit for this table shape.
pg_limit=$(bench_postgres_limit)
echo "PostgreSQL limit: $pg_limit rows/s (batched ON CONFLICT claims and one-row effects, pgbench)"

# The throughput run's million rows leave work behind (autovacuum, a checkpoint): done
# now, so that it does not land in the latency run.
psql_q -c "VACUUM ANALYZE kbench_effects, kbench_pm" -c "CHECKPOINT" >/dev/null

# Latency at half the default settings' throughput (LAT_RATE), with those settings.
LAT_RATE=${LAT_RATE:-$((default_rate / 2))}
cat >"$WORK/lat.yaml" <<YAML
postgres: {url: "$PG", table: kbench_pm}
logging: {level: info}
consumers:
  - name: klat
    source: {kafka: {brokers: "$BROKERS", topics: [lat], group: klat, properties: {${LAT_PROPERTIES:-fetch.wait.max.ms: "10"}}}}
    id: [{header: event-id}]
    handler:
      sql: "INSERT INTO kbench_lat(id, sent_us, done_at) VALUES (\$1, \$2::bigint, clock_timestamp())"
      params: [id, "json:/sent_us"]
${LAT_SETTINGS:-}
YAML
"$BIN_DIR/idem" run --config "$WORK/lat.yaml" 2>"$WORK/lat.log" &
pid=$!
until grep -q 'partitions assigned' "$WORK/lat.log" 2>/dev/null; do sleep 0.1; done
# --warm-up 8: one record per partition first, delivered before the clock starts (a new
# producer's first records wait for its connections); left out of the figures.
produced=$("$BIN_DIR/idem-bench" kafka-paced --brokers "$BROKERS" --topic lat --rate "$LAT_RATE" \
    --seconds "$LAT_SECONDS" --warm-up 8)
LAT_TOTAL=$((LAT_RATE * LAT_SECONDS))
until [[ $(psql_q -c "SELECT count(*) FROM kbench_lat") -ge $((LAT_TOTAL + 8)) ]]; do sleep 0.1; done
psql_q -c "DELETE FROM kbench_lat WHERE id LIKE 'lat-warm-%'" >/dev/null
kill -TERM "$pid"
wait "$pid"
echo "latency load: $produced"
latency=$(psql_q -F ' ' -c "SELECT round((percentile_cont(0.5) WITHIN GROUP (ORDER BY l))::numeric, 2),
    round((percentile_cont(0.99) WITHIN GROUP (ORDER BY l))::numeric, 2), round(max(l)::numeric, 2), count(*)
    FROM (SELECT (extract(epoch FROM done_at) * 1e6 - sent_us) / 1000.0 AS l FROM kbench_lat) t")
read -r p50 p99 pmax lat_count <<<"$latency"
echo "latency at $LAT_RATE records/s: p50 $p50 ms, p99 $p99 ms, max $pmax ms ($lat_count records)"
# The broker's own latency at that rate, in the same conditions: a bare consumer
# (kafka-drain, no work, the same fetch.wait.max.ms) of the same paced load on a topic of
# its own.
"$BIN_DIR/idem-bench" kafka-drain --brokers "$BROKERS" --topic latbare --records "$((LAT_TOTAL + 8))" \
    --property fetch.wait.max.ms=10 --latency >"$WORK/bare-lat.json" 2>"$WORK/bare-lat.log" &
drain_pid=$!
until grep -q '^partitions assigned' "$WORK/bare-lat.log" 2>/dev/null; do
    kill -0 "$drain_pid" 2>/dev/null || { cat "$WORK/bare-lat.log" >&2; exit 1; }
    sleep 0.1
done
"$BIN_DIR/idem-bench" kafka-paced --brokers "$BROKERS" --topic latbare --rate "$LAT_RATE" --seconds "$LAT_SECONDS" \
    --warm-up 8 >/dev/null
wait "$drain_pid"
bare_latency=$(cat "$WORK/bare-lat.json")
echo "bare consumer at $LAT_RATE records/s (the broker's latency): $bare_latency"

# The naive peer, on records of the same generator (20 % duplicates, event-id headers).
PEER_RECORDS=${PEER_RECORDS:-20000}
bench_peer_venv
"$BIN_DIR/idem-bench" kafka-fill --brokers "$BROKERS" --topic kpeer --records "$PEER_RECORDS" --partitions 8 \
    --rate 0 >/dev/null
peer=$("$VENV/bin/python" "$PEERS/kafka_peer.py" --brokers "$BROKERS" --topic kpeer --group "kpeer-$$" --pg "$PG" \
    --count "$PEER_RECORDS" --id-header event-id)
peer_rows=$(psql_q -c "SELECT count(*) FROM peer_effects")
peer_ids=$(psql_q -c "SELECT count(DISTINCT message_id) FROM peer_effects")
echo "peer ($PEER_RECORDS records of the same generator): $peer"
echo "peer effects: $peer_rows rows, $peer_ids distinct"
bench_ratios "$default_rate" "$tuned_rate" "batched peer=$batched" "naive peer=$peer" "bare consumer=$drain"
# One line for scripts/benchmarks.sh.
bench_result broker=kafka messages="$RECORDS" distinct="$DISTINCT" per_second="$default_rate" \
    peak_rss="$default_rss" effect_rows="$default_rows" effect_ids="$default_ids" tuned_per_second="$tuned_rate" \
    tuned_peak_rss="$tuned_rss" tuned_effect_rows="$tuned_rows" tuned_effect_ids="$tuned_ids" \
    latency_rate="$LAT_RATE" p50_ms="$p50" p99_ms="$p99" max_ms="$pmax" \
    batched="$batched" batched_effect_rows="$batched_rows" batched_effect_ids="$batched_ids" \
    naive="$peer" peer_messages="$PEER_RECORDS" peer_effect_rows="$peer_rows" peer_effect_ids="$peer_ids" \
    broker_limit="$drain" broker_latency="$bare_latency" postgres_limit="$pg_limit"
if [[ -n "${KEEP_TABLES:-}" ]]; then exit 0; fi
psql_q -c "DROP TABLE IF EXISTS kbench_effects, kbench_lat, kbench_pm, kbench_pm_offsets, kbench_pm_stats" \
    -c "DROP TABLE IF EXISTS kbench_pm_replays, peer_processed, peer_effects, batched_processed, batched_effects" >/dev/null
