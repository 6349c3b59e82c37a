/// The open dedup transaction, handed to a handler in transactional mode so that its
/// writes commit or roll back together with the message's claim.
public protocol HandlerTransaction: Sendable {
    /// Runs one parameterised statement (`$1`, `$2`, … placeholders) inside the transaction.
    /// Parameters are sent apart from the SQL text; `nil` is SQL `NULL`.
    func execute(_ sql: String, _ parameters: [String?]) async throws -> SQLRows
}

/// The rows a statement returned, as text.
public struct SQLRows: Sendable, Hashable {
    /// Column names, in order.
    public var columns: [String]
    /// Rows of text values; `nil` is SQL `NULL`.
    public var rows: [[String?]]
    /// Rows inserted, updated or deleted, for commands that report it.
    public var affectedRows: Int

    /// Creates a result.
    public init(columns: [String] = [], rows: [[String?]] = [], affectedRows: Int = 0) {
        self.columns = columns
        self.rows = rows
        self.affectedRows = affectedRows
    }
}
