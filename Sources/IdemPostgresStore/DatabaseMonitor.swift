import IdemConsumerKit
import IdemPostgres
import Logging
import Metrics
import ServiceLifecycle
import Synchronization

/// Probes PostgreSQL every few seconds on a connection of its own, for `/readyz`, and
/// reads the dedup table's row estimate and the worker pool's state for the metrics:
/// `idem_dedup_rows_estimate`, `idem_postgres_up`, and `idem_postgres_connections` by
/// `state` (`open`, `leased`, `waiting`: callers waiting for a connection).
///
/// Its own connection keeps the probe honest when every pooled connection is busy, and
/// a probe that does not answer within a few seconds (a network partition) counts as
/// down.
public struct DatabaseMonitor: Service {
    public let url: String
    public let connectTimeout: Duration
    public let table: DedupTableName
    public let pool: PostgresPool
    public let health: HealthState
    public let interval: Duration
    public let logger: Logger

    /// Creates the databaseMonitor from its parts.
    public init(
        url: String, connectTimeout: Duration, table: DedupTableName, pool: PostgresPool, health: HealthState,
        interval: Duration, logger: Logger
    ) {
        self.url = url
        self.connectTimeout = connectTimeout
        self.table = table
        self.pool = pool
        self.health = health
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        let probePool = PostgresPool(
            url: url, size: 1, connectTimeout: min(connectTimeout, .seconds(3)), logger: logger)
        let rows = Gauge(label: "idem_dedup_rows_estimate", dimensions: [("table", table.description)])
        let up = Gauge(label: "idem_postgres_up")
        let connections = ["open", "leased", "waiting"].map {
            Gauge(label: "idem_postgres_connections", dimensions: [("state", $0)])
        }
        var wasUp: Bool?
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            let statistics = await pool.statistics
            connections[0].record(statistics.open)
            connections[1].record(statistics.leased)
            connections[2].record(statistics.waiting)
            switch await probe(probePool) {
            case .success(let estimate):
                health.setPostgres(ok: true, detail: "")
                up.record(1)
                rows.record(estimate)
                if wasUp == false { logger.info("PostgreSQL answers the readiness probe again") }
                wasUp = true
            case .failure(let error):
                health.setPostgres(ok: false, detail: "\(error)")
                up.record(0)
                if wasUp != false { logger.warning("PostgreSQL does not answer the readiness probe: \(error)") }
                wasUp = false
            }
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            } catch {
                break
            }
        }
        await probePool.close()
    }

    private struct ProbeTimeout: Error, CustomStringConvertible {
        var description: String { "no answer within 5 s" }
    }

    /// The dedup table's live row estimate, or why PostgreSQL did not give it in time.
    private func probe(_ probePool: PostgresPool) async -> Result<Int64, any Error> {
        let sql = """
            SELECT coalesce(
                (SELECT n_live_tup FROM pg_stat_all_tables WHERE relid = to_regclass($1)),
                (SELECT greatest(reltuples, 0)::bigint FROM pg_class WHERE oid = to_regclass($1)),
                0)
            """
        let name = table.quoted
        let query = Task {
            try await probePool.withConnection { connection in
                try await connection.query(sql, [name]).rows.first?[0].flatMap { Int64($0) } ?? 0
            }
        }
        let answer = FirstAnswer()
        return await withCheckedContinuation { continuation in
            Task {
                let result = await query.result
                if answer.claim() { continuation.resume(returning: result) }
            }
            Task {
                try? await Task.sleep(for: .seconds(5))
                if answer.claim() { continuation.resume(returning: .failure(ProbeTimeout())) }
            }
        }
    }
}

/// Which of two racing tasks answers first.
private final class FirstAnswer: Sendable {
    private let answered = Mutex(false)

    /// True for the first caller only.
    public func claim() -> Bool {
        answered.withLock { answered in
            defer { answered = true }
            return !answered
        }
    }
}
