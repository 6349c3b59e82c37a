/// An error from PostgreSQL or from libpq.
///
/// The error never contains the connection password: connection strings are redacted before
/// they reach a message, and libpq messages are scrubbed of the password.
///
/// Use ``kind`` to tell where the failure happened and ``condition`` (derived from the
/// SQLSTATE and the connection state) to decide what to do about it.
public struct PostgresError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Where a failure happened.
    ///
    /// A struct with static members rather than an enum, so that new kinds can be added
    /// without breaking callers that switch over it (give such a switch a `default`).
    public struct Kind: Sendable, Hashable, CustomStringConvertible {
        private enum Backing: String, Sendable, Hashable {
            case invalidConnectionString, connectionFailed, connectionLost, server, invalidArgument, unsupportedResult,
                closed, pipelineAborted
        }

        private let backing: Backing

        private init(_ backing: Backing) {
            self.backing = backing
        }

        /// The connection string or URL could not be parsed.
        public static let invalidConnectionString = Kind(.invalidConnectionString)
        /// The connection could not be established (network, authentication, startup).
        public static let connectionFailed = Kind(.connectionFailed)
        /// An established connection broke (the server went away, the socket failed).
        public static let connectionLost = Kind(.connectionLost)
        /// The server rejected a statement; ``PostgresError/sqlState`` says why.
        public static let server = Kind(.server)
        /// An argument cannot be sent to PostgreSQL (for example it contains a NUL byte).
        public static let invalidArgument = Kind(.invalidArgument)
        /// The server answered with something this client does not handle.
        public static let unsupportedResult = Kind(.unsupportedResult)
        /// The connection was already closed with ``PostgresConnection/close()``.
        public static let closed = Kind(.closed)
        /// The statement was not executed: an earlier statement of the same
        /// ``PostgresConnection/pipeline(_:)`` failed, and the server skipped the rest.
        public static let pipelineAborted = Kind(.pipelineAborted)

        /// The kind's name, e.g. `invalidConnectionString`.
        public var description: String { backing.rawValue }
    }

    /// A classification of the failure that callers act on.
    public enum Condition: Sendable, Hashable {
        /// `23505 unique_violation`.
        case uniqueViolation
        /// `23503 foreign_key_violation`.
        case foreignKeyViolation
        /// `23502 not_null_violation`.
        case notNullViolation
        /// `23514 check_violation`.
        case checkViolation
        /// `23P01 exclusion_violation`.
        case exclusionViolation
        /// `40001 serialization_failure`: retry the transaction.
        case serializationFailure
        /// `40P01 deadlock_detected`: retry the transaction.
        case deadlockDetected
        /// `55P03 lock_not_available` (`NOWAIT`, `lock_timeout`).
        case lockNotAvailable
        /// `57014 query_canceled` (cancel request or `statement_timeout`).
        case queryCanceled
        /// `42P01 undefined_table`.
        case undefinedTable
        /// The connection is unusable: SQLSTATE class `08`, `57P01`–`57P03` (shutdown,
        /// crash, not yet accepting connections), or libpq reports the connection as bad.
        case connectionFailure
        /// Anything else; inspect ``PostgresError/sqlState``.
        case other
    }

    /// Where the failure happened.
    public var kind: Kind
    /// The human-readable message (the server's primary message for server errors).
    public var message: String
    /// The five-character SQLSTATE code, for server errors.
    public var sqlState: String?
    /// The server's non-localized severity (`ERROR`, `FATAL`, `PANIC`).
    public var severity: String?
    /// The server's detail message.
    public var detail: String?
    /// The server's hint.
    public var hint: String?
    /// The schema named by the error, if any.
    public var schemaName: String?
    /// The table named by the error, if any.
    public var tableName: String?
    /// The column named by the error, if any.
    public var columnName: String?
    /// The constraint named by the error, if any.
    public var constraintName: String?

    /// Creates an error; the client normally builds these from libpq results.
    public init(
        kind: Kind,
        message: String,
        sqlState: String? = nil,
        severity: String? = nil,
        detail: String? = nil,
        hint: String? = nil,
        schemaName: String? = nil,
        tableName: String? = nil,
        columnName: String? = nil,
        constraintName: String? = nil
    ) {
        self.kind = kind
        self.message = message
        self.sqlState = sqlState
        self.severity = severity
        self.detail = detail
        self.hint = hint
        self.schemaName = schemaName
        self.tableName = tableName
        self.columnName = columnName
        self.constraintName = constraintName
    }

    /// The classification of this error, from its kind and SQLSTATE.
    public var condition: Condition {
        switch kind {
        case .connectionFailed, .connectionLost: return .connectionFailure
        case .server: break
        default: return .other
        }
        switch sqlState {
        case "23505": return .uniqueViolation
        case "23503": return .foreignKeyViolation
        case "23502": return .notNullViolation
        case "23514": return .checkViolation
        case "23P01": return .exclusionViolation
        case "40001": return .serializationFailure
        case "40P01": return .deadlockDetected
        case "55P03": return .lockNotAvailable
        case "57014": return .queryCanceled
        case "42P01": return .undefinedTable
        case "57P01", "57P02", "57P03": return .connectionFailure
        case let state? where state.hasPrefix("08"): return .connectionFailure
        default: return .other
        }
    }

    /// Whether the connection is unusable and must be replaced.
    public var isConnectionFailure: Bool { condition == .connectionFailure }

    /// Whether the whole transaction should be retried (serialization failure or deadlock).
    public var isTransactionRetryable: Bool {
        condition == .serializationFailure || condition == .deadlockDetected
    }

    /// The message with the SQLSTATE, detail and hint, on one line.
    public var description: String {
        var text = "PostgreSQL error"
        if let sqlState { text += " \(sqlState)" }
        text += ": \(message)"
        if let detail, !detail.isEmpty { text += " (detail: \(detail))" }
        if let hint, !hint.isEmpty { text += " (hint: \(hint))" }
        return text
    }
}
