#!/usr/bin/env bash
# Usage: scripts/test.sh [SWIFT_TEST_ARGS...]     e.g. scripts/test.sh --filter IdemCoreTests
# (Without arguments every test runs: first all but IdemDisruptiveTests, which stop and
# restart the services, then those on their own.)
#
# The project's one test command:
#   1. scripts/install-deps.sh          (Debian packages; fast when already installed)
#   2. scripts/check-references.sh      (no doc, script or comment names a missing file)
#      swift build --build-tests        (fails fast on compile errors, before any service)
#   3. scripts/validate-deploy.sh       (the deploy/ files, offline, with the idem just built)
#   4. scripts/services.sh start        (PostgreSQL, RabbitMQ, Kafka mock on loopback)
#   5. swift test --skip-build ARGS...  with $IDEM_SERVICES_DIR/services.env exported;
#      without ARGS, then the Kafka end-to-end, replay and dead-letter suites again against
#      Tansu (IDEM_TEST_KAFKA_EXTERNAL=1), on the librdkafka 2.16 that services.sh fetched
#      (LD_LIBRARY_PATH=$IDEM_TEST_RDKAFKA_LIBDIR), and last the outage tests
# and on exit stops the services it started itself, keeping the exit code of the tests.
# Services that already ran before it started are left running.
#
# Environment:
#   IDEM_BUILD_FLAGS="..."   extra flags for swift build / swift test, e.g. "--scratch-path .build-ci"
#   IDEM_KEEP_SERVICES=1     leave the services running at the end
#   IDEM_SKIP_DEPS=1         skip scripts/install-deps.sh
#   IDEM_SKIP_DEPLOY_VALIDATION=1  skip scripts/validate-deploy.sh
#   IDEM_SKIP_TANSU=1        skip the pass against Tansu (and do not start it)
#   IDEM_TEST_PARALLELISM=N  tests run at once (default 6): every end-to-end test starts
#                            worker processes, and on two cores more at once starve the
#                            brokers' heartbeats and the tests' timing bounds
#   (plus everything scripts/services.sh reads: IDEM_SERVICES_DIR, ports, ...)
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/.." && pwd)
SERVICES=(postgres rabbitmq kafka tansu)
# The Kafka suites that run a second time against Tansu, a real Kafka-protocol broker
# (the first time they run against librdkafka's mock cluster).
TANSU_SUITES='IdemKafkaConsumerTests.KafkaConsumerTests|IdemKafkaConsumerTests.KafkaReplaySuiteTests|IdemKafkaConsumerTests.KafkaDeadLetterReplayTests'
SERVICES_DIR=${IDEM_SERVICES_DIR:-/tmp/idem-services}
[[ "$SERVICES_DIR" == /* ]] || SERVICES_DIR=$PWD/$SERVICES_DIR
export IDEM_SERVICES_DIR=$SERVICES_DIR # absolute, for services.sh run from the repo root
export SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH=${IDEM_TEST_PARALLELISM:-6}
ENV_FILE=$SERVICES_DIR/services.env

say() { printf '[test] %s\n' "$*" >&2; }

case "${1:-}" in
    -h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
esac

cd "$REPO_ROOT"

# shellcheck disable=SC2206 # IDEM_BUILD_FLAGS is a word list on purpose
BUILD_FLAGS=(${IDEM_BUILD_FLAGS:-})

# Which services ran before us: those are not ours to stop.
to_stop=()
# shellcheck disable=SC2317 # reached through the EXIT trap
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    # Children of a test process that died (a crash, a kill) would outlive it: workers
    # started from this checkout's build and the TLS proxies of the AMQP TLS tests.
    pkill -KILL -f "^$REPO_ROOT/\.build[^ ]*/idem (run|migrate) " 2>/dev/null || true
    pkill -KILL -f "^/usr/bin/socat OPENSSL-LISTEN:.*/idem-tls-" 2>/dev/null || true
    if ((${#to_stop[@]} > 0)); then
        if [[ "${IDEM_KEEP_SERVICES:-0}" == 1 ]]; then
            say "IDEM_KEEP_SERVICES=1: leaving ${to_stop[*]} running (stop: scripts/services.sh stop)"
        else
            say "stopping the services this run started: ${to_stop[*]}"
            bash "$SCRIPT_DIR/services.sh" stop "${to_stop[@]}" || say "WARNING: stopping services failed"
        fi
    fi
    exit "$rc"
}
trap cleanup EXIT

# Long steps run as a waited-for background child, so a signal sent to this script
# alone is handled at once: it is passed on to the child (SIGINT, which SwiftPM turns
# into stopping its own children), then the EXIT trap stops the services.
child=
run() {
    "$@" </dev/null &
    child=$!
    local rc=0
    wait "$child" || rc=$?
    child=
    return "$rc"
}
# shellcheck disable=SC2317 # reached through the INT/TERM traps
on_signal() {
    if [[ -n "$child" ]]; then
        say "interrupted: stopping pid $child"
        kill -INT "$child" 2>/dev/null || true
        wait "$child" 2>/dev/null || true
    fi
    exit "$1"
}
trap 'on_signal 130' INT
trap 'on_signal 143' TERM

start=$SECONDS

if [[ "${IDEM_SKIP_DEPS:-0}" != 1 ]]; then
    say "== install-deps"
    bash "$SCRIPT_DIR/install-deps.sh"
fi

say "== scripts/check-references.sh"
bash "$SCRIPT_DIR/check-references.sh"

say "== swift build --build-tests ${BUILD_FLAGS[*]}"
run swift build --build-tests "${BUILD_FLAGS[@]}"

if [[ "${IDEM_SKIP_DEPLOY_VALIDATION:-0}" != 1 ]]; then
    say "== scripts/validate-deploy.sh"
    idem_bin="$(swift build "${BUILD_FLAGS[@]}" --show-bin-path)/idem"
    if ! run env IDEM_BIN="$idem_bin" bash "$SCRIPT_DIR/validate-deploy.sh"; then
        say "the deploy/ files FAILED validation (the lines above say which check and why; scripts/validate-deploy.sh repeats it); the tests did not run"
        exit 1
    fi
fi

say "== services"
[[ "${IDEM_SKIP_TANSU:-0}" == 1 ]] && SERVICES=(postgres rabbitmq kafka)
for s in "${SERVICES[@]}"; do
    if bash "$SCRIPT_DIR/services.sh" status "$s" >/dev/null 2>&1; then
        say "$s was already running: it will be left running"
    else
        to_stop+=("$s")
    fi
done
bash "$SCRIPT_DIR/services.sh" start "${SERVICES[@]}" </dev/null

say "== swift test --skip-build ${BUILD_FLAGS[*]} $*"
set -a
# shellcheck source=/dev/null
. "$ENV_FILE"
set +a
rc=0
if (($# > 0)); then
    run swift test --skip-build "${BUILD_FLAGS[@]}" "$@" || rc=$?
else
    # The outage tests stop and restart the shared services, so they run alone, after
    # everything else.
    run swift test --skip-build "${BUILD_FLAGS[@]}" --skip IdemDisruptiveTests || rc=$?
    if ((rc == 0)) && [[ "${IDEM_SKIP_TANSU:-0}" != 1 ]]; then
        say "== the Kafka suites against Tansu ($IDEM_TEST_TANSU_BROKERS), librdkafka from $IDEM_TEST_RDKAFKA_LIBDIR"
        run env IDEM_TEST_KAFKA_EXTERNAL=1 IDEM_TEST_KAFKA_BROKERS="$IDEM_TEST_TANSU_BROKERS" \
            LD_LIBRARY_PATH="$IDEM_TEST_RDKAFKA_LIBDIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
            swift test --skip-build "${BUILD_FLAGS[@]}" --filter "$TANSU_SUITES" || rc=$?
    fi
    if ((rc == 0)); then
        say "== swift test --skip-build ${BUILD_FLAGS[*]} --filter IdemDisruptiveTests"
        run swift test --skip-build "${BUILD_FLAGS[@]}" --filter IdemDisruptiveTests || rc=$?
    fi
fi
if ((rc == 0)); then
    say "tests passed ($((SECONDS - start)) s in total)"
else
    say "tests FAILED with exit code $rc ($((SECONDS - start)) s in total)"
fi
exit "$rc"
