import IdemConsumerKit
import IdemPostgresStore

/// A consumer's handler could not be set up: a Swift handler not registered, an exec
/// command not found, a plugin that does not load. Reported before anything connects.
public struct HandlerSetupError: Error, Sendable, CustomStringConvertible {
    /// The consumer whose handler failed.
    public var consumer: String
    /// What is wrong, naming the handler's setting.
    public var message: String

    /// Creates an error.
    public init(consumer: String, message: String) {
        self.consumer = consumer
        self.message = message
    }

    public var description: String { "consumers.\(consumer).handler: \(message)" }
}
