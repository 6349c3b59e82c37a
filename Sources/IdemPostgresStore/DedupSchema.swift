import IdemConsumerKit

/// The versioned schema of the dedup table, created and upgraded by `idem migrate`.
///
/// Each migration is a list of idempotent statements; the version reached is kept per
/// dedup table in `idem_schema_versions` (in the table's schema).
public enum DedupSchema {
    /// The schema version this build of idem needs.
    public static var currentVersion: Int { migrations.count }

    /// The statements of migration `version` (1-based) for `table`.
    public static func statements(version: Int, table: DedupTableName) -> [String] {
        migrations[version - 1](table)
    }

    /// The table recording schema versions, in the dedup table's schema.
    public static func versionTable(for table: DedupTableName) -> String {
        table.qualify("idem_schema_versions")
    }

    private static let migrations: [@Sendable (DedupTableName) -> [String]] = [
        // 1: the processed_messages table of docs/design.md.
        { table in
            [
                """
                CREATE TABLE IF NOT EXISTS \(table.quoted) (
                    consumer      text        NOT NULL,
                    message_id    text        NOT NULL,
                    status        text        NOT NULL,
                    attempts      integer     NOT NULL DEFAULT 1,
                    fence         bigint      NOT NULL DEFAULT 1,
                    locked_until  timestamptz,
                    payload_hash  text,
                    first_seen_at timestamptz NOT NULL DEFAULT now(),
                    updated_at    timestamptz NOT NULL DEFAULT now(),
                    source        text,
                    last_error    text,
                    CONSTRAINT \(table.objectName("pkey")) PRIMARY KEY (consumer, message_id),
                    CONSTRAINT \(table.objectName("status_check"))
                        CHECK (status IN ('processing', 'done', 'failed', 'dead'))
                )
                """,
                // The retention sweeper deletes by age. Rows are written roughly in time
                // order, so a BRIN index finds old ones at a fraction of a B-tree's cost on
                // every claim.
                """
                CREATE INDEX IF NOT EXISTS \(table.objectName("updated_at_brin"))
                    ON \(table.quoted) USING brin (updated_at)
                """,
            ]
        },
        // 2: offset dedup for Kafka consumers keyed by `offset`: the next offset of each
        // partition, written in the handler's transaction (one row per partition).
        { table in
            [
                """
                CREATE TABLE IF NOT EXISTS \(offsetsTable(for: table)) (
                    consumer    text        NOT NULL,
                    topic       text        NOT NULL,
                    partition   integer     NOT NULL,
                    next_offset bigint      NOT NULL,
                    attempts    integer     NOT NULL DEFAULT 0,
                    dead        boolean     NOT NULL DEFAULT false,
                    last_error  text,
                    updated_at  timestamptz NOT NULL DEFAULT now(),
                    CONSTRAINT \(table.objectName("offsets_pkey")) PRIMARY KEY (consumer, topic, partition)
                )
                """
            ]
        },
        // 3: operations. Per-minute counts that every worker adds to (for `idem stats`, which
        // sees the whole fleet, where a process's metrics see one worker), and the audit of
        // dead letters replayed by `idem dlq replay`.
        { table in
            [
                """
                CREATE TABLE IF NOT EXISTS \(statsTable(for: table)) (
                    consumer          text        NOT NULL,
                    minute            timestamptz NOT NULL,
                    received          bigint      NOT NULL DEFAULT 0,
                    processed         bigint      NOT NULL DEFAULT 0,
                    duplicates        bigint      NOT NULL DEFAULT 0,
                    retried           bigint      NOT NULL DEFAULT 0,
                    dead_lettered     bigint      NOT NULL DEFAULT 0,
                    payload_conflicts bigint      NOT NULL DEFAULT 0,
                    CONSTRAINT \(table.objectName("stats_pkey")) PRIMARY KEY (consumer, minute)
                )
                """,
                """
                CREATE TABLE IF NOT EXISTS \(replaysTable(for: table)) (
                    id                 bigserial   NOT NULL,
                    consumer           text        NOT NULL,
                    message_id         text        NOT NULL,
                    dead_letter_source text        NOT NULL,
                    dead_lettered_at   timestamptz,
                    reason             text,
                    attempts           integer,
                    target             text        NOT NULL,
                    row_reset          boolean     NOT NULL,
                    forced             boolean     NOT NULL,
                    replayed_by        text        NOT NULL,
                    replayed_at        timestamptz NOT NULL DEFAULT now(),
                    CONSTRAINT \(table.objectName("replays_pkey")) PRIMARY KEY (id)
                )
                """,
                """
                CREATE INDEX IF NOT EXISTS \(table.objectName("replays_message"))
                    ON \(replaysTable(for: table)) (consumer, message_id)
                """,
            ]
        },
        // 4: when the broker confirmed a dead row's dead letter: a redelivery of it is then
        // acknowledged instead of dead-lettered again.
        { table in
            [
                """
                ALTER TABLE \(table.quoted) ADD COLUMN IF NOT EXISTS dead_letter_confirmed_at timestamptz
                """
            ]
        },
        // 5: the audit also records dead letters discarded (`idem dlq discard`), and the
        // failure group a dead letter was taken by.
        { table in
            [
                """
                ALTER TABLE \(replaysTable(for: table))
                    ADD COLUMN IF NOT EXISTS action text NOT NULL DEFAULT 'replay',
                    ADD COLUMN IF NOT EXISTS failure_group text
                """
            ]
        },
    ]

    /// The per-minute counts table of a dedup table (`<table>_stats`, in the same schema),
    /// quoted.
    public static func statsTable(for table: DedupTableName) -> String {
        table.qualify("\(table.table)_stats")
    }

    /// The dead-letter replay audit table of a dedup table (`<table>_replays`, in the same
    /// schema), quoted.
    public static func replaysTable(for table: DedupTableName) -> String {
        table.qualify("\(table.table)_replays")
    }

    /// The offsets table of a dedup table (`<table>_offsets`, in the same schema), quoted.
    public static func offsetsTable(for table: DedupTableName) -> String {
        table.qualify("\(table.table)_offsets")
    }
}
