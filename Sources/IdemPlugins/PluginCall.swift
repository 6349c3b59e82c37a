import IdemCore
import Synchronization

/// One `idem_plugin_handle` call: the message, the deadline, and the task waiting for the
/// result.
///
/// The waiting task is resumed exactly once, by whichever comes first: the plugin thread
/// when the call returns, or the pool's watchdog when the deadline passes (``resolve(_:)``
/// arbitrates). The one allocation a call makes.
final class PluginCall: Sendable {
    let message: Message
    let consumer: String
    let id: String
    let fence: Int64
    let attempt: Int
    /// When the caller asked; the timeout counts from here.
    let enqueued: ContinuousClock.Instant
    /// When the call times out.
    let deadline: ContinuousClock.Instant
    private let continuation: UnsafeContinuation<HandlerResult, Never>
    private let resolved = Atomic<Bool>(false)

    init(
        message: Message, context: HandlerContext, enqueued: ContinuousClock.Instant, timeout: Duration,
        continuation: UnsafeContinuation<HandlerResult, Never>
    ) {
        self.message = message
        consumer = context.consumer
        id = context.id.value
        fence = context.fence
        attempt = context.attempt
        self.enqueued = enqueued
        deadline = enqueued + timeout
        self.continuation = continuation
    }

    /// Whether the waiting task has its result already (typically: the call timed out).
    var isResolved: Bool { resolved.load(ordering: .acquiring) }

    /// Hands `result` to the waiting task, unless it has one already; returns whether it did.
    @discardableResult
    func resolve(_ result: HandlerResult) -> Bool {
        guard !resolved.exchange(true, ordering: .acquiringAndReleasing) else { return false }
        continuation.resume(returning: result)
        return true
    }
}
