import IdemCore
import Tracing

/// A handler that runs inside its message's consumer span: a Swift handler's own spans
/// (`withSpan`) and the instrumented clients it calls become children of idem's span.
///
/// The span itself is the batch processor's (``BatchProcessor/tracer``): this only makes
/// the context that the message's `traceparent` names current while the handler runs.
public struct TracedHandler: MessageHandler {
    public let handler: any MessageHandler
    public let tracer: any Tracer

    /// `handler`, run in the service context that `tracer` reads from each message.
    public init(handler: any MessageHandler, tracer: any Tracer) {
        self.handler = handler
        self.tracer = tracer
    }

    public func handle(_ message: Message, context: HandlerContext) async throws -> HandlerResult {
        var current = ServiceContext.current ?? .topLevel
        tracer.extract(message.headers, into: &current, using: MessageHeaderExtractor())
        return try await ServiceContext.withValue(current) {
            try await handler.handle(message, context: context)
        }
    }
}
