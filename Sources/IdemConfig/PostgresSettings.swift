/// Where the dedup table lives and how idem talks to PostgreSQL.
public struct PostgresSettings: Sendable, Hashable {
    /// A libpq connection URL (`postgres://user@host:port/db?sslmode=…`). It may hold a
    /// password; use ``redactedURL`` in anything shown or logged.
    public var url: String
    /// The dedup table's name, optionally schema-qualified.
    public var table: String
    /// Connections per worker process.
    public var poolSize: Int
    /// How long a connection attempt may take.
    public var connectTimeout: Duration
    /// What consumers do while PostgreSQL cannot be reached.
    public var onUnavailable: UnavailablePolicy

    /// What to do while PostgreSQL is unreachable.
    public enum UnavailablePolicy: String, Sendable, Hashable, CaseIterable {
        /// Fail closed: stop taking messages, ack nothing, reconnect with backoff.
        case pause
        /// Fail open: keep processing without dedup (effects may repeat).
        case process
    }

    /// Creates settings.
    public init(
        url: String, table: String = "processed_messages", poolSize: Int = 4,
        connectTimeout: Duration = .seconds(5), onUnavailable: UnavailablePolicy = .pause
    ) {
        self.url = url
        self.table = table
        self.poolSize = poolSize
        self.connectTimeout = connectTimeout
        self.onUnavailable = onUnavailable
    }

    /// The URL with any password replaced by `***`.
    public var redactedURL: String { Redaction.url(url) }
}
