/// One problem found in a configuration file: where it is and what was expected.
public struct ConfigIssue: Sendable, Hashable, CustomStringConvertible {
    /// The file, as given on the command line.
    public var file: String
    /// The 1-based line and column of the offending node, when known.
    public var line: Int?
    /// The 1-based column.
    public var column: Int?
    /// The key path of the offending value.
    public var path: ConfigPath
    /// What is wrong and what was expected.
    public var message: String

    /// Creates an issue.
    public init(file: String, line: Int?, column: Int?, path: ConfigPath, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.path = path
        self.message = message
    }

    /// `FILE:LINE:COLUMN: PATH: MESSAGE`, in the style of compilers so that editors can jump
    /// to it.
    public var description: String {
        var location = file
        if let line {
            location += ":\(line)"
            if let column { location += ":\(column)" }
        }
        guard !path.components.isEmpty else { return "\(location): \(message)" }
        return "\(location): \(path): \(message)"
    }
}
