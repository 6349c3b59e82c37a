/// How the process logs.
public struct LoggingSettings: Sendable, Hashable {
    /// The lowest level logged.
    public var level: Level
    /// The line format.
    public var format: Format

    /// Log levels, as in swift-log.
    public enum Level: String, Sendable, Hashable, CaseIterable {
        case trace, debug, info, notice, warning, error, critical
    }

    /// Line formats.
    public enum Format: String, Sendable, Hashable, CaseIterable {
        /// Readable lines for a terminal.
        case text
        /// One JSON object per line, for log pipelines.
        case json
    }

    /// Creates settings; the defaults are `info` and `text`.
    public init(level: Level = .info, format: Format = .text) {
        self.level = level
        self.format = format
    }
}
