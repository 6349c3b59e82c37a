import IdemConsumerKit
import IdemCore
import IdemPostgres
import Logging

/// Creates and upgrades the dedup schema, and checks its version at start.
///
/// Migrating takes a transaction-scoped advisory lock per schema, so several workers (or
/// several `idem migrate` runs) starting at once apply each migration exactly once; every
/// statement is idempotent besides.
public struct SchemaMigrator: Sendable {
    /// The dedup table.
    public let table: DedupTableName
    private let logger: Logger

    /// Creates a migrator for `table`.
    public init(table: DedupTableName, logger: Logger) {
        self.table = table
        self.logger = logger
    }

    /// What a migration did.
    public struct Report: Sendable, Hashable {
        /// The version before.
        public var from: Int
        /// The version after.
        public var to: Int
    }

    /// Brings the schema to ``DedupSchema/currentVersion``.
    public func migrate(on connection: PostgresConnection) async throws -> Report {
        let versionTable = DedupSchema.versionTable(for: table)
        return try await connection.withTransaction { connection in
            // Two-key advisory lock: a fixed class id for idem, and the version table's name,
            // so that migrations of every dedup table in a schema (which share the version
            // table) take turns.
            _ = try await connection.query(
                "SELECT pg_advisory_xact_lock(1768187245, hashtext($1))", [versionTable])
            _ = try await connection.query(
                """
                CREATE TABLE IF NOT EXISTS \(versionTable) (
                    table_name text PRIMARY KEY,
                    version    integer NOT NULL,
                    updated_at timestamptz NOT NULL DEFAULT now()
                )
                """, prepared: false)
            let rows = try await connection.query(
                "SELECT version FROM \(versionTable) WHERE table_name = $1", [table.description])
            let from = rows.rows.first?.first.flatMap { $0 }.flatMap { Int($0) } ?? 0
            guard from < DedupSchema.currentVersion else {
                return Report(from: from, to: from)
            }
            for version in (from + 1)...DedupSchema.currentVersion {
                for statement in DedupSchema.statements(version: version, table: table) {
                    _ = try await connection.query(statement, prepared: false)
                }
                logger.info("applied dedup schema migration \(version) to \(table)")
            }
            _ = try await connection.query(
                """
                INSERT INTO \(versionTable) (table_name, version) VALUES ($1, $2)
                ON CONFLICT (table_name) DO UPDATE SET version = EXCLUDED.version, updated_at = now()
                """, [table.description, String(DedupSchema.currentVersion)])
            return Report(from: from, to: DedupSchema.currentVersion)
        }
    }

    /// The schema version of the table (0 when it was never migrated).
    public func version(on connection: PostgresConnection) async throws -> Int {
        let rows = try await connection.query(
            "SELECT to_regclass($1) IS NOT NULL", [DedupSchema.versionTable(for: table)])
        guard rows.rows.first?.first == "t" else { return 0 }
        let version = try await connection.query(
            "SELECT version FROM \(DedupSchema.versionTable(for: table)) WHERE table_name = $1",
            [table.description])
        return version.rows.first?.first.flatMap { $0 }.flatMap { Int($0) } ?? 0
    }

    /// Throws ``DedupStoreError/schemaOutdated(found:required:)`` (code ``DedupStoreError/Code/schemaOutdated``) unless the schema is at
    /// the version this build needs.
    public func requireCurrent(on connection: PostgresConnection) async throws {
        let found = try await version(on: connection)
        if found > DedupSchema.currentVersion {
            throw DedupStoreError.failed(
                "the dedup schema of \(table) is at version \(found), newer than this idem understands (\(DedupSchema.currentVersion)): upgrade idem"
            )
        }
        guard found == DedupSchema.currentVersion else {
            throw DedupStoreError.schemaOutdated(found: found, required: DedupSchema.currentVersion)
        }
    }
}
