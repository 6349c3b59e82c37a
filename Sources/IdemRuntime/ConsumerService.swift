import IdemConfig
import IdemCore
import Logging
import ServiceLifecycle

/// One configured consumer, run as a service of the worker's service group.
///
/// A consumer whose source kind this build cannot consume from says so at start, at error
/// level and naming the consumer and the kind, then stays idle until shutdown, so that the
/// other consumers of the process keep running.
public struct ConsumerService: Service {
    /// The consumer's configuration.
    public let config: ConsumerConfig
    private let logger: Logger

    /// Creates the service; `logger` gets the consumer's name as metadata.
    public init(config: ConsumerConfig, logger: Logger) {
        self.config = config
        var logger = logger
        logger[metadataKey: "consumer"] = .string(config.name)
        self.logger = logger
    }

    /// Runs until graceful shutdown.
    public func run() async throws {
        if let reason = FeatureAvailability.unavailableReason(config) {
            logger.error(
                "consumer not started: \(reason)",
                metadata: ["source": .string(config.source.summary)])
        }
        try await gracefulShutdown()
        logger.info("consumer stopped")
    }
}
