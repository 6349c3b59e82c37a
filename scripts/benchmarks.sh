#!/usr/bin/env bash
# Usage: scripts/benchmarks.sh [--output FILE]
#
# The published benchmarks: runs, in one go on this machine, the RabbitMQ benchmark
# (scripts/bench-amqp.sh), the Kafka benchmark (scripts/bench-kafka.sh), each of which
# measures idem with its default settings and tuned, the batched Python peer of
# scripts/peers on the same messages, the naive peer of ../shared/peers on a part of them,
# a bare consumer (the broker's limit) and PostgreSQL alone (its limit), on the same
# broker, PostgreSQL and data (20 % duplicates, a one-row effect per distinct ID), and
# writes BENCHMARKS.md (or FILE): messages/s, p50/p99 latency at a steady rate, peak
# memory, idem's speed-up over the peers and share of the limits, whether every effect
# happened exactly once everywhere, and the machine it ran on. Then the Kafka failover benchmark
# (scripts/bench-failover.sh): seconds from a kill -9 of one of two workers until every
# partition is consumed again, with and without static membership, on the mock cluster
# and on Tansu. Last, the memory soak (scripts/bench-soak.sh): idem's resident memory
# sampled every second over SOAK_RECORDS (5,000,000) Kafka records produced while it
# consumes.
#
# Run it on a quiet machine: the brokers, PostgreSQL, idem and the peer share its cores.
# Sizes: AMQP_DISTINCT (160,000), KAFKA_RECORDS (1,000,000), PEER_MESSAGES and
# PEER_RECORDS (20,000), and everything the two scripts read (see their --help).
# Targets, with the default settings: Kafka 100,000 records/s and 3x the batched peer,
# RabbitMQ 40,000 messages/s and 2x the batched peer, p99 latency at most 30 ms at half
# that throughput, Kafka peak RSS at most 100 MB, RSS flat (±10 %) over the soak; no
# duplicate effect anywhere. Exit 1
# when a run fails or an effect is not exactly once; a missed target is reported in the
# file and on stderr, and exits 3.
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

say "RabbitMQ: idem, the peers and the limits (log: $LOGS/amqp.log)"
bash "$SCRIPT_DIR/bench-amqp.sh" "${AMQP_DISTINCT:-160000}" 2>&1 | tee "$LOGS/amqp.log" >&2
say "Kafka: idem, the peers and the limits (log: $LOGS/kafka.log)"
bash "$SCRIPT_DIR/bench-kafka.sh" "${KAFKA_RECORDS:-1000000}" 2>&1 | tee "$LOGS/kafka.log" >&2

say "Kafka failover: kill -9 of one of two workers (log: $LOGS/failover.log)"
bash "$SCRIPT_DIR/bench-failover.sh" 2>&1 | tee "$LOGS/failover.log" >&2 || say "the failover benchmark failed (its log: $LOGS/failover.log); its table shows what it measured"

say "Memory soak: ${SOAK_RECORDS:-5000000} Kafka records (log: $LOGS/soak.log)"
bash "$SCRIPT_DIR/bench-soak.sh" "${SOAK_RECORDS:-5000000}" 2>&1 | tee "$LOGS/soak.log" >&2

grep -h '^RESULT ' "$LOGS/amqp.log" "$LOGS/kafka.log" | sed 's/^RESULT //' >"$LOGS/results.jsonl"
grep -h '^RESULT ' "$LOGS/soak.log" | sed 's/^RESULT //' >"$LOGS/soak.jsonl"
grep -h '^FAILOVER ' "$LOGS/failover.log" | sed 's/^FAILOVER //' >"$LOGS/failover.jsonl" || true
python3 - "$LOGS/results.jsonl" "$OUTPUT" "$LOGS/failover.jsonl" "$LOGS/soak.jsonl" <<'PY'
import json, os, platform, subprocess, sys, datetime

results = [json.loads(line) for line in open(sys.argv[1])]
failovers = [json.loads(line) for line in open(sys.argv[3])]
soak = json.loads(open(sys.argv[4]).read())
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
limits = []
failures = []
missed = []
targets = {"rabbitmq": (40000, 2), "kafka": (100000, 3)}
for r in results:
    name = {"rabbitmq": "RabbitMQ", "kafka": "Kafka"}[r["broker"]]
    batched = r["batched"]["per_second"]
    naive = r["naive"]["per_second"]
    for label, rows_key, ids_key, expected in [
        ("idem (default settings)", "effect_rows", "effect_ids", r["distinct"]),
        ("idem (tuned)", "tuned_effect_rows", "tuned_effect_ids", r["distinct"]),
        ("the batched peer", "batched_effect_rows", "batched_effect_ids", r["distinct"]),
        ("the naive peer", "peer_effect_rows", "peer_effect_ids", r["peer_effect_ids"]),
    ]:
        if not (r[rows_key] == r[ids_key] == expected):
            failures.append(f"{name}: {label} wrote {r[rows_key]:,} effects for {expected:,} distinct IDs")
    goal, ratio_goal = targets[r["broker"]]
    if r["per_second"] < goal:
        missed.append(f"{name}: {r['per_second']:,} messages/s with the default settings, below the {goal:,} target")
    if r["per_second"] / batched < ratio_goal:
        missed.append(f"{name}: {r['per_second'] / batched:.1f}x the batched peer with the default settings, below the {ratio_goal}x target")
    bare = r["broker_latency"]
    if r["p99_ms"] > 30:
        missed.append(
            f"{name}: p99 latency {r['p99_ms']} ms at {r['latency_rate']:,}/s, above the 30 ms target "
            f"(a bare consumer of the same load: p99 {bare['p99_ms']} ms)")
    if r["broker"] == "kafka" and int(r["peak_rss"].split()[0]) > 100:
        missed.append(f"{name}: peak RSS {r['peak_rss']}, above the 100 MB target")
    rows.append(
        f"| {name} | {r['messages']:,} ({r['distinct']:,} distinct) | **{r['per_second']:,}** | {r['tuned_per_second']:,} | "
        f"{batched:,.0f} | {naive:,.0f} ({r['peer_messages']:,} messages) | "
        f"**{r['per_second'] / batched:.1f}x** / {r['tuned_per_second'] / batched:.1f}x | "
        f"{r['p50_ms']} / {r['p99_ms']} ms at {r['latency_rate']:,}/s | {r['peak_rss']} / {r['tuned_peak_rss']} | "
        f"{r['effect_rows']:,} for {r['distinct']:,} IDs |")
    broker_limit = r["broker_limit"]["per_second"]
    limits.append(
        f"| {name} | {broker_limit:,} | {bare['p50_ms']} / {bare['p99_ms']} ms at {r['latency_rate']:,}/s | "
        f"{r['postgres_limit']:,} | "
        f"{r['per_second'] / broker_limit:.0%} / {r['per_second'] / r['postgres_limit']:.0%} | "
        f"{r['tuned_per_second'] / broker_limit:.0%} / {r['tuned_per_second'] / r['postgres_limit']:.0%} |")

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

s = soak["soak"]
if soak["effect_rows"] != soak["distinct"] or soak["effect_ids"] != soak["distinct"]:
    failures.append(f"memory soak: {soak['effect_rows']:,} effects for {soak['distinct']:,} distinct IDs")
if not s["flat"]:
    missed.append(f"memory soak: RSS not flat ({s['rss_min_mb']}-{s['rss_max_mb']} MB, median {s['rss_median_mb']} MB)")
soak_text = (
    f"Over {soak['records']:,} Kafka records ({soak['distinct']:,} distinct) produced at {soak['rate']:,}/s while "
    f"idem consumed them with the default settings ({s['seconds']} s; `scripts/bench-soak.sh`), idem's resident memory, "
    f"sampled every second once the first 10 % were done, stayed between **{s['rss_min_mb']} and {s['rss_max_mb']} MB** "
    f"(median {s['rss_median_mb']} MB, first {s['rss_first_mb']} MB, last {s['rss_last_mb']} MB): "
    + ("flat, every sample within ±10 % of the median" if s["flat"] else "**not** flat (a sample more than 10 % from the median)")
    + f"; effects: {soak['effect_rows']:,} rows for {soak['distinct']:,} distinct IDs.")

now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
text = f"""# Benchmarks

Written by `scripts/benchmarks.sh` on {now}. Every figure below comes from that one run.

| broker | messages | idem, default settings, messages/s | idem, tuned | batched peer | naive peer | idem / batched peer (default / tuned) | idem latency p50 / p99 (default settings) | idem peak RSS (default / tuned) | idem effects |
|---|---|---|---|---|---|---|---|---|---|
""" + "\n".join(rows) + f"""

The limits, measured in the same run: a bare consumer of the same data that does nothing
with it (RabbitMQ: manual acks, one multiple ack per 500, prefetch 2,000, `idem-bench
amqp-drain`; Kafka: `idem-bench kafka-drain`), its publish-to-receive latency under the
same paced load as idem's latency run (`--latency`, on a queue or topic of its own), and
PostgreSQL alone writing rows of the
same shape (`pgbench`, 4 clients: transactions of 500 IDs claimed with `INSERT … SELECT …
ON CONFLICT DO NOTHING` into a dedup table made by `idem migrate`, plus 500 one-row
effects, generated in the server).

| broker | bare consumer, messages/s | bare consumer latency p50 / p99, same load as idem's | PostgreSQL limit, rows/s | idem default: share of broker / PostgreSQL limit | idem tuned: share |
|---|---|---|---|---|---|
""" + "\n".join(limits) + f"""

What was measured:

- **Throughput**: a queue (RabbitMQ, durable, persistent messages) or topic (Kafka, 8
  partitions, filled first) holding the messages, 20 % of them a second copy of an
  earlier one; each distinct ID's effect is one `INSERT` in the dedup transaction
  (transactional mode, an `sql` handler). idem: from process start (RabbitMQ) or
  partition assignment (Kafka) to the last effect, with its metrics listener on; the end
  is polled on idem's `idem_messages_processed_total` (every 20 ms, by one Python process
  on one connection), and the effects are counted once after.
  *Default settings* set only the source, the ID and the handler (batches of 100 that
  grow to 1,000 under a backlog, concurrency 4, pool 4, RabbitMQ prefetch 2,000); *tuned*:
  RabbitMQ prefetch 2,000 and batches of 500 (20 ms), Kafka batches of 1,000 (20 ms).
- **The batched peer** (`scripts/peers/`, Python, confluent-kafka / pika and psycopg):
  what a skilled engineer writes in an afternoon, on the same messages: one transaction
  per batch of 500 (claims with `INSERT … SELECT unnest(…) ON CONFLICT DO NOTHING
  RETURNING`, the new messages' effects in one statement), then one multiple ack
  (RabbitMQ) or a synchronous offset commit (Kafka). **The naive peer**
  (`../shared/peers`): one transaction per message, on a smaller part of the same data.
- **Latency**: publish-to-effect with the default settings at a steady rate of half the
  default settings' throughput, measured on the effect row's `clock_timestamp()` against
  the send time in the body; the load generator runs on the same two cores.
- **Exactly once**: the effect rows against the distinct IDs, for idem and both peers.

Kafka failover (`scripts/bench-failover.sh`): seconds from `kill -9` of one of two
workers in a group (restarted at once, as a supervisor would) until every one of the 8
partitions is consumed again, measured by a marker record produced to each partition
right after the kill; `session_timeout` 10 s (the default).

| broker | dynamic membership | static membership (`group_instance_id`) |
|---|---|---|
""" + failover_rows + f"""

{soak_text}

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
