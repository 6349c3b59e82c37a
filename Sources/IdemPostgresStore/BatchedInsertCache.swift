import IdemPostgres
import Logging
import Synchronization

/// Which handler statements have a ``BatchedInsert`` form, shared by a store's connections.
///
/// The form needs the parameter types PostgreSQL inferred for the original statement. Once
/// a connection has prepared that statement (its first batch runs it once per message), the
/// types are read from `pg_prepared_statements` on that connection; from then on every
/// connection runs the batched form. A statement that cannot be batched, or whose batched
/// form failed where the per-message statements then succeeded, stays per message.
public final class BatchedInsertCache: Sendable {
    private enum Entry: Sendable {
        case batched(BatchedInsert)
        case perMessage
    }

    private let entries = Mutex<[String: Entry]>([:])
    private let logger: Logger

    /// An empty cache; `logger` notes which statements are batched.
    public init(logger: Logger) {
        self.logger = logger
    }

    /// Whether `sql` runs once per batch (`true`), once per message (`false`), or is not
    /// known yet (`nil`: no connection has prepared it).
    public func runsOncePerBatch(_ sql: String) -> Bool? {
        switch entries.withLock({ $0[sql] }) {
        case .batched: return true
        case .perMessage: return false
        case nil: return nil
        }
    }

    /// The batched form of `sql`, if it has one and it is known yet; looks its parameter
    /// types up on `connection` (outside a transaction) when they are not known.
    func form(for sql: String, on connection: PostgresConnection) async -> BatchedInsert? {
        switch entries.withLock({ $0[sql] }) {
        case .batched(let form): return form
        case .perMessage: return nil
        case nil: break
        }
        let types: [String?]
        do {
            let rows = try await connection.query(
                "SELECT parameter_types::text[] FROM pg_prepared_statements WHERE statement = $1 LIMIT 1", [sql],
                prepared: false)
            guard let literal = rows.rows.first?[0] else { return nil }
            types = try PostgresConnection.decodeTextArray(literal)
        } catch {
            return nil
        }
        let form = BatchedInsert(sql: sql, parameterTypes: types.map { $0 ?? "" })
        entries.withLock { $0[sql] = form.map(Entry.batched) ?? .perMessage }
        if let form {
            logger.debug("the handler statement runs once per batch", metadata: ["sql": "\(form.sql)"])
        } else {
            logger.debug("the handler statement runs once per message", metadata: ["sql": "\(sql)"])
        }
        return form
    }

    /// The batched form of `sql` failed where its per-message statements succeeded: it is
    /// not used again.
    func batchedFormFailed(_ sql: String, error: String) {
        entries.withLock { $0[sql] = .perMessage }
        logger.notice(
            "the handler statement runs once per message: its batched form failed (\(error))",
            metadata: ["sql": "\(sql)"])
    }
}
