import IdemConsumerKit

/// The SQL of retention for one dedup table: batched deletes of expired rows and of expired
/// per-minute counts. Every value travels as a parameter; only the validated, quoted table
/// names are part of the text.
///
/// A batch is one short statement (its own transaction in autocommit): the sub-select finds
/// at most `limit` expired rows through the BRIN index on `updated_at` (a bitmap scan of
/// the block ranges old enough), locks them with `SKIP LOCKED`, so that it never waits for
/// a claim holding one of them nor for another worker's sweep, and the `DELETE` removes
/// exactly those tuples by `ctid` (a TID scan). A row updated after the sub-select read it
/// (a dead letter replayed, say) has a new `ctid` and is left alone.
public struct RetentionStatements: Sendable {
    public let table: DedupTableName

    /// The instant `$1` seconds before PostgreSQL's `now()`, in UTC ISO 8601 with
    /// microseconds, which `timestamptz` reads back whatever the session's `DateStyle`.
    public var cutoff: String {
        """
        SELECT to_char((now() - make_interval(secs => $1::double precision)) AT TIME ZONE 'UTC',
                       'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
        """
    }

    /// Deletes a batch: `$1` consumer, `$2` statuses (text array), `$3` cutoff, `$4` limit.
    public var deleteExpired: String {
        """
        DELETE FROM \(table.quoted)
        WHERE ctid = ANY (ARRAY(
            SELECT ctid FROM \(table.quoted)
            WHERE consumer = $1 AND status = ANY ($2::text[]) AND updated_at < $3::timestamptz
            LIMIT $4::integer
            FOR UPDATE SKIP LOCKED))
        """
    }

    /// Counts what ``deleteExpired`` would take: `$1` consumer, `$2` statuses, `$3` cutoff.
    public var countExpired: String {
        """
        SELECT count(*) FROM \(table.quoted)
        WHERE consumer = $1 AND status = ANY ($2::text[]) AND updated_at < $3::timestamptz
        """
    }

    /// Deletes a batch of per-minute counts older than the cutoff: `$1` consumer, `$2`
    /// cutoff, `$3` limit. The primary key `(consumer, minute)` finds them.
    public var deleteExpiredStatistics: String {
        """
        DELETE FROM \(DedupSchema.statsTable(for: table))
        WHERE ctid = ANY (ARRAY(
            SELECT ctid FROM \(DedupSchema.statsTable(for: table))
            WHERE consumer = $1 AND minute < $2::timestamptz
            LIMIT $3::integer
            FOR UPDATE SKIP LOCKED))
        """
    }
}
