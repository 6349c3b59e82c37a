/// An exec handler's command cannot be started.
public struct ExecHandlerError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The command, program first.
    public var command: [String]
    /// Why it cannot be started, e.g. `'handler' was not found in PATH (/usr/bin:/bin)`.
    public var reason: String

    /// Creates an error.
    public init(command: [String], reason: String) {
        self.command = command
        self.reason = reason
    }

    /// `cannot start the exec handler command 'PROGRAM ARGS…': REASON`.
    public var description: String {
        "cannot start the exec handler command '\(command.joined(separator: " "))': \(reason)"
    }
}
