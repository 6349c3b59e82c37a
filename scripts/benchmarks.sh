#!/usr/bin/env bash
# Usage: scripts/benchmarks.sh [--output FILE]
#
# The published benchmarks: runs, in one go on this machine, the RabbitMQ benchmark
# (scripts/bench-amqp.sh), the Kafka benchmark (scripts/bench-kafka.sh), each of which
# measures idem and then the naive Python peer of ../shared/peers on the same broker, the
# same PostgreSQL and data of the same generator (20 % duplicates, a one-row effect per
# distinct ID), and writes BENCHMARKS.md (or FILE): messages/s, p50/p99 latency at a steady
# rate, peak memory, idem's speed-up over the peer, whether every effect happened exactly
# once in both, and the machine it ran on. Then the Kafka failover benchmark
# (scripts/bench-failover.sh): seconds from a kill -9 of one of two workers until every
# partition is consumed again, with and without static membership, on the mock cluster
# and on Tansu.
#
# Run it on a quiet machine: the brokers, PostgreSQL, idem and the peer share its cores.
# Sizes: AMQP_DISTINCT (160,000), KAFKA_RECORDS (1,000,000), PEER_MESSAGES and
# PEER_RECORDS (20,000), and everything the two scripts read (see their --help).
# Target (issue 8): idem at least 30 times the peer's throughput on both brokers, with no
# duplicate effect in either. Exit 1 when a run fails or an effect is not exactly once;
# a missed speed-up target is reported in the file and on stderr, and exits 3.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SCRIPT_DIR/.." && pwd)
OUTPUT=$REPO/BENCHMARKS.md
case "${1:-}" in
    -h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    --output) OUTPUT=$2 ;;
    "") ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
esac
cd "$REPO"
LOGS=$(mktemp -d)
trap 'rm -rf "$LOGS"' EXIT

say() { printf '[benchmarks] %s\n' "$*" >&2; }

say "RabbitMQ: idem, then the peer (log: $LOGS/amqp.log)"
bash "$SCRIPT_DIR/bench-amqp.sh" "${AMQP_DISTINCT:-160000}" 2>&1 | tee "$LOGS/amqp.log" >&2
say "Kafka: idem, then the peer (log: $LOGS/kafka.log)"
bash "$SCRIPT_DIR/bench-kafka.sh" "${KAFKA_RECORDS:-1000000}" 2>&1 | tee "$LOGS/kafka.log" >&2

say "Kafka failover: kill -9 of one of two workers (log: $LOGS/failover.log)"
bash "$SCRIPT_DIR/bench-failover.sh" 2>&1 | tee "$LOGS/failover.log" >&2 || say "the failover benchmark failed (its log: $LOGS/failover.log); its table shows what it measured"

grep -h '^RESULT ' "$LOGS/amqp.log" "$LOGS/kafka.log" | sed 's/^RESULT //' >"$LOGS/results.jsonl"
grep -h '^FAILOVER ' "$LOGS/failover.log" | sed 's/^FAILOVER //' >"$LOGS/failover.jsonl" || true
python3 - "$LOGS/results.jsonl" "$OUTPUT" "$LOGS/failover.jsonl" <<'PY'
import json, os, platform, subprocess, sys, datetime

results = [json.loads(line) for line in open(sys.argv[1])]
failovers = [json.loads(line) for line in open(sys.argv[3])]
if len(results) != 2:
    sys.exit(f"expected 2 results, got {len(results)}")

def run(*command):
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=30).stdout.strip()
    except Exception:
        return "?"

cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
memory = next((line.split()[1] for line in open("/proc/meminfo") if line.startswith("MemTotal")), "0")
machine = [
    f"- CPU: {os.cpu_count()} cores, {cpu}",
    f"- memory: {int(memory) // 1024 // 1024} GiB; kernel {platform.release()}",
    f"- {run('swift', '--version').splitlines()[0] if run('swift', '--version') else 'swift ?'}",
    f"- PostgreSQL {run('bash', 'scripts/services.sh', 'psql', '-qtA', '-c', 'SHOW server_version')} (synchronous_commit on), "
    f"RabbitMQ {run('dpkg-query', '-W', '-f=${Version}', 'rabbitmq-server')}, "
    f"librdkafka {run('pkg-config', '--modversion', 'rdkafka')} (its mock cluster as the Kafka broker)",
    f"- idem at commit {run('git', 'rev-parse', '--short', 'HEAD')}, release build; peers: Python {platform.python_version()}",
    "- everything on this one machine: brokers, PostgreSQL, idem and the peer share its cores",
]

rows = []
failures = []
missed = []
for r in results:
    name = {"rabbitmq": "RabbitMQ", "kafka": "Kafka"}[r["broker"]]
    ratio = r["per_second"] / r["peer_per_second"]
    once = r["effect_rows"] == r["effect_ids"] == r["distinct"]
    peer_once = r["peer_effect_rows"] == r["peer_effect_ids"]
    if not once:
        failures.append(f"{name}: idem wrote {r['effect_rows']} effects for {r['distinct']} distinct IDs")
    if not peer_once:
        failures.append(f"{name}: the peer wrote {r['peer_effect_rows']} effects for {r['peer_effect_ids']} IDs")
    if ratio < 30:
        missed.append(f"{name}: {ratio:.1f}x the peer, below the 30x target")
    rows.append(
        f"| {name} | {r['messages']:,} ({r['distinct']:,} distinct) | **{r['per_second']:,}** | "
        f"{r['p50_ms']} / {r['p99_ms']} ms at {r['latency_rate']:,}/s | {r['peak_rss']} | "
        f"{r['effect_rows']:,} for {r['distinct']:,} IDs | {r['peer_per_second']:,.0f} ({r['peer_messages']:,} messages) | "
        f"{r['peer_effect_rows']:,} for {r['peer_effect_ids']:,} IDs | **{ratio:.0f}x** |")

def failover_cell(broker, membership):
    found = [f for f in failovers if f["broker"] == broker and f["membership"] == membership]
    if not found:
        return "not run"
    f = found[0]
    if not f["recovered"]:
        missed.append(f"Kafka failover on {broker}, {membership} membership: not every partition was consumed again")
        return f"not recovered after {f['seconds']} s"
    return f"**{f['seconds']} s**"

failover_rows = "\n".join(
    f"| {'librdkafka mock cluster' if broker == 'mock' else 'Tansu 0.6'} "
    f"({next((f['library'] for f in failovers if f['broker'] == broker), '?')}) | "
    f"{failover_cell(broker, 'dynamic')} | {failover_cell(broker, 'static')} |"
    for broker in ["mock", "tansu"])

now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
text = f"""# Benchmarks

Written by `scripts/benchmarks.sh` on {now}. Every figure below comes from that one run.

| broker | messages | idem messages/s | idem latency p50 / p99 | idem peak RSS | idem effects | naive peer messages/s | peer effects | idem / peer |
|---|---|---|---|---|---|---|---|---|
""" + "\n".join(rows) + f"""

What was measured:

- **Throughput**: a queue (RabbitMQ, durable, persistent messages) or topic (Kafka, 8
  partitions, filled first) holding the messages, 20 % of them a second copy of an
  earlier one; each distinct ID's effect is one `INSERT` in the dedup transaction
  (transactional mode, an `sql` handler). idem: from process start (RabbitMQ) or
  partition assignment (Kafka) to the last effect, with its metrics listener on. The
  peer: one transaction per message, then the ack or offset commit, on a smaller part
  of the same data (it would take hours on all of it).
- **Latency**: publish-to-effect at a steady rate, measured on the effect row's
  `clock_timestamp()` against the send time in the body.
- **Exactly once**: the effect rows against the distinct IDs, for idem and the peer.

Kafka failover (`scripts/bench-failover.sh`): seconds from `kill -9` of one of two
workers in a group (restarted at once, as a supervisor would) until every one of the 8
partitions is consumed again, measured by a marker record produced to each partition
right after the kill; `session_timeout` 10 s (the default).

| broker | dynamic membership | static membership (`group_instance_id`) |
|---|---|---|
""" + failover_rows + f"""

The machine:

""" + "\n".join(machine) + "\n"
if failures or missed:
    text += "\nProblems in this run:\n\n" + "\n".join(f"- {line}" for line in failures + missed) + "\n"
open(sys.argv[2], "w").write(text)
for line in failures + missed:
    print(line, file=sys.stderr)
sys.exit(1 if failures else (3 if missed else 0))
PY
say "wrote $OUTPUT"
