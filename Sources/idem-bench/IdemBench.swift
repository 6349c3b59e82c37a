import ArgumentParser
import Foundation
import IdemConsumerKit
import IdemCore
import IdemPostgres
import IdemPostgresStore
import IdemRuntime
import IdemTerminal
import Logging

/// `idem-bench`: measures the dedup store against a real PostgreSQL.
@main
struct IdemBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "idem-bench",
        abstract: "Benchmarks of idem's dedup store and load generators for its consumers.",
        subcommands: [
            Claims.self, PacedPublish.self, AMQPDrain.self, KafkaFill.self, KafkaPaced.self, KafkaDrain.self,
        ]
    )
}

/// Transactional claims per second: each message claimed, handled by a one-row `sql`
/// handler and committed, one message per transaction or in batches.
struct Claims: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Transactional claims per second with a one-row sql handler.")

    @Option(help: "PostgreSQL URL (default: $IDEM_TEST_POSTGRES_URL).")
    var url: String?

    @Option(help: "Messages to process in all.")
    var messages = 100_000

    @Option(help: "Messages per transaction (1: one claim per transaction).")
    var batch = 500

    @Option(help: "Concurrent workers, each with its own connection.")
    var workers = 2

    @Option(help: "Fraction of the messages that are duplicates of earlier ones (0-1).")
    var duplicates = 0.0

    func validate() throws {
        guard messages > 0, batch > 0, workers > 0 else { throw ValidationError("counts must be positive") }
        guard (0...0.9).contains(duplicates) else { throw ValidationError("--duplicates must be in 0...0.9") }
    }

    func run() async throws {
        guard let url = url ?? ProcessInfo.processInfo.environment["IDEM_TEST_POSTGRES_URL"] else {
            throw ValidationError("give --url or set IDEM_TEST_POSTGRES_URL (scripts/services.sh start postgres)")
        }
        var logger = Logger(label: "idem-bench")
        logger.logLevel = .warning
        let suffix = UUID().uuidString.prefix(8).lowercased()
        let table = DedupTableName("bench_pm_\(suffix)")
        let effects = "bench_effects_\(suffix)"
        let admin = try await PostgresConnection.connect(url: url, logger: logger)
        _ = try await SchemaMigrator(table: table, logger: logger).migrate(on: admin)
        _ = try await admin.query("CREATE TABLE \(effects) (id text NOT NULL, amount numeric)", prepared: false)
        let synchronousCommit = try await admin.query("SHOW synchronous_commit").rows[0][0] ?? "?"
        let handler = SQLHandler(
            sql: "INSERT INTO \(effects)(id, amount) VALUES ($1, $2::numeric)",
            parameters: [.id, .json(try JSONPointer("/amount"))])

        // The stream: unique IDs, with a share of repeats of earlier ones.
        let distinct = max(1, Int(Double(messages) * (1 - duplicates)))
        let stream: [ClaimRequest] = (0..<messages).map { index in
            let number = index < distinct ? index : Int.random(in: 0..<distinct)
            let body = #"{"order": \#(number), "amount": "\#(number % 1000).25"}"#
            return ClaimRequest(
                message: Message(
                    body: Array(body.utf8),
                    source: MessageSource(
                        kind: "kafka", position: LogPosition(stream: "bench", lane: 0, offset: Int64(index)))),
                id: MessageID("order-\(number)", source: .json(try! JSONPointer("/order"))))
        }
        let batches = stride(from: 0, to: stream.count, by: batch).map {
            Array(stream[$0..<min($0 + batch, stream.count)])
        }
        let pools = (0..<workers).map { _ in
            PostgresPool(url: url, size: 1, connectTimeout: .seconds(10), logger: logger)
        }
        let queue = BatchQueue(batches)
        let progress = TerminalProgress("claims", total: stream.count)
        let clock = ContinuousClock()
        let start = clock.now
        let latencies = try await withThrowingTaskGroup(of: [Duration].self) { group in
            for pool in pools {
                let store = PostgresDedupStore(pool: pool, table: table, logger: logger)
                group.addTask {
                    var latencies: [Duration] = []
                    while let next = await queue.next() {
                        let began = clock.now
                        while true {
                            do {
                                _ = try await store.processTransactionally(
                                    consumer: "bench", next, maxAttempts: 5, handler: handler)
                                break
                            } catch let error as DedupStoreError {
                                // A deadlock or serialization failure is tried again.
                                guard error.code == .conflict else { throw error }
                            }
                        }
                        latencies.append(clock.now - began)
                        progress.advance(by: next.count)
                    }
                    return latencies
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        progress.finish()
        let elapsed = (clock.now - start).seconds
        let rows = try await admin.query("SELECT count(*) FROM \(effects)").rows[0][0] ?? "?"
        for pool in pools { await pool.close() }
        _ = try await admin.query("DROP TABLE \(effects)", prepared: false)
        _ = try await admin.query("DROP TABLE \(table.quoted)", prepared: false)
        _ = try await admin.query(
            "DELETE FROM \(DedupSchema.versionTable(for: table)) WHERE table_name = $1", [table.description])
        await admin.close()

        let sorted = latencies.sorted()
        func percentile(_ p: Double) -> Double {
            sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))].seconds * 1000
        }
        let rate = Double(messages) / elapsed
        print(
            String(
                format:
                    "claims: %d messages (%d distinct), batch %d, %d workers, synchronous_commit=%@: %.0f claims/s, %.1f µs per message; transaction p50 %.2f ms, p99 %.2f ms; effect rows %@",
                messages, distinct, batch, workers, synchronousCommit, rate, 1e6 / rate, percentile(0.5),
                percentile(0.99), rows))
        guard rows == String(distinct) else {
            throw ValidationError("expected \(distinct) effect rows, found \(rows): exactly-once was violated")
        }
    }
}

/// Hands out batches to the workers.
actor BatchQueue {
    private var batches: [[ClaimRequest]]
    private var index = 0

    init(_ batches: [[ClaimRequest]]) {
        self.batches = batches
    }

    func next() -> [ClaimRequest]? {
        guard index < batches.count else { return nil }
        defer { index += 1 }
        return batches[index]
    }
}
