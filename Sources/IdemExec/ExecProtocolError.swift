/// Why a line a child wrote is not a valid response.
struct ExecProtocolError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The reason, e.g. `no "id" string`.
    var description: String

    /// Creates an error with `description`.
    init(_ description: String) {
        self.description = description
    }
}
