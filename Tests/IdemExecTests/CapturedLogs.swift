import Logging
import Synchronization

/// Log records captured by a ``CapturingLogHandler``, for assertions.
final class CapturedLogs: Sendable {
    /// One captured record.
    struct Record: Sendable {
        var level: Logger.Level
        var message: String
        var metadata: Logger.Metadata
    }

    private let records = Mutex<[Record]>([])

    /// Everything logged so far.
    var all: [Record] { records.withLock { $0 } }

    /// Adds a record.
    func append(_ record: Record) {
        records.withLock { $0.append(record) }
    }

    /// A logger whose records land here.
    func logger(label: String = "idem.exec.test") -> Logger {
        var logger = Logger(label: label) { _ in CapturingLogHandler(logs: self) }
        logger.logLevel = .trace
        return logger
    }
}
