#!/usr/bin/env bash
# Usage: scripts/bench-amqp.sh [MESSAGES]
#
# The RabbitMQ consumer against the naive peer (../shared/peers/amqp_peer.py), on the same
# local RabbitMQ and PostgreSQL with the same data: MESSAGES distinct orders (default
# 16,000), a quarter of them published twice (20 % duplicates), message-id as the ID, a
# one-row INSERT as the effect. Prints messages/s for both and checks that each effect
# happened exactly once. Stops the services it started.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SCRIPT_DIR/.." && pwd)
cd "$REPO"
SERVICES_DIR=${IDEM_SERVICES_DIR:-/tmp/idem-services}
export IDEM_SERVICES_DIR=$SERVICES_DIR
DISTINCT=${1:-16000}
WORK=$(mktemp -d)
PEERS=${IDEM_PEERS_DIR:-$REPO/../shared/peers}

case "${1:-}" in
    -h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
esac

to_stop=()
# shellcheck disable=SC2317 # reached through the EXIT trap
cleanup() {
    local rc=$?
    ((${#to_stop[@]} > 0)) && bash "$SCRIPT_DIR/services.sh" stop "${to_stop[@]}" >/dev/null 2>&1
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT

[[ "${IDEM_SKIP_DEPS:-0}" == 1 ]] || bash "$SCRIPT_DIR/install-deps.sh"
for s in postgres rabbitmq; do
    bash "$SCRIPT_DIR/services.sh" status "$s" >/dev/null 2>&1 || to_stop+=("$s")
done
bash "$SCRIPT_DIR/services.sh" start postgres rabbitmq </dev/null >/dev/null
set -a
# shellcheck source=/dev/null
. "$SERVICES_DIR/services.env"
set +a
PG=$IDEM_TEST_POSTGRES_URL

swift build -c release --product idem </dev/null
BIN=$(swift build -c release --show-bin-path)/idem
VENV=$REPO/.build-peer-venv
if [[ ! -x "$VENV/bin/python" ]]; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q -r "$PEERS/requirements.txt"
fi

psql_q() { bash "$SCRIPT_DIR/services.sh" psql -qtA "$@"; }
psql_q -c "DROP TABLE IF EXISTS bench_effects, bench_pm, peer_processed, peer_effects" \
    -c "CREATE TABLE bench_effects (id text NOT NULL, body text)" \
    -c "DELETE FROM idem_schema_versions WHERE table_name = 'bench_pm'" 2>/dev/null || true
python3 - "$DISTINCT" >"$WORK/bench.jsonl" <<'PY'
import json, sys
for n in range(int(sys.argv[1])):
    print(json.dumps({"message_id": f"m-{n}", "body": f"order {n}", "copies": 2 if n % 4 == 0 else 1}))
PY
TOTAL=$((DISTINCT + (DISTINCT + 3) / 4))
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
"$BIN" publish --config "$WORK/bench_peer.yaml" "$WORK/bench.jsonl" >/dev/null

start=$(date +%s.%N)
"$BIN" run --config "$WORK/bench_idem.yaml" 2>"$WORK/idem.log" &
pid=$!
until [[ $(psql_q -c "SELECT count(*) FROM bench_effects") -ge $DISTINCT ]]; do sleep 0.05; done
end=$(date +%s.%N)
kill -TERM "$pid"
wait "$pid"
effects=$(psql_q -c "SELECT count(*) || ' rows, ' || count(DISTINCT id) || ' distinct' FROM bench_effects")
idem_rate=$(python3 -c "print(round($TOTAL / ($end - $start)))")
echo "machine: $(nproc) cores; $TOTAL messages ($DISTINCT distinct) on RabbitMQ, message-id IDs, one-row effect"
echo "idem: $idem_rate messages/s (from process start to the last effect); effects: $effects"
peer=$("$VENV/bin/python" "$PEERS/amqp_peer.py" --amqp-url "$IDEM_TEST_AMQP_URL" --queue bench_peer \
    --pg "$PG" --count "$TOTAL")
echo "peer: $peer"
python3 -c "import json,sys; p=json.loads(sys.argv[1]); print(f'idem / peer: {$idem_rate / p[\"per_second\"]:.1f}x')" "$peer"
