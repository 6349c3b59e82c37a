/// How `idem run` stops on SIGTERM or SIGINT.
public struct ShutdownSettings: Sendable, Hashable {
    /// How long in-flight work may take to finish before it is abandoned (its messages are
    /// then redelivered, never lost).
    public var gracePeriod: Duration

    /// Creates settings; the default grace period is 30 s.
    public init(gracePeriod: Duration = .seconds(30)) {
        self.gracePeriod = gracePeriod
    }
}
