import IdemCore

/// A handler whose calls are timed into `idem_handler_duration_seconds`.
public struct MeasuredHandler: MessageHandler {
    public let handler: any MessageHandler
    public let metrics: ConsumerMetrics

    /// `handler`, timed into `metrics`.
    public init(handler: any MessageHandler, metrics: ConsumerMetrics) {
        self.handler = handler
        self.metrics = metrics
    }

    public func handle(_ message: Message, context: HandlerContext) async throws -> HandlerResult {
        let started = ContinuousClock.now
        defer { metrics.handlerCall(took: .now - started) }
        return try await handler.handle(message, context: context)
    }
}
