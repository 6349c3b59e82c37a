#!/usr/bin/env bash
# Usage: scripts/bench-amqp.sh [DISTINCT]
#
# The RabbitMQ consumer benchmark, on the local RabbitMQ and PostgreSQL:
# 1. Throughput: a durable queue pre-filled with DISTINCT orders (default 160,000), a
#    quarter of them published twice (200,000 messages, 20 % duplicates), message-id as
#    the ID, a one-row INSERT as the effect, transactional mode. Prints messages/s from
#    process start to the last effect, the peak resident memory, and checks that each
#    effect happened exactly once.
# 2. Latency: a steady 5,000 messages/s for 20 s (LAT_RATE, LAT_SECONDS) from
#    `idem-bench paced-publish`; each effect records clock_timestamp() beside the send
#    time in the body. Prints p50/p99/max publish-to-effect latency (COMMIT and the ack
#    follow the effect's statement within the same batch step).
# 3. The naive peer (../shared/peers/amqp_peer.py) on PEER_MESSAGES of the same data
#    (default 20,000): messages/s, and idem's speed-up over it.
# Stops the services it started.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SCRIPT_DIR/.." && pwd)
cd "$REPO"
DISTINCT=${1:-160000}
PEER_MESSAGES=${PEER_MESSAGES:-20000}
LAT_RATE=${LAT_RATE:-5000}
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

swift build -c release --product idem </dev/null
swift build -c release --product idem-bench </dev/null
BIN=$(swift build -c release --show-bin-path)/idem
BENCH=$(swift build -c release --show-bin-path)/idem-bench
bench_peer_venv

psql_q() { bash "$SCRIPT_DIR/services.sh" psql -qtA "$@"; }
psql_q -c "DROP TABLE IF EXISTS bench_effects, bench_pm, bench_lat, peer_processed, peer_effects" \
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
for queue in bench_idem bench_peer; do
    cat >"$WORK/$queue.yaml" <<YAML
postgres: {url: "$PG", table: bench_pm, pool_size: 4}
logging: {level: warning}
consumers:
  - name: bench
    source: {amqp: {url: "$IDEM_TEST_AMQP_URL", queue: $queue, prefetch: 2000, declare: true}}
    id: [message_id]
    handler: {sql: "INSERT INTO bench_effects(id, body) VALUES (\$1, \$2)", params: [id, body]}
    batch: {size: 500, max_wait: 20ms}
YAML
    bash "$SCRIPT_DIR/services.sh" rabbitmqctl purge_queue "$queue" >/dev/null 2>&1 || true
done
"$BIN" migrate --config "$WORK/bench_idem.yaml" >/dev/null
"$BIN" publish --config "$WORK/bench_idem.yaml" "$WORK/bench.jsonl" >/dev/null
"$BIN" publish --config "$WORK/bench_peer.yaml" "$WORK/peer.jsonl" >/dev/null

start=$(date +%s.%N)
"$BIN" run --config "$WORK/bench_idem.yaml" 2>"$WORK/idem.log" &
pid=$!
until [[ $(psql_q -c "SELECT count(*) FROM bench_effects") -ge $DISTINCT ]]; do sleep 0.05; done
end=$(date +%s.%N)
peak_rss=$(awk '/VmHWM/ {print int($2 / 1024) " MB"}' "/proc/$pid/status")
kill -TERM "$pid"
wait "$pid"
effect_rows=$(psql_q -c "SELECT count(*) FROM bench_effects")
effect_ids=$(psql_q -c "SELECT count(DISTINCT id) FROM bench_effects")
effects="$effect_rows rows, $effect_ids distinct"
idem_rate=$(python3 -c "print(round($TOTAL / ($end - $start)))")
echo "machine: $(nproc) cores; $TOTAL messages ($DISTINCT distinct) in a durable queue, message-id IDs, one-row effect"
echo "idem: $idem_rate messages/s (from process start to the last effect); peak RSS $peak_rss; effects: $effects"

# Latency at a steady rate, with the example's batching (100 messages or 10 ms).
cat >"$WORK/lat.yaml" <<YAML
postgres: {url: "$PG", table: bench_pm, pool_size: 4}
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

peer=$("$VENV/bin/python" "$PEERS/amqp_peer.py" --amqp-url "$IDEM_TEST_AMQP_URL" --queue bench_peer \
    --pg "$PG" --count "$PEER_TOTAL")
echo "peer ($PEER_TOTAL messages of the same data): $peer"
peer_rows=$(psql_q -c "SELECT count(*) FROM peer_effects")
peer_ids=$(psql_q -c "SELECT count(DISTINCT message_id) FROM peer_effects")
echo "peer effects: $peer_rows rows, $peer_ids distinct"
python3 -c "import json,sys; p=json.loads(sys.argv[1]); print(f'idem / peer: {$idem_rate / p[\"per_second\"]:.1f}x')" "$peer"
# One line for scripts/benchmarks.sh.
bench_result "$peer" broker=rabbitmq messages="$TOTAL" distinct="$DISTINCT" per_second="$idem_rate" \
    peak_rss="$peak_rss" effect_rows="$effect_rows" effect_ids="$effect_ids" latency_rate="$LAT_RATE" \
    p50_ms="$p50" p99_ms="$p99" max_ms="$pmax" peer_messages="$PEER_TOTAL" peer_effect_rows="$peer_rows" \
    peer_effect_ids="$peer_ids"
