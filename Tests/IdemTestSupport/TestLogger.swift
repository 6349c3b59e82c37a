import Logging

/// A logger for the service tests: warnings and errors only, on standard error.
public func makeTestLogger(_ label: String) -> Logger {
    var logger = Logger(label: label) { StreamLogHandler.standardError(label: $0) }
    logger.logLevel = .warning
    return logger
}
