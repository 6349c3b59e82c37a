/// A configuration that cannot be used, with every problem found in it.
public struct ConfigError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The problems, in file order.
    public var issues: [ConfigIssue]

    /// Creates an error from its issues.
    public init(issues: [ConfigIssue]) {
        self.issues = issues
    }

    /// One issue a line, followed by a count when there are several.
    public var description: String {
        var lines = issues.map(\.description)
        if issues.count > 1 { lines.append("\(issues.count) problems in the configuration") }
        return lines.joined(separator: "\n")
    }
}
