/// A handler whose whole effect is one SQL statement per message, known before it runs.
///
/// The dedup store runs such handlers for a whole batch in one pipelined round trip
/// instead of one round trip per message, which is what makes batched transactional
/// processing fast.
public protocol StatementHandler: MessageHandler {
    /// The statement and parameters for `message`, or the reason it cannot be handled.
    func statement(for message: Message, context: HandlerContext) -> Result<SQLCall, PoisonReason>

    /// The handler's verdict on an error PostgreSQL returned for the statement:
    /// permanent (reject) or transient (retry).
    func result(forError sqlState: String?, message: String) -> HandlerResult

    /// How long each statement may run before PostgreSQL cancels it (a transient failure of
    /// that message); `nil` leaves the server's `statement_timeout` in force.
    var statementTimeout: Duration? { get }

    /// The statement text every call runs, when it is the same for every message (only the
    /// parameters differ): the store may then write a whole batch with one statement over
    /// arrays of the parameters, when that writes the same rows. `nil`: one statement per
    /// message.
    var batchableSQL: String? { get }
}

extension StatementHandler {
    /// No timeout of its own.
    public var statementTimeout: Duration? { nil }

    /// Not batchable: one statement per message.
    public var batchableSQL: String? { nil }
}

/// A SQL statement with its parameters, sent apart from the text.
public struct SQLCall: Sendable, Hashable {
    /// The statement, with `$1`, `$2`, … placeholders.
    public var sql: String
    /// The parameters; `nil` is SQL `NULL`.
    public var parameters: [String?]

    /// Creates a call.
    public init(sql: String, parameters: [String?]) {
        self.sql = sql
        self.parameters = parameters
    }
}
