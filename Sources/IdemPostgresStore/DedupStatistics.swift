import IdemConsumerKit
import IdemCore
import IdemPostgres

/// Reads what `idem stats` shows from the dedup table, its per-minute counts and the
/// catalogue.
///
/// The rows by status are counted with one aggregate over the rows of the consumers asked
/// for: on a large table that is a sequential scan (there is no index on `status`, which
/// would cost every claim), as long as reading the table once, without locks that get in
/// the workers' way. The table's size and row estimate come from the catalogue and cost
/// nothing; the last hour sums at most 60 rows per consumer through the primary key of
/// `<table>_stats`.
public struct DedupStatistics: Sendable {
    /// The dedup table's size on disk and the planner's estimate of its rows.
    public struct TableSize: Sendable, Hashable {
        /// Bytes on disk, indexes and TOAST included (`pg_total_relation_size`).
        public var totalBytes: Int64
        /// The planner's row estimate (`pg_class.reltuples`); `nil` before the table was
        /// first vacuumed or analysed.
        public var estimatedRows: Int64?
    }

    /// The dedup table read.
    public let table: DedupTableName

    /// Reads `table` and its companion tables.
    public init(table: DedupTableName) {
        self.table = table
    }

    /// The table's size; throws if the table does not exist.
    public func tableSize(on connection: PostgresConnection) async throws -> TableSize {
        let rows = try await connection.query(
            """
            SELECT pg_total_relation_size(c.oid), c.reltuples::bigint
            FROM pg_class c WHERE c.oid = to_regclass($1)
            """, [table.quoted])
        guard let row = rows.rows.first, let bytes = row[0].flatMap({ Int64($0) }) else {
            throw DedupStoreError.failed("the dedup table \(table) does not exist: run `idem migrate --config FILE`")
        }
        let estimate = row[1].flatMap { Int64($0) }
        return TableSize(totalBytes: bytes, estimatedRows: estimate.flatMap { $0 >= 0 ? $0 : nil })
    }

    /// The statistics of each of `consumers`, in that order.
    public func consumers(_ consumers: [String], on connection: PostgresConnection) async throws
        -> [ConsumerStatistics]
    {
        let names = PostgresConnection.encodeTextArray(consumers)
        let byStatus = try await connection.query(
            """
            SELECT consumer, status, count(*),
                   to_char(min(first_seen_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
                   extract(epoch FROM now() - min(first_seen_at))::double precision
            FROM \(table.quoted)
            WHERE consumer = ANY ($1::text[])
            GROUP BY consumer, status
            """, [names])
        let activity = try await connection.query(
            """
            SELECT consumer, sum(received), sum(processed), sum(duplicates), sum(retried), sum(dead_lettered),
                   sum(payload_conflicts)
            FROM \(DedupSchema.statsTable(for: table))
            WHERE consumer = ANY ($1::text[]) AND minute >= now() - interval '1 hour'
            GROUP BY consumer
            """, [names])
        var statistics: [String: ConsumerStatistics] = [:]
        for name in consumers {
            statistics[name] = ConsumerStatistics(
                consumer: name, rows: Dictionary(uniqueKeysWithValues: DedupRowStatus.allCases.map { ($0, 0) }),
                oldestFirstSeen: nil, oldestAgeSeconds: nil, lastHour: ConsumerStatistics.Activity())
        }
        for row in byStatus.rows {
            guard let name = row[0], var entry = statistics[name], let status = row[1].flatMap(DedupRowStatus.init),
                let count = row[2].flatMap({ Int($0) })
            else { continue }
            entry.rows[status] = count
            if let age = row[4].flatMap({ Double($0) }), age > (entry.oldestAgeSeconds ?? -.infinity) {
                entry.oldestAgeSeconds = age
                entry.oldestFirstSeen = row[3]
            }
            statistics[name] = entry
        }
        for row in activity.rows {
            guard let name = row[0], var entry = statistics[name] else { continue }
            let counts = row.dropFirst().map { $0.flatMap { Int64($0) } ?? 0 }
            entry.lastHour = ConsumerStatistics.Activity(
                received: counts[0], processed: counts[1], duplicates: counts[2], retried: counts[3],
                deadLettered: counts[4], payloadConflicts: counts[5])
            statistics[name] = entry
        }
        return consumers.compactMap { statistics[$0] }
    }
}
