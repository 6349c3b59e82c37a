#!/usr/bin/env bash
# Usage: scripts/demo.sh
#
# The project's demo, from a fresh machine: installs what it needs, starts the local
# services (PostgreSQL, RabbitMQ, the Kafka mock broker), builds idem, and shows
#   1. `idem check-config` on the demo's worker.yaml and on a broken one (exit 2, every
#      problem with its file, line, column and key path),
#   2. `idem derive-id` on sample RabbitMQ and Kafka messages: the ID each message gets
#      from its consumer's ID chain, duplicates and poison messages included,
#   3. `idem migrate`: the dedup table's schema, versioned and idempotent,
#   4. `idem publish` of sample orders (duplicates, a payload conflict, a rejected order,
#      messages without an ID) to RabbitMQ, then `idem run`: each order's effect once, the
#      rest dead-lettered with its reason; /readyz and the message counters of /metrics
#      while it runs; SIGTERM, exit 0; then the tables and queues,
#   5. `idem stats`, `idem dlq list`, and `idem dlq replay` of the rejected order once its
#      cause is fixed: processed once, audited, and a second replay refused.
# On exit it stops the services it started (services already running are left alone).
#
# Environment: IDEM_SKIP_DEPS=1 skips scripts/install-deps.sh; IDEM_KEEP_SERVICES=1 leaves
# the services running; IDEM_BUILD_FLAGS as for scripts/test.sh.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/.." && pwd)
SERVICES=(postgres rabbitmq kafka)
SERVICES_DIR=${IDEM_SERVICES_DIR:-/tmp/idem-services}
[[ "$SERVICES_DIR" == /* ]] || SERVICES_DIR=$PWD/$SERVICES_DIR
export IDEM_SERVICES_DIR=$SERVICES_DIR

case "${1:-}" in
    -h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
esac
cd "$REPO_ROOT"

# shellcheck disable=SC2206 # IDEM_BUILD_FLAGS is a word list on purpose
BUILD_FLAGS=(${IDEM_BUILD_FLAGS:-})
bold() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { printf '$ %s\n' "$*"; }

to_stop=()
# shellcheck disable=SC2317 # reached through the EXIT trap
cleanup() {
    local rc=$?
    trap - EXIT
    if ((${#to_stop[@]} > 0)) && [[ "${IDEM_KEEP_SERVICES:-0}" != 1 ]]; then
        bash "$SCRIPT_DIR/services.sh" stop "${to_stop[@]}" >/dev/null 2>&1 || true
    fi
    exit "$rc"
}
trap cleanup EXIT

if [[ "${IDEM_SKIP_DEPS:-0}" != 1 ]]; then
    bold "Installing what idem needs (Debian packages)"
    bash "$SCRIPT_DIR/install-deps.sh"
fi

bold "Building idem"
swift build --product idem "${BUILD_FLAGS[@]}" </dev/null
BIN_DIR=$(swift build --show-bin-path "${BUILD_FLAGS[@]}")
idem() { "$BIN_DIR/idem" "$@"; }

bold "Starting the local services"
for s in "${SERVICES[@]}"; do
    bash "$SCRIPT_DIR/services.sh" status "$s" >/dev/null 2>&1 || to_stop+=("$s")
done
bash "$SCRIPT_DIR/services.sh" start "${SERVICES[@]}" </dev/null
set -a
# shellcheck source=/dev/null
. "$SERVICES_DIR/services.env"
set +a

bold "1. Checking the configuration"
show "idem check-config demo/worker.yaml"
idem check-config demo/worker.yaml
echo
show "idem check-config demo/broken.yaml"
rc=0
idem check-config demo/broken.yaml || rc=$?
echo "(exit code $rc: a configuration error)"

bold "2. Deriving message IDs"
echo "The orders consumer's chain is: message_id, then header X-Request-Id, then json /order/id."
show "idem derive-id --config demo/worker.yaml --consumer orders demo/orders.jsonl"
idem derive-id --config demo/worker.yaml --consumer orders demo/orders.jsonl
echo
echo "The events consumer's chain is: header event-id, then the record key, then content_hash."
show "idem derive-id --config demo/worker.yaml --consumer events demo/events.jsonl"
idem derive-id --config demo/worker.yaml --consumer events demo/events.jsonl

bold "3. Creating the dedup table"
show "idem migrate --config demo/worker.yaml   (twice: the second run has nothing to do)"
idem migrate --config demo/worker.yaml
idem migrate --config demo/worker.yaml

bold "4. Consuming from RabbitMQ and Kafka"
psql_demo() { bash "$SCRIPT_DIR/services.sh" psql -q "$@"; }
psql_demo -c "DROP TABLE IF EXISTS demo_orders" \
    -c "CREATE TABLE demo_orders (id text PRIMARY KEY, amount numeric NOT NULL CHECK (amount > 0))" \
    -c "DELETE FROM processed_messages WHERE consumer = 'orders'" \
    -c "DROP TABLE IF EXISTS demo_events" -c "CREATE TABLE demo_events (id text PRIMARY KEY, body text)" \
    -c "DELETE FROM processed_messages WHERE consumer = 'events'" \
    -c "DELETE FROM processed_messages_replays WHERE consumer IN ('orders', 'events')" \
    -c "DELETE FROM processed_messages_stats WHERE consumer IN ('orders', 'events')"
bash "$SCRIPT_DIR/services.sh" rabbitmqctl purge_queue demo.orders >/dev/null 2>&1 || true
bash "$SCRIPT_DIR/services.sh" rabbitmqctl purge_queue demo.orders.dlq >/dev/null 2>&1 || true
echo "demo/orders.jsonl holds 11 deliveries: ord-1001 three times (and once more with another"
echo "amount: a payload conflict), order 1003 twice, order 1004 with a negative amount (the"
echo "table's CHECK rejects it), and two messages without any usable ID."
show "idem publish --config demo/worker.yaml --consumer orders demo/orders.jsonl"
idem publish --config demo/worker.yaml --consumer orders demo/orders.jsonl
echo
echo "demo/events.jsonl holds 6 records for the Kafka topic events (on the local mock"
echo "cluster): ev-2 twice, and two identical records without header or key (content hash)."
show "idem publish --config demo/worker.yaml --consumer events demo/events.jsonl"
idem publish --config demo/worker.yaml --consumer events demo/events.jsonl
show "idem run --config demo/worker.yaml   (SIGTERM once both consumers are done, at most 30 s)"
"$BIN_DIR/idem" run --config demo/worker.yaml </dev/null 2>"$SERVICES_DIR/demo-run.log" &
pid=$!
for _ in $(seq 1 60); do
    orders=$(psql_demo -tA -c "SELECT count(*) FROM demo_orders")
    events=$(psql_demo -tA -c "SELECT count(*) FROM demo_events")
    ((orders >= 3 && events >= 4)) && break
    sleep 0.5
done
sleep 1
echo "While it runs, the worker answers on its operations listener (metrics.listen):"
show "GET http://127.0.0.1:9464/readyz and /metrics (the idem_messages_* counters)"
python3 - <<'PY' || true
import urllib.request, urllib.error
def get(path):
    try:
        with urllib.request.urlopen("http://127.0.0.1:9464" + path, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
status, body = get("/readyz")
print(f"/readyz: {status}\n" + body)
status, body = get("/metrics")
print("\n".join(line for line in body.splitlines() if line.startswith("idem_messages_")))
PY
kill -TERM "$pid"
started=$SECONDS
rc=0
wait "$pid" || rc=$?
grep -E "consuming|assigned|dead-lettered|not available|stopped" "$SERVICES_DIR/demo-run.log" | sed 's/^[^ ]* //' || true
echo "(idem exited with code $rc, $((SECONDS - started)) s after SIGTERM)"
((rc == 0))
echo
echo "The effects: one row per order, each exactly once."
psql_demo -c "SELECT id, amount FROM demo_orders ORDER BY id"
echo "The dedup table: what idem knows of each message ID."
psql_demo -c "SELECT message_id, status, attempts, left(coalesce(last_error, ''), 60) AS last_error FROM processed_messages WHERE consumer = 'orders' ORDER BY message_id"
echo "The queues: nothing left to consume; the dead letters carry x-idem-* headers."
bash "$SCRIPT_DIR/services.sh" rabbitmqctl list_queues name messages 2>/dev/null | grep -E "^demo\\.orders" || true
echo
echo "The Kafka effects: one row per event ID, each exactly once (ev-2 came twice)."
psql_demo -c "SELECT id, body FROM demo_events ORDER BY id"
echo "The events consumer keeps rows in the same dedup table, keyed by its own name."
psql_demo -c "SELECT message_id, status, source FROM processed_messages WHERE consumer = 'events' ORDER BY message_id"

bold "5. Operating it: statistics, dead letters, a replay"
show "idem stats --config demo/worker.yaml"
idem stats --config demo/worker.yaml
echo
show "idem dlq list --config demo/worker.yaml --consumer orders"
idem dlq list --config demo/worker.yaml --consumer orders
echo
echo "ord-1004 was rejected by the table's CHECK (amount > 0). Say the rule was wrong: drop it,"
echo "then replay that dead letter. Its dedup row is reset and the replay is audited."
psql_demo -c "ALTER TABLE demo_orders DROP CONSTRAINT demo_orders_amount_check"
show "idem dlq replay --config demo/worker.yaml --consumer orders --all --reason rejected --by demo"
idem dlq replay --config demo/worker.yaml --consumer orders --all --reason rejected --by demo
show "idem run --config demo/worker.yaml   (again, until ord-1004 is processed)"
"$BIN_DIR/idem" run --config demo/worker.yaml </dev/null 2>"$SERVICES_DIR/demo-run2.log" &
pid=$!
for _ in $(seq 1 60); do
    [[ $(psql_demo -tA -c "SELECT count(*) FROM demo_orders WHERE id = 'ord-1004'") == 1 ]] && break
    sleep 0.5
done
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
((rc == 0))
psql_demo -c "SELECT id, amount FROM demo_orders ORDER BY id"
echo "The audit of replays:"
psql_demo -c "SELECT id, consumer, message_id, reason, row_reset, replayed_by FROM processed_messages_replays ORDER BY id"
echo "Replaying it again is refused: the message was replayed already (and is no longer a dead letter)."
show "idem dlq replay --config demo/worker.yaml --consumer orders --id ord-1004"
rc=0
idem dlq replay --config demo/worker.yaml --consumer orders --id ord-1004 || rc=$?
echo "(exit code $rc)"

bold "Done"
