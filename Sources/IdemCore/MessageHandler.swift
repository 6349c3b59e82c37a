/// A handler: the per-queue plugin that performs a message's effect.
///
/// Return ``HandlerResult/success`` when the effect is done, ``HandlerResult/retry(_:)``
/// for a transient failure and ``HandlerResult/reject(_:)`` for a permanent one. A thrown
/// error counts as transient. In transactional mode, write through
/// ``HandlerContext/transaction`` so that the effect commits with the claim.
public protocol MessageHandler: Sendable {
    /// Handles one message.
    func handle(_ message: Message, context: HandlerContext) async throws -> HandlerResult
}
