import IdemConsumerKit
import IdemPostgres
import Logging
import ServiceLifecycle

/// Adds the process's per-minute counts (``MinuteStats``) to the stats table every few
/// seconds, in one statement, and once more when the worker stops.
///
/// Counts that cannot be written (PostgreSQL down) are kept for the next write; they are
/// statistics, so a crash may lose the last few seconds of them, never a message.
public struct StatsFlusher: Service {
    public let minutes: MinuteStats
    public let pool: PostgresPool
    public let table: DedupTableName
    public let readiness: StoreReadiness
    public let interval: Duration
    public let logger: Logger

    /// Creates the statsFlusher from its parts.
    public init(
        minutes: MinuteStats, pool: PostgresPool, table: DedupTableName, readiness: StoreReadiness, interval: Duration,
        logger: Logger
    ) {
        self.minutes = minutes
        self.pool = pool
        self.table = table
        self.readiness = readiness
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        do {
            try await cancelWhenGracefulShutdown { try await readiness.waitUntilReady() }
        } catch {
            return
        }
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            } catch {
                break
            }
            await flush()
        }
        await flush()
    }

    /// Writes what is pending; on failure keeps it for the next call.
    public func flush() async {
        let entries = minutes.drain()
        guard !entries.isEmpty else { return }
        let stats = DedupSchema.statsTable(for: table)
        let columns = ["received", "processed", "duplicates", "retried", "dead_lettered", "payload_conflicts"]
        let sql = """
            INSERT INTO \(stats) (consumer, minute, \(columns.joined(separator: ", ")))
            SELECT c, to_timestamp(m), r, p, d, t, x, y
            FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[],
                        $7::bigint[], $8::bigint[]) AS u(c, m, r, p, d, t, x, y)
            ON CONFLICT (consumer, minute) DO UPDATE SET
            \(columns.map { "\($0) = \(stats).\($0) + EXCLUDED.\($0)" }.joined(separator: ",\n"))
            """
        func numbers(_ value: (MinuteStats.Entry) -> Int64) -> String? {
            PostgresConnection.encodeTextArray(entries.map { String(value($0)) })
        }
        let parameters: [String?] = [
            PostgresConnection.encodeTextArray(entries.map(\.consumer)),
            numbers { $0.minute },
            numbers { Int64($0.tally.received) },
            numbers { Int64($0.tally.processed) },
            numbers { Int64($0.tally.duplicates) },
            numbers { Int64($0.tally.retried) },
            numbers { Int64($0.tally.deadLetteredTotal) },
            numbers { Int64($0.tally.payloadConflicts) },
        ]
        do {
            _ = try await pool.withConnection { connection in try await connection.query(sql, parameters) }
        } catch {
            minutes.restore(entries)
            logger.debug("could not write the per-minute counts, keeping them for the next try: \(error)")
        }
    }
}
