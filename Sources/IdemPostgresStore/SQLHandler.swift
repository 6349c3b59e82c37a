import IdemConsumerKit
import IdemCore

/// The `sql` handler: one parameterised statement run inside the dedup transaction.
///
/// Parameters come from the message (`id`, `body`, `fence`, `attempt`, `source`,
/// `json:/pointer`, `header:NAME`) and travel apart from the SQL text, so message content
/// can never become SQL. A missing JSON field or header makes the message poison; it is
/// never turned into a NULL. PostgreSQL's SQLSTATE decides what a failed statement means:
/// constraint violations and data errors are permanent (reject), everything else is
/// transient (retry).
public struct SQLHandler: StatementHandler {
    /// The statement.
    public let sql: String
    /// Where each `$n` comes from.
    public let parameters: [SQLParameterSource]
    /// How long the statement may run for one message (`handler.timeout`); PostgreSQL
    /// cancels it after that, and the message is retried as a transient failure.
    public let statementTimeout: Duration?

    /// The `json:` parameters' pointers, in order: found in one scan of the body.
    private let jsonSelection: JSONSelection

    /// Creates the handler.
    public init(sql: String, parameters: [SQLParameterSource], timeout: Duration? = nil) {
        self.sql = sql
        self.parameters = parameters
        self.statementTimeout = timeout
        self.jsonSelection = JSONSelection(
            parameters.compactMap { parameter in
                if case .json(let pointer) = parameter { return pointer }
                return nil
            })
    }

    /// The statement runs with the same text for every message.
    public var batchableSQL: String? { sql }

    public func statement(for message: Message, context: HandlerContext) -> Result<SQLCall, PoisonReason> {
        var values: [String?] = []
        values.reserveCapacity(parameters.count)
        var json = jsonSelection.reader(of: message.body)
        for parameter in parameters {
            switch parameter {
            case .id:
                values.append(context.id.value)
            case .fence:
                values.append(String(context.fence))
            case .attempt:
                values.append(String(context.attempt))
            case .source:
                values.append(message.source.description)
            case .body:
                guard let text = UTF8Text.decode(message.body) else {
                    return .failure(.undecodable("sql parameter body: the body is not UTF-8 text (or holds NUL)"))
                }
                values.append(text)
            case .header(let name):
                guard let value = message.headers[name] else {
                    return .failure(.undecodable("sql parameter header:\(name): the message has no such header"))
                }
                if case .void = value {
                    values.append(nil)
                } else if let text = value.identityText {
                    values.append(text)
                } else {
                    return .failure(
                        .undecodable("sql parameter header:\(name): the value is not text, a number or UTF-8 bytes"))
                }
            case .json(let pointer):
                let value: JSONValue
                if let found = json.next() {
                    value = found
                } else {
                    switch Self.resolveParsing(pointer, in: message.body) {
                    case .failure(let poison): return .failure(poison)
                    case .success(let found): value = found
                    }
                }
                if case .null = value {
                    values.append(nil)
                } else {
                    let text = value.scalarText ?? value.jsonText
                    guard !text.utf8.contains(0) else {
                        return .failure(.undecodable("sql parameter json:\(pointer): holds a NUL character"))
                    }
                    values.append(text)
                }
            }
        }
        return .success(SQLCall(sql: sql, parameters: values))
    }

    /// `pointer` resolved in a full parse of `body`: what says why a body is not JSON or
    /// lacks the field, when ``JSONSelection`` found no value.
    private static func resolveParsing(_ pointer: JSONPointer, in body: [UInt8]) -> Result<JSONValue, PoisonReason> {
        let root: JSONValue
        do {
            root = try JSONValue(parsing: body)
        } catch {
            return .failure(.undecodable("sql parameter json:\(pointer): the body is not JSON: \(error)"))
        }
        switch pointer.resolve(in: root) {
        case .failure(let error):
            return .failure(.undecodable("sql parameter json:\(pointer): \(error.reason)"))
        case .success(let value):
            return .success(value)
        }
    }

    public func result(forError sqlState: String?, message: String) -> HandlerResult {
        if sqlState == "57014", let statementTimeout {
            let (seconds, attoseconds) = statementTimeout.components
            let milliseconds = seconds * 1000 + attoseconds / 1_000_000_000_000_000
            return .retry(
                "timed out: the statement ran longer than handler.timeout (\(milliseconds) ms): \(message) (SQLSTATE 57014)"
            )
        }
        return Self.classify(sqlState: sqlState, message: message)
    }

    /// Class 22 (data exception) and class 23 (integrity constraint violation) are
    /// permanent: the same message will fail the same way. Anything else is transient.
    public static func classify(sqlState: String?, message: String) -> HandlerResult {
        let text = sqlState.map { "\(message) (SQLSTATE \($0))" } ?? message
        if let sqlState, sqlState.hasPrefix("22") || sqlState.hasPrefix("23") {
            return .reject(text)
        }
        return .retry(text)
    }

    public func handle(_ message: Message, context: HandlerContext) async throws -> HandlerResult {
        guard let transaction = context.transaction else {
            return .reject("the sql handler needs transactional dedup mode")
        }
        switch statement(for: message, context: context) {
        case .failure(let poison):
            return .reject(poison.description)
        case .success(let call):
            do {
                _ = try await transaction.execute(call.sql, call.parameters)
                return .success
            } catch let error as any SQLStateCarrying {
                if error.sqlState == "40001" || error.sqlState == "40P01" { throw error }
                return result(forError: error.sqlState, message: error.errorMessage)
            }
        }
    }
}
