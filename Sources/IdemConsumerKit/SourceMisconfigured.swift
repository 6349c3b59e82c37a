/// The broker's side of a consumer cannot work with its settings: a queue of another type
/// than configured, a dead-letter route that does not exist, a delivery limit that would
/// drop messages before idem's retries end. A session throws it before it takes a message;
/// the ``ConsumerSupervisor`` does not retry it, and the worker stops with its text.
public struct SourceMisconfigured: Error, Sendable, CustomStringConvertible {
    /// Each problem, naming the setting and the fix.
    public var problems: [String]

    /// The end of a session for `problems`.
    public init(_ problems: [String]) {
        self.problems = problems
    }

    /// The problems, one per line after the first.
    public var description: String { problems.joined(separator: "\n") }
}
