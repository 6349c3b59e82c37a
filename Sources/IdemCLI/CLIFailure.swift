/// A failure the CLI reports with its own message and exit code.
struct CLIFailure: Error {
    /// What went wrong, shown on standard error.
    var message: String
    /// 1 for runtime failures, 2 for configuration and usage errors.
    var exitCode: Int32

    /// A configuration or usage error: exit 2.
    static func config(_ message: String) -> CLIFailure {
        CLIFailure(message: message, exitCode: 2)
    }

    /// A runtime failure: exit 1.
    static func runtime(_ message: String) -> CLIFailure {
        CLIFailure(message: message, exitCode: 1)
    }
}
