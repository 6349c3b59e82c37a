import IdemConsumerKit
import IdemCore
import IdemPostgres

/// The open dedup transaction as a handler sees it: statements run on the transaction's
/// connection, so they commit or roll back with the message's claim.
public struct PostgresHandlerTransaction: HandlerTransaction {
    public let connection: PostgresConnection

    public func execute(_ sql: String, _ parameters: [String?]) async throws -> SQLRows {
        let rows = try await connection.query(sql, parameters)
        return SQLRows(columns: rows.columns, rows: rows.rows, affectedRows: rows.affectedRows ?? 0)
    }
}
