import IdemPostgres

/// Statements on the test PostgreSQL for tests that do not link the PostgreSQL client
/// themselves (the command-line tests): one connection per call.
public enum TestDatabase {
    /// Runs `statement` with text parameters and returns its rows as text (`nil` for NULL).
    @discardableResult
    public static func sql(_ statement: String, _ parameters: [String?] = []) async throws -> [[String?]] {
        let connection = try await PostgresConnection.connect(
            url: try ServiceEnvironment.postgresURL(), logger: makeTestLogger("idem-test-database"))
        do {
            let rows = try await connection.query(statement, parameters, prepared: false)
            await connection.close()
            return rows.rows
        } catch {
            await connection.close()
            throw error
        }
    }
}
