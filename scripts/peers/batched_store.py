"""The PostgreSQL part of the batched peers: one transaction per batch of messages.

What a skilled engineer writes in an afternoon instead of idem: the batch's IDs claimed in
one statement (INSERT ... SELECT unnest(...) ON CONFLICT DO NOTHING RETURNING), the new
ones' effects written in a second statement, one COMMIT; the caller then acks the batch
at once (RabbitMQ) or commits its offsets synchronously (Kafka). Tables as the naive
peers': batched_processed(message_id primary key) and batched_effects(message_id, body).
"""
import psycopg

SCHEMA = """
CREATE TABLE IF NOT EXISTS batched_processed (message_id text PRIMARY KEY,
                                              seen_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS batched_effects (message_id text NOT NULL, body text NOT NULL);
"""


class BatchedStore:
    """Claims a batch of (message_id, body) pairs and writes the new ones' effects."""

    def __init__(self, dsn):
        self.conn = psycopg.connect(dsn, autocommit=False)
        with self.conn.cursor() as cur:
            cur.execute(SCHEMA)
        self.conn.commit()
        self.new = 0
        self.duplicates = 0

    def process(self, batch):
        """One transaction for the whole batch; returns how many IDs were new."""
        ids = [message_id for message_id, _ in batch]
        with self.conn.cursor() as cur:
            cur.execute("INSERT INTO batched_processed(message_id) SELECT unnest(%s::text[]) "
                        "ON CONFLICT DO NOTHING RETURNING message_id", (ids,))
            fresh = {row[0] for row in cur.fetchall()}
            bodies = {}
            for message_id, body in batch:
                if message_id in fresh and message_id not in bodies:
                    bodies[message_id] = body
            if bodies:
                cur.execute("INSERT INTO batched_effects(message_id, body) "
                            "SELECT * FROM unnest(%s::text[], %s::text[])",
                            (list(bodies.keys()), list(bodies.values())))
        self.conn.commit()
        self.new += len(bodies)
        self.duplicates += len(batch) - len(bodies)
        return len(bodies)
