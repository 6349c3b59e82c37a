import Foundation
import IdemPostgres
import IdemTestSupport
import Testing

/// Pipeline mode of ``PostgresConnection`` against the development PostgreSQL.
@Suite("PostgreSQL pipelines")
struct PostgresPipelineTests {
    let logger = makeTestLogger("idem.tests.postgres.pipeline")

    private func connect() async throws -> PostgresConnection {
        try await PostgresConnection.connect(url: try ServiceEnvironment.postgresURL(), logger: logger)
    }

    @Test("1,000 INSERTs in one pipeline are one round trip and insert 1,000 rows")
    func thousandInserts() async throws {
        let connection = try await connect()
        try await connection.execute("CREATE TEMP TABLE pipe_rows (id int PRIMARY KEY, note text)")
        let statements = (1...1_000).map {
            PostgresStatement("INSERT INTO pipe_rows (id, note) VALUES ($1, $2)", [String($0), "row \($0)"])
        }
        let roundTripsBefore = await connection.roundTrips
        let sentBefore = await connection.statementsSent
        let results = try await connection.pipeline(statements)
        #expect(await connection.roundTrips - roundTripsBefore == 1)
        #expect(await connection.statementsSent - sentBefore == 1_000)
        #expect(results.count == 1_000)
        #expect(results.allSatisfy { (try? $0.get().affectedRows) == 1 })
        let count = try await connection.query("SELECT count(*), min(id), max(id) FROM pipe_rows")
        #expect(count.rows == [["1000", "1", "1000"]])
        #expect(await connection.transactionStatus == .idle)
        // The connection is back to normal mode.
        #expect(try await connection.query("SELECT $1::int * 2", ["21"]).rows == [["42"]])
        #expect(try await connection.pipeline([]).isEmpty)
        await connection.close()
    }

    @Test("a failing statement reports its error, the statements after it are aborted")
    func failureInTheMiddle() async throws {
        let connection = try await connect()
        try await connection.execute("CREATE TEMP TABLE pipe_fail (id int PRIMARY KEY)")
        let results = try await connection.pipeline([
            PostgresStatement("INSERT INTO pipe_fail (id) VALUES ($1)", ["1"]),
            PostgresStatement("SELECT $1::int + 1", ["1"]),
            PostgresStatement("SELECT 1 / $1::int", ["0"]),
            PostgresStatement("INSERT INTO pipe_fail (id) VALUES ($1)", ["2"]),
            PostgresStatement("SELECT 3"),
        ])
        #expect(results.count == 5)
        #expect(try results[0].get().affectedRows == 1)
        #expect(try results[1].get().rows == [["2"]])
        #expect(throws: PostgresError.self) { try results[2].get() }
        if case .failure(let error) = results[2] {
            #expect(error.kind == .server)
            #expect(error.sqlState == "22012")
        }
        for result in results[3...] {
            guard case .failure(let error) = result else {
                Issue.record("expected .pipelineAborted, got \(result)")
                continue
            }
            #expect(error.kind == .pipelineAborted)
            #expect(error.isConnectionFailure == false)
        }
        // Outside a transaction block the pipeline is one implicit transaction: the INSERT
        // before the failure was rolled back with it.
        #expect(await connection.transactionStatus == .idle)
        #expect(try await connection.query("SELECT count(*) FROM pipe_fail").rows == [["0"]])
        await connection.close()
    }

    @Test("a failure inside an open transaction leaves it failed until ROLLBACK")
    func failureInsideTransaction() async throws {
        let connection = try await connect()
        try await connection.execute("CREATE TEMP TABLE pipe_tx (id int PRIMARY KEY)")
        try await connection.execute("INSERT INTO pipe_tx VALUES (1)")
        try await connection.begin()
        #expect(await connection.transactionStatus == .inTransaction)
        let results = try await connection.pipeline([
            PostgresStatement("INSERT INTO pipe_tx (id) VALUES ($1)", ["2"]),
            PostgresStatement("INSERT INTO pipe_tx (id) VALUES ($1)", ["1"]),
            PostgresStatement("INSERT INTO pipe_tx (id) VALUES ($1)", ["3"]),
        ])
        #expect(try results[0].get().affectedRows == 1)
        if case .failure(let error) = results[1] {
            #expect(error.condition == .uniqueViolation)
        } else {
            Issue.record("expected a unique violation, got \(results[1])")
        }
        if case .failure(let error) = results[2] {
            #expect(error.kind == .pipelineAborted)
        } else {
            Issue.record("expected .pipelineAborted, got \(results[2])")
        }
        #expect(await connection.transactionStatus == .inFailedTransaction)
        let refused = await #expect(throws: PostgresError.self) {
            try await connection.query("SELECT 1")
        }
        #expect(refused?.sqlState == "25P02")
        try await connection.rollback()
        #expect(await connection.transactionStatus == .idle)
        #expect(try await connection.query("SELECT array_agg(id ORDER BY id)::text FROM pipe_tx").rows == [["{1}"]])
        await connection.close()
    }

    @Test("a pipeline can be a whole transaction: BEGIN … COMMIT")
    func wholeTransaction() async throws {
        let connection = try await connect()
        try await connection.execute("CREATE TEMP TABLE pipe_whole (id int PRIMARY KEY)")
        let committed = try await connection.pipeline([
            PostgresStatement("BEGIN"),
            PostgresStatement("INSERT INTO pipe_whole (id) VALUES ($1)", ["1"]),
            PostgresStatement("INSERT INTO pipe_whole (id) VALUES ($1)", ["2"]),
            PostgresStatement("COMMIT"),
        ])
        #expect(committed.map { (try? $0.get())?.commandTag } == ["BEGIN", "INSERT 0 1", "INSERT 0 1", "COMMIT"])
        #expect(await connection.transactionStatus == .idle)

        let failed = try await connection.pipeline([
            PostgresStatement("BEGIN"),
            PostgresStatement("INSERT INTO pipe_whole (id) VALUES ($1)", ["3"]),
            PostgresStatement("INSERT INTO pipe_whole (id) VALUES ($1)", ["1"]),
            PostgresStatement("INSERT INTO pipe_whole (id) VALUES ($1)", ["4"]),
            PostgresStatement("COMMIT"),
        ])
        #expect((try? failed[1].get())?.affectedRows == 1)
        guard case .failure(let duplicate) = failed[2] else {
            Issue.record("expected a unique violation, got \(failed[2])")
            return
        }
        #expect(duplicate.condition == .uniqueViolation)
        for result in failed[3...] {
            guard case .failure(let error) = result else {
                Issue.record("expected .pipelineAborted, got \(result)")
                continue
            }
            #expect(error.kind == .pipelineAborted)
        }
        // The COMMIT was skipped: the block stays open and failed until ROLLBACK.
        #expect(await connection.transactionStatus == .inFailedTransaction)
        try await connection.rollback()
        #expect(try await connection.query("SELECT count(*) FROM pipe_whole").rows == [["2"]])
        await connection.close()
    }

    @Test("a failure of the implicit COMMIT at the end is reported on the last statement")
    func failedImplicitCommit() async throws {
        let connection = try await connect()
        try await connection.execute(
            "CREATE TEMP TABLE pipe_deferred (id int UNIQUE DEFERRABLE INITIALLY DEFERRED)")
        let results = try await connection.pipeline([
            PostgresStatement("INSERT INTO pipe_deferred (id) VALUES ($1)", ["1"]),
            PostgresStatement("INSERT INTO pipe_deferred (id) VALUES ($1)", ["1"]),
        ])
        #expect((try? results[0].get())?.affectedRows == 1)
        guard case .failure(let error) = results[1] else {
            Issue.record("expected the deferred unique violation, got \(results[1])")
            return
        }
        #expect(error.condition == .uniqueViolation)
        #expect(await connection.transactionStatus == .idle)
        #expect(try await connection.query("SELECT count(*) FROM pipe_deferred").rows == [["0"]])
        #expect(try await connection.query("SELECT 5").rows == [["5"]])
        await connection.close()
    }

    @Test("a large pipeline does not deadlock with full socket buffers")
    func largePipeline() async throws {
        let connection = try await connect()
        // 3,000 statements of 8 KiB each way: ~24 MiB in both directions, far beyond what
        // the socket buffers hold, so sending and reading must interleave.
        let payload = String(repeating: "x", count: 8_192)
        let statements = (0..<3_000).map { PostgresStatement("SELECT $1::text || $2::text", [payload, String($0)]) }
        let results = try await connection.pipeline(statements)
        #expect(results.count == 3_000)
        for (index, result) in results.enumerated() {
            guard let value = try? result.get().rows.first?.first, let value else {
                Issue.record("statement \(index) failed: \(result)")
                break
            }
            if value != payload + String(index) {
                Issue.record("statement \(index) returned the wrong value")
                break
            }
        }
        #expect(await connection.roundTrips == 1)
        await connection.close()
    }

    @Test("invalid arguments are refused before anything is sent")
    func invalidArguments() async throws {
        let connection = try await connect()
        let error = await #expect(throws: PostgresError.self) {
            try await connection.pipeline([
                PostgresStatement("SELECT 1"), PostgresStatement("SELECT $1::text", ["a\u{0}b"]),
            ])
        }
        #expect(error?.kind == .invalidArgument)
        #expect(error?.message.contains("statement 2") == true)
        #expect(await connection.roundTrips == 0)
        #expect(try await connection.query("SELECT 1").rows == [["1"]])
        await connection.close()
    }

    @Test("a broken connection makes the pipeline throw a connection failure")
    func connectionLost() async throws {
        let victim = try await connect()
        let killer = try await connect()
        let pid = try #require(try await victim.query("SELECT pg_backend_pid()").rows.first?[0])
        _ = try await killer.query("SELECT pg_terminate_backend($1::int)", [pid])
        try await waitForBackendExit(pid, on: killer)
        let error = await #expect(throws: PostgresError.self) {
            try await victim.pipeline([PostgresStatement("SELECT 1"), PostgresStatement("SELECT 2")])
        }
        #expect(error?.isConnectionFailure == true)
        #expect(await victim.isConnected == false)
        #expect(await victim.transactionStatus == .unknown)
        let again = await #expect(throws: PostgresError.self) {
            try await victim.query("SELECT 1")
        }
        #expect(again?.isConnectionFailure == true)
        await victim.close()
        await killer.close()
    }

    @Test("measure: pipelined INSERTs versus one query per row", .tags(.measurement))
    func measureInsertThroughput() async throws {
        let connection = try await connect()
        let table = "pipe_measure_\(UInt32.random(in: 0...UInt32.max))"
        _ = try await connection.query("CREATE TABLE \(table) (id bigint PRIMARY KEY, note text)", prepared: false)
        let rows = 20_000
        let batch = 1_000
        let clock = ContinuousClock()
        let pipelined = try await clock.measure {
            for start in stride(from: 0, to: rows, by: batch) {
                var statements = [PostgresStatement("BEGIN")]
                for id in start..<(start + batch) {
                    statements.append(
                        PostgresStatement("INSERT INTO \(table) (id, note) VALUES ($1, $2)", [String(id), "n\(id)"]))
                }
                statements.append(PostgresStatement("COMMIT"))
                let results = try await connection.pipeline(statements)
                #expect(results.allSatisfy { (try? $0.get()) != nil })
            }
        }
        let single = 2_000
        let oneByOne = try await clock.measure {
            try await connection.begin()
            for id in rows..<(rows + single) {
                _ = try await connection.query(
                    "INSERT INTO \(table) (id, note) VALUES ($1, $2)", [String(id), "n\(id)"])
            }
            try await connection.commit()
        }
        let arrayInsert = try await clock.measure {
            for start in stride(from: rows + single, to: 2 * rows + single, by: batch) {
                let ids = (start..<(start + batch)).map { Int64($0) }
                _ = try await connection.query(
                    "INSERT INTO \(table) (id, note) SELECT id, 'n' || id FROM unnest($1::bigint[]) AS id",
                    [PostgresConnection.encodeInt64Array(ids)])
            }
        }
        func rate(_ count: Int, _ duration: Duration) -> Int {
            let seconds = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
            return Int(Double(count) / seconds)
        }
        print(
            "[measure] pipelined INSERT: \(rate(rows, pipelined)) rows/s (\(rows) rows, \(batch) per pipeline); "
                + "one query per row: \(rate(single, oneByOne)) rows/s; "
                + "unnest($1::bigint[]) INSERT: \(rate(rows, arrayInsert)) rows/s")
        #expect(try await connection.query("SELECT count(*) FROM \(table)").rows == [[String(2 * rows + single)]])
        _ = try await connection.query("DROP TABLE \(table)", prepared: false)
        await connection.close()
    }
}

extension Tag {
    /// Tests that print a measurement.
    @Tag static var measurement: Self
}

/// Waits until the backend `pid` has exited, so that its client sees the closed socket.
func waitForBackendExit(_ pid: String, on connection: PostgresConnection) async throws {
    for _ in 0..<200 {
        let rows = try await connection.query("SELECT 1 FROM pg_stat_activity WHERE pid = $1::int", [pid])
        if rows.isEmpty { return }
        try await Task.sleep(for: .milliseconds(10))
    }
    Issue.record("backend \(pid) did not exit")
}

/// COPY, which this client does not support, must fail cleanly instead of hanging.
@Suite("PostgreSQL COPY refusal")
struct PostgresCopyRefusalTests {
    let logger = makeTestLogger("idem.tests.postgres.copy")

    @Test("an unprepared COPY is aborted and the connection stays usable")
    func unprepared() async throws {
        let connection = try await PostgresConnection.connect(url: try ServiceEnvironment.postgresURL(), logger: logger)
        let error = await #expect(throws: PostgresError.self) {
            try await connection.query("COPY (SELECT 1) TO STDOUT", prepared: false)
        }
        #expect(error?.kind == .unsupportedResult)
        #expect(try await connection.query("SELECT 1").rows == [["1"]])
        await connection.close()
    }

    @Test("a COPY in a pipeline fails without hanging")
    func pipelined() async throws {
        let connection = try await PostgresConnection.connect(url: try ServiceEnvironment.postgresURL(), logger: logger)
        let error = await #expect(throws: PostgresError.self) {
            try await connection.pipeline([
                PostgresStatement("SELECT 1"), PostgresStatement("COPY (SELECT 1) TO STDOUT"),
            ])
        }
        #expect(error?.message.contains("COPY") == true)
        await connection.close()
    }
}
