import CLibPQ

/// Where a connection stands with respect to transactions (libpq `PQtransactionStatus`).
public enum PostgresTransactionStatus: Sendable, Hashable {
    /// No transaction block is open.
    case idle
    /// A statement is running (never seen between calls on a ``PostgresConnection``).
    case active
    /// A transaction block is open (after `BEGIN`) and healthy.
    case inTransaction
    /// A statement failed inside the open transaction block: everything but `ROLLBACK`
    /// (or `ROLLBACK TO SAVEPOINT`) fails until it ends.
    case inFailedTransaction
    /// The connection is closed or broken.
    case unknown

    init(_ status: PGTransactionStatusType) {
        switch status {
        case PQTRANS_IDLE: self = .idle
        case PQTRANS_ACTIVE: self = .active
        case PQTRANS_INTRANS: self = .inTransaction
        case PQTRANS_INERROR: self = .inFailedTransaction
        default: self = .unknown
        }
    }
}
