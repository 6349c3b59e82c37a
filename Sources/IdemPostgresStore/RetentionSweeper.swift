import IdemConfig
import IdemConsumerKit
import IdemCore
import Logging
import ServiceLifecycle

/// Deletes one consumer's expired dedup rows in the background, for as long as the worker
/// runs.
///
/// Once the dedup store is ready, every `dedup.sweep_interval` (±10 %, and first after a
/// random part of it, so that a fleet of workers started together does not sweep in
/// lockstep) it deletes the consumer's `done` and `dead` rows not updated for
/// `dedup.retention`, `dedup.sweep_batch` rows per statement with a pause after each full
/// batch (``RetentionPacing/shared``), and then the consumer's per-minute counts
/// (`<table>_stats`) older than the retention. Rows of other statuses are kept (see
/// ``DedupRetention/sweptStatuses``), and so is `<table>_offsets`, the source of truth of
/// offset-mode consumers. Several workers may sweep the same consumer at once: each skips the
/// rows another has locked.
///
/// A sweep that deleted rows logs at info (count and duration), an empty one at debug. A
/// failed sweep (PostgreSQL unreachable) logs a warning and the worker tries again at the
/// next interval; repeats of the same failure log at debug until a sweep succeeds. On
/// graceful shutdown it stops at once, or after the batch in flight.
public struct RetentionSweeper: Service {
    /// Receives the rows each batch deleted, by consumer name: the hook for a
    /// `idem_retention_deleted_total{consumer}` counter.
    public typealias DeletedRows = @Sendable (_ consumer: String, _ deleted: Int) -> Void

    /// What one sweep did.
    public struct Sweep: Sendable, Hashable {
        /// The dedup rows deleted.
        public var deleted: Int
        /// The per-minute count rows deleted.
        public var statisticsDeleted: Int
        /// Rows updated before this instant were expired.
        public var cutoff: RetentionCutoff
        /// How long the sweep took, pauses included.
        public var duration: Duration
    }

    /// The consumer whose rows it deletes.
    public let consumer: String
    private let retention: Duration
    private let interval: Duration
    private let batchSize: Int
    private let store: DedupRetention
    private let readiness: StoreReadiness
    private let logger: Logger
    private let onDeleted: DeletedRows?

    /// Creates the sweeper of `consumer`, with its `dedup` retention settings.
    ///
    /// - Parameters:
    ///   - store: deletes from the worker's dedup table, through the worker's pool.
    ///   - readiness: the first sweep waits until the store is ready.
    ///   - onDeleted: called after every batch that deleted rows.
    public init(
        consumer: ConsumerConfig, store: DedupRetention, readiness: StoreReadiness, logger: Logger,
        onDeleted: DeletedRows? = nil
    ) {
        self.consumer = consumer.name
        self.retention = consumer.dedup.retention
        self.interval = consumer.dedup.sweepInterval
        self.batchSize = consumer.dedup.sweepBatch
        self.store = store
        self.readiness = readiness
        var logger = logger
        logger[metadataKey: "consumer"] = .string(consumer.name)
        self.logger = logger
        self.onDeleted = onDeleted
    }

    /// Sweeps every interval until graceful shutdown or cancellation.
    public func run() async throws {
        do {
            try await cancelWhenGracefulShutdown {
                try await readiness.waitUntilReady()
                try await Task.sleep(for: interval * Double.random(in: 0...1))
                var failing = false
                while !Task.isCancelled {
                    failing = await sweepAndLog(failing: failing)
                    try await Task.sleep(for: interval * Double.random(in: 0.9...1.1))
                }
            }
        } catch is CancellationError {
            // Graceful shutdown: nothing to finish.
        }
        logger.debug("retention sweeper stopped")
    }

    /// Runs one sweep now.
    public func sweep() async throws(DedupStoreError) -> Sweep {
        let clock = ContinuousClock()
        let started = clock.now
        let cutoff = try await store.cutoff(age: retention)
        let consumer = consumer
        var onBatch: (@Sendable (Int) -> Void)?
        if let onDeleted {
            onBatch = { count in onDeleted(consumer, count) }
        }
        let deleted = try await store.deleteExpired(
            consumer: consumer, statuses: DedupRetention.sweptStatuses, before: cutoff, batchSize: batchSize,
            pacing: .shared, onBatch: onBatch)
        var statisticsDeleted = 0
        if !Task.isCancelled {
            statisticsDeleted = try await store.deleteExpiredStatistics(
                consumer: consumer, before: cutoff, batchSize: batchSize, pacing: .shared)
        }
        return Sweep(
            deleted: deleted, statisticsDeleted: statisticsDeleted, cutoff: cutoff, duration: clock.now - started)
    }

    /// Sweeps once and logs the outcome; returns whether it failed.
    private func sweepAndLog(failing: Bool) async -> Bool {
        do {
            let sweep = try await sweep()
            let metadata: Logger.Metadata = [
                "deleted": .stringConvertible(sweep.deleted),
                "stats_deleted": .stringConvertible(sweep.statisticsDeleted),
                "duration_ms": .stringConvertible(Self.milliseconds(sweep.duration)),
                "cutoff": .string(sweep.cutoff.timestamp),
            ]
            if failing {
                logger.info("retention sweep succeeded again", metadata: metadata)
            }
            if sweep.deleted > 0 || sweep.statisticsDeleted > 0 {
                logger.info(
                    "retention sweep deleted \(sweep.deleted) rows in \(Self.milliseconds(sweep.duration)) ms",
                    metadata: metadata)
            } else {
                logger.debug("retention sweep found no expired rows", metadata: metadata)
            }
            return false
        } catch {
            // Cancelled while waiting for a connection: shutting down, not failing.
            if Task.isCancelled { return failing }
            let message = "retention sweep failed, trying again in \(DurationParser.format(interval)): \(error)"
            if failing {
                logger.debug("\(message)")
            } else {
                logger.warning("\(message)")
            }
            return true
        }
    }

    private static func milliseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
