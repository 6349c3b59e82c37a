"""Batched idempotent Kafka consumer: confluent-kafka + psycopg, one transaction per batch.

Takes up to --batch records at a time (Consumer.consume), claims and handles them in one
transaction (batched_store.py), then commits the offsets synchronously. Drains --count
records and prints one JSON line (messages, seconds, per_second, new, duplicates).
"""
import argparse, json, time
from confluent_kafka import Consumer
from batched_store import BatchedStore

ap = argparse.ArgumentParser()
ap.add_argument("--brokers", required=True)
ap.add_argument("--topic", required=True)
ap.add_argument("--group", required=True)
ap.add_argument("--pg", required=True)
ap.add_argument("--count", type=int, required=True)
ap.add_argument("--batch", type=int, default=500)
ap.add_argument("--id-header", default="x-idempotency-key")
a = ap.parse_args()

store = BatchedStore(a.pg)
consumer = Consumer({"bootstrap.servers": a.brokers, "group.id": a.group,
                     "auto.offset.reset": "earliest", "enable.auto.commit": False})
consumer.subscribe([a.topic])
seen = 0
start = None
header = a.id_header
while seen < a.count:
    messages = consumer.consume(num_messages=min(a.batch, a.count - seen), timeout=1.0)
    if not messages:
        continue
    if start is None:
        start = time.perf_counter()
    batch = []
    for msg in messages:
        if msg.error():
            raise SystemExit(str(msg.error()))
        message_id = None
        for key, value in msg.headers() or []:
            if key == header:
                message_id = value.decode()
                break
        if message_id is None:
            message_id = f"{msg.topic()}:{msg.partition()}:{msg.offset()}"
        batch.append((message_id, (msg.value() or b"").decode("utf-8", "replace")))
    store.process(batch)
    consumer.commit(asynchronous=False)
    seen += len(messages)
elapsed = time.perf_counter() - start
print(json.dumps({"peer": "kafka-batched", "messages": seen, "seconds": round(elapsed, 3),
                  "per_second": round(seen / elapsed, 1), "new": store.new,
                  "duplicates": store.duplicates}))
consumer.close()
