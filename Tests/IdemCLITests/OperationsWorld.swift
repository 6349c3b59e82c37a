import Foundation
import IdemTestSupport
import Testing

/// A migrated dedup table of its own on the test PostgreSQL and a configuration with two
/// consumers using it, for the commands that read or delete rows (`idem purge`,
/// `idem stats`). The consumers never run: rows are written directly.
struct OperationsWorld {
    let table: String
    let config: URL

    /// The consumers: `orders` with the default retry policy (a redelivery horizon of
    /// about an hour and a half), `billing` with one attempt (a horizon of one hour).
    static func make() async throws -> OperationsWorld {
        let url = try ServiceEnvironment.postgresURL()
        let table = "pm_ops_\(UUID().uuidString.prefix(8).lowercased())"
        let config = try IdemProcess.temporaryFile(
            """
            postgres:
              url: \(url)
              table: \(table)
            consumers:
              - name: orders
                source: {amqp: {url: "amqp://guest:guest@127.0.0.1:5672/%2F", queue: orders}}
                handler: {sql: "SELECT $1", params: [id]}
                dedup: {sweep_batch: 4}
              - name: billing
                source: {amqp: {url: "amqp://guest:guest@127.0.0.1:5672/%2F", queue: billing}}
                handler: {sql: "SELECT $1", params: [id]}
                retry: {max_attempts: 1}
            """)
        let outcome = try await IdemProcess.run(["migrate", "--config", config.path])
        try #require(outcome.status == 0, "idem migrate: \(outcome.stderr)")
        return OperationsWorld(table: table, config: config)
    }

    /// Inserts rows of `consumer` with `status`, named `prefix-0…`, first seen and last
    /// updated `age` ago (a PostgreSQL interval).
    func insert(_ consumer: String, _ prefix: String, count: Int, status: String, age: String) async throws {
        try await TestDatabase.sql(
            """
            INSERT INTO \(table) (consumer, message_id, status, first_seen_at, updated_at)
            SELECT $1, $2 || '-' || g, $3, now() - $4::interval, now() - $4::interval
            FROM generate_series(0, $5::integer - 1) AS g
            """, [consumer, prefix, status, age, String(count)])
    }

    /// The message IDs of `consumer`'s rows.
    func ids(_ consumer: String) async throws -> Set<String> {
        Set(
            try await TestDatabase.sql("SELECT message_id FROM \(table) WHERE consumer = $1", [consumer]).map { $0[0]! }
        )
    }

    /// `prefix-0` … `prefix-(count-1)`.
    static func names(_ prefix: String, _ count: Int) -> Set<String> {
        Set((0..<count).map { "\(prefix)-\($0)" })
    }

    /// Runs `idem arguments… --config FILE`.
    func idem(_ arguments: [String]) async throws -> IdemProcess.Outcome {
        try await IdemProcess.run(arguments + ["--config", config.path])
    }

    func drop() async throws {
        try await TestDatabase.sql("DROP TABLE IF EXISTS \(table), \(table)_offsets, \(table)_stats, \(table)_replays")
        try await TestDatabase.sql("DELETE FROM idem_schema_versions WHERE table_name = $1", [table])
    }
}
