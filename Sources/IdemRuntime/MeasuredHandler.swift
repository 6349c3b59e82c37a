import IdemCore

/// A handler whose calls are timed into `idem_handler_duration_seconds`.
struct MeasuredHandler: MessageHandler {
    let handler: any MessageHandler
    let metrics: ConsumerMetrics

    func handle(_ message: Message, context: HandlerContext) async throws -> HandlerResult {
        let started = ContinuousClock.now
        defer { metrics.handlerCall(took: .now - started) }
        return try await handler.handle(message, context: context)
    }
}
