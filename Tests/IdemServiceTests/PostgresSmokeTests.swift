import IdemPostgres
import IdemTestSupport
import Testing

/// Smoke tests of ``PostgresConnection`` against the development PostgreSQL.
@Suite("PostgreSQL client")
struct PostgresSmokeTests {
    let logger = makeTestLogger("idem.tests.postgres")

    @Test("a parameterised query returns its rows")
    func parameterisedQuery() async throws {
        let connection = try await PostgresConnection.connect(
            url: try ServiceEnvironment.postgresURL(), logger: logger)
        let rows = try await connection.query("SELECT $1::int + 1 AS answer", ["41"])
        #expect(rows.columns == ["answer"])
        #expect(rows.rows == [["42"]])
        #expect(rows.affectedRows == 1)
        #expect(rows.commandTag == "SELECT 1")
        #expect(rows.value("answer", inRow: 0) == "42")

        // NULL parameters and values, and text that would break interpolation.
        let tricky = "it's; DROP TABLE x; --"
        let echoed = try await connection.query(
            "SELECT $1::text AS a, $2::text IS NULL AS b, NULL::int AS c", [tricky, nil])
        #expect(echoed.rows == [[tricky, "t", nil]])
        await connection.close()
    }

    @Test("a server error carries SQLSTATE, message and classification")
    func serverError() async throws {
        let connection = try await PostgresConnection.connect(
            url: try ServiceEnvironment.postgresURL(), logger: logger)
        let division = await #expect(throws: PostgresError.self) {
            try await connection.query("SELECT 1 / $1::int", ["0"])
        }
        #expect(division?.kind == .server)
        #expect(division?.sqlState == "22012")
        #expect(division?.message == "division by zero")
        #expect(division?.severity == "ERROR")

        // The connection stays usable after a statement error.
        try await connection.execute(
            "CREATE TEMP TABLE smoke_unique (id int PRIMARY KEY, n int CHECK (n > 0))")
        let insert = try await connection.query(
            "INSERT INTO smoke_unique (id, n) VALUES ($1, $2)", ["1", "1"])
        #expect(insert.affectedRows == 1)
        let duplicate = await #expect(throws: PostgresError.self) {
            try await connection.query(
                "INSERT INTO smoke_unique (id, n) VALUES ($1, $2)", ["1", "2"])
        }
        #expect(duplicate?.condition == .uniqueViolation)
        #expect(duplicate?.sqlState == "23505")
        #expect(duplicate?.constraintName == "smoke_unique_pkey")
        #expect(duplicate?.detail == "Key (id)=(1) already exists.")
        let check = await #expect(throws: PostgresError.self) {
            try await connection.query(
                "INSERT INTO smoke_unique (id, n) VALUES ($1, $2)", ["2", "-1"])
        }
        #expect(check?.condition == .checkViolation)
        let missing = await #expect(throws: PostgresError.self) {
            try await connection.execute("SELECT * FROM no_such_table_here")
        }
        #expect(missing?.condition == .undefinedTable)
        await connection.close()
        let closed = await #expect(throws: PostgresError.self) {
            try await connection.query("SELECT 1")
        }
        #expect(closed?.kind == .closed)
    }

    @Test("a terminated backend is reported as a lost connection")
    func connectionLoss() async throws {
        let url = try ServiceEnvironment.postgresURL()
        let victim = try await PostgresConnection.connect(url: url, logger: logger)
        let killer = try await PostgresConnection.connect(url: url, logger: logger)
        let pid = try #require(try await victim.query("SELECT pg_backend_pid()").rows.first?[0])
        let terminated = try await killer.query("SELECT pg_terminate_backend($1::int)", [pid])
        #expect(terminated.rows == [["t"]])
        let lost = await #expect(throws: PostgresError.self) {
            try await victim.query("SELECT 1")
        }
        #expect(lost?.isConnectionFailure == true)
        #expect(lost?.kind == .connectionLost || lost?.sqlState == "57P01")
        #expect(await victim.isConnected == false)
        await victim.close()
        await killer.close()
    }

    @Test("a refused connection names host and port and hides the password")
    func connectionFailure() async throws {
        let error = await #expect(throws: PostgresError.self) {
            try await PostgresConnection.connect(
                url: "postgresql://idem:s3cret-pw@127.0.0.1:1/idem",
                connectTimeout: .seconds(3), logger: logger)
        }
        #expect(error?.kind == .connectionFailed)
        #expect(error?.condition == .connectionFailure)
        #expect(error?.message.hasPrefix("could not connect to PostgreSQL at 127.0.0.1:1: ") == true)
        #expect(error?.description.contains("s3cret-pw") == false)
    }

    @Test("an unparsable connection string is reported without its password")
    func invalidURL() async throws {
        let error = await #expect(throws: PostgresError.self) {
            try await PostgresConnection.connect(
                url: "postgresql://idem:hunter2-secret@127.0.0.1:notaport/idem?bogus=1",
                logger: logger)
        }
        #expect(error?.kind == .invalidConnectionString)
        #expect(error?.message.contains("hunter2-secret") == false)
        #expect(error?.message.contains("idem:***@127.0.0.1") == true)

        let keywordError = await #expect(throws: PostgresError.self) {
            try await PostgresConnection.connect(
                url: "host=127.0.0.1 password='hunter2 secret' nonsense_option=1", logger: logger)
        }
        #expect(keywordError?.kind == .invalidConnectionString)
        #expect(keywordError?.message.contains("hunter2") == false)
    }
}
