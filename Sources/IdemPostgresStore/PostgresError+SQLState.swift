import IdemConsumerKit
import IdemCore
import IdemPostgres

extension PostgresError: SQLStateCarrying {
    /// The server's message.
    public var errorMessage: String { message }
}
