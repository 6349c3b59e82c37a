#!/usr/bin/env bash
# Usage: scripts/bench-amqp.sh [DISTINCT]
#
# The RabbitMQ consumer benchmark, on the local RabbitMQ and PostgreSQL:
# 1. Throughput: a durable queue filled with DISTINCT orders (default 160,000), a quarter
#    of them published twice (200,000 messages, 20 % duplicates), message-id as the ID, a
#    one-row INSERT as the effect, transactional mode; twice, each on a queue of its own and
#    fresh tables: idem with the default settings (only the source, the ID and the handler
#    set) and tuned (prefetch 2,000, batches of 500). Prints messages/s from process start
#    to the last effect, the peak resident memory, and checks that each effect happened
#    exactly once.
# 2. On the same messages: the batched peer (scripts/peers/batched_amqp_peer.py, one
#    transaction and one multiple ack per batch of 500), a bare consumer with multiple
#    acks that does nothing (`idem-bench amqp-drain`: the broker's limit), and PostgreSQL
#    alone (pgbench: its limit for this table shape).
# 3. Latency: a steady LAT_RATE messages/s (default half the default settings'
#    throughput) for LAT_SECONDS (20) from `idem-bench paced-publish`, with the default
#    settings; each effect records clock_timestamp() beside the send time in the body.
#    Prints p50/p99/max publish-to-effect latency, and beside it the broker's own latency
#    at that rate: a bare consumer (`idem-bench amqp-drain --latency`) of the same load.
# 4. The naive peer (../shared/peers/amqp_peer.py) on PEER_MESSAGES of the same data
#    (default 20,000).
# Stops the services it started.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SCRIPT_DIR/.." && pwd)
cd "$REPO"
DISTINCT=${1:-160000}
PEER_MESSAGES=${PEER_MESSAGES:-20000}
LAT_SECONDS=${LAT_SECONDS:-20}
WORK=$(mktemp -d)
# shellcheck source=scripts/bench-common.sh
. "$SCRIPT_DIR/bench-common.sh"

case "${1:-}" in
    -h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
esac

# shellcheck disable=SC2317 # reached through the EXIT trap
cleanup() {
    local rc=$?
    bench_cleanup
    exit "$rc"
}
trap cleanup EXIT
bench_services postgres rabbitmq

bench_build idem idem-bench
BIN=$BIN_DIR/idem
BENCH=$BIN_DIR/idem-bench
bench_peer_venv

psql_q() { bash "$SCRIPT_DIR/services.sh" psql -qtA "$@"; }
psql_q -c "DROP TABLE IF EXISTS bench_effects, bench_pm, bench_lat, peer_processed, peer_effects" \
    -c "DROP TABLE IF EXISTS batched_processed, batched_effects" \
    -c "CREATE TABLE bench_effects (id text NOT NULL, body text)" \
    -c "CREATE TABLE bench_lat (id text NOT NULL, sent_us bigint NOT NULL, done_at timestamptz NOT NULL)" \
    -c "DELETE FROM idem_schema_versions WHERE table_name = 'bench_pm'" 2>/dev/null || true
python3 - "$DISTINCT" >"$WORK/bench.jsonl" <<'PY'
import json, sys
for n in range(int(sys.argv[1])):
    print(json.dumps({"message_id": f"m-{n}", "body": f"order {n}", "copies": 2 if n % 4 == 0 else 1}))
PY
TOTAL=$((DISTINCT + (DISTINCT + 3) / 4))
head -n "$((PEER_MESSAGES * 4 / 5))" "$WORK/bench.jsonl" >"$WORK/peer.jsonl"
PEER_TOTAL=$(python3 -c "import json,sys; print(sum(json.loads(l)['copies'] for l in open(sys.argv[1])))" "$WORK/peer.jsonl")
# throughput NAME SETTINGS SOURCE_EXTRA: idem with the consumer settings SETTINGS (YAML
# lines) and source settings SOURCE_EXTRA over the whole data set in a queue of its own,
# on fresh tables; sets rate, peak_rss, effect_rows and effect_ids. The end is polled on
# idem's metrics (bench_wait_processed), which costs the machine little, and the effects
# are counted after.
throughput() {
    local name=$1 settings=$2 extra=${3:-}
    bench_free_port
    local queue=bench_$name
    psql_q -c "DROP TABLE IF EXISTS bench_pm, bench_pm_offsets, bench_pm_stats, bench_pm_replays" \
        -c "DELETE FROM idem_schema_versions WHERE table_name = 'bench_pm'" -c "TRUNCATE bench_effects" >/dev/null
    cat >"$WORK/$name.yaml" <<YAML
postgres: {url: "$PG", table: bench_pm}
logging: {level: warning}
metrics: {listen: "127.0.0.1:$BENCH_METRICS_PORT"}
consumers:
  - name: bench
    source: {amqp: {url: "$IDEM_TEST_AMQP_URL", queue: $queue, declare: true$extra}}
    id: [message_id]
    handler: {sql: "INSERT INTO bench_effects(id, body) VALUES (\$1, \$2)", params: [id, body]}
$settings
YAML
    "$BIN" migrate --config "$WORK/$name.yaml" >/dev/null
    bash "$SCRIPT_DIR/services.sh" rabbitmqctl purge_queue "$queue" >/dev/null 2>&1 || true
    "$BIN" publish --config "$WORK/$name.yaml" "$WORK/bench.jsonl" >/dev/null
    local start end pid
    start=$(date +%s.%N)
    "$BIN" run --config "$WORK/$name.yaml" 2>"$WORK/$name.log" &
    pid=$!
    bench_wait_processed "$BENCH_METRICS_PORT" "$pid" "$DISTINCT" "$WORK/$name.log"
    end=$(date +%s.%N)
    peak_rss=$(awk '/VmHWM/ {print int($2 / 1024) " MB"}' "/proc/$pid/status")
    bench_batch_shape "$BENCH_METRICS_PORT"
    kill -TERM "$pid"
    wait "$pid"
    effect_rows=$(psql_q -c "SELECT count(*) FROM bench_effects")
    effect_ids=$(psql_q -c "SELECT count(DISTINCT id) FROM bench_effects")
    rate=$(python3 -c "print(round($TOTAL / ($end - $start)))")
    echo "idem, $name settings: $rate messages/s (from process start to the last effect); peak RSS $peak_rss; $batch_shape; effects: $effect_rows rows, $effect_ids distinct"
}

echo "machine: $(nproc) cores; $TOTAL messages ($DISTINCT distinct) in a durable queue, message-id IDs, one-row effect"
# The defaults of worker.yaml.example: nothing set but the source, the ID and the handler.
throughput default ""
default_rate=$rate default_rss=$peak_rss default_rows=$effect_rows default_ids=$effect_ids
# Tuned: a larger prefetch and batches.
throughput tuned "    batch: {size: 500, max_wait: 20ms}" ", prefetch: 2000"
tuned_rate=$rate tuned_rss=$peak_rss tuned_rows=$effect_rows tuned_ids=$effect_ids

# The batched peer and the bare consumer, each on the same messages in the same queue.
"$BIN" publish --config "$WORK/default.yaml" "$WORK/bench.jsonl" >/dev/null
batched=$("$VENV/bin/python" "$SCRIPT_DIR/peers/batched_amqp_peer.py" --amqp-url "$IDEM_TEST_AMQP_URL" \
    --queue bench_default --pg "$PG" --count "$TOTAL")
batched_rows=$(psql_q -c "SELECT count(*) FROM batched_effects")
batched_ids=$(psql_q -c "SELECT count(DISTINCT message_id) FROM batched_effects")
echo "batched peer (the same $TOTAL messages): $batched; effects: $batched_rows rows, $batched_ids distinct"
"$BIN" publish --config "$WORK/default.yaml" "$WORK/bench.jsonl" >/dev/null
drain=$("$BENCH" amqp-drain --queue bench_default --messages "$TOTAL")
echo "bare consumer with multiple acks (the broker's limit): $drain"
pg_limit=$(bench_postgres_limit)
echo "PostgreSQL limit: $pg_limit rows/s (batched ON CONFLICT claims and one-row effects, pgbench)"

# The throughput runs leave work behind in PostgreSQL (autovacuum, a checkpoint): done now,
# so that it does not land in the latency run.
psql_q -c "VACUUM ANALYZE bench_effects, bench_pm" -c "CHECKPOINT" >/dev/null

# Latency at half the default settings' throughput (LAT_RATE), with those settings.
LAT_RATE=${LAT_RATE:-$((default_rate / 2))}
cat >"$WORK/lat.yaml" <<YAML
postgres: {url: "$PG", table: bench_pm}
logging: {level: info}
consumers:
  - name: latency
    source: {amqp: {url: "$IDEM_TEST_AMQP_URL", queue: bench_lat, declare: true}}
    id: [message_id]
    handler:
      sql: "INSERT INTO bench_lat(id, sent_us, done_at) VALUES (\$1, \$2::bigint, clock_timestamp())"
      params: [id, "json:/sent_us"]
YAML
bash "$SCRIPT_DIR/services.sh" rabbitmqctl purge_queue bench_lat >/dev/null 2>&1 || true
"$BIN" run --config "$WORK/lat.yaml" 2>"$WORK/lat.log" &
pid=$!
until grep -q '"consuming"\|consuming' "$WORK/lat.log" 2>/dev/null; do sleep 0.1; done
published=$("$BENCH" paced-publish --queue bench_lat --rate "$LAT_RATE" --seconds "$LAT_SECONDS")
LAT_TOTAL=$((LAT_RATE * LAT_SECONDS))
until [[ $(psql_q -c "SELECT count(*) FROM bench_lat") -ge $LAT_TOTAL ]]; do sleep 0.1; done
kill -TERM "$pid"
wait "$pid"
echo "latency load: $published"
latency=$(psql_q -F ' ' -c "SELECT round((percentile_cont(0.5) WITHIN GROUP (ORDER BY l))::numeric, 2),
    round((percentile_cont(0.99) WITHIN GROUP (ORDER BY l))::numeric, 2), round(max(l)::numeric, 2), count(*)
    FROM (SELECT (extract(epoch FROM done_at) * 1e6 - sent_us) / 1000.0 AS l FROM bench_lat) t")
read -r p50 p99 pmax lat_count <<<"$latency"
echo "latency at $LAT_RATE messages/s: p50 $p50 ms, p99 $p99 ms, max $pmax ms ($lat_count messages)"
# The broker's own latency at that rate, in the same conditions: a bare consumer
# (amqp-drain, multiple acks, no work) of the same paced load on a queue of its own.
bash "$SCRIPT_DIR/services.sh" rabbitmqctl delete_queue bench_lat_bare >/dev/null 2>&1 || true
"$BENCH" amqp-drain --queue bench_lat_bare --messages "$LAT_TOTAL" --latency >"$WORK/bare-lat.json" \
    2>"$WORK/bare-lat.log" &
drain_pid=$!
until grep -q '^consuming' "$WORK/bare-lat.log" 2>/dev/null; do
    kill -0 "$drain_pid" 2>/dev/null || { cat "$WORK/bare-lat.log" >&2; exit 1; }
    sleep 0.1
done
"$BENCH" paced-publish --queue bench_lat_bare --rate "$LAT_RATE" --seconds "$LAT_SECONDS" --prefix bare >/dev/null
wait "$drain_pid"
bare_latency=$(cat "$WORK/bare-lat.json")
echo "bare consumer at $LAT_RATE messages/s (the broker's latency): $bare_latency"

# The naive peer, on the first PEER_MESSAGES of the same data.
sed 's/queue: bench_default/queue: bench_peer/' "$WORK/default.yaml" >"$WORK/peer.yaml"
bash "$SCRIPT_DIR/services.sh" rabbitmqctl purge_queue bench_peer >/dev/null 2>&1 || true
"$BIN" publish --config "$WORK/peer.yaml" "$WORK/peer.jsonl" >/dev/null
peer=$("$VENV/bin/python" "$PEERS/amqp_peer.py" --amqp-url "$IDEM_TEST_AMQP_URL" --queue bench_peer \
    --pg "$PG" --count "$PEER_TOTAL")
echo "naive peer ($PEER_TOTAL messages of the same data): $peer"
peer_rows=$(psql_q -c "SELECT count(*) FROM peer_effects")
peer_ids=$(psql_q -c "SELECT count(DISTINCT message_id) FROM peer_effects")
echo "naive peer effects: $peer_rows rows, $peer_ids distinct"
bench_ratios "$default_rate" "$tuned_rate" "batched peer=$batched" "naive peer=$peer" "bare consumer=$drain"
# One line for scripts/benchmarks.sh.
bench_result broker=rabbitmq messages="$TOTAL" distinct="$DISTINCT" per_second="$default_rate" \
    peak_rss="$default_rss" effect_rows="$default_rows" effect_ids="$default_ids" tuned_per_second="$tuned_rate" \
    tuned_peak_rss="$tuned_rss" tuned_effect_rows="$tuned_rows" tuned_effect_ids="$tuned_ids" \
    latency_rate="$LAT_RATE" p50_ms="$p50" p99_ms="$p99" max_ms="$pmax" \
    batched="$batched" batched_effect_rows="$batched_rows" batched_effect_ids="$batched_ids" \
    naive="$peer" peer_messages="$PEER_TOTAL" peer_effect_rows="$peer_rows" peer_effect_ids="$peer_ids" \
    broker_limit="$drain" broker_latency="$bare_latency" postgres_limit="$pg_limit"
for queue in bench_default bench_tuned bench_peer bench_lat bench_lat_bare; do
    bash "$SCRIPT_DIR/services.sh" rabbitmqctl delete_queue "$queue" >/dev/null 2>&1 || true
done
psql_q -c "DROP TABLE IF EXISTS bench_effects, bench_pm, bench_pm_offsets, bench_pm_stats, bench_pm_replays" \
    -c "DROP TABLE IF EXISTS bench_lat, peer_processed, peer_effects, batched_processed, batched_effects" \
    -c "DELETE FROM idem_schema_versions WHERE table_name = 'bench_pm'" >/dev/null
