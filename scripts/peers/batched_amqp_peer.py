"""Batched idempotent RabbitMQ consumer: pika + psycopg, one transaction per batch.

Collects up to --batch deliveries (prefetch twice that, so the broker keeps sending while a
batch is written), or what arrived until the queue is quiet for 50 ms; claims and handles
them in one transaction (batched_store.py), then acks them all at once (multiple=True).
Drains --count messages and prints one JSON line (messages, seconds, per_second, new,
duplicates).
"""
import argparse, json, time
import pika
from batched_store import BatchedStore

ap = argparse.ArgumentParser()
ap.add_argument("--amqp-url", required=True)
ap.add_argument("--queue", required=True)
ap.add_argument("--pg", required=True)
ap.add_argument("--count", type=int, required=True)
ap.add_argument("--batch", type=int, default=500)
a = ap.parse_args()

store = BatchedStore(a.pg)
conn = pika.BlockingConnection(pika.URLParameters(a.amqp_url))
ch = conn.channel()
ch.basic_qos(prefetch_count=a.batch * 2)
seen = 0
start = None
batch = []
last_tag = None


def flush():
    global batch, seen
    store.process(batch)
    ch.basic_ack(delivery_tag=last_tag, multiple=True)
    seen += len(batch)
    batch = []


for method, props, body in ch.consume(a.queue, inactivity_timeout=0.05):
    if method is None:
        if batch:
            flush()
        continue
    if start is None:
        start = time.perf_counter()
    message_id = props.message_id or (props.headers or {}).get("x-idempotency-key")
    batch.append((message_id, body.decode("utf-8", "replace")))
    last_tag = method.delivery_tag
    if len(batch) >= a.batch or seen + len(batch) >= a.count:
        flush()
    if seen >= a.count:
        break
ch.cancel()
elapsed = time.perf_counter() - start
print(json.dumps({"peer": "amqp-batched", "messages": seen, "seconds": round(elapsed, 3),
                  "per_second": round(seen / elapsed, 1), "new": store.new,
                  "duplicates": store.duplicates}))
conn.close()
