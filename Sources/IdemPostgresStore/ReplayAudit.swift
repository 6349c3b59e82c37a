import IdemConsumerKit
import IdemCore
import IdemPostgres

/// The audit of dead letters replayed by `idem dlq replay` or discarded by `idem dlq
/// discard` (`<table>_replays`, created by schema migration 3, with `action` and
/// `failure_group` from migration 5), and the dedup-row reset that goes with a replay.
///
/// ``record(_:)`` is the one transaction that decides a replay: it locks the message's key
/// (a transaction-level advisory lock, so that two concurrent replays of the same ID
/// cannot both pass), refuses when an earlier replay already covered the copy
/// (``ReplayGuard``) unless forced, deletes the dedup row so that the message is processed
/// afresh, and inserts the audit row.
public struct ReplayAudit: Sendable {
    public let connection: PostgresConnection
    public let table: DedupTableName

    /// An audit on `connection` for the dedup table `table`.
    public init(connection: PostgresConnection, table: DedupTableName) {
        self.connection = connection
        self.table = table
    }

    /// What a replay is about to do.
    public struct Request: Sendable {
        /// The consumer.
        public var consumer: String
        /// The dead letter.
        public var letter: DeadLetter
        /// Where it goes (`amqp:<queue>` or `<topic>`).
        public var target: String
        /// Delete the message's dedup row (false with `--keep-dedup-row`, and for consumers
        /// keyed by Kafka offset, which have none).
        public var resetRow: Bool
        /// Replay even if an earlier replay covered this copy.
        public var force: Bool
        /// Who replays it.
        public var replayedBy: String
        /// Replayed or discarded.
        public var action: ReplayAction
        /// The failure group it was selected by (`--group`), if it was.
        public var failureGroup: String?

        /// Creates a request.
        public init(
            consumer: String, letter: DeadLetter, target: String, resetRow: Bool, force: Bool, replayedBy: String,
            action: ReplayAction = .replay, failureGroup: String? = nil
        ) {
            self.consumer = consumer
            self.letter = letter
            self.target = target
            self.resetRow = resetRow
            self.force = force
            self.replayedBy = replayedBy
            self.action = action
            self.failureGroup = failureGroup
        }
    }

    /// What ``record(_:)`` decided.
    public enum Outcome: Sendable {
        /// Refused: `earlier` already replayed this copy. Nothing was changed.
        case refused(earlier: ReplayRecord)
        /// Recorded as `record`; the dedup row that was deleted had `resetStatus` (`nil`
        /// when no row was deleted). `overridden` is the earlier replay `--force` went past.
        case recorded(ReplayRecord, resetStatus: String?, overridden: ReplayRecord?)
    }

    private var replays: String { DedupSchema.replaysTable(for: table) }

    /// The replays of each of `ids` of `consumer`, oldest first.
    public func history(consumer: String, ids: [String]) async throws -> [String: [ReplayRecord]] {
        guard !ids.isEmpty else { return [:] }
        let rows = try await connection.query(
            """
            SELECT \(Self.columns) FROM \(replays)
            WHERE consumer = $1 AND message_id = ANY($2::text[]) ORDER BY id
            """, [consumer, PostgresConnection.encodeTextArray(Array(Set(ids)))])
        var out: [String: [ReplayRecord]] = [:]
        for record in Self.records(rows) { out[record.messageId, default: []].append(record) }
        return out
    }

    /// The status of the message's dedup row, or `nil` when it has none.
    public func dedupRowStatus(consumer: String, id: String) async throws -> String? {
        let rows = try await connection.query(
            "SELECT status FROM \(table.quoted) WHERE consumer = $1 AND message_id = $2", [consumer, id])
        return rows.rows.first?.first ?? nil
    }

    /// Decides and records a replay in one transaction (see the type's summary).
    public func record(_ request: Request) async throws -> Outcome {
        let letter = request.letter
        return try await connection.withTransaction { connection in
            // Serialises replays of one key; released at COMMIT or ROLLBACK.
            _ = try await connection.query(
                "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
                [Self.lockKey(table: table, consumer: request.consumer, id: letter.id)])
            let history = Self.records(
                try await connection.query(
                    "SELECT \(Self.columns) FROM \(replays) WHERE consumer = $1 AND message_id = $2 ORDER BY id",
                    [request.consumer, letter.id]))
            let earlier = ReplayGuard.earlierReplay(
                deadLetteredAt: letter.deadLetteredAt, replayId: letter.metadata.replayId, history: history)
            if let earlier, !request.force { return Outcome.refused(earlier: earlier) }
            var resetStatus: String?
            if request.resetRow {
                let deleted = try await connection.query(
                    "DELETE FROM \(table.quoted) WHERE consumer = $1 AND message_id = $2 RETURNING status",
                    [request.consumer, letter.id])
                resetStatus = deleted.rows.first?.first ?? nil
            }
            let inserted = try await connection.query(
                """
                INSERT INTO \(replays)
                    (consumer, message_id, dead_letter_source, dead_lettered_at, reason, attempts, target,
                     row_reset, forced, replayed_by, action, failure_group)
                VALUES ($1, $2, $3, to_timestamp($4::double precision), $5, $6::integer, $7, $8::boolean,
                        $9::boolean, $10, $11, $12)
                RETURNING \(Self.columns)
                """,
                [
                    request.consumer, letter.id, letter.location, letter.deadLetteredAt.map { String($0) },
                    letter.metadata.reason, letter.metadata.attempts.map { String($0) }, request.target,
                    resetStatus != nil ? "true" : "false", earlier != nil ? "true" : "false", request.replayedBy,
                    request.action.rawValue, request.failureGroup,
                ])
            guard let record = Self.records(inserted).first else {
                throw DeadLetterChannelError("the audit row was not inserted")
            }
            return Outcome.recorded(record, resetStatus: resetStatus, overridden: earlier)
        }
    }

    /// Writes where a replay went, once the broker has it (`<topic>:<partition>:<offset>`).
    public func updateTarget(of id: Int64, to target: String) async throws {
        _ = try await connection.query("UPDATE \(replays) SET target = $2 WHERE id = $1::bigint", [String(id), target])
    }

    /// Deletes the audit row of a replay whose publish failed: the message was not put back,
    /// so it was not replayed.
    public func cancel(_ id: Int64) async throws {
        _ = try await connection.query("DELETE FROM \(replays) WHERE id = $1::bigint", [String(id)])
    }

    /// The text whose `hashtextextended` is the advisory lock of a replay of `id`.
    public static func lockKey(table: DedupTableName, consumer: String, id: String) -> String {
        "idem-dlq-replay\u{1F}\(table)\u{1F}\(consumer)\u{1F}\(id)"
    }

    private static let columns = """
        id, message_id, extract(epoch FROM replayed_at)::double precision, replayed_by, forced, \
        dead_letter_source, target, row_reset, action
        """

    private static func records(_ rows: PostgresRows) -> [ReplayRecord] {
        rows.rows.compactMap { row in
            guard let id = row[0].flatMap({ Int64($0) }), let messageId = row[1] else { return nil }
            return ReplayRecord(
                id: id, messageId: messageId, replayedAt: row[2].flatMap { Double($0) } ?? 0,
                replayedBy: row[3] ?? "", forced: row[4] == "t", deadLetterSource: row[5] ?? "",
                target: row[6] ?? "", rowReset: row[7] == "t",
                action: row[8].flatMap(ReplayAction.init(rawValue:)) ?? .replay)
        }
    }
}
