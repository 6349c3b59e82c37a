/// An error that carries a PostgreSQL SQLSTATE, as the handler transaction's errors do.
public protocol SQLStateCarrying: Error {
    /// The five-character SQLSTATE, when the server sent one.
    var sqlState: String? { get }
    /// The server's message.
    var errorMessage: String { get }
}
