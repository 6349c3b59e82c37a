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

# bench_result PEER_JSON KEY=VALUE...: prints `RESULT {json}` with the pairs (numbers as
# numbers) and the peer's per_second as peer_per_second.
bench_result() {
    python3 - "$@" <<'PY'
import json, sys
result = {}
for pair in sys.argv[2:]:
    key, value = pair.split("=", 1)
    try:
        result[key] = json.loads(value)
    except ValueError:
        result[key] = value
result["peer_per_second"] = json.loads(sys.argv[1])["per_second"]
print("RESULT " + json.dumps(result))
PY
}
