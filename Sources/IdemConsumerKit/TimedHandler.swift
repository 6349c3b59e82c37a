import IdemCore

/// A handler with a time limit: a call that runs longer is cancelled and counts as a
/// transient failure (``HandlerResult/retry(_:)``), as docs/design.md has it for timeouts.
///
/// Cancellation is cooperative: the call returns once the handler has stopped, so that a
/// handler working in the dedup transaction never outlives its message's savepoint. A
/// handler that ignores cancellation delays the result, not the correctness.
public struct TimedHandler: MessageHandler {
    public let handler: any MessageHandler
    public let timeout: Duration

    /// `handler`, each call of which fails after `timeout`.
    public init(handler: any MessageHandler, timeout: Duration) {
        self.handler = handler
        self.timeout = timeout
    }

    public func handle(_ message: Message, context: HandlerContext) async throws -> HandlerResult {
        let timeout = self.timeout
        let handler = self.handler
        return try await withThrowingTaskGroup(of: HandlerResult?.self) { group in
            group.addTask { try await handler.handle(message, context: context) }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next() else { return .retry("the handler returned nothing") }
            if let result = first { return result }
            group.cancelAll()
            // The handler's own answer, if it still gives one now, is dropped: it took
            // too long.
            _ = try? await group.next()
            return .retry("the handler timed out after \(timeout)")
        }
    }
}
