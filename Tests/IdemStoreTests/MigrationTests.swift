import Foundation
import IdemConsumerKit
import IdemCore
import IdemPostgres
import IdemPostgresStore
import IdemTestSupport
import Testing

@Suite("Schema migrations")
struct MigrationTests {
    @Test func twiceInARowIsANoOp() async throws {
        let fixture = try await StoreFixture.make()
        let migrator = SchemaMigrator(table: fixture.table, logger: fixture.logger)
        let again = try await migrator.migrate(on: fixture.admin)
        #expect(again.from == DedupSchema.currentVersion && again.to == DedupSchema.currentVersion)
        #expect(try await migrator.version(on: fixture.admin) == DedupSchema.currentVersion)
        try await migrator.requireCurrent(on: fixture.admin)
        try await fixture.drop()
    }

    @Test func fourConcurrentMigrationsEndInOneSchema() async throws {
        let url = try ServiceEnvironment.postgresURL()
        let table = DedupTableName("pm_concurrent_\(UUID().uuidString.prefix(8).lowercased())")
        let logger = StoreFixture.makeLogger()
        let reports = try await withThrowingTaskGroup(of: SchemaMigrator.Report.self) { group in
            for _ in 0..<4 {
                group.addTask {
                    let connection = try await PostgresConnection.connect(url: url, logger: logger)
                    let report = try await SchemaMigrator(table: table, logger: logger).migrate(on: connection)
                    await connection.close()
                    return report
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        // Exactly one of them did the work.
        #expect(reports.filter { $0.from == 0 }.count == 1)
        #expect(reports.allSatisfy { $0.to == DedupSchema.currentVersion })
        let admin = try await PostgresConnection.connect(url: url, logger: logger)
        let indexes = try await admin.query(
            "SELECT count(*) FROM pg_indexes WHERE tablename = $1", [table.table])
        #expect(indexes.rows[0][0] == "2")
        _ = try await admin.query("DROP TABLE \(table.quoted)", prepared: false)
        _ = try await admin.query(
            "DELETE FROM \(DedupSchema.versionTable(for: table)) WHERE table_name = $1", [table.description])
        await admin.close()
    }

    @Test func anUnmigratedTableIsRefused() async throws {
        let url = try ServiceEnvironment.postgresURL()
        let logger = StoreFixture.makeLogger()
        let connection = try await PostgresConnection.connect(url: url, logger: logger)
        let migrator = SchemaMigrator(table: DedupTableName("pm_never_migrated"), logger: logger)
        await #expect(throws: DedupStoreError.schemaOutdated(found: 0, required: DedupSchema.currentVersion)) {
            try await migrator.requireCurrent(on: connection)
        }
        await connection.close()
    }
}
