/// What a broker said about a consumer's settings, for `idem check-config`.
public struct BrokerCheck: Sendable, Hashable {
    /// Problems that would stop `idem run` (``SourceMisconfigured``), each naming the
    /// setting and the fix.
    public var problems: [String]
    /// What could not be checked, and why (the broker did not answer).
    public var notes: [String]

    /// Creates a result.
    public init(problems: [String] = [], notes: [String] = []) {
        self.problems = problems
        self.notes = notes
    }
}
