import IdemPostgres
import IdemTestSupport
import Testing

/// Transactions and savepoints on ``PostgresConnection``.
@Suite("PostgreSQL transactions")
struct PostgresTransactionTests {
    let logger = makeTestLogger("idem.tests.postgres.transactions")

    private struct Boom: Error {}

    private func connect() async throws -> PostgresConnection {
        let connection = try await PostgresConnection.connect(url: try ServiceEnvironment.postgresURL(), logger: logger)
        try await connection.execute("CREATE TEMP TABLE tx_rows (id int PRIMARY KEY)")
        return connection
    }

    private func ids(_ connection: PostgresConnection) async throws -> [String?] {
        try await connection.query("SELECT id FROM tx_rows ORDER BY id").rows.map { $0[0] }
    }

    @Test("withTransaction commits on success and returns the body's value")
    func commits() async throws {
        let connection = try await connect()
        let value = try await connection.withTransaction { connection in
            #expect(await connection.transactionStatus == .inTransaction)
            return try await connection.query("INSERT INTO tx_rows VALUES (1) RETURNING id").rows[0][0]
        }
        #expect(value == "1")
        #expect(await connection.transactionStatus == .idle)
        #expect(try await ids(connection) == ["1"])
        await connection.close()
    }

    @Test("withTransaction rolls back and rethrows the body's error")
    func rollsBack() async throws {
        let connection = try await connect()
        await #expect(throws: Boom.self) {
            try await connection.withTransaction { connection in
                _ = try await connection.query("INSERT INTO tx_rows VALUES (1)")
                throw Boom()
            }
        }
        #expect(await connection.transactionStatus == .idle)
        let failed = await #expect(throws: PostgresError.self) {
            try await connection.withTransaction { connection in
                _ = try await connection.query("INSERT INTO tx_rows VALUES (2)")
                _ = try await connection.query("INSERT INTO tx_rows VALUES (2)")
            }
        }
        #expect(failed?.condition == .uniqueViolation)
        #expect(await connection.transactionStatus == .idle)
        #expect(try await ids(connection) == [])
        await connection.close()
    }

    @Test("a body that swallows a failure cannot commit")
    func swallowedFailure() async throws {
        let connection = try await connect()
        let error = await #expect(throws: PostgresError.self) {
            try await connection.withTransaction { connection in
                _ = try await connection.query("INSERT INTO tx_rows VALUES (1)")
                _ = try? await connection.query("SELECT 1 / 0")
            }
        }
        #expect(error?.sqlState == "25P02")
        #expect(await connection.transactionStatus == .idle)
        #expect(try await ids(connection) == [])
        await connection.close()
    }

    @Test("nested withTransaction uses a savepoint")
    func nested() async throws {
        let connection = try await connect()
        try await connection.withTransaction { connection in
            _ = try await connection.query("INSERT INTO tx_rows VALUES (1)")
            await #expect(throws: Boom.self) {
                try await connection.withTransaction { connection in
                    _ = try await connection.query("INSERT INTO tx_rows VALUES (2)")
                    throw Boom()
                }
            }
            try await connection.withTransaction { connection in
                _ = try await connection.query("INSERT INTO tx_rows VALUES (3)")
            }
            #expect(await connection.transactionStatus == .inTransaction)
        }
        #expect(try await ids(connection) == ["1", "3"])
        await connection.close()
    }

    @Test("savepoints: rollback to, release, and names are validated")
    func savepoints() async throws {
        let connection = try await connect()
        try await connection.begin()
        _ = try await connection.query("INSERT INTO tx_rows VALUES (1)")
        try await connection.savepoint("idem_message")
        _ = try? await connection.query("INSERT INTO tx_rows VALUES (1)")
        #expect(await connection.transactionStatus == .inFailedTransaction)
        try await connection.rollback(toSavepoint: "idem_message")
        #expect(await connection.transactionStatus == .inTransaction)
        _ = try await connection.query("INSERT INTO tx_rows VALUES (2)")
        try await connection.release(savepoint: "idem_message")
        try await connection.commit()
        #expect(try await ids(connection) == ["1", "2"])
        for bad in ["", "1abc", "a b", "x; DROP TABLE tx_rows", "\"quoted\"", String(repeating: "a", count: 64), "é"] {
            let error = await #expect(throws: PostgresError.self) { try await connection.savepoint(bad) }
            #expect(error?.kind == .invalidArgument)
        }
        await connection.close()
    }

    @Test("commit of a failed transaction throws")
    func commitFailed() async throws {
        let connection = try await connect()
        try await connection.begin()
        _ = try? await connection.query("SELECT 1 / 0")
        let error = await #expect(throws: PostgresError.self) { try await connection.commit() }
        #expect(error?.sqlState == "25P02")
        #expect(await connection.transactionStatus == .idle)
        // A defensive rollback without an open block sends nothing.
        let roundTrips = await connection.roundTrips
        try await connection.rollback()
        #expect(await connection.roundTrips == roundTrips)
        await connection.close()
        let closed = await #expect(throws: PostgresError.self) { try await connection.rollback() }
        #expect(closed?.kind == .closed)
    }
}
