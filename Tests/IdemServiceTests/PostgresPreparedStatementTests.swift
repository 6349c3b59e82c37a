import IdemPostgres
import IdemTestSupport
import Testing

/// The prepared-statement cache of ``PostgresConnection``.
@Suite("PostgreSQL prepared statements")
struct PostgresPreparedStatementTests {
    let logger = makeTestLogger("idem.tests.postgres.prepared")

    private func connect(cacheSize: Int = PostgresConnection.defaultStatementCacheSize) async throws
        -> PostgresConnection
    {
        try await PostgresConnection.connect(
            url: try ServiceEnvironment.postgresURL(), statementCacheSize: cacheSize, logger: logger)
    }

    private func timesPrepared(_ sql: String, on connection: PostgresConnection) async throws -> String? {
        try await connection.query(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement = $1", [sql], prepared: false
        ).rows.first?.first ?? nil
    }

    @Test("a statement is prepared once and reused by query and pipeline")
    func reuse() async throws {
        let connection = try await connect()
        let sql = "SELECT $1::int + 100 AS reused"
        for value in 1...5 {
            #expect(try await connection.query(sql, [String(value)]).rows == [[String(value + 100)]])
        }
        #expect(await connection.statementsSent == 5)
        #expect(await connection.roundTrips == 5)
        let results = try await connection.pipeline((6...10).map { PostgresStatement(sql, [String($0)]) })
        #expect(results.map { try? $0.get().rows } == (6...10).map { [[String($0 + 100)]] })
        #expect(await connection.statementsSent == 10)
        #expect(await connection.roundTrips == 6)
        #expect(try await timesPrepared(sql, on: connection) == "1")
        #expect(await connection.preparedStatementCount == 1)

        // Unprepared statements do not enter the cache.
        _ = try await connection.query("SELECT 'one-off'", prepared: false)
        #expect(try await timesPrepared("SELECT 'one-off'", on: connection) == "0")
        #expect(await connection.preparedStatementCount == 1)
        await connection.close()
    }

    @Test("a new statement is prepared in the pipeline that first uses it, twice in one is fine")
    func preparedInPipeline() async throws {
        let connection = try await connect()
        let sql = "SELECT $1::text || '!' AS shout"
        let results = try await connection.pipeline([
            PostgresStatement(sql, ["a"]), PostgresStatement(sql, ["b"]), PostgresStatement(sql, ["c"]),
        ])
        #expect(results.map { try? $0.get().rows } == [[["a!"]], [["b!"]], [["c!"]]])
        #expect(await connection.roundTrips == 1)
        #expect(try await timesPrepared(sql, on: connection) == "1")
        await connection.close()
    }

    @Test("a statement that fails to prepare reports its error and is not cached")
    func prepareFailure() async throws {
        let connection = try await connect()
        let broken = "SELEC $1::int"
        let results = try await connection.pipeline([
            PostgresStatement("SELECT 1"), PostgresStatement(broken, ["1"]), PostgresStatement("SELECT 2"),
        ])
        #expect((try? results[0].get().rows) == [["1"]])
        guard case .failure(let syntax) = results[1], case .failure(let aborted) = results[2] else {
            Issue.record("expected failures, got \(results)")
            return
        }
        #expect(syntax.sqlState == "42601")
        #expect(aborted.kind == .pipelineAborted)
        #expect(try await timesPrepared(broken, on: connection) == "0")
        // "SELECT 2" was not prepared either (its PREPARE was skipped): it is, now.
        #expect(try await connection.query("SELECT 2").rows == [["2"]])
        #expect(try await timesPrepared("SELECT 2", on: connection) == "1")
        await connection.close()
    }

    @Test("the least recently used statement is evicted and deallocated")
    func eviction() async throws {
        let connection = try await connect(cacheSize: 2)
        _ = try await connection.query("SELECT 1 AS a")
        _ = try await connection.query("SELECT 2 AS b")
        _ = try await connection.query("SELECT 1 AS a")  // a is now more recent than b
        _ = try await connection.query("SELECT 3 AS c")  // evicts b
        #expect(await connection.preparedStatementCount == 2)
        // The DEALLOCATE rides along with the next statement sent while idle.
        let names = try await connection.query(
            "SELECT statement FROM pg_prepared_statements WHERE name LIKE 'idem_s%' ORDER BY statement",
            prepared: false)
        #expect(names.rows == [["SELECT 1 AS a"], ["SELECT 3 AS c"]])
        #expect(try await connection.query("SELECT 2 AS b").rows == [["2"]])
        await connection.close()
    }

    @Test("DISCARD ALL and DEALLOCATE ALL do not break the cache")
    func discard() async throws {
        let connection = try await connect()
        _ = try await connection.query("SELECT 41 + 1")
        try await connection.execute("DEALLOCATE ALL")
        #expect(try await connection.query("SELECT 41 + 1").rows == [["42"]])
        try await connection.execute("DISCARD ALL")
        #expect(try await connection.query("SELECT 41 + 1").rows == [["42"]])
        await connection.close()
    }

    @Test("a prepared statement whose result type changed is prepared again")
    func changedResultType() async throws {
        let connection = try await connect()
        try await connection.execute("CREATE TEMP TABLE shape (a int)")
        try await connection.execute("INSERT INTO shape VALUES (1)")
        #expect(try await connection.query("SELECT * FROM shape").rows == [["1"]])
        try await connection.execute("ALTER TABLE shape ADD COLUMN b text DEFAULT 'x'")
        // The server refuses the old plan once (0A000); the next call prepares afresh.
        let first = try? await connection.query("SELECT * FROM shape")
        if let first { #expect(first.rows == [["1", "x"]]) }
        #expect(try await connection.query("SELECT * FROM shape").rows == [["1", "x"]])
        await connection.close()
    }

    @Test("prepared statements survive a rolled-back transaction")
    func survivesRollback() async throws {
        let connection = try await connect()
        try await connection.begin()
        _ = try await connection.query("SELECT 'in tx' AS t")
        try await connection.rollback()
        #expect(try await connection.query("SELECT 'in tx' AS t").rows == [["in tx"]])
        #expect(try await timesPrepared("SELECT 'in tx' AS t", on: connection) == "1")
        await connection.close()
    }
}
