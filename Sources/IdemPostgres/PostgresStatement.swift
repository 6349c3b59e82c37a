/// One SQL statement with its text parameters, as sent by
/// ``PostgresConnection/pipeline(_:)``.
///
/// ```swift
/// let insert = PostgresStatement("INSERT INTO t (id, note) VALUES ($1, $2)", ["7", nil])
/// ```
///
/// Parameters are sent separately from the SQL text, never interpolated; `nil` is SQL
/// `NULL`. Pass a list as one parameter with ``PostgresConnection/encodeTextArray(_:)`` and
/// `$1::text[]`.
public struct PostgresStatement: Sendable, Hashable {
    /// One SQL statement with `$1`, `$2`, … placeholders.
    public var sql: String
    /// One value per placeholder, in PostgreSQL text format; `nil` is SQL `NULL`.
    public var parameters: [String?]
    /// Whether the connection prepares the statement on first use and executes the
    /// prepared statement afterwards (the default). Turn it off for one-off statements
    /// (DDL, statements whose text changes every time) so that they do not take a place
    /// in the connection's statement cache.
    public var prepared: Bool

    /// Creates a statement from its SQL text and its parameters.
    ///
    /// - Parameters:
    ///   - sql: a single SQL statement with `$n` placeholders.
    ///   - parameters: one value per placeholder, in text format; `nil` is SQL `NULL`.
    ///   - prepared: whether to use the connection's prepared-statement cache.
    public init(_ sql: String, _ parameters: [String?] = [], prepared: Bool = true) {
        self.sql = sql
        self.parameters = parameters
        self.prepared = prepared
    }
}
