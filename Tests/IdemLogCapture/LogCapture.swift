import Logging
import Synchronization

/// Log records kept in memory for assertions: the one log-capture helper of the tests.
/// ``logger(label:level:)`` makes a logger whose records (at `level` and above) land here;
/// copies of it, and loggers derived from it, share them.
public final class LogCapture: Sendable {
    /// One captured record.
    public struct Record: Sendable, CustomStringConvertible {
        public var level: Logger.Level
        public var message: String
        /// The logger's and the call's metadata, merged.
        public var metadata: Logger.Metadata

        /// `LEVEL MESSAGE [KEY: VALUE, ...]`, the metadata sorted by key.
        public var description: String {
            let fields = metadata.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }
            return "\(level) \(message)" + (fields.isEmpty ? "" : " [\(fields.joined(separator: ", "))]")
        }
    }

    private let records = Mutex<[Record]>([])

    /// An empty capture.
    public init() {}

    /// Everything logged so far, in order.
    public var all: [Record] { records.withLock { $0 } }

    /// Each record as one line (``Record/description``).
    public var lines: [String] { all.map(\.description) }

    /// The records at `level` or above whose message contains `text`.
    public func matching(_ text: String, atLeast level: Logger.Level = .trace) -> [Record] {
        all.filter { $0.level >= level && $0.message.contains(text) }
    }

    /// Adds a record.
    public func append(_ record: Record) {
        records.withLock { $0.append(record) }
    }

    /// A logger whose records at `level` and above land here.
    public func logger(label: String = "idem.tests", level: Logger.Level = .trace) -> Logger {
        var logger = Logger(label: label) { _ in Handler(capture: self) }
        logger.logLevel = level
        return logger
    }

    /// The log handler behind ``logger(label:level:)``.
    struct Handler: LogHandler {
        let capture: LogCapture
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        var metadataProvider: Logger.MetadataProvider?

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let merged = metadata.merging(event.metadata ?? [:]) { $1 }
            capture.append(Record(level: event.level, message: event.message.description, metadata: merged))
        }
    }
}
