import IdemConsumerKit
import IdemCore
import IdemPostgres

/// Deletes expired rows of the dedup table in small batches: the retention sweeper's
/// work, and `idem purge`'s.
///
/// Each batch is one short statement of its own (see ``RetentionStatements``), on a
/// connection taken from the pool for that statement only, so no lock is held across
/// batches and the other users of the pool get the connection in between. Rows are
/// deleted by `updated_at` (when the row last changed), found through the BRIN index.
public struct DedupRetention: Sendable {
    /// What the sweeper deletes: handled and dead-lettered rows.
    ///
    /// `processing` rows are never swept: a live lease is work in progress, and even an
    /// expired one belongs to a crash whose redelivery must take the row over with the next
    /// fence (a new row would start the fencing token again at 1). `failed` rows are kept
    /// too: such a message still owes its effect, and its row carries the attempts counted
    /// so far; one older than the retention means a redelivery that never came (a purged
    /// delay queue, a record past the topic's retention), which an operator should see in
    /// `idem stats` and may remove with `idem purge --status failed`.
    public static let sweptStatuses: [DedupRowStatus] = [.done, .dead]

    private let pool: PostgresPool
    private let statements: RetentionStatements

    /// Deletes from `table` through `pool`.
    public init(pool: PostgresPool, table: DedupTableName) {
        self.pool = pool
        self.statements = RetentionStatements(table: table)
    }

    /// The instant `age` before now, by PostgreSQL's clock.
    public func cutoff(age: Duration) async throws(DedupStoreError) -> RetentionCutoff {
        let rows = try await query(statements.cutoff, [String(age.seconds)])
        guard let text = rows.rows.first?.first ?? nil else {
            throw DedupStoreError.failed("PostgreSQL returned no time for the retention cutoff")
        }
        return RetentionCutoff(timestamp: text)
    }

    /// How many rows of `consumer` with one of `statuses` were last updated before `cutoff`.
    ///
    /// One read of the rows concerned (no lock beyond the table's `ACCESS SHARE`).
    public func countExpired(
        consumer: String, statuses: [DedupRowStatus], before cutoff: RetentionCutoff
    ) async throws(DedupStoreError) -> Int {
        let rows = try await query(
            statements.countExpired, [consumer, Self.array(statuses), cutoff.timestamp])
        return rows.rows.first?.first.flatMap { $0 }.flatMap { Int($0) } ?? 0
    }

    /// Deletes the rows of `consumer` with one of `statuses` last updated before `cutoff`,
    /// at most `batchSize` per statement, until a batch comes back short; returns how many
    /// went.
    ///
    /// Rows locked by a transaction at the time (a claim in flight, another worker's sweep)
    /// are skipped, not waited for: the next sweep takes them. Stops between batches when the
    /// task is cancelled, returning the count so far.
    ///
    /// - Parameters:
    ///   - pacing: the pause after a full batch.
    ///   - onBatch: called after each batch that deleted rows, with its count.
    public func deleteExpired(
        consumer: String, statuses: [DedupRowStatus], before cutoff: RetentionCutoff, batchSize: Int,
        pacing: RetentionPacing = .continuous, onBatch: (@Sendable (Int) -> Void)? = nil
    ) async throws(DedupStoreError) -> Int {
        let parameters = [consumer, Self.array(statuses), cutoff.timestamp, String(max(1, batchSize))]
        return try await deleteInBatches(
            statements.deleteExpired, parameters, batchSize: max(1, batchSize), pacing: pacing, onBatch: onBatch)
    }

    /// Deletes the per-minute counts of `consumer` (`<table>_stats`) for minutes before
    /// `cutoff`, in batches of `batchSize`; returns how many went.
    public func deleteExpiredStatistics(
        consumer: String, before cutoff: RetentionCutoff, batchSize: Int, pacing: RetentionPacing = .continuous
    ) async throws(DedupStoreError) -> Int {
        try await deleteInBatches(
            statements.deleteExpiredStatistics, [consumer, cutoff.timestamp, String(max(1, batchSize))],
            batchSize: max(1, batchSize), pacing: pacing, onBatch: nil)
    }

    private func deleteInBatches(
        _ statement: String, _ parameters: [String?], batchSize: Int, pacing: RetentionPacing,
        onBatch: (@Sendable (Int) -> Void)?
    ) async throws(DedupStoreError) -> Int {
        var total = 0
        let clock = ContinuousClock()
        while !Task.isCancelled {
            let started = clock.now
            let deleted = try await query(statement, parameters).affectedRows ?? 0
            total += deleted
            if deleted > 0 { onBatch?(deleted) }
            guard deleted >= batchSize else { break }
            let pause = pacing.pause(after: clock.now - started)
            if pause > .zero { try? await Task.sleep(for: pause) }
        }
        return total
    }

    private func query(_ statement: String, _ parameters: [String?]) async throws(DedupStoreError) -> PostgresRows {
        do {
            return try await pool.withConnection { connection in
                try await connection.query(statement, parameters)
            }
        } catch {
            throw PostgresDedupStore.storeError(error)
        }
    }

    private static func array(_ statuses: [DedupRowStatus]) -> String {
        PostgresConnection.encodeTextArray(statuses.map(\.rawValue))
    }
}
