import Foundation
import IdemTestSupport
import Testing

/// `idem migrate` and the schema check of `idem run`, against the test PostgreSQL.
@Suite("Migrations from the command line")
struct MigrateTests {
    func config(table: String, url: String) throws -> URL {
        try IdemProcess.temporaryFile(
            minimalConfig.replacingOccurrences(of: "postgres://idem@127.0.0.1:5432/idem", with: url)
                .replacingOccurrences(of: "consumers:", with: "  table: \(table)\nconsumers:")
                + "\nmetrics: {listen: \"127.0.0.1:0\"}\n")
    }

    @Test func fourConcurrentProcessesThenAgain() async throws {
        let url = try ServiceEnvironment.postgresURL()
        let table = "pm_cli_\(UUID().uuidString.prefix(8).lowercased())"
        let file = try config(table: table, url: url)
        let outcomes = try await withThrowingTaskGroup(of: IdemProcess.Outcome.self) { group in
            for _ in 0..<4 {
                group.addTask { try await IdemProcess.run(["migrate", "--config", file.path]) }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(outcomes.allSatisfy { $0.status == 0 }, "\(outcomes.map(\.stderr))")
        #expect(outcomes.filter { $0.stdout.contains("migrated from version 0 to") }.count == 1)
        #expect(outcomes.filter { $0.stdout.contains("already at version") }.count == 3)
        let again = try await IdemProcess.run(["migrate", "--config", file.path])
        #expect(again.status == 0)
        #expect(again.stdout.contains("\(table): schema already at version"))
        try await dropTable(table, url: url)
    }

    @Test func unreachablePostgresFailsFastNamingHostAndPort() async throws {
        let file = try config(table: "processed_messages", url: "postgres://idem:hunter2@127.0.0.1:1/idem")
        let started = Date()
        let outcome = try await IdemProcess.run(["migrate", "--config", file.path])
        #expect(outcome.status == 1)
        #expect(outcome.stderr.contains("127.0.0.1:1"), "\(outcome.stderr)")
        #expect(!outcome.stderr.contains("hunter2"))
        #expect(Date().timeIntervalSince(started) < 15)
    }

    @Test func runRefusesAnUnmigratedSchema() async throws {
        let url = try ServiceEnvironment.postgresURL()
        let file = try config(table: "pm_never_\(UUID().uuidString.prefix(8).lowercased())", url: url)
        let outcome = try await IdemProcess.run(["run", "--config", file.path])
        #expect(outcome.status == 1)
        #expect(outcome.stderr.contains("run `idem migrate --config FILE`"), "\(outcome.stderr)")
    }

    private func dropTable(_ table: String, url: String) async throws {
        let psql = Process()
        psql.executableURL = URL(fileURLWithPath: "/usr/bin/psql")
        psql.arguments = [
            url, "-qc",
            "DROP TABLE IF EXISTS \(table), \(table)_offsets, \(table)_stats, \(table)_replays; DELETE FROM idem_schema_versions WHERE table_name = '\(table)'",
        ]
        try await IdemProcess.offPool {
            try psql.run()
            psql.waitUntilExit()
        }
    }
}
