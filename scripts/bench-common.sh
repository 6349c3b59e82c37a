# Sourced by the bench-*.sh scripts, which set SCRIPT_DIR, REPO and WORK first: starting the
# services a benchmark needs, stopping on exit those it started, the naive peers'
# virtualenv, and the RESULT line that scripts/benchmarks.sh reads.
# shellcheck shell=bash

SERVICES_DIR=${IDEM_SERVICES_DIR:-/tmp/idem-services}
export IDEM_SERVICES_DIR=$SERVICES_DIR
PEERS=${IDEM_PEERS_DIR:-$REPO/../shared/peers}
bench_started=()

# bench_services NAME...: installs the Debian packages (unless IDEM_SKIP_DEPS=1), starts the
# services, remembering those not running before, and exports services.env (PG too).
bench_services() {
    [[ "${IDEM_SKIP_DEPS:-0}" == 1 ]] || bash "$SCRIPT_DIR/install-deps.sh"
    local s
    for s in "$@"; do
        bash "$SCRIPT_DIR/services.sh" status "$s" >/dev/null 2>&1 || bench_started+=("$s")
    done
    bash "$SCRIPT_DIR/services.sh" start "$@" </dev/null >/dev/null
    set -a
    # shellcheck source=/dev/null
    . "$SERVICES_DIR/services.env"
    set +a
    PG=$IDEM_TEST_POSTGRES_URL
}

# bench_build PRODUCT...: builds the products in release mode and sets BIN_DIR to where
# they are.
bench_build() {
    local product
    for product in "$@"; do swift build -c release --product "$product" </dev/null; done
    BIN_DIR=$(swift build -c release --show-bin-path)
}

# bench_kafka_mock TOPIC...: starts a librdkafka mock cluster (BIN_DIR's idem-kafka-mock,
# logging to WORK/mock.log) with the topics, each NAME:PARTITIONS; sets BROKERS and
# mock_pid, which the caller's EXIT trap stops. Fails with the log if it exits first.
bench_kafka_mock() {
    local args=() topic
    for topic in "$@"; do args+=(--topic "$topic"); done
    "$BIN_DIR/idem-kafka-mock" "${args[@]}" --log-level warning --bootstrap-file "$WORK/brokers" \
        >/dev/null 2>"$WORK/mock.log" &
    mock_pid=$!
    until [[ -s "$WORK/brokers" ]]; do
        kill -0 "$mock_pid" 2>/dev/null || { cat "$WORK/mock.log" >&2; return 1; }
        sleep 0.1
    done
    BROKERS=$(cat "$WORK/brokers")
}

# bench_cleanup: stops the services bench_services started and removes WORK; for the
# scripts' EXIT traps.
bench_cleanup() {
    ((${#bench_started[@]} > 0)) && bash "$SCRIPT_DIR/services.sh" stop "${bench_started[@]}" >/dev/null 2>&1
    rm -rf "$WORK"
}

# bench_peer_venv: the naive peers' virtualenv (../shared/peers/requirements.txt), made
# once; sets VENV.
bench_peer_venv() {
    VENV=$REPO/.build-peer-venv
    if [[ ! -x "$VENV/bin/python" ]] || ! "$VENV/bin/python" -c "import confluent_kafka, psycopg, pika" 2>/dev/null; then
        python3 -m venv "$VENV"
        "$VENV/bin/pip" install -q -r "$PEERS/requirements.txt"
    fi
}

# bench_result KEY=VALUE...: prints `RESULT {json}` with the pairs (JSON values, such as
# numbers and the peers' result objects, as JSON; anything else as a string).
bench_result() {
    python3 - "$@" <<'PY'
import json, sys
result = {}
for pair in sys.argv[1:]:
    key, value = pair.split("=", 1)
    try:
        result[key] = json.loads(value)
    except ValueError:
        result[key] = value
print("RESULT " + json.dumps(result))
PY
}

# bench_ratios DEFAULT_RATE TUNED_RATE NAME=JSON...: prints idem's rate, with the default
# settings and tuned, over each other consumer's `per_second` (in its result JSON).
bench_ratios() {
    python3 - "$@" <<'PY'
import json, sys
default, tuned = int(sys.argv[1]), int(sys.argv[2])
for pair in sys.argv[3:]:
    name, result = pair.split("=", 1)
    other = json.loads(result)["per_second"]
    print(f"idem / {name}: {default / other:.2f}x (default settings), {tuned / other:.2f}x (tuned)")
PY
}

# bench_postgres_limit: what PostgreSQL alone does with this table shape, in rows/s: pgbench
# (4 clients, BENCH_PG_SECONDS, default 10 s) running transactions of 500 new IDs claimed with
# INSERT ... SELECT ... ON CONFLICT DO NOTHING into a dedup table made by `idem migrate` and
# 500 one-row effects, the rows generated in the server (no client encoding, no broker).
bench_postgres_limit() {
    local psql=(bash "$SCRIPT_DIR/services.sh" psql -qtA)
    "${psql[@]}" -c "DROP TABLE IF EXISTS limit_pm, limit_pm_offsets, limit_pm_stats, limit_pm_replays, limit_effects" \
        -c "DELETE FROM idem_schema_versions WHERE table_name = 'limit_pm'" \
        -c "CREATE TABLE limit_effects (id text NOT NULL, amount numeric)" >/dev/null 2>&1
    cat >"$WORK/limit.yaml" <<YAML
postgres: {url: "$PG", table: limit_pm}
consumers:
  - name: limit
    source: {kafka: {brokers: "127.0.0.1:9", topics: [limit], group: limit}}
    handler: {sql: "SELECT 1"}
YAML
    "${BIN_DIR:-$(swift build -c release --show-bin-path)}/idem" migrate --config "$WORK/limit.yaml" >/dev/null 2>&1
    cat >"$WORK/limit.sql" <<'SQL'
\set base random(1, 1000000000)
BEGIN;
INSERT INTO limit_pm AS p (consumer, message_id, status, attempts, fence, payload_hash, source)
    SELECT 'limit', 'm-' || (:base::bigint * 1000 + g), 'done', 1, 1, md5(g::text), 'bench[0]@' || g
    FROM generate_series(1, 500) g ON CONFLICT (consumer, message_id) DO NOTHING;
INSERT INTO limit_effects(id, amount)
    SELECT 'm-' || (:base::bigint * 1000 + g), (g % 1000) + 0.25 FROM generate_series(1, 500) g;
COMMIT;
SQL
    local tps
    tps=$(pgbench -n -c 4 -j 2 -T "${BENCH_PG_SECONDS:-10}" -f "$WORK/limit.sql" "$PG" 2>/dev/null |
        sed -n 's/^tps = \([0-9.]*\).*/\1/p')
    "${psql[@]}" -c "DROP TABLE IF EXISTS limit_pm, limit_pm_offsets, limit_pm_stats, limit_pm_replays, limit_effects" \
        -c "DELETE FROM idem_schema_versions WHERE table_name = 'limit_pm'" >/dev/null 2>&1
    python3 -c "print(round(${tps:-0} * 500))"
}

# bench_metric PORT NAME: sets metric_value to the sum of the samples of the metric NAME on
# the operations listener at 127.0.0.1:PORT, truncated to an integer.
bench_metric() {
    local value
    value=$(python3 "$SCRIPT_DIR/bench-metrics.py" sum "$1" "$2") || return 1
    metric_value=${value%.*}
}

# bench_batch_shape PORT: sets batch_shape to the mean batch size and the mean dedup
# transaction of the `idem run` with its operations listener on 127.0.0.1:PORT, from its
# idem_batch_size and idem_dedup_round_trip_seconds histograms.
bench_batch_shape() {
    batch_shape=$(python3 "$SCRIPT_DIR/bench-metrics.py" sum "$1" idem_batch_size_sum idem_batch_size_count \
        idem_dedup_round_trip_seconds_sum idem_dedup_round_trip_seconds_count |
        awk '{printf "mean batch %d messages, mean transaction %.1f ms", $1 / ($2 ? $2 : 1), 1000 * $3 / ($4 ? $4 : 1)}')
}

# bench_free_port: sets BENCH_METRICS_PORT to a loopback port free now, for the runs'
# `metrics: {listen: "127.0.0.1:$BENCH_METRICS_PORT"}` (one run at a time).
bench_free_port() {
    BENCH_METRICS_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
}

# bench_wait_processed PORT PID COUNT LOG: waits until the `idem run` PID, with its
# operations listener on 127.0.0.1:PORT, has processed COUNT messages (its
# idem_messages_processed_total, counted after each commit), polled every 20 ms by one
# Python process on one connection (bench-metrics.py). Prints LOG (the run's log) and fails
# if the process ends first.
bench_wait_processed() {
    python3 "$SCRIPT_DIR/bench-metrics.py" wait "$1" "$2" "$3" || { cat "$4"; return 1; }
}
