-- The tables the example handlers of deploy/compose/worker.yaml write to. The PostgreSQL
-- image runs this once, when its data volume is new. idem's own tables
-- (processed_messages and its companions) are created by the `migrate` service.
CREATE TABLE IF NOT EXISTS orders (
    id         text          PRIMARY KEY,
    amount     numeric(12,2) NOT NULL CHECK (amount >= 0),
    created_at timestamptz   NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS events (
    id          text        PRIMARY KEY,
    body        text        NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);
