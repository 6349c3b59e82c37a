import Foundation
import IdemConsumerKit
import IdemCore
import IdemPostgres
import IdemPostgresStore
import IdemTestSupport
import Logging

/// A freshly migrated dedup table of its own for one test, on the test PostgreSQL, with
/// helpers to make messages and read rows back. `drop()` removes what it created.
struct StoreFixture {
    let url: String
    let table: DedupTableName
    let pool: PostgresPool
    let store: PostgresDedupStore
    let admin: PostgresConnection
    let logger = makeTestLogger("idem-store-tests")

    static func makeLogger() -> Logger { makeTestLogger("idem-store-tests") }
    let consumer = "orders"

    /// The application name of the fixture's pool connections.
    var applicationName: String { "idem-\(table.table)" }

    static func make(poolSize: Int = 2) async throws -> StoreFixture {
        let url = try ServiceEnvironment.postgresURL()
        let name = "pm_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(12)
        let table = DedupTableName(String(name))
        let logger = makeTestLogger("idem-store-tests")
        let admin = try await PostgresConnection.connect(url: url, logger: logger)
        _ = try await SchemaMigrator(table: table, logger: logger).migrate(on: admin)
        let pool = PostgresPool(
            url: url, size: poolSize, connectTimeout: .seconds(5), applicationName: "idem-\(name)", logger: logger)
        return StoreFixture(
            url: url, table: table, pool: pool, store: PostgresDedupStore(pool: pool, table: table, logger: logger),
            admin: admin)
    }

    /// A second store on its own pool of one connection: a separate worker.
    func separateStore() -> (PostgresDedupStore, PostgresPool) {
        let pool = PostgresPool(url: url, size: 1, connectTimeout: .seconds(5), logger: logger)
        return (PostgresDedupStore(pool: pool, table: table, logger: logger), pool)
    }

    func drop(_ extraTables: String...) async throws {
        await pool.close()
        _ = try await admin.query("DROP TABLE IF EXISTS \(table.quoted)", prepared: false)
        for companion in [
            DedupSchema.offsetsTable(for: table), DedupSchema.statsTable(for: table),
            DedupSchema.replaysTable(for: table),
        ] {
            _ = try await admin.query("DROP TABLE IF EXISTS \(companion)", prepared: false)
        }
        _ = try await admin.query(
            "DELETE FROM \(DedupSchema.versionTable(for: table)) WHERE table_name = $1", [table.description])
        for extra in extraTables {
            _ = try await admin.query("DROP TABLE IF EXISTS \(extra)", prepared: false)
        }
        await admin.close()
    }

    /// A unique name for a scratch table of the test.
    func scratch(_ prefix: String) -> String {
        "\(prefix)_\(table.table)"
    }

    static func message(_ body: String, headers: [String: HeaderValue] = [:]) -> Message {
        Message(
            body: Array(body.utf8), headers: headers,
            source: MessageSource(kind: "amqp", description: "amqp:orders", features: .messageIDProperty))
    }

    static func request(_ id: String, _ body: String = "{}", headers: [String: HeaderValue] = [:]) -> ClaimRequest {
        ClaimRequest(message: message(body, headers: headers), id: MessageID(id, source: .messageId))
    }

    /// The row of `id`: status, attempts, fence, last error.
    func row(_ id: String) async throws -> (status: String, attempts: Int, fence: Int64, lastError: String?)? {
        let rows = try await admin.query(
            "SELECT status, attempts, fence, last_error FROM \(table.quoted) WHERE consumer = $1 AND message_id = $2",
            [consumer, id])
        guard let row = rows.rows.first else { return nil }
        return (row[0]!, Int(row[1]!)!, Int64(row[2]!)!, row[3])
    }

    func count(_ sql: String, _ parameters: [String?] = []) async throws -> Int {
        Int(try await admin.query(sql, parameters).rows[0][0]!)!
    }
}

/// A handler that runs a closure: the Swift-handler path of the store (savepoints).
struct ClosureHandler: MessageHandler {
    let body: @Sendable (Message, HandlerContext) async throws -> HandlerResult

    func handle(_ message: Message, context: HandlerContext) async throws -> HandlerResult {
        try await body(message, context)
    }
}
