import IdemConsumerKit

/// The SQL of the dedup protocol for one table. Every value travels as a parameter; only
/// the validated, quoted table name is part of the text.
public struct DedupStatements: Sendable {
    public let table: DedupTableName

    /// Claims a batch. `$1` consumer, `$2` IDs, `$3` payload hashes, `$4` sources (text
    /// arrays, already in sorted ID order: rows are taken in that order, so concurrent
    /// claims cannot deadlock), `$5` the status a claimed row gets (`done` inside a
    /// transaction, `processing` for a lease), `$6` the lease in seconds (or NULL).
    /// New rows and rows that failed before or whose lease expired are claimed; the rows
    /// returned are the claimed ones.
    public var claim: String {
        """
        INSERT INTO \(table.quoted) AS p
            (consumer, message_id, status, attempts, fence, locked_until, payload_hash, source)
        SELECT $1, u.id, $5, 1, 1, now() + make_interval(secs => $6::double precision), u.h, u.s
        FROM unnest($2::text[], $3::text[], $4::text[]) WITH ORDINALITY AS u(id, h, s, n)
        ORDER BY u.n
        ON CONFLICT (consumer, message_id) DO UPDATE
            SET status = EXCLUDED.status, attempts = p.attempts + 1, fence = p.fence + 1,
                locked_until = EXCLUDED.locked_until, payload_hash = EXCLUDED.payload_hash,
                source = EXCLUDED.source, updated_at = now()
            WHERE p.status = 'failed' OR (p.status = 'processing' AND p.locked_until < now())
        RETURNING p.message_id, p.attempts, p.fence
        """
    }

    /// The state of IDs a claim did not take: `$1` consumer, `$2` IDs.
    public var lookup: String {
        """
        SELECT message_id, status, payload_hash, attempts, coalesce(last_error, ''),
               greatest(extract(epoch FROM locked_until - now()), 0)::double precision,
               dead_letter_confirmed_at IS NOT NULL
        FROM \(table.quoted)
        WHERE consumer = $1 AND message_id = ANY($2::text[])
        """
    }

    /// Dead letters confirmed by the broker: `$1` consumer, `$2` IDs (rows still `dead`).
    public var confirmDeadLetters: String {
        """
        UPDATE \(table.quoted)
        SET dead_letter_confirmed_at = now()
        WHERE consumer = $1 AND message_id = ANY($2::text[]) AND status = 'dead'
            AND dead_letter_confirmed_at IS NULL
        """
    }

    /// When IDs were first seen, in whole seconds since the Unix epoch: `$1` consumer,
    /// `$2` IDs.
    public var firstSeen: String {
        """
        SELECT message_id, floor(extract(epoch FROM first_seen_at))::bigint
        FROM \(table.quoted)
        WHERE consumer = $1 AND message_id = ANY($2::text[])
        """
    }

    /// Offset mode, in the transaction: creates the partition's row if needed (`$1`
    /// consumer, `$2` topic, `$3` partition).
    public var offsetRowEnsure: String {
        """
        INSERT INTO \(DedupSchema.offsetsTable(for: table)) (consumer, topic, partition, next_offset)
        VALUES ($1, $2, $3::integer, -1) ON CONFLICT DO NOTHING
        """
    }

    /// Offset mode: locks and reads the partition's row (`$1` consumer, `$2` topic, `$3`
    /// partition): next offset, attempts, dead, last error.
    public var offsetRowLock: String {
        """
        SELECT next_offset, attempts, dead, coalesce(last_error, '')
        FROM \(DedupSchema.offsetsTable(for: table))
        WHERE consumer = $1 AND topic = $2 AND partition = $3::integer
        FOR UPDATE
        """
    }

    /// Offset mode: stores the partition's state (`$1` consumer, `$2` topic, `$3`
    /// partition, `$4` next offset, `$5` attempts, `$6` dead, `$7` last error).
    public var offsetRowStore: String {
        """
        UPDATE \(DedupSchema.offsetsTable(for: table))
        SET next_offset = $4::bigint, attempts = $5::integer, dead = $6::boolean, last_error = $7,
            updated_at = now()
        WHERE consumer = $1 AND topic = $2 AND partition = $3::integer
        """
    }

    /// Offset mode: moves past a dead record once it is dead-lettered (`$1` consumer, `$2`
    /// topic, `$3` partition, `$4` its offset).
    public var offsetRelease: String {
        """
        UPDATE \(DedupSchema.offsetsTable(for: table))
        SET next_offset = $4::bigint + 1, attempts = 0, dead = false, last_error = NULL, updated_at = now()
        WHERE consumer = $1 AND topic = $2 AND partition = $3::integer AND next_offset = $4::bigint AND dead
        """
    }

    /// A stream consumer's resume position: stores the next offset of a lane, moving it
    /// only forward (`$1` consumer, `$2` stream, `$3` lane, `$4` next offset).
    public var resumeOffsetStore: String {
        """
        INSERT INTO \(DedupSchema.offsetsTable(for: table)) AS o (consumer, topic, partition, next_offset)
        VALUES ($1, $2, $3::integer, $4::bigint)
        ON CONFLICT (consumer, topic, partition) DO UPDATE
        SET next_offset = greatest(o.next_offset, EXCLUDED.next_offset), updated_at = now()
        """
    }

    /// Offset mode: the stored next offsets of a topic (`$1` consumer, `$2` topic).
    public var offsetsOfTopic: String {
        """
        SELECT partition, next_offset FROM \(DedupSchema.offsetsTable(for: table))
        WHERE consumer = $1 AND topic = $2 AND next_offset >= 0
        """
    }

    /// Records outcomes inside a transaction: `$1` consumer, `$2` IDs, `$3` statuses,
    /// `$4` last errors.
    public var markOutcomes: String {
        """
        UPDATE \(table.quoted) AS p
        SET status = u.st, last_error = u.err, locked_until = NULL, updated_at = now()
        FROM unnest($2::text[], $3::text[], $4::text[]) AS u(id, st, err)
        WHERE p.consumer = $1 AND p.message_id = u.id
        """
    }

    /// Lease completion: `$1` consumer, `$2` ID, `$3` fence.
    public var complete: String {
        """
        UPDATE \(table.quoted)
        SET status = 'done', locked_until = NULL, updated_at = now()
        WHERE consumer = $1 AND message_id = $2 AND fence = $3 AND status = 'processing'
        """
    }

    /// Lease failure: `$1` consumer, `$2` ID, `$3` fence, `$4` error, `$5` status.
    public var recordFailure: String {
        """
        UPDATE \(table.quoted)
        SET status = $5, last_error = $4, locked_until = NULL, updated_at = now()
        WHERE consumer = $1 AND message_id = $2 AND fence = $3 AND status = 'processing'
        """
    }

    /// Ends lease claims: `$1` consumer, `$2` IDs, `$3` fences, `$4` outcomes (`done`,
    /// `failed`, `dead`, or `released`: back to claimable without counting the attempt),
    /// `$5` errors. Only rows still `processing` under their claim's fence change.
    public var finishLeases: String {
        """
        UPDATE \(table.quoted) AS p
        SET status = CASE u.st WHEN 'released' THEN 'failed' ELSE u.st END,
            attempts = p.attempts - (u.st = 'released')::integer,
            last_error = CASE WHEN u.st IN ('failed', 'dead') THEN u.err ELSE p.last_error END,
            locked_until = NULL, updated_at = now()
        FROM unnest($2::text[], $3::bigint[], $4::text[], $5::text[]) AS u(id, fence, st, err)
        WHERE p.consumer = $1 AND p.message_id = u.id AND p.fence = u.fence AND p.status = 'processing'
        RETURNING p.message_id
        """
    }
}
